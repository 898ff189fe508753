"""The one mapping between firmware commands and telemetry commands, both ways.

A programmer encodes with `to_telemetry` (the therapy layer's telemetry port
and the programmer's client library); the pump daemon decodes with
`from_telemetry`. Arguments have already passed the command table
(`commands.validate`) when they are decoded, so only what the table cannot
see is refused here, as the pump would refuse it: steps out of order in a
day, an alarm the pump does not have. Nothing here judges a dose: the
firmware does, from the drug label it holds.

Commands that only read (`interrogate_status`, `read_event_log`) and the
telemetry layer's own key commands have no firmware command; reports of the
hardware (a stalled motor, a fault) never travel over telemetry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from thecal.errors import ThecalError
from thecal.pump.core.actions import Refusal
from thecal.pump.core.alarms import Alarm
from thecal.pump.core.commands import (
    AlarmToneTest,
    CancelBolus,
    ClearAlarm,
    ClinicianBolus,
    DemandLimits,
    Fill,
    PeriodicBolusPlan,
    PrimingBolus,
    Program,
    RequestDemandBolus,
    ResumeTherapy,
    Role,
    SetCatheter,
    SetClock,
    SetDemandLimits,
    SetLowReservoirAlarm,
    SetPeriodicBolus,
    StopTherapy,
)
from thecal.pump.core.commands import Command as FirmwareCommand
from thecal.pump.core.schedule import DoseSchedule, DoseStep
from thecal.telemetry.commands import SECURITY_COMMANDS

Args = dict[str, object]

# Firmware commands a programmer or PTM may send; the others are the hardware's reports to its own firmware.
TelemetryCommand = (
    Fill
    | SetCatheter
    | Program
    | SetLowReservoirAlarm
    | ClinicianBolus
    | PrimingBolus
    | CancelBolus
    | SetPeriodicBolus
    | SetDemandLimits
    | RequestDemandBolus
    | StopTherapy
    | ResumeTherapy
    | ClearAlarm
    | AlarmToneTest
    | SetClock
)


class PumpRefused(ThecalError):
    """The pump refused a command, with a code, the field, its value, the limit and words a nurse understands."""

    def __init__(self, refusal: Refusal):
        self.refusal = refusal
        words = refusal.message
        if refusal.field:
            words += f" ({refusal.field}"
            words += f" = {refusal.value}" if refusal.value else ""
            words += f", limit {refusal.limit})" if refusal.limit else ")"
        super().__init__(words)

    def to_dict(self) -> dict[str, object]:
        """The refusal as reply fields, so a programmer can rebuild it whole."""
        r = self.refusal
        return {
            "code": r.code,
            "message": r.message,
            "field": r.field,
            "value": r.value,
            "limit": r.limit,
            "until_ms": r.until_ms,
        }


# ----------------------------------------------------------------- encoding


def to_telemetry(command: FirmwareCommand) -> tuple[str, Args]:
    """The telemetry command name and arguments that carry a firmware command."""
    encode = _ENCODERS.get(type(command))
    if encode is None:
        raise ValueError(f"{type(command).__name__} is not sent over telemetry; only programming commands are")
    return encode(command)


def _fill(c: Fill) -> tuple[str, Args]:
    args: Args = {
        "volume_nl": c.volume_nl,
        "contents": [{"drug": drug, "concentration_ng_per_ml": conc} for drug, conc in c.contents],
    }
    if c.aspirated_nl is not None:
        args["aspirated_nl"] = c.aspirated_nl
    if c.low_reservoir_alarm_nl is not None:
        args["low_reservoir_alarm_nl"] = c.low_reservoir_alarm_nl
    if c.bridge:
        args["bridge"] = True
    return "refill_update", args


def _program(c: Program) -> tuple[str, Args]:
    days = [[{"start_ms": s.start_ms, "dose_ng_per_day": s.dose_ng_per_day} for s in day] for day in c.doses.days]
    return "program_therapy", {"days": days}


def _periodic(c: SetPeriodicBolus) -> tuple[str, Args]:
    p = c.plan
    if p is None:
        return "periodic_bolus_stop", {}
    args: Args = {
        "dose_ng": p.dose_ng,
        "duration_ms": p.duration_ms,
        "interval_ms": p.interval_ms,
        "first_wall_ms": p.first_wall_ms,
    }
    return "periodic_bolus_set", args


def _demand(c: SetDemandLimits) -> tuple[str, Args]:
    d = c.limits
    if d is None:
        return "ptm_off", {}
    args: Args = {
        "dose_ng": d.dose_ng,
        "duration_ms": d.duration_ms,
        "lockout_ms": d.lockout_ms,
        "max_per_24h": d.max_per_24h,
    }
    return "ptm_settings", args


_ENCODERS: Mapping[type, Callable[..., tuple[str, Args]]] = {
    Fill: _fill,
    SetCatheter: lambda c: ("catheter_set", {"volume_nl": c.volume_nl}),
    Program: _program,
    SetLowReservoirAlarm: lambda c: ("low_reservoir_alarm_set", {"threshold_nl": c.threshold_nl}),
    ClinicianBolus: lambda c: ("clinician_bolus", {"dose_ng": c.dose_ng, "duration_ms": c.duration_ms}),
    PrimingBolus: lambda c: ("priming_bolus", {"volume_nl": c.volume_nl, "duration_ms": c.duration_ms}),
    CancelBolus: lambda c: ("bolus_cancel", {}),
    SetPeriodicBolus: _periodic,
    SetDemandLimits: _demand,
    RequestDemandBolus: lambda c: ("demand_bolus", {}),
    StopTherapy: lambda c: ("therapy_stop", {}),
    ResumeTherapy: lambda c: ("therapy_resume", {}),
    # Who clears an alarm is the sender's certified role, never a field of the message.
    ClearAlarm: lambda c: ("alarm_clear", {"alarm": c.alarm.value}),
    AlarmToneTest: lambda c: ("alarm_tone_test", {}),
    SetClock: lambda c: ("clock_set", {"wall_ms": c.wall_ms}),
}


# ----------------------------------------------------------------- decoding


def from_telemetry(name: str, args: Mapping[str, object], sender: Role) -> TelemetryCommand:
    """The firmware command a checked telemetry command asks for; PumpRefused for what the table cannot see."""
    decode = _DECODERS.get(name)
    if decode is None:
        raise ValueError(f"telemetry command {name!r} has no firmware command")
    return decode(args, sender)


def _int(args: Mapping[str, object], key: str) -> int:
    value = args[key]
    if type(value) is not int:  # the command table lets only integers through; anything else is a fault here
        raise TypeError(f"{key} must be an integer after the command table, got {type(value).__name__}")
    return value


def _items(args: Mapping[str, object], key: str) -> list[Mapping[str, object]]:
    value = args[key]
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise TypeError(f"{key} must be a list of maps after the command table")
    return value


def _decode_fill(args: Mapping[str, object], sender: Role) -> Fill:
    aspirated = args.get("aspirated_nl")
    threshold = args.get("low_reservoir_alarm_nl")
    return Fill(
        _int(args, "volume_nl"),
        tuple((str(c["drug"]), _int(c, "concentration_ng_per_ml")) for c in _items(args, "contents")),
        aspirated_nl=aspirated if type(aspirated) is int else None,
        low_reservoir_alarm_nl=threshold if type(threshold) is int else None,
        bridge=args.get("bridge") is True,
    )


def _decode_program(args: Mapping[str, object], sender: Role) -> Program:
    days = args["days"]
    if not isinstance(days, list):
        raise TypeError("days must be a list after the command table")
    steps = [[DoseStep(_int(s, "start_ms"), _int(s, "dose_ng_per_day")) for s in _day(day)] for day in days]
    try:
        doses = DoseSchedule(tuple(tuple(day) for day in steps))
    except ValueError as exc:
        raise PumpRefused(
            Refusal("bad_schedule", f"{exc}; give each day's steps in order, the first at 00:00", "days")
        ) from None
    return Program(doses)


def _day(day: object) -> list[Mapping[str, object]]:
    if not isinstance(day, list) or not all(isinstance(step, dict) for step in day):
        raise TypeError("each day must be a list of steps after the command table")
    return day


def _decode_alarm(args: Mapping[str, object], sender: Role) -> ClearAlarm:
    name = str(args["alarm"])
    if name not in {alarm.value for alarm in Alarm}:
        known = ", ".join(alarm.value for alarm in Alarm)
        raise PumpRefused(Refusal("unknown_alarm", f"there is no alarm {name!r}; name one of: {known}", "alarm", name))
    return ClearAlarm(Alarm(name), sender)


_DECODERS: Mapping[str, Callable[[Mapping[str, object], Role], TelemetryCommand]] = {
    "refill_update": _decode_fill,
    "catheter_set": lambda a, r: SetCatheter(_int(a, "volume_nl")),
    "program_therapy": _decode_program,
    "low_reservoir_alarm_set": lambda a, r: SetLowReservoirAlarm(_int(a, "threshold_nl")),
    "clinician_bolus": lambda a, r: ClinicianBolus(_int(a, "dose_ng"), _int(a, "duration_ms")),
    "priming_bolus": lambda a, r: PrimingBolus(_int(a, "volume_nl"), _int(a, "duration_ms")),
    "bolus_cancel": lambda a, r: CancelBolus(),
    "periodic_bolus_set": lambda a, r: SetPeriodicBolus(
        PeriodicBolusPlan(_int(a, "dose_ng"), _int(a, "duration_ms"), _int(a, "interval_ms"), _int(a, "first_wall_ms"))
    ),
    "periodic_bolus_stop": lambda a, r: SetPeriodicBolus(None),
    "alarm_clear": _decode_alarm,
    "alarm_tone_test": lambda a, r: AlarmToneTest(),
    "ptm_settings": lambda a, r: SetDemandLimits(
        DemandLimits(_int(a, "dose_ng"), _int(a, "duration_ms"), _int(a, "lockout_ms"), _int(a, "max_per_24h"))
    ),
    "ptm_off": lambda a, r: SetDemandLimits(None),
    "demand_bolus": lambda a, r: RequestDemandBolus(),
    "therapy_stop": lambda a, r: StopTherapy(),
    "therapy_resume": lambda a, r: ResumeTherapy(),
    "clock_set": lambda a, r: SetClock(_int(a, "wall_ms")),
}

# Telemetry commands the pump answers without a firmware command: reads, and the telemetry layer's key commands.
NOT_FIRMWARE_COMMANDS = frozenset({"interrogate_status", "read_event_log"}) | SECURITY_COMMANDS
