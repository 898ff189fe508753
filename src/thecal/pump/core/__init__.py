"""The pump's firmware core: pure, deterministic, integers inside.

See `firmware.py` for the theory of operation.

The names below are imported from their modules when first used, not with the
package: `thecal.units` and the command line need only `integers`, and a
command that never runs the firmware must not wait for it to load.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from thecal.pump.core.actions import Action, Delivery, Logged, Outcome, Refusal, ToneSounded
    from thecal.pump.core.alarms import Alarm, Tone
    from thecal.pump.core.commands import (
        BolusKind,
        CancelBolus,
        ClearAlarm,
        ClinicianBolus,
        Command,
        DemandLimits,
        Fill,
        MotorRecovered,
        MotorStalled,
        PeerChanged,
        PeriodicBolusPlan,
        PrimingBolus,
        Program,
        ReportFault,
        RequestDemandBolus,
        ResumeTherapy,
        Role,
        SetCatheter,
        SetClock,
        SetDemandLimits,
        SetLowReservoirAlarm,
        SetPeriodicBolus,
        StopTherapy,
        TelemetryRejected,
        TelemetrySession,
    )
    from thecal.pump.core.demand import DemandWindow, demand_window
    from thecal.pump.core.figures import PumpFigures
    from thecal.pump.core.firmware import Firmware
    from thecal.pump.core.hard_limits import WorstCase, worst_case
    from thecal.pump.core.label import MAX_LABEL_ENTRIES, DrugLabel, DrugRule, Formulary, LabelEntry
    from thecal.pump.core.modes import PumpMode
    from thecal.pump.core.refusals import RefusalCode
    from thecal.pump.core.schedule import DoseSchedule, DoseStep, Step, WeekSchedule
    from thecal.pump.core.state import PumpState

# Each public name, by the module of this package that defines it.
_HOME = {
    "Action": "actions",
    "Delivery": "actions",
    "Logged": "actions",
    "Outcome": "actions",
    "Refusal": "actions",
    "ToneSounded": "actions",
    "Alarm": "alarms",
    "Tone": "alarms",
    "BolusKind": "commands",
    "CancelBolus": "commands",
    "ClearAlarm": "commands",
    "ClinicianBolus": "commands",
    "Command": "commands",
    "DemandLimits": "commands",
    "Fill": "commands",
    "MotorRecovered": "commands",
    "MotorStalled": "commands",
    "PeerChanged": "commands",
    "PeriodicBolusPlan": "commands",
    "PrimingBolus": "commands",
    "Program": "commands",
    "ReportFault": "commands",
    "RequestDemandBolus": "commands",
    "ResumeTherapy": "commands",
    "Role": "commands",
    "SetCatheter": "commands",
    "SetClock": "commands",
    "SetDemandLimits": "commands",
    "SetLowReservoirAlarm": "commands",
    "SetPeriodicBolus": "commands",
    "StopTherapy": "commands",
    "TelemetryRejected": "commands",
    "TelemetrySession": "commands",
    "DemandWindow": "demand",
    "demand_window": "demand",
    "PumpFigures": "figures",
    "Firmware": "firmware",
    "WorstCase": "hard_limits",
    "worst_case": "hard_limits",
    "MAX_LABEL_ENTRIES": "label",
    "DrugLabel": "label",
    "DrugRule": "label",
    "Formulary": "label",
    "LabelEntry": "label",
    "PumpMode": "modes",
    "RefusalCode": "refusals",
    "DoseSchedule": "schedule",
    "DoseStep": "schedule",
    "Step": "schedule",
    "WeekSchedule": "schedule",
    "PumpState": "state",
}


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


__all__ = [
    "MAX_LABEL_ENTRIES",
    "Action",
    "Alarm",
    "BolusKind",
    "CancelBolus",
    "ClearAlarm",
    "ClinicianBolus",
    "Command",
    "Delivery",
    "DemandLimits",
    "DemandWindow",
    "DoseSchedule",
    "DoseStep",
    "DrugLabel",
    "DrugRule",
    "Fill",
    "Firmware",
    "Formulary",
    "LabelEntry",
    "Logged",
    "MotorRecovered",
    "MotorStalled",
    "Outcome",
    "PeerChanged",
    "PeriodicBolusPlan",
    "PrimingBolus",
    "Program",
    "PumpFigures",
    "PumpMode",
    "PumpState",
    "Refusal",
    "RefusalCode",
    "ReportFault",
    "RequestDemandBolus",
    "ResumeTherapy",
    "Role",
    "SetCatheter",
    "SetClock",
    "SetDemandLimits",
    "SetLowReservoirAlarm",
    "SetPeriodicBolus",
    "Step",
    "StopTherapy",
    "TelemetryRejected",
    "TelemetrySession",
    "Tone",
    "ToneSounded",
    "WeekSchedule",
    "WorstCase",
    "demand_window",
    "worst_case",
]
