"""`thecal pump` and `thecal ptm`: run a pump daemon, and talk to it as a programmer or a PTM."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from thecal.devices.programmer import BOLUS_KINDS
from thecal.errors import InputError, ThecalError
from thecal.telemetry.client import Reply
from thecal.telemetry.frames import ReplyStatus
from thecal.telemetry.transport import FixedLoss, LossModel, RangeLoss
from thecal.units import (
    BP_PER_ONE,
    LENGTH,
    UM_PER_MM,
    duration_ms,
    flow_nl_per_day,
    parse_typed_int,
    percent_bp,
    volume_nl,
)

# Exit codes a script can act on: executed, refused (nothing happened), outcome unknown.
EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_UNKNOWN = 3


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `pump` and `ptm` command groups."""
    pump = subparsers.add_parser("pump", help="run a virtual pump daemon and program it over telemetry")
    pump_commands = pump.add_subparsers(dest="pump_command", metavar="SUBCOMMAND", required=True)

    p = pump_commands.add_parser("init", help="create a pump state directory with its keys and devices")
    p.add_argument("--state", required=True, type=Path, help="the pump's state directory (must not hold a pump)")
    p.add_argument("--model", default="programmable-20", help="pump model name or model file")
    p.add_argument("--label", default="SN-0001", help="the pump's serial number")
    p.set_defaults(func=_init)

    p = pump_commands.add_parser("serve", help="run the pump and answer telemetry on 127.0.0.1")
    p.add_argument("--state", required=True, type=Path, help="the pump's state directory")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port, printed)")
    p.add_argument("--accel", type=float, default=1.0, help="pump time per real time, e.g. 1440 = one day a minute")
    p.add_argument(
        "--pairing-window", action="store_true", help="open the pairing window at start (SIGUSR1 opens it later)"
    )
    link = p.add_mutually_exclusive_group()
    link.add_argument(
        "--distance",
        help='distance of the programmer from the pump, e.g. "12 cm": no loss up to 5 cm, total loss from 20 cm',
    )
    link.add_argument("--loss", help='chance that each request and each reply is lost, e.g. "10 %%"')
    p.add_argument("--loss-seed", type=int, default=0, help="seed of the link-loss simulation (default 0)")
    p.set_defaults(func=_serve)

    p = pump_commands.add_parser("pair", help="pair a programmer or PTM inside the pump's pairing window")
    _device_arguments(p, None)
    p.add_argument("--role", required=True, choices=("clinician", "ptm"), help="which device made by init to pair")
    p.add_argument("--expect-label", help="refuse a pump with another serial number")
    p.set_defaults(func=_pair)

    p = pump_commands.add_parser("interrogate", help="read the pump's status")
    _device_arguments(p, "clinician")
    p.set_defaults(func=_request, act=lambda c, a: c.interrogate())

    p = pump_commands.add_parser("program", help="program a continuous basal flow")
    _device_arguments(p, "clinician")
    p.add_argument("--flow", required=True, help='flow around the clock, e.g. "0.5 mL/day"')
    p.set_defaults(func=_request, act=lambda c, a: c.program_continuous(flow_nl_per_day(a.flow, "--flow")))

    p = pump_commands.add_parser("bolus", help="give a clinician, priming or bridge bolus")
    _device_arguments(p, "clinician")
    p.add_argument("--volume", required=True, help='e.g. "50 uL"')
    p.add_argument("--duration", required=True, help='e.g. "10 min"')
    p.add_argument("--kind", choices=BOLUS_KINDS, default="clinician")
    p.set_defaults(
        func=_request,
        act=lambda c, a: c.bolus(volume_nl(a.volume, "--volume"), duration_ms(a.duration, "--duration"), a.kind),
    )

    p = pump_commands.add_parser("log", help="read the pump's event log")
    _device_arguments(p, "clinician")
    p.add_argument("--from", dest="from_seq", type=int, default=0, help="first sequence number")
    p.add_argument("--max", dest="max_entries", type=int, default=100, help="at most this many entries (1..100)")
    p.set_defaults(func=_request, act=lambda c, a: c.read_log(a.from_seq, a.max_entries))

    p = pump_commands.add_parser("send", help="send any clinician command with JSON arguments")
    _device_arguments(p, "clinician")
    p.add_argument("name", help="command name, e.g. refill_update (see docs/telemetry.md)")
    p.add_argument("arguments", nargs="?", default="{}", help="arguments as a JSON object in base units")
    p.set_defaults(func=_request, act=lambda c, a: c.send(a.name, **_json_args(a.arguments)))

    ptm = subparsers.add_parser("ptm", help="the patient's therapy manager: demand bolus and status")
    ptm_commands = ptm.add_subparsers(dest="ptm_command", metavar="SUBCOMMAND", required=True)
    p = ptm_commands.add_parser("bolus", help="ask for a demand bolus within the physician's limits")
    _device_arguments(p, "ptm")
    p.set_defaults(func=_request, act=lambda c, a: c.request_bolus())
    p = ptm_commands.add_parser("status", help="read the patient's view of the pump")
    _device_arguments(p, "ptm")
    p.set_defaults(func=_request, act=lambda c, a: c.status())


def _device_arguments(p: argparse.ArgumentParser, role: str | None) -> None:
    p.add_argument("--state", type=Path, help="pump state directory made by init (its devices/ are used)")
    p.add_argument("--device", type=Path, help="device directory (instead of STATE/devices/ROLE)")
    p.add_argument("--port", type=int, required=True, help="the daemon's TCP port on 127.0.0.1")
    p.add_argument("--json", action="store_true", help="print the reply as JSON")
    p.set_defaults(device_role=role)


def _device_dir(args: argparse.Namespace) -> Path:
    role = args.device_role or args.role
    if args.device is not None:
        return Path(args.device)
    if args.state is None:
        raise InputError("--device", None, "no device given", "give --device DIR or --state DIR")
    from thecal.devices.daemon import StateLayout

    return StateLayout(args.state).device(role)


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
    # Signal handlers only note what happened; the pump work stays on the serving thread.
    signal.signal(signal.SIGUSR1, lambda *_: daemon.proximity_detected())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.pairing_window:
        daemon.proximity_detected()
    with daemon.server(args.port, loss, args.loss_seed) as server:
        link = "perfect link" if loss is None else f"link: {loss}"
        print(f"pump listening on 127.0.0.1:{server.port} (accel {args.accel:g}, {link})", flush=True)
        while not stop.wait(0.2):
            pass
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
    from thecal.telemetry.commands import Role
    from thecal.telemetry.device_files import DeviceFiles
    from thecal.telemetry.transport import TcpTransport

    device = DeviceFiles(_device_dir(args), Role(args.role))
    try:
        pump = device.pair(TcpTransport(args.port), expected_pump_label=args.expect_label)
    except InputError:
        raise
    except ThecalError as error:
        print(f"thecal: {error}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"{args.role} paired with pump {pump.label} (key {pump.key_id.hex()})")
    return EXIT_OK


def _request(args: argparse.Namespace) -> int:
    from thecal.devices.programmer import ProgrammerClient
    from thecal.devices.ptm import TherapyManagerClient

    client_type = ProgrammerClient if args.device_role == "clinician" else TherapyManagerClient
    client = client_type.connect(_device_dir(args), args.port)
    try:
        reply = args.act(client, args)
    except InputError:
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
    if reply.command.name == "read_event_log" and reply.ok:
        for entry in reply.result.get("entries", []):  # type: ignore[attr-defined]
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
