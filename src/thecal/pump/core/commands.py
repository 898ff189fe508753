"""What the firmware core accepts: commands from the programmer and PTM, and reports from the hardware.

Every quantity is an integer in base units named in the field: ng, ng/day,
nL, ng/mL, ms. Wall-clock times are milliseconds since the Unix epoch.

Settings that are doses (the basal schedule, the clinician, periodic and
demand boluses) are given as doses of the label's lead drug, never as
volumes: the firmware turns them into volumes with the concentration on the
label, and again whenever a fill changes it. Priming fills the tubing and
catheter, so it is a volume; the bridge after a change of drug or
concentration is part of the fill that makes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from thecal.pump.core.alarms import Alarm
from thecal.pump.core.schedule import DoseSchedule


class BolusKind(StrEnum):
    """Kinds of bolus. Priming and bridge replace the basal flow; the others add to it."""

    CLINICIAN = "clinician"
    PERIODIC = "periodic"
    DEMAND = "demand"
    PRIMING = "priming"
    BRIDGE = "bridge"

    @property
    def replaces_basal(self) -> bool:
        """True when the basal schedule pauses while this bolus runs."""
        return self in REPLACE_BASAL


# The kinds of bolus that replace the basal flow, as a set: the motor asks at every stretch.
REPLACE_BASAL = frozenset({BolusKind.PRIMING, BolusKind.BRIDGE})


class Role(StrEnum):
    """Which kind of device sent a command: the clinician's programmer, the patient's PTM, or the pump itself."""

    CLINICIAN = "clinician"
    PTM = "ptm"
    PUMP = "pump"


@dataclass(frozen=True)
class Fill:
    """The reservoir now holds `volume_nl` of `contents` (drug name, ng/mL; the lead drug first).

    `aspirated_nl` was withdrawn before filling. With `bridge`, the drug still in
    the tubing and catheter (the dead volume) is pushed through at the old flows,
    so it reaches the patient at the old dose, before the new flows begin; with
    nothing programmed before, whatever flows pushes it, every dose measured out
    with the stronger solution meanwhile. A change to a weaker solution or
    another drug needs the bridge after any earlier fill.
    """

    volume_nl: int
    contents: tuple[tuple[str, int], ...]
    aspirated_nl: int | None = None
    low_reservoir_alarm_nl: int | None = None
    bridge: bool = False


@dataclass(frozen=True)
class SetCatheter:
    """The implanted catheter holds `volume_nl` (length × volume per length), set at implant or revision."""

    volume_nl: int


@dataclass(frozen=True)
class Program:
    """Give this schedule of daily doses of the lead drug from now on."""

    doses: DoseSchedule


@dataclass(frozen=True)
class SetLowReservoirAlarm:
    """Raise the low-reservoir alarm at this calculated volume."""

    threshold_nl: int


@dataclass(frozen=True)
class ClinicianBolus:
    """Give `dose_ng` of the lead drug over `duration_ms`, on top of the basal flow."""

    dose_ng: int
    duration_ms: int


@dataclass(frozen=True)
class PrimingBolus:
    """Fill an empty catheter and pump tubing: move `volume_nl` over `duration_ms`, in place of the basal flow."""

    volume_nl: int
    duration_ms: int


@dataclass(frozen=True)
class CancelBolus:
    """Stop the running bolus."""


@dataclass(frozen=True)
class PeriodicBolusPlan:
    """A bolus of `dose_ng` over `duration_ms`, every `interval_ms`, first at wall time `first_wall_ms`."""

    dose_ng: int
    duration_ms: int
    interval_ms: int
    first_wall_ms: int


@dataclass(frozen=True)
class SetPeriodicBolus:
    """Start, change or (with None) end the periodic bolus."""

    plan: PeriodicBolusPlan | None


@dataclass(frozen=True)
class DemandLimits:
    """The physician's limits on patient-activated doses: each gives `dose_ng` of the lead drug."""

    dose_ng: int
    duration_ms: int
    lockout_ms: int
    max_per_24h: int


@dataclass(frozen=True)
class SetDemandLimits:
    """Enable, change or (with None) disable demand boluses."""

    limits: DemandLimits | None


@dataclass(frozen=True)
class RequestDemandBolus:
    """The patient pressed for an extra dose."""


@dataclass(frozen=True)
class StopTherapy:
    """Go to minimum-rate mode."""


@dataclass(frozen=True)
class ResumeTherapy:
    """Leave minimum-rate mode and deliver the programmed schedule again."""


@dataclass(frozen=True)
class ClearAlarm:
    """Clear an alarm on behalf of `role`."""

    alarm: Alarm
    role: Role


@dataclass(frozen=True)
class AlarmToneTest:
    """Sound each alarm tone once, so the patient hears both: a single tone, then the two-tone.

    A clinician's test so the patient learns the two sounds. Assumption: no published text describing this
    pump class's alarm test was found (the Medtronic SynchroMed II Clinician Programming Guide, A810 app, on
    manualmachine.com, was searched; its alarm passages could not be read), so that it sounds each tone exactly
    once, single first, and changes no therapy, alarm or reservoir is this project's choice. The pump logs it.
    """


@dataclass(frozen=True)
class MotorStalled:
    """The hardware reports the rotor stopped (magnetic field, fault)."""

    cause: str


@dataclass(frozen=True)
class MotorRecovered:
    """The hardware reports the rotor turns again."""


@dataclass(frozen=True)
class ReportFault:
    """The hardware or a self-test reports a fault."""

    code: str


@dataclass(frozen=True)
class TelemetrySession:
    """A telemetry exchange took place: it costs battery charge."""


@dataclass(frozen=True)
class TelemetryRejected:
    """The telemetry layer refused a frame or command before it reached the therapy.

    `key_id` is the key the frame claimed (hex), authenticated only when
    `role` is set; `command` is the refused command's name when it was read.
    """

    code: str
    key_id: str = ""
    role: str = ""
    command: str = ""


@dataclass(frozen=True)
class PeerChanged:
    """A device was paired with the pump (`change` "paired") or its key revoked ("revoked")."""

    change: str
    key_id: str
    role: str = ""
    by_key_id: str = ""


@dataclass(frozen=True)
class SetClock:
    """Set the pump's wall clock."""

    wall_ms: int


Command = (
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
    | MotorStalled
    | MotorRecovered
    | ReportFault
    | TelemetrySession
    | TelemetryRejected
    | PeerChanged
    | SetClock
)
