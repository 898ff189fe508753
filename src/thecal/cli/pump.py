"""`thecal pump`: run a pump daemon, pair devices, and program it as a clinician programmer.

The clinical subcommands (implant, fill, refill, prescribe, …) are in
`thecal.cli.program` and go through the therapy layer. Here are the pump's
own: `init` and `serve` (the pump), `pair` (the proximity step's handshake),
`interrogate` and `log` (read it, in words), and `send`, the raw engineering
tool that bypasses the therapy layer.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from thecal.cli import connect, program
from thecal.cli.connect import EXIT_OK, EXIT_REFUSED, EXIT_UNKNOWN
from thecal.cli.log_text import log_lines
from thecal.cli.status_text import interrogation_lines
from thecal.errors import InputError, ThecalError
from thecal.telemetry.client import Reply
from thecal.telemetry.frames import ReplyStatus
from thecal.telemetry.pairing import PAIRING_WINDOW_MS
from thecal.telemetry.transport import FixedLoss, LossModel, RangeLoss
from thecal.therapy import TelemetryPort
from thecal.units import BP_PER_ONE, LENGTH, MS_PER_S, UM_PER_MM, parse_typed_int, percent_bp

ENGINEERING = "engineering tool: bypasses the therapy layer; the pump still enforces the drug label's hard limits"
LOG_PAGE_MAX = 100
PAIRING_WINDOW_WORDS = (
    f"the pairing window is open for {PAIRING_WINDOW_MS // MS_PER_S} s and closes as soon as one device has "
    "paired; send SIGUSR1 (the magnet over the pump again) to open it for the next device"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `pump` command group."""
    pump = subparsers.add_parser("pump", help="run a virtual pump daemon and program it as a clinician programmer")
    commands = pump.add_subparsers(dest="pump_command", metavar="SUBCOMMAND", required=True)

    p = commands.add_parser("init", help="create a pump state directory with its keys and devices")
    p.add_argument("--state", required=True, type=Path, help="the pump's state directory (must not hold a pump)")
    p.add_argument("--model", default="programmable-20", help="pump model name or model file")
    p.add_argument("--label", default="SN-0001", help="the pump's serial number")
    p.set_defaults(func=_init)

    p = commands.add_parser("serve", help="run the pump and answer telemetry on 127.0.0.1")
    p.add_argument("--state", required=True, type=Path, help="the pump's state directory")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port, printed)")
    p.add_argument("--accel", type=float, default=1.0, help="pump time per real time, e.g. 1440 = one day a minute")
    p.add_argument(
        "--pairing-window",
        action="store_true",
        help="open the pairing window at start, for one pairing (SIGUSR1 opens it again)",
    )
    link = p.add_mutually_exclusive_group()
    link.add_argument(
        "--distance",
        help='distance of the programmer from the pump, e.g. "12 cm": no loss up to 5 cm, total loss from 20 cm',
    )
    link.add_argument("--loss", help='chance that each request and each reply is lost, e.g. "10 %%"')
    p.add_argument("--loss-seed", type=int, default=0, help="seed of the link-loss simulation (default 0)")
    p.set_defaults(func=_serve)

    p = commands.add_parser("pair", help="pair a programmer or PTM inside the pump's pairing window")
    connect.device_arguments(p, None)
    p.add_argument("--role", required=True, choices=("clinician", "ptm"), help="which device made by init to pair")
    p.add_argument("--expect-label", help="refuse a pump with another serial number")
    p.set_defaults(func=_pair)

    p = commands.add_parser("interrogate", help="read the pump: doses, volumes, the label, alarms, in words")
    connect.device_arguments(p, "clinician")
    p.set_defaults(func=_interrogate)

    p = commands.add_parser("log", help="read the pump's event log, in words with local times")
    connect.device_arguments(p, "clinician")
    p.add_argument("--from", dest="from_seq", type=int, default=0, help="first entry number (0: the oldest kept)")
    p.add_argument(
        "--max", dest="max_entries", type=int, default=LOG_PAGE_MAX, help=f"at most this many (1..{LOG_PAGE_MAX})"
    )
    p.set_defaults(func=_log)

    program.register(commands)

    p = commands.add_parser(
        "send", help=f"{ENGINEERING}: any clinician command by name, JSON in base units", description=ENGINEERING
    )
    connect.device_arguments(p, "clinician")
    p.add_argument("name", help="command name, e.g. refill_update (see docs/telemetry.md)")
    p.add_argument("arguments", nargs="?", default="{}", help="arguments as a JSON object in base units")
    p.set_defaults(func=_send)


# ---------------------------------------------------------------------- the pump


def _init(args: argparse.Namespace) -> int:
    from thecal.devices.daemon import init_state

    layout = init_state(args.state, model=args.model, label=args.label)
    print(f"pump {args.label} ({args.model}) created in {layout.root}")
    for role in ("clinician", "ptm"):
        print(f"{role} device: {layout.device(role)}")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from thecal.devices.daemon import PumpDaemon

    loss = link_loss(args.distance, args.loss)
    daemon = PumpDaemon(args.state, accel=args.accel)
    stop = threading.Event()
    opened = threading.Event()

    def proximity(*_: object) -> None:
        daemon.proximity_detected()
        opened.set()

    # Signal handlers only note what happened; the pump work stays on the serving thread.
    signal.signal(signal.SIGUSR1, proximity)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.pairing_window:
        proximity()
    with daemon.server(args.port, loss, args.loss_seed) as server:
        link = "perfect link" if loss is None else f"link: {loss}"
        print(f"pump listening on 127.0.0.1:{server.port} (accel {args.accel:g}, {link})", flush=True)
        while not stop.wait(0.2):
            if opened.is_set():
                opened.clear()
                print(PAIRING_WINDOW_WORDS, flush=True)
    return EXIT_OK


def link_loss(distance: str | None, loss: str | None) -> LossModel | None:
    """The link-loss model of `--distance` or `--loss`, or None for a perfect link."""
    if distance is not None:
        return RangeLoss(parse_typed_int(distance, LENGTH, "--distance") // UM_PER_MM)
    if loss is not None:
        bp = percent_bp(loss, "--loss")
        if bp > BP_PER_ONE:
            raise InputError("--loss", loss, "is above 100 %", 'give a chance from "0 %" to "100 %"')
        return FixedLoss(bp / BP_PER_ONE, bp / BP_PER_ONE)
    return None


def _pair(args: argparse.Namespace) -> int:
    from thecal.pump.core.commands import Role
    from thecal.telemetry.device_files import DeviceFiles
    from thecal.telemetry.transport import TcpTransport

    connect.require_port(args.port)
    device = DeviceFiles(connect.device_dir(args), Role(args.role))
    try:
        pump = device.pair(TcpTransport(args.port), expected_pump_label=args.expect_label)
    except connect.INPUT_ERRORS:
        raise
    except ThecalError as error:
        print(f"thecal: {error}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"{args.role} paired with pump {pump.label} (key {pump.key_id.hex()})")
    print(
        "The pairing window is now closed: to pair another device, hold the magnet over the pump again "
        "(SIGUSR1 to `pump serve`), then pair it within "
        f"{PAIRING_WINDOW_MS // MS_PER_S} s."
    )
    return EXIT_OK


# ------------------------------------------------------------------ reading it


def _interrogate(args: argparse.Namespace) -> int:
    client = connect.programmer(args)
    try:
        snapshot = TelemetryPort(client).interrogate()
    except connect.INPUT_ERRORS:
        raise
    except ThecalError as error:
        print(f"thecal: {error}", file=sys.stderr)
        return EXIT_REFUSED
    if args.json:
        print(json.dumps(dict(snapshot.status), sort_keys=True))
    else:
        print("\n".join(interrogation_lines(snapshot, client.session.pump.label)))
    return EXIT_OK


def _log(args: argparse.Namespace) -> int:
    if args.from_seq < 0:
        raise InputError("--from", args.from_seq, "is below 0", "give an entry number from 0 (the oldest kept) on")
    if not 1 <= args.max_entries <= LOG_PAGE_MAX:
        raise InputError(
            "--max", args.max_entries, f"is not between 1 and {LOG_PAGE_MAX}", f"give 1 to {LOG_PAGE_MAX} entries"
        )
    client = connect.programmer(args)
    try:
        snapshot = TelemetryPort(client).interrogate()
        # Every later entry is read too: a clock set after the page changes the local time of the entries in it.
        entries = client.read_whole_log(args.from_seq)
    except connect.INPUT_ERRORS:
        raise
    except (ThecalError, RuntimeError) as error:
        print(f"thecal: the event log could not be read: {error}", file=sys.stderr)
        return EXIT_REFUSED
    if args.json:
        print(json.dumps({"entries": entries[: args.max_entries]}, sort_keys=True))
        return EXIT_OK
    lines = log_lines(
        entries,
        wall_ms=snapshot.wall_ms,
        now_ms=snapshot.now_ms,
        label=snapshot.label,
        battery_capacity_pc=snapshot.model.battery_capacity_pc,
    )
    shown = lines[: args.max_entries]
    print(f"Event log of pump {client.session.pump.label}, times by the pump clock (local time):")
    print("\n".join(shown) if shown else f"    no entries from #{args.from_seq} on")
    if len(lines) > len(shown):
        print(f"... {len(lines) - len(shown)} later entries: read them with --from {entries[len(shown)]['seq']}")
    return EXIT_OK


# -------------------------------------------------------------- the engineering door


def _send(args: argparse.Namespace) -> int:
    arguments = _json_args(args.arguments)
    client = connect.programmer(args)
    print(f"thecal: {ENGINEERING}", file=sys.stderr if args.json else sys.stdout)
    try:
        reply = client.send(args.name, **arguments)
    except connect.INPUT_ERRORS:
        raise
    except ThecalError as error:
        print(f"thecal: {error}", file=sys.stderr)
        return EXIT_REFUSED
    _print_reply(reply, args.json)
    if reply.status is ReplyStatus.OK:
        return EXIT_OK
    return EXIT_UNKNOWN if reply.status is ReplyStatus.UNKNOWN else EXIT_REFUSED


def _print_reply(reply: Reply, as_json: bool) -> None:
    if as_json:
        data = {
            "command": reply.command.name,
            "command_id": reply.command.command_id.hex(),
            "status": reply.status.value,
            "code": reply.code,
            "reason": reply.reason,
            "result": reply.result,
        }
        print(json.dumps(data, sort_keys=True))
        return
    from thecal.cli.reply_text import log_entry_line, result_lines

    print(reply.describe())
    entries = reply.result.get("entries")
    if reply.command.name == "read_event_log" and reply.ok and isinstance(entries, list):
        for entry in entries:
            print(f"  {log_entry_line(entry)}")
        return
    for line in result_lines(reply.result):
        print(f"  {line}")


def _json_args(text: str) -> dict[str, object]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError("arguments", text, f"not JSON ({exc.msg})", 'give an object like {"x": 1}') from None
    if not isinstance(data, dict):
        raise InputError("arguments", text, "not a JSON object", 'give an object like {"x": 1}')
    return data
