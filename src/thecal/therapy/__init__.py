"""The therapy service layer: the one place where "a clinician or patient does X" becomes pump commands.

Every door (scenario runner, command line, web apps, trials) turns what a
person wants into an intent and hands it to a `TherapyService`, which reads
the pump through a `PumpPort`, plans (commands, old and new settings side by
side in dose and in volume, the limits that applied, warnings, the override),
sends a confirmed plan and verifies the pump holds what was planned.
"""

from thecal.drugs.verdict import StaffRole
from thecal.therapy.context import ClinicSettings, PatientFacts
from thecal.therapy.intents import (
    AlarmTest,
    ClearAlarm,
    ClinicianBolus,
    DemandPress,
    FirstFill,
    Implant,
    Intent,
    LowReservoirAlarm,
    PeriodicBolus,
    PeriodicBolusOff,
    PostMriCheck,
    Prescribe,
    PrimingBolus,
    PtmOff,
    PtmSettings,
    Refill,
    ResumeTherapy,
    StopTherapy,
    Titrate,
)
from thecal.therapy.plan import Plan, PlanWarning
from thecal.therapy.ports import DirectPort, LogRecord, PortError, PumpPort, SendOutcome, Sent, TelemetryPort
from thecal.therapy.roles import Actor
from thecal.therapy.service import Execution, ExecutionStatus, TherapyService, Verification
from thecal.therapy.settings import SettingChange, SettingValue, TherapySettings
from thecal.therapy.snapshot import PatientView, PumpSnapshot, SnapshotError

__all__ = [
    "Actor",
    "AlarmTest",
    "ClearAlarm",
    "ClinicSettings",
    "ClinicianBolus",
    "DemandPress",
    "DirectPort",
    "Execution",
    "ExecutionStatus",
    "FirstFill",
    "Implant",
    "Intent",
    "LogRecord",
    "LowReservoirAlarm",
    "PatientFacts",
    "PatientView",
    "PeriodicBolus",
    "PeriodicBolusOff",
    "Plan",
    "PlanWarning",
    "PortError",
    "PostMriCheck",
    "Prescribe",
    "PrimingBolus",
    "PtmOff",
    "PtmSettings",
    "PumpPort",
    "PumpSnapshot",
    "Refill",
    "ResumeTherapy",
    "SendOutcome",
    "Sent",
    "SettingChange",
    "SettingValue",
    "SnapshotError",
    "StaffRole",
    "StopTherapy",
    "TelemetryPort",
    "TherapyService",
    "TherapySettings",
    "Titrate",
    "Verification",
]
