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
import re
import signal
import socket
import sys
import threading
from pathlib import Path

from thecal.cli import connect, program, typed_args
from thecal.cli.connect import EXIT_OK, EXIT_REFUSED, EXIT_UNKNOWN
from thecal.cli.log_text import log_lines
from thecal.cli.status_text import interrogation_lines
from thecal.errors import InputError, ThecalError
from thecal.telemetry.client import Reply
from thecal.telemetry.frames import ReplyStatus
from thecal.telemetry.pairing import PAIRING_WINDOW_MS
from thecal.telemetry.transport import FixedLoss, LossModel, RangeLoss
from thecal.therapy import TelemetryPort
from thecal.units import (
    LINK_LOSS,
    LISTEN_PORT,
    LOG_ENTRY_NUMBER,
    LOG_PAGE,
    MS_PER_S,
    PROGRAMMER_DISTANCE,
    SEED,
    UM_PER_MM,
    count,
    decimal_number,
    device_label,
    percentage,
    plain_text,
    quantity,
)

ENGINEERING = "engineering tool: bypasses the therapy layer; the pump still enforces the drug label's hard limits"
LOG_PAGE_MAX = LOG_PAGE.high
# The engineering door's JSON: larger or deeper than any command's arguments, which are flat records of integers.
TICK_S = 0.2  # how often, in real seconds, a serving pump advances on its own clock
JSON_MAX_CHARACTERS = 65_536
JSON_MAX_DEPTH = 16
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
    # Numbers are read as text, then strictly: int() and float() would take "٦" as 6, float() "nan" and "1e308".
    p.add_argument("--port", default="0", help="TCP port on 127.0.0.1 (0: any free port, printed)")
    p.add_argument("--accel", default="1", help="pump time per real time, e.g. 1440 = one day a minute")
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
    p.add_argument("--loss-seed", default="0", help="seed of the link-loss simulation (default 0)")
    p.set_defaults(func=_serve)

    p = commands.add_parser(
        "recover", help="a clinician's recovery of a pump whose memory is in fault (never of a healthy one)"
    )
    p.add_argument("--state", required=True, type=Path, help="the pump's state directory (its daemon stopped)")
    p.add_argument("--reason", required=True, help="why, for the record: e.g. the fault the pump reported")
    p.set_defaults(func=_recover)

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
    p.add_argument("--from", dest="from_seq", default="0", help="first entry number (0: the oldest kept)")
    p.add_argument(
        "--max", dest="max_entries", default=str(LOG_PAGE_MAX), help=f"at most this many (1..{LOG_PAGE_MAX})"
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

    label = device_label(args.label, "--label")  # before anything is written: a label is certified and stored
    typed_args.pump_model(args.model, "--model")
    if args.state.exists() and not args.state.is_dir():
        raise InputError("--state", str(args.state), "is a file, not a directory", "choose an empty directory")
    layout = init_state(args.state, model=args.model, label=label)
    print(f"pump {args.label} ({args.model}) created in {layout.root}")
    for role in ("clinician", "ptm"):
        print(f"{role} device: {layout.device(role)}")
    return EXIT_OK


def _recover(args: argparse.Namespace) -> int:
    from thecal.devices.recovery import recover_pump

    recovery = recover_pump(
        str(args.state), plain_text(args.reason, "--reason", max_characters=typed_args.REASON_MAX_CHARACTERS)
    )
    print(f"pump memory recovered from the fault: {recovery.fault}")
    carried = ", ".join(f"{name} {value}" for name, value in recovery.carried.items()) or "nothing readable"
    print(f"carried over from the newest readable state: {carried}")
    print(f"event log continues at entry {recovery.log_next_seq}; {recovery.revoked} revoked key(s) stay revoked")
    print(
        "the pump is stopped and unprogrammed, with a pump-fault alarm: pair each programmer and PTM again, "
        "refill, program, then clear the alarm"
    )
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from thecal.devices.daemon import MAX_ACCEL, MIN_ACCEL, PumpDaemon

    # Every option is read before the pump's memory is opened: a refusal leaves nothing started.
    accel = float(decimal_number(args.accel, "--accel", "1440"))
    if not MIN_ACCEL <= accel <= MAX_ACCEL:
        raise InputError(
            "--accel",
            args.accel,
            f"is outside {MIN_ACCEL:g} to {MAX_ACCEL:g} (one pump day per real second)",
            "give a factor such as 1 (real time) or 1440 (a pump day a minute)",
            f"{MIN_ACCEL:g} to {MAX_ACCEL:g}",
        )
    port = count(args.port, "--port", LISTEN_PORT)
    seed = count(args.loss_seed, "--loss-seed", SEED)
    loss = link_loss(args.distance, args.loss)
    _port_free(port)
    daemon = PumpDaemon(args.state, accel=accel)
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
    if daemon.fault is not None:
        print(f"thecal: {daemon.fault}", file=sys.stderr, flush=True)
    try:
        try:
            listening = daemon.server(port, loss, seed)  # binds the port: one taken since the check is refused too
        except OSError as exc:
            raise _port_error(port, exc) from None
        with listening as server:
            link = "perfect link" if loss is None else f"link: {loss}"
            state = "IN FAULT, refusing every command" if daemon.fault is not None else link
            print(f"pump listening on 127.0.0.1:{server.port} (accel {accel:g}, {state})", flush=True)
            while not stop.wait(TICK_S):
                daemon.tick()  # the pump runs on its own clock: an alarm or a dose's end appears with no frame
                if opened.is_set():
                    opened.clear()
                    print(PAIRING_WINDOW_WORDS, flush=True)
    finally:
        daemon.close()
    return EXIT_OK


def _port_free(port: int) -> None:
    """Refuse a port another program holds, or one this user may not open, before the pump is started."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: a closed port is free
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise _port_error(port, exc) from None


def _port_error(port: int, exc: OSError) -> InputError:
    return InputError(
        "--port",
        port,
        f"cannot be listened on ({exc.strerror or exc})",
        "give another port, or 0 for any free port (printed when the pump starts)",
    )


def link_loss(distance: str | None, loss: str | None) -> LossModel | None:
    """The link-loss model of `--distance` or `--loss`, or None for a perfect link."""
    if distance is not None:
        return RangeLoss(quantity(distance, "--distance", PROGRAMMER_DISTANCE) // UM_PER_MM)
    if loss is not None:
        chance = float(percentage(loss, "--loss", LINK_LOSS))
        return FixedLoss(chance, chance)
    return None


def _pair(args: argparse.Namespace) -> int:
    from thecal.pump.core.commands import Role
    from thecal.telemetry.device_files import DeviceFiles
    from thecal.telemetry.transport import TcpTransport

    port = connect.require_port(args.port)
    expected = None if args.expect_label is None else device_label(args.expect_label, "--expect-label")
    device = DeviceFiles(connect.device_dir(args), Role(args.role))
    try:
        pump = device.pair(TcpTransport(port), expected_pump_label=expected)
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
    from_seq = count(args.from_seq, "--from", LOG_ENTRY_NUMBER)
    max_entries = count(args.max_entries, "--max", LOG_PAGE)
    client = connect.programmer(args)
    try:
        snapshot = TelemetryPort(client).interrogate()
        # Every later entry is read too: a clock set after the page changes the local time of the entries in it.
        entries = client.read_whole_log(from_seq)
    except connect.INPUT_ERRORS:
        raise
    except (ThecalError, RuntimeError) as error:
        print(f"thecal: the event log could not be read: {error}", file=sys.stderr)
        return EXIT_REFUSED
    if args.json:
        print(json.dumps({"entries": entries[:max_entries]}, sort_keys=True))
        return EXIT_OK
    lines = log_lines(
        entries,
        wall_ms=snapshot.wall_ms,
        now_ms=snapshot.now_ms,
        label=snapshot.label,
        battery_capacity_pc=snapshot.model.battery_capacity_pc,
    )
    shown = lines[:max_entries]
    print(f"Event log of pump {client.session.pump.label}, times by the pump clock (local time):")
    print("\n".join(shown) if shown else f"    no entries from #{from_seq} on")
    if len(lines) > len(shown):
        print(f"... {len(lines) - len(shown)} later entries: read them with --from {entries[len(shown)]['seq']}")
    return EXIT_OK


# -------------------------------------------------------------- the engineering door


def _send(args: argparse.Namespace) -> int:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", args.name):
        raise InputError(
            "name", args.name, "is not a command name", "give a command of docs/telemetry.md, like refill_update"
        )
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
    """The engineering door's arguments: a flat JSON object of plain values, read strictly."""
    like = 'give an object like {"x": 1}'
    shown = text if len(text) <= 80 else f"{text[:40]}… ({len(text)} characters)"
    if len(text) > JSON_MAX_CHARACTERS:
        raise InputError("arguments", shown, f"is longer than {JSON_MAX_CHARACTERS} characters", like)

    def no_constant(name: str) -> object:
        raise InputError("arguments", shown, f"{name} is not a number JSON allows", like)

    try:
        data = json.loads(text, parse_constant=no_constant)
    except json.JSONDecodeError as exc:
        raise InputError("arguments", shown, f"not JSON ({exc.msg})", like) from None
    except RecursionError:
        raise InputError("arguments", shown, f"is nested more than {JSON_MAX_DEPTH} deep", like) from None
    except InputError:  # NaN or Infinity, refused by `no_constant`
        raise
    except ValueError as exc:  # an integer of thousands of digits
        raise InputError("arguments", shown, f"holds a number too large to read ({exc})", like) from None
    if not isinstance(data, dict):
        raise InputError("arguments", shown, "not a JSON object", like)
    _plain_json(data, shown)
    return data


def _plain_json(data: object, shown: str) -> None:
    """Refuse a structure nested deeper than any command's arguments, or text that cannot be sent."""
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > JSON_MAX_DEPTH:
            raise InputError("arguments", shown, f"is nested more than {JSON_MAX_DEPTH} deep", "give flat arguments")
        if isinstance(value, str):
            plain_text(value, "arguments", max_characters=JSON_MAX_CHARACTERS, required=False)
        elif isinstance(value, dict):
            stack += [(key, depth + 1) for key in value] + [(item, depth + 1) for item in value.values()]
        elif isinstance(value, list):
            stack += [(item, depth + 1) for item in value]
