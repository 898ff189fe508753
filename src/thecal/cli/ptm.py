"""`thecal ptm`: the patient's therapy manager at a terminal, an extra dose and the patient's view.

`ptm bolus` is the patient's press: a `DemandPress` planned and sent through
the therapy layer, as every door does. The press is itself the request, so it
asks no further question; whether a dose is possible is the pump's own
answer. `ptm status` shows the patient's view in words: whether a dose is
possible now, else until when and why, the doses left in 24 h, the alarms.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from thecal.cli import connect, typed_args
from thecal.cli.patient_text import dose_now_lines, patient_lines
from thecal.cli.run_plan import EXIT_CODES
from thecal.errors import ThecalError
from thecal.therapy import (
    Actor,
    DemandPress,
    Execution,
    ExecutionStatus,
    PatientView,
    StaffRole,
    TelemetryPort,
    TherapyService,
)
from thecal.units import PORT, count

SERVE_PORT = 8100

POSSIBLY_GIVEN = (
    "The pump did not answer: the dose may have been given. Count it as given, and do not press again before "
    "`thecal ptm status` says a dose is possible."
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `ptm` command group."""
    ptm = subparsers.add_parser("ptm", help="the patient's therapy manager: an extra dose, and the patient's view")
    commands = ptm.add_subparsers(dest="ptm_command", metavar="SUBCOMMAND", required=True)
    p = commands.add_parser(
        "bolus",
        help="ask for an extra (demand) dose within the physician's limits",
        description="Ask for an extra dose. Exit codes: 0 given; 1 the pump refused; 2 not possible now (says why "
        "and until when); 3 no answer: the dose may have been given, count it as given.",
    )
    connect.device_arguments(p, "ptm")
    p.add_argument("--name", default="patient", help="the patient's name, for the record")
    p.set_defaults(func=_bolus)
    p = commands.add_parser("status", help="the patient's view: whether a dose is possible now, doses left, alarms")
    connect.device_arguments(p, "ptm")
    p.set_defaults(func=_status)
    p = commands.add_parser(
        "serve",
        help="the patient's app for one paired pump, on http://127.0.0.1:PORT",
        description="Serve the patient's therapy manager (a phone-sized web app) on loopback for the pump this PTM "
        "is paired with. Diary entries go to the clinic when --clinic-url and --clinic-token are given.",
    )
    p.add_argument("--state", type=Path, help="pump state directory made by init (its devices/ptm is used)")
    p.add_argument("--device", type=Path, help="the PTM's device directory (instead of STATE/devices/ptm)")
    # The pump's port is read as connect.device_arguments reads --port: as text, then strictly (1 to 65535).
    p.add_argument("--pump-port", required=True, help="the pump daemon's TCP port on 127.0.0.1")
    p.add_argument("--port", default=str(SERVE_PORT), help=f"the app's port on 127.0.0.1 (default {SERVE_PORT})")
    p.add_argument("--clinic-url", help="the clinic programmer's address, for the diary (with --clinic-token)")
    p.add_argument("--clinic-token", help="the token the clinic issued for this patient's diary")
    p.set_defaults(func=_serve, device_role="ptm")


def _bolus(args: argparse.Namespace) -> int:
    actor = Actor(typed_args.name(args.name, "--name"), StaffRole.PATIENT)  # read before the pump is reached
    client = connect.handset(args)
    service = TherapyService(TelemetryPort(client))
    try:
        plan = service.plan(DemandPress(), actor)
        execution = service.execute(plan, actor, confirmed=True) if plan.allowed else None
    except connect.INPUT_ERRORS:
        raise
    except ThecalError as error:
        print(f"thecal: {error}", file=sys.stderr)
        return connect.EXIT_REFUSED
    # No dose now (lockout, daily maximum, a dose still running) is a plan refused before sending: exit 2.
    code = connect.EXIT_INPUT if execution is None else EXIT_CODES[execution.status]
    if args.json:
        data = {"plan": plan.to_dict(), "execution": None if execution is None else execution.to_dict()}
        print(json.dumps(data, sort_keys=True))
        return code
    print(_press_words(execution))
    try:
        view = service.port.patient_view()  # afresh: the pump's own answer after the press
    except ThecalError:
        # The link is gone: what the press did is said; why a dose was not possible, in the plan's words.
        if execution is None:
            print(" ".join(f.message for f in plan.findings if f.blocking))
        return code
    print("\n".join(dose_now_lines(view)))
    return code


def _press_words(execution: Execution | None) -> str:
    if execution is None:
        return "No dose was given."
    if execution.status is ExecutionStatus.DONE:
        return "Your extra dose is being given."
    if execution.status is ExecutionStatus.UNKNOWN:
        return POSSIBLY_GIVEN
    refusal = execution.refusal
    return "No dose was given: " + (refusal.message if refusal is not None else execution.message)


def _status(args: argparse.Namespace) -> int:
    client = connect.handset(args)
    reply = client.status()
    if not reply.ok:
        print(f"thecal: the pump could not be read: {reply.describe()}", file=sys.stderr)
        return connect.EXIT_REFUSED
    if args.json:
        print(json.dumps(reply.result, sort_keys=True))
        return connect.EXIT_OK
    print("\n".join(patient_lines(PatientView.from_status(reply.result))))
    return connect.EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from thecal.apps.patient import create_app

    pump_port = count(args.pump_port, "--pump-port", PORT)
    port = count(args.port, "--port", PORT)
    app = create_app(connect.device_dir(args), pump_port, clinic_url=args.clinic_url, clinic_token=args.clinic_token)
    print(f"patient's therapy manager at http://127.0.0.1:{port} (Ctrl-C stops it)", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
    return connect.EXIT_OK
