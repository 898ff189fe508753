"""The pump's firmware core: pure, deterministic, integers inside.

See `firmware.py` for the theory of operation.
"""

from thecal.pump.core.actions import Action, Delivery, Logged, Outcome, Refusal, ToneSounded
from thecal.pump.core.alarms import Alarm, Tone
from thecal.pump.core.commands import (
    BolusKind,
    CancelBolus,
    ClearAlarm,
    Command,
    DemandLimits,
    Fill,
    MotorRecovered,
    MotorStalled,
    PeerChanged,
    PeriodicBolusPlan,
    Program,
    ReportFault,
    RequestDemandBolus,
    ResumeTherapy,
    Role,
    SetClock,
    SetDemandLimits,
    SetLowReservoirAlarm,
    SetPeriodicBolus,
    StartBolus,
    StopTherapy,
    TelemetryRejected,
    TelemetrySession,
)
from thecal.pump.core.firmware import Firmware
from thecal.pump.core.schedule import Step, WeekSchedule
from thecal.pump.core.state import PumpState

__all__ = [
    "Action",
    "Alarm",
    "BolusKind",
    "CancelBolus",
    "ClearAlarm",
    "Command",
    "Delivery",
    "DemandLimits",
    "Fill",
    "Firmware",
    "Logged",
    "MotorRecovered",
    "MotorStalled",
    "Outcome",
    "PeerChanged",
    "PeriodicBolusPlan",
    "Program",
    "PumpState",
    "Refusal",
    "ReportFault",
    "RequestDemandBolus",
    "ResumeTherapy",
    "Role",
    "SetClock",
    "SetDemandLimits",
    "SetLowReservoirAlarm",
    "SetPeriodicBolus",
    "StartBolus",
    "Step",
    "StopTherapy",
    "TelemetryRejected",
    "TelemetrySession",
    "Tone",
    "ToneSounded",
    "WeekSchedule",
]
