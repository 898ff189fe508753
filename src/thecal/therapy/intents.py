"""What a clinician or patient wants done, in clinical units: one frozen record per intent.

Every quantity is an integer in the base unit its name carries (nL, ng, ng/day,
ms). Doses are doses of the drug the pump holds: no intent names a drug or a
concentration except the fills, which put them there; the therapy layer reads
them back from the pump's label. Every intent may carry an override reason: a
physician's written reason to pass the soft limits it meets.
"""

from __future__ import annotations

from dataclasses import dataclass

from thecal.drugs.fill import Fill
from thecal.pump.core.alarms import Alarm
from thecal.pump.core.schedule import DoseSchedule


@dataclass(frozen=True, kw_only=True)
class IntentBase:
    """What every intent carries: an optional written reason to pass its soft limits."""

    override_reason: str | None = None


@dataclass(frozen=True)
class Implant(IntentBase):
    """A catheter was implanted or revised: it holds `catheter_volume_nl` (length × volume per length)."""

    catheter_volume_nl: int


@dataclass(frozen=True)
class FirstFill(IntentBase):
    """The first fill of a new pump: `volume_nl` of `fill` goes into the empty reservoir."""

    volume_nl: int
    fill: Fill
    low_reservoir_alarm_nl: int | None = None


@dataclass(frozen=True)
class Refill(IntentBase):
    """A refill: `aspirated_nl` came out, `volume_nl` of `fill` goes in.

    With a change of drug or concentration the old drug in the tubing and
    catheter is bridged at the old doses unless `bridge` is False; a change of
    the lead drug needs `new_prescription`. A discrepancy flagged by the
    reconciliation stops the refill until `discrepancy_acknowledged`.
    """

    volume_nl: int
    fill: Fill
    aspirated_nl: int
    bridge: bool = True
    new_prescription: DoseSchedule | None = None
    low_reservoir_alarm_nl: int | None = None
    discrepancy_acknowledged: bool = False


@dataclass(frozen=True)
class Prescribe(IntentBase):
    """Give this schedule of daily doses of the lead drug from now on (continuous or flexible)."""

    doses: DoseSchedule


@dataclass(frozen=True)
class Titrate(IntentBase):
    """Change the daily dose to `new_dose_ng_per_day`; a flexible schedule is scaled so its highest step is it."""

    new_dose_ng_per_day: int


@dataclass(frozen=True)
class ClinicianBolus(IntentBase):
    """Give `dose_ng` of the lead drug over `duration_ms`, on top of the basal flow."""

    dose_ng: int
    duration_ms: int


@dataclass(frozen=True)
class PrimingBolus(IntentBase):
    """Fill the empty catheter and tubing: the dead volume and the fastest flow unless given."""

    volume_nl: int | None = None
    duration_ms: int | None = None


@dataclass(frozen=True)
class PeriodicBolus(IntentBase):
    """A bolus of `dose_ng` over `duration_ms` every `interval_ms`, the first at `first_time_of_day_ms`."""

    dose_ng: int
    duration_ms: int
    interval_ms: int
    first_time_of_day_ms: int


@dataclass(frozen=True)
class PeriodicBolusOff(IntentBase):
    """End the periodic bolus."""


@dataclass(frozen=True)
class PtmSettings(IntentBase):
    """Let the patient take `dose_ng` over `duration_ms`, at most `max_per_24h`, `lockout_ms` apart."""

    dose_ng: int
    duration_ms: int
    lockout_ms: int
    max_per_24h: int


@dataclass(frozen=True)
class PtmOff(IntentBase):
    """The patient's handset gives no more demand doses."""


@dataclass(frozen=True)
class StopTherapy(IntentBase):
    """Go to the pump's minimum rate."""


@dataclass(frozen=True)
class ResumeTherapy(IntentBase):
    """Deliver the prescription again after a stop."""


@dataclass(frozen=True)
class ClearAlarm(IntentBase):
    """Clear an alarm whose cause was handled."""

    alarm: Alarm


@dataclass(frozen=True)
class PostMriCheck(IntentBase):
    """After an MRI: the motor stall is logged and recovered, its alarm cleared, and therapy runs."""


@dataclass(frozen=True)
class AlarmTest(IntentBase):
    """Test the alarm tones: the pump sounds each once for the patient to hear; nothing in the therapy changes."""


@dataclass(frozen=True)
class LowReservoirAlarm(IntentBase):
    """Raise the low-reservoir alarm at `threshold_nl` in the reservoir."""

    threshold_nl: int


@dataclass(frozen=True)
class DemandPress(IntentBase):
    """The patient asks for a demand dose."""


Intent = (
    Implant
    | FirstFill
    | Refill
    | Prescribe
    | Titrate
    | ClinicianBolus
    | PrimingBolus
    | PeriodicBolus
    | PeriodicBolusOff
    | PtmSettings
    | PtmOff
    | StopTherapy
    | ResumeTherapy
    | ClearAlarm
    | PostMriCheck
    | AlarmTest
    | LowReservoirAlarm
    | DemandPress
)
