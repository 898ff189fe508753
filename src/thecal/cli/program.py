"""The programmer's clinical subcommands of `thecal pump`: each builds one therapy intent and runs it.

Every subcommand reads what a clinician writes ("1 mg/day", a flexible
schedule as in a scenario file, a refill's aspirated volume and the new
concentration typed from the vial), builds the intent of `thecal.therapy`, and
hands it to a `TherapyService` over a `TelemetryPort`: the same rulebook as
every other door. Nothing here judges a dose.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable

from thecal.cli import connect, run_plan, typed_args
from thecal.errors import InputError, ThecalError
from thecal.pump.core.alarms import Alarm
from thecal.pump.core.schedule import DoseSchedule
from thecal.therapy import (
    Actor,
    ClearAlarm,
    ClinicianBolus,
    FirstFill,
    Implant,
    Intent,
    LowReservoirAlarm,
    PatientFacts,
    PeriodicBolus,
    PeriodicBolusOff,
    PostMriCheck,
    Prescribe,
    PrimingBolus,
    PtmOff,
    PtmSettings,
    Refill,
    ResumeTherapy,
    StaffRole,
    StopTherapy,
    TelemetryPort,
    TherapyService,
    Titrate,
)
from thecal.units import (
    ASPIRATED_VOLUME,
    BOLUS_DOSE,
    BOLUS_DURATION,
    DAILY_DOSE,
    FILL_VOLUME,
    LOCKOUT,
    LOW_RESERVOIR_ALARM,
    PERIODIC_INTERVAL,
    PRIMING_DURATION,
    PRIMING_VOLUME,
    format_duration,
)

IntentOf = Callable[[argparse.Namespace], Intent]
CLINIC_ROLES = (StaffRole.PHYSICIAN.value, StaffRole.NURSE.value)

PLAN_EPILOG = (
    "The plan (every setting now and after, the limits that applied, the warnings) is shown first; it is sent only "
    'with --yes or a "y" at the "Send to the pump?" question on a terminal. Exit codes: 0 done and verified; '
    "1 the pump refused or does not hold what was planned; 2 a mistake on the command line or a plan beyond a "
    "limit (nothing sent); 3 outcome unknown (a dose may have been delivered: count it as delivered); "
    "4 not confirmed (nothing sent)."
)


def register(commands: argparse._SubParsersAction) -> None:
    """Add the clinical subcommands to `thecal pump`."""
    p = _subcommand(commands, "implant", "record the implanted catheter's volume (at implant or revision)")
    p.add_argument("--catheter-volume", help='the catheter\'s internal volume, e.g. "0.1 mL"')
    p.add_argument("--catheter-length", help='instead: the implanted length, e.g. "45 cm"')
    p.add_argument("--volume-per-length", help='with --catheter-length: from the catheter labeling, e.g. "2.2 uL/cm"')
    p.set_defaults(intent_of=_implant)

    p = _subcommand(commands, "fill", "first fill of a new pump: the drug, its concentration and the volume")
    _fill_arguments(p)
    p.set_defaults(intent_of=_first_fill)

    p = _subcommand(commands, "refill", "refill: what was aspirated, what goes in (typed, never assumed)")
    p.add_argument("--aspirated", required=True, help='volume withdrawn from the reservoir, e.g. "1.9 mL"')
    _fill_arguments(p)
    p.add_argument("--no-bridge", action="store_true", help="after a change of drug or concentration, do not bridge")
    p.add_argument(
        "--acknowledge-discrepancy",
        action="store_true",
        help="the aspirated volume differs from the expected one and the cause is known: go on",
    )
    _prescription_arguments(p, required=False, what="a new prescription with this refill")
    p.set_defaults(intent_of=_refill)

    p = _subcommand(commands, "prescribe", "prescribe the basal dose: around the clock, or flexible by time and day")
    _prescription_arguments(p, required=True, what="the prescription")
    p.set_defaults(intent_of=lambda a: Prescribe(_required_prescription(a), override_reason=_reason(a)))

    p = _subcommand(commands, "titrate", "change the daily dose (a flexible schedule is scaled to it)")
    p.add_argument("--dose", required=True, help='the new daily dose, e.g. "1.2 mg/day"')
    p.set_defaults(
        intent_of=lambda a: Titrate(typed_args.value(a.dose, "--dose", DAILY_DOSE), override_reason=_reason(a))
    )

    p = _subcommand(commands, "bolus", "give a clinician bolus on top of the basal flow")
    p.add_argument("--dose", required=True, help='the dose of the lead drug, e.g. "0.5 mg"')
    p.add_argument("--duration", required=True, help='over how long, e.g. "10 min"')
    p.set_defaults(
        intent_of=lambda a: ClinicianBolus(
            typed_args.value(a.dose, "--dose", BOLUS_DOSE),
            typed_args.value(a.duration, "--duration", BOLUS_DURATION),
            override_reason=_reason(a),
        )
    )

    p = _subcommand(commands, "prime", "priming bolus: fill the empty catheter and tubing (after implant or revision)")
    p.add_argument("--volume", help="default: the dead volume (pump tubing and catheter)")
    p.add_argument("--duration", help="default: as fast as the pump allows")
    p.set_defaults(
        intent_of=lambda a: PrimingBolus(
            None if a.volume is None else typed_args.value(a.volume, "--volume", PRIMING_VOLUME),
            None if a.duration is None else typed_args.value(a.duration, "--duration", PRIMING_DURATION),
            override_reason=_reason(a),
        )
    )

    p = _subcommand(commands, "periodic", "a bolus repeated at an interval, or --off")
    p.add_argument("--dose", help='each bolus, e.g. "0.2 mg"')
    p.add_argument("--duration", help='each bolus over, e.g. "30 min"')
    p.add_argument("--every", help='interval, e.g. "6 h"')
    p.add_argument("--first", help='time of day of the first bolus, e.g. "08:00" (pump clock, local time)')
    p.add_argument("--off", action="store_true", help="end the periodic bolus")
    p.set_defaults(intent_of=_periodic)

    p = _subcommand(commands, "ptm-settings", "the patient's handset (PTM) doses, or --off")
    p.add_argument("--dose", help='each demand dose, e.g. "0.1 mg"')
    p.add_argument("--duration", help='each dose over, e.g. "10 min"')
    p.add_argument("--lockout", help='at least this long between doses, e.g. "2 h"')
    p.add_argument("--max-per-day", help="at most this many doses in any 24 h, e.g. 4")
    p.add_argument("--off", action="store_true", help="no more demand doses")
    p.set_defaults(intent_of=_ptm_settings)

    p = _subcommand(commands, "stop", "stop therapy: the pump goes to its minimum rate")
    p.set_defaults(intent_of=lambda a: StopTherapy(override_reason=_reason(a)))
    p = _subcommand(commands, "resume", "resume therapy after a stop")
    p.set_defaults(intent_of=lambda a: ResumeTherapy(override_reason=_reason(a)))

    p = _subcommand(commands, "clear-alarm", "clear an alarm whose cause was handled")
    p.add_argument("alarm", choices=[a.value for a in Alarm], help="the alarm to clear")
    p.set_defaults(intent_of=lambda a: ClearAlarm(Alarm(a.alarm), override_reason=_reason(a)))

    p = _subcommand(commands, "post-mri-check", "after an MRI: clear the motor stall once the motor runs again")
    p.set_defaults(intent_of=lambda a: PostMriCheck(override_reason=_reason(a)))

    p = _subcommand(commands, "low-reservoir-alarm", "set the reservoir volume at which the low-reservoir alarm sounds")
    p.add_argument("--threshold", required=True, help='e.g. "3 mL"')
    p.set_defaults(
        intent_of=lambda a: LowReservoirAlarm(
            typed_args.value(a.threshold, "--threshold", LOW_RESERVOIR_ALARM), override_reason=_reason(a)
        )
    )


def _subcommand(commands: argparse._SubParsersAction, name: str, help_text: str) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = commands.add_parser(name, help=help_text, description=help_text, epilog=PLAN_EPILOG)
    connect.device_arguments(p, "clinician")
    p.add_argument("--by", required=True, choices=CLINIC_ROLES, help="who programs: physician or nurse")
    p.add_argument("--name", help="your name, for the record (default: your login name)")
    p.add_argument("--reason", help="a physician's written reason to pass the soft limits this plan meets")
    p.add_argument("--opioid-naive", action="store_true", help="the patient is opioid-naive (stricter limits)")
    p.add_argument("--yes", action="store_true", help="send the plan without asking")
    p.set_defaults(func=program)
    return p


def program(args: argparse.Namespace) -> int:
    """Build the subcommand's intent, then plan, confirm, send and verify it through the therapy layer."""
    intent = args.intent_of(args)  # every typed value is read before the pump is reached
    who = _login_name() if args.name is None else typed_args.name(args.name, "--name")
    actor = Actor(who, StaffRole.parse(args.by, "--by"))
    client = connect.programmer(args)
    service = TherapyService(TelemetryPort(client), PatientFacts(opioid_naive=args.opioid_naive))
    try:
        return run_plan.run(service, intent, actor, client.session.pump.label, yes=args.yes, as_json=args.json)
    except connect.INPUT_ERRORS:
        raise
    except ThecalError as error:  # the pump could not be read: nothing was sent
        print(f"thecal: {error}", file=sys.stderr)
        return connect.EXIT_REFUSED


def _login_name() -> str:
    try:
        return typed_args.name(getpass.getuser(), "--name")
    except (KeyError, OSError, InputError):
        raise InputError("--name", None, "no login name to record", "give your name with --name") from None


def _reason(args: argparse.Namespace) -> str | None:
    return typed_args.reason(args.reason)


# ------------------------------------------------------------------------- arguments


def _fill_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--drug", help="the drug on the vial label, e.g. morphine")
    p.add_argument("--concentration", help='its concentration on the vial label, e.g. "10 mg/mL"')
    p.add_argument("--fill", help='instead, an admixture: "morphine 10 mg/mL + bupivacaine 15 mg/mL"')
    p.add_argument("--volume", required=True, help='volume put into the reservoir, e.g. "20 mL"')
    p.add_argument("--low-reservoir-alarm", help='sound the low-reservoir alarm at this volume, e.g. "3 mL"')


def _prescription_arguments(p: argparse.ArgumentParser, *, required: bool, what: str) -> None:
    group = p.add_mutually_exclusive_group(required=required)
    group.add_argument("--dose", help=f'{what}: one daily dose around the clock, e.g. "1 mg/day"')
    group.add_argument("--steps", help=f"{what}, flexible, as a scenario writes it: '{typed_args.STEPS_EXAMPLE}'")


def _required_prescription(args: argparse.Namespace) -> DoseSchedule:
    doses = typed_args.prescription(args, required=True)
    assert doses is not None  # required=True raises instead
    return doses


def _threshold(args: argparse.Namespace) -> int | None:
    if args.low_reservoir_alarm is None:
        return None
    return typed_args.value(args.low_reservoir_alarm, "--low-reservoir-alarm", LOW_RESERVOIR_ALARM)


# --------------------------------------------------------------------------- intents


def _implant(args: argparse.Namespace) -> Intent:
    return Implant(typed_args.catheter_volume_nl(args), override_reason=_reason(args))


def _first_fill(args: argparse.Namespace) -> Intent:
    return FirstFill(
        typed_args.value(args.volume, "--volume", FILL_VOLUME),
        typed_args.fill(args),
        _threshold(args),
        override_reason=_reason(args),
    )


def _refill(args: argparse.Namespace) -> Intent:
    return Refill(
        typed_args.value(args.volume, "--volume", FILL_VOLUME),
        typed_args.fill(args),
        typed_args.value(args.aspirated, "--aspirated", ASPIRATED_VOLUME),
        bridge=not args.no_bridge,
        new_prescription=typed_args.prescription(args, required=False),
        low_reservoir_alarm_nl=_threshold(args),
        discrepancy_acknowledged=args.acknowledge_discrepancy,
        override_reason=_reason(args),
    )


def _periodic(args: argparse.Namespace) -> Intent:
    given = {"--dose": args.dose, "--duration": args.duration, "--every": args.every, "--first": args.first}
    if args.off:
        _none_with_off(given)
        return PeriodicBolusOff(override_reason=_reason(args))
    _all_given(given, "--off")
    duration = typed_args.value(args.duration, "--duration", BOLUS_DURATION)
    every = typed_args.value(args.every, "--every", PERIODIC_INTERVAL)
    if duration > every:
        # Each bolus must end before the next starts; the pump would refuse it only once sent.
        raise InputError(
            "--duration",
            args.duration,
            f"is longer than --every {args.every!r}: each periodic bolus must end before the next one starts",
            "give each bolus a shorter duration or a longer interval",
            f"at most {format_duration(every)}",
        )
    return PeriodicBolus(
        typed_args.value(args.dose, "--dose", BOLUS_DOSE),
        duration,
        every,
        typed_args.time_of_day_ms(args.first, "--first"),
        override_reason=_reason(args),
    )


def _ptm_settings(args: argparse.Namespace) -> Intent:
    given = {
        "--dose": args.dose,
        "--duration": args.duration,
        "--lockout": args.lockout,
        "--max-per-day": args.max_per_day,
    }
    if args.off:
        _none_with_off(given)
        return PtmOff(override_reason=_reason(args))
    _all_given(given, "--off")
    return PtmSettings(
        typed_args.value(args.dose, "--dose", BOLUS_DOSE),
        typed_args.value(args.duration, "--duration", BOLUS_DURATION),
        typed_args.value(args.lockout, "--lockout", LOCKOUT),
        typed_args.demand_doses(args.max_per_day, "--max-per-day"),
        override_reason=_reason(args),
    )


def _none_with_off(given: dict[str, str | None]) -> None:
    extra = [name for name, value in given.items() if value is not None]
    if extra:
        raise InputError(extra[0], given[extra[0]], "is given with --off", "give --off alone, or the settings alone")


def _all_given(given: dict[str, str | None], off: str) -> None:
    missing = [name for name, value in given.items() if value is None]
    if missing:
        raise InputError(missing[0], None, "is missing", f"give {', '.join(given)} together, or {off} to switch it off")
