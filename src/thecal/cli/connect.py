"""How a command line reaches a pump daemon: its device directory, the port, the client, and the exit codes.

Nothing listening on the port is a mistake on the command line (exit 2,
"nothing is listening on 127.0.0.1:PORT"), not a command whose outcome is
unknown: the telemetry client raises `NothingListening` when no frame left,
and these errors pass every command's own handling up to `thecal.cli.main`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from thecal.devices.programmer import ProgrammerClient
from thecal.devices.ptm import TherapyManagerClient
from thecal.errors import InputError
from thecal.telemetry.errors import NothingListening
from thecal.units import PORT, count

# Exit codes a script can act on.
EXIT_OK = 0  # done, and the pump holds what was planned
EXIT_REFUSED = 1  # the pump refused, could not be read, or does not hold what was planned
EXIT_INPUT = 2  # a mistake on the command line, or a plan beyond a limit: nothing was sent
EXIT_UNKNOWN = 3  # the outcome is unknown: a dose counts as delivered
EXIT_NOT_SENT = 4  # the plan was not confirmed: nothing was sent

# Errors that mean "correct the command line", whatever command met them: main prints them and exits 2.
INPUT_ERRORS = (InputError, NothingListening)


def device_arguments(p: argparse.ArgumentParser, role: str | None) -> None:
    """The options every command that talks to a pump takes: where its device is, the port, --json."""
    p.add_argument("--state", type=Path, help="pump state directory made by init (its devices/ are used)")
    p.add_argument("--device", type=Path, help="device directory (instead of STATE/devices/ROLE)")
    # Read as text, then strictly (ASCII digits, 1 to 65535): int() would take "٦" as 6 and "-1" as a number.
    p.add_argument("--port", required=True, help="the daemon's TCP port on 127.0.0.1")
    p.add_argument("--json", action="store_true", help="print the stable machine view as JSON")
    p.set_defaults(device_role=role)


def device_dir(args: argparse.Namespace) -> Path:
    """The device directory the command uses: --device, or the one made by init under --state."""
    role = args.device_role or args.role
    if args.device is not None:
        return Path(args.device)
    if args.state is None:
        raise InputError("--device", None, "no device given", "give --device DIR or --state DIR")
    from thecal.devices.daemon import StateLayout

    return StateLayout(args.state).device(role)


def require_port(port: object) -> int:
    """The TCP port `port` names (typed text or a number), or an InputError naming --port and the range."""
    return count(port, "--port", PORT)


def programmer(args: argparse.Namespace) -> ProgrammerClient:
    """The clinician programmer of the command line, talking to the daemon on --port."""
    port = require_port(args.port)
    return ProgrammerClient.connect(device_dir(args), port)


def handset(args: argparse.Namespace) -> TherapyManagerClient:
    """The patient's handset of the command line, talking to the daemon on --port."""
    port = require_port(args.port)
    return TherapyManagerClient.connect(device_dir(args), port)
