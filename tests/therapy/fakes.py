"""Hand-made pump snapshots and a port that plays a pump from them, for planning without a firmware."""

from __future__ import annotations

from dataclasses import dataclass, field

from thecal.pump.core import commands as pump
from thecal.pump.core.actions import Refusal
from thecal.pump.core.schedule import DoseSchedule
from thecal.pump.model import PumpModel, load_model
from thecal.therapy import Actor, StaffRole
from thecal.therapy.ports import SendOutcome, Sent
from thecal.therapy.snapshot import PatientView, PumpSnapshot

MODEL_20: PumpModel = load_model("programmable-20")
MG = 1_000_000
MCG = 1_000
ML = 1_000_000
HOUR = 3_600_000
DAY = 86_400_000
WALL_MS = 1_700_000_000_000 - 1_700_000_000_000 % DAY  # a midnight

PHYSICIAN = Actor("Dr Rivera", StaffRole.PHYSICIAN)
NURSE = Actor("Nurse Okafor", StaffRole.NURSE)
PATIENT = Actor("Sam", StaffRole.PATIENT)
REASON = "cancer pain, tolerant to 400 mg/day oral morphine"


def status(
    *,
    label: tuple[tuple[str, int], ...] = (("morphine", 10 * MG),),
    prescription: DoseSchedule | None = None,
    demand: pump.DemandLimits | None = None,
    periodic: pump.PeriodicBolusPlan | None = None,
    reservoir_nl: int = 5 * ML,
    catheter_volume_nl: int = 200_000,
    mode: str = "running",
    alarms: tuple[str, ...] = (),
    dose_raised_wall_ms: int | None = None,
    wall_ms: int = WALL_MS,
) -> dict[str, object]:
    """A status with the contract's keys, as the firmware would answer it."""
    return {
        "model": MODEL_20.name,
        "now_ms": 10 * DAY,
        "wall_ms": wall_ms,
        "reservoir_nl": reservoir_nl,
        "reservoir_capacity_nl": MODEL_20.reservoir_nl,
        "low_reservoir_alarm_nl": 2 * ML,
        "label": [{"drug": d, "concentration_ng_per_ml": c} for d, c in label],
        "prescription": None if prescription is None else prescription.to_data(),
        "demand": None if demand is None else dict(vars_of(demand)),
        "periodic": None if periodic is None else dict(vars_of(periodic)),
        "catheter_volume_nl": catheter_volume_nl,
        "dead_volume_nl": catheter_volume_nl + MODEL_20.internal_volume_nl,
        "dose_raised_wall_ms": dose_raised_wall_ms,
        "demand_next_allowed_wall_ms": None if demand is None else wall_ms,
        "demand_left_24h": None if demand is None else demand.max_per_24h,
        "demand_not_now": {"code": "demand_off", "until_wall_ms": None} if demand is None else None,
        "recent_exposures": [],
        "bridge": None,
        "mode": mode,
        "alarms": list(alarms),
        "basal_flow_nl_per_day": 0,
        "bolus_flow_nl_per_day": 0,
        "bolus": None,
        "fills_total": 1 if label else 0,
    }


def vars_of(record: object) -> dict[str, int]:
    """A settings record's fields."""
    return {k: v for k, v in vars(record).items() if not k.startswith("_")}


@dataclass
class FakePort:
    """A port over a status dict; it applies settings commands unless told to ignore them or to refuse one."""

    state: dict[str, object]
    apply: bool = True
    refuse: type | None = None
    unknown: type | None = None
    sent: list[pump.Command] = field(default_factory=list)

    def interrogate(self) -> PumpSnapshot:
        """The snapshot of the present status."""
        return PumpSnapshot.from_status(self.state, MODEL_20)

    def patient_view(self) -> PatientView:
        """The patient's part of the status."""
        return self.interrogate().patient

    def send(self, command: pump.Command) -> Sent:
        """Accept (and apply), refuse or lose one command."""
        self.sent.append(command)
        if self.refuse is not None and isinstance(command, self.refuse):
            refusal = Refusal(
                "above_max_daily_dose", "too much in 24 h", "daily_dose.morphine", "30 mg/day", "20 mg/day"
            )
            return Sent(command, SendOutcome.REFUSED, refusal)
        if self.unknown is not None and isinstance(command, self.unknown):
            return Sent(command, SendOutcome.UNKNOWN, reason="no reply after 4 attempts")
        if self.apply:
            self._apply(command)
        return Sent(command, SendOutcome.ACCEPTED)

    def _apply(self, c: pump.Command) -> None:
        s = self.state
        if isinstance(c, pump.Program):
            s["prescription"] = c.doses.to_data()
        elif isinstance(c, pump.SetDemandLimits):
            s["demand"] = None if c.limits is None else vars_of(c.limits)
        elif isinstance(c, pump.SetPeriodicBolus):
            s["periodic"] = None if c.plan is None else vars_of(c.plan)
        elif isinstance(c, pump.Fill):
            s["label"] = [{"drug": d, "concentration_ng_per_ml": n} for d, n in c.contents]
            s["reservoir_nl"] = c.volume_nl
            if c.low_reservoir_alarm_nl is not None:
                s["low_reservoir_alarm_nl"] = c.low_reservoir_alarm_nl
        elif isinstance(c, pump.SetLowReservoirAlarm):
            s["low_reservoir_alarm_nl"] = c.threshold_nl
        elif isinstance(c, pump.SetCatheter):
            s["catheter_volume_nl"] = c.volume_nl
            s["dead_volume_nl"] = c.volume_nl + MODEL_20.internal_volume_nl
        elif isinstance(c, pump.StopTherapy):
            s["mode"] = "minimum_rate"
        elif isinstance(c, pump.ResumeTherapy):
            s["mode"] = "running"
