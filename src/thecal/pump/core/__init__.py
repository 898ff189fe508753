"""The pump's firmware core: pure, deterministic, integers inside.

See `firmware.py` for the theory of operation.
"""

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
