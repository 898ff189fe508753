"""The what-if forecast from what a clinic knows now: its pump, its drug, its prescription and its patient.

`thecal.sim.forecast.forecast` forks a scenario. A clinic has no scenario: it
has a pump that holds a drug and a prescription today, and a patient record.
`forecast_now` writes the scenario that brings a virtual pump and patient to
that state, and hands it to the same `forecast`:

- the pump model and catheter volume of the implant; filled with the drug at
  its concentration, the catheter primed, the current prescription (and the
  demand settings and the periodic bolus, if any) programmed, every entry read by the scenario
  format's own schema (`parse_scenario`), so every value is checked as a
  scenario file's is, and programmed through the one rulebook;
- **settling (assumption):** the virtual patient lives on the current
  prescription for `settle_days` (28 by default) before the fork, so that the
  forecast starts from a patient adapted to it (tolerance and the drug in the
  CSF at steady state) rather than from the day of the implant. The
  prescription history before those days is not known to the model;
- at the end of settling the reservoir is refilled to the volume the pump
  holds now (the same drug and concentration: no bridge), with refills to the
  model's capacity along the way when the settling would empty it; the fork is
  that moment, and its wall clock is `now_wall_ms`, so the dates are real;
- the pump is taken as exact (accuracy error 0 %): the forecast's reservoir
  is the one the pump calculates, which is what the clinic reads.

The patient: the indication, the weight and the opioid status are the
record's; opioid-tolerant patients start from 60 mg/day oral morphine, naive
ones from none (assumptions, kept in `thecal.sim.virtual_patient` for every door). The latest reported pain
score, if any, is the pain the virtual patient reports on the current
prescription at the end of settling: its entry pain is solved for that (a few
secant steps on the first draw); without a score it is 7.5 (assumption).
Cancer patients get a median prognosis of 365 days.

`proposal_of(schedule)` is the one place where a prescription the clinic plans
(a `DoseSchedule`, as a `Prescribe` intent carries it) becomes the forecast's
`Proposal`, in the scenario format's words, read by its schema;
`proposal_of_plan(plan)` takes it from a plan on a Finish screen: the
prescription the pump must hold afterwards, with the plan's written reason.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from thecal.errors import InputError
from thecal.patient import PopulationSpec, VirtualPatient
from thecal.pump.core.commands import DemandLimits, PeriodicBolusPlan
from thecal.pump.core.schedule import DAY_NAMES, DoseSchedule
from thecal.sim.forecast import Forecast, Proposal, forecast, patient_draws
from thecal.sim.patient_link import OralRegimen, PatientLink
from thecal.sim.scenario import Scenario, VirtualPatientSpec, flex_steps, parse_scenario
from thecal.sim.virtual_patient import (
    DEFAULT_PROGNOSIS_DAYS,
    NAIVE_PRIOR_ORAL_MG_PER_DAY,
    TOLERANT_PRIOR_ORAL_MG_PER_DAY,
)
from thecal.therapy import Plan
from thecal.therapy.settings import time_of_day_text
from thecal.units import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN, NL_PER_ML, format_exact

SETTLE_DAYS = 28  # assumption: four weeks on the current prescription bring the model patient to a steady state
DRAWS = 8  # small defaults for a page that waits for the answer
WEEKS = 4
UNKNOWN_PAIN = VirtualPatientSpec.entry_pain  # the entry pain of a patient with no pain score on record
PRIME_AFTER_MS = 6 * MS_PER_HOUR  # the current prescription starts once the priming bolus is surely through
PAIN_STEPS = 3  # secant steps that solve the entry pain for the reported score
PAIN_TOLERANCE = 0.25  # on the 0-10 scale: closer than a person reports
_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class PumpNow:
    """What the clinic's pump holds now, as its last reading and the implant record say."""

    model: str  # a pump model's name ("programmable-20")
    catheter_volume_nl: int
    drug: str
    concentration_ng_per_ml: int
    reservoir_nl: int  # the pump's calculated reservoir now
    prescription: DoseSchedule
    demand: DemandLimits | None = None
    low_reservoir_alarm_nl: int | None = None
    periodic: PeriodicBolusPlan | None = None


@dataclass(frozen=True)
class PatientNow:
    """What the clinic's record says of the patient."""

    indication: str  # "cancer" | "non_cancer"
    weight_kg: float
    opioid_naive: bool
    pain_score: float | None = None  # the latest reported, 0-10, on the current prescription


def proposal_of(schedule: DoseSchedule, override_reason: str | None = None) -> Proposal:
    """A prescription the clinic plans, as the forecast's proposal (read by the scenario format's schema)."""
    entry = _prescription_entry(schedule)
    steps = flex_steps(dict(entry), "proposal")
    return Proposal(_schedule_words(schedule), steps, override_reason)


def proposal_of_plan(plan: Plan) -> Proposal | None:
    """The proposal of a planned intent that changes the basal prescription (a prescription change, a titration);
    None for a plan that leaves it as it is."""
    before = plan.before.prescription if plan.before is not None else None
    after = plan.expected.prescription if plan.expected is not None else None
    if after is None or after == before:
        return None
    return proposal_of(after, plan.intent.override_reason)


def scenario_now(pump: PumpNow, patient: PatientNow, now_wall_ms: int, weeks: int, settle_days: int) -> Scenario:
    """The scenario that brings a virtual pump to what the clinic's pump holds at `now_wall_ms`, then runs on."""
    settle_ms = settle_days * MS_PER_DAY
    start_wall_ms = (now_wall_ms - settle_ms) // MS_PER_MIN * MS_PER_MIN  # a scenario starts on a whole minute
    start = _EPOCH + timedelta(milliseconds=start_wall_ms)
    capacity = _capacity_nl(pump.model)
    lines = [
        "[scenario]",
        f"name = {_q('the clinic pump now')}",
        f"start = {_q(start.isoformat(timespec='minutes'))}",
        "[pump]",
        f"model = {_q(pump.model)}",
        f"accuracy_error = {_q('0 %')}",
    ]
    if pump.low_reservoir_alarm_nl is not None:
        lines.append(f"low_reservoir_alarm = {_q(_ml(pump.low_reservoir_alarm_nl))}")
    lines += [
        "[catheter]",
        f"volume = {_q(_ml(pump.catheter_volume_nl))}",
        "[patient]",
        f"opioid_naive = {'true' if patient.opioid_naive else 'false'}",
        "[run]",
        f"duration = {_q(f'{settle_days + 7 * weeks} d')}",
    ]
    fill = {"drug": pump.drug, "concentration": _conc(pump.concentration_ng_per_ml)}
    entries: list[dict[str, object]] = [
        {"at": "0 d", "action": "fill", **fill, "volume": _ml(capacity)},
        {"at": "0 d", "action": "prime"},
    ]
    started = f"{PRIME_AFTER_MS // MS_PER_MIN} min"
    reason = "the prescription the pump holds now, carried over from the clinic"
    program = {"at": started, "action": "program", **_prescription_entry(pump.prescription)}
    entries.append({**program, "override_reason": reason})
    if pump.demand is not None:
        d = pump.demand
        entries.append(
            {
                "at": started,
                "action": "demand_settings",
                "dose": format_exact(d.dose_ng, 1_000_000, "mg"),
                "duration": f"{d.duration_ms} ms",
                "lockout": f"{d.lockout_ms} ms",
                "max_per_day": d.max_per_24h,
                "override_reason": reason,
            }
        )
    if pump.periodic is not None:
        p = pump.periodic
        at_ms, first_ms = periodic_start(p, start_wall_ms=start_wall_ms, after_ms=PRIME_AFTER_MS)
        entries.append(
            {
                "at": f"{at_ms // MS_PER_MIN} min",
                "action": "periodic_bolus",
                "dose": format_exact(p.dose_ng, 1_000_000, "mg"),
                "duration": f"{p.duration_ms} ms",
                "every": f"{p.interval_ms} ms",
                "first": time_of_day_text(first_ms),
                "override_reason": reason,
            }
        )
    entries += _refills(pump, fill, capacity, settle_ms)
    for entry in entries:
        lines += ["[[timeline]]", *(f"{k} = {_value(v)}" for k, v in entry.items())]
    return parse_scenario("\n".join(lines) + "\n", "<the clinic pump now>")


def periodic_start(plan: PeriodicBolusPlan, *, start_wall_ms: int, after_ms: int) -> tuple[int, int]:
    """When a scenario starting at `start_wall_ms` sets the pump's periodic bolus, and the time of day it names, so
    that its boluses fall when the pump's own do (the first wall time plus whole intervals), to the minute.

    A periodic bolus starts at its time of day on the day it is set (`therapy` handlers), then every interval: the
    entry goes on the first day, from `after_ms` on, whose midnight lies a time of day before one of the pump's
    boluses.
    """
    at_wall = start_wall_ms + after_ms
    midnight = at_wall - at_wall % MS_PER_DAY
    while True:
        first_ms = (plan.first_wall_ms - midnight) % plan.interval_ms
        if first_ms < MS_PER_DAY:
            first_ms -= first_ms % MS_PER_MIN
            return max(at_wall, midnight) - start_wall_ms, first_ms
        midnight += MS_PER_DAY


def forecast_now(
    pump: PumpNow,
    patient: PatientNow,
    proposal: Proposal,
    *,
    now_wall_ms: int,
    weeks: int = WEEKS,
    draws: int = DRAWS,
    seed: int = 0,
    settle_days: int = SETTLE_DAYS,
    observe_ms: int = MS_PER_HOUR,
) -> Forecast:
    """The current prescription against a proposed one, from the pump and patient the clinic has now."""
    if not 1 <= settle_days <= 180:
        raise InputError("settle_days", settle_days, "is out of range", "give 1 to 180 days", "1-180 d")
    if pump.reservoir_nl <= 0:
        raise InputError(
            "reservoir", _ml(pump.reservoir_nl), "is empty: nothing would be delivered", "refill the pump first"
        )
    scenario = scenario_now(pump, patient, now_wall_ms, weeks, settle_days)
    at_ms = scenario.duration_ms - weeks * 7 * MS_PER_DAY
    population = _population(patient, UNKNOWN_PAIN)
    if patient.pain_score is not None:
        population = _solve_entry_pain(scenario, at_ms, patient, seed, observe_ms)
    return forecast(
        scenario,
        at_ms,
        proposal,
        weeks,
        seed,
        draws=draws,
        population=population,
        oral=OralRegimen(),
        observe_ms=observe_ms,
    )


# ------------------------------------------------------------------------ the patient


def _population(patient: PatientNow, entry_pain: float) -> PopulationSpec:
    if patient.indication not in ("cancer", "non_cancer"):
        raise InputError(
            "indication", patient.indication, "is not an indication the model knows", "use cancer or non_cancer"
        )
    if not 20.0 <= patient.weight_kg <= 300.0:
        raise InputError(
            "weight", f"{patient.weight_kg:g} kg", "is out of range", "give the weight in kg", "20 to 300 kg"
        )
    return PopulationSpec(
        indication=patient.indication,  # type: ignore[arg-type]  # checked above
        entry_pain_mean=min(max(entry_pain, 0.0), 10.0),
        entry_pain_sd=0.0,
        oral_mme_mg_per_day_median=NAIVE_PRIOR_ORAL_MG_PER_DAY
        if patient.opioid_naive
        else TOLERANT_PRIOR_ORAL_MG_PER_DAY,
        oral_mme_cv=0.0,
        prognosis_median_days=DEFAULT_PROGNOSIS_DAYS if patient.indication == "cancer" else None,
        weight_kg_mean=patient.weight_kg,
        weight_kg_sd=0.0,
    )


def _settled_pain(scenario: Scenario, at_ms: int, population: PopulationSpec, seed: int, observe_ms: int) -> float:
    """The first draw's mean pain over the last week of settling, on the current prescription."""
    from thecal.sim.forecast_loop import World

    params = patient_draws(population, seed, 1)[0]
    world = World.start(scenario, PatientLink(VirtualPatient(params), observe_ms=observe_ms, oral=OralRegimen()))
    world.drop_timeline_from(at_ms + 1)
    world.next_sample_ms = None
    samples = world.play(at_ms)
    week = [s.observation.pain for s in samples if s.at_ms > at_ms - 7 * MS_PER_DAY and s.observation.alive]
    return sum(week) / len(week) if week else math.nan


def _solve_entry_pain(
    scenario: Scenario, at_ms: int, patient: PatientNow, seed: int, observe_ms: int
) -> PopulationSpec:
    """The population whose first draw reports the clinic's latest pain score at the end of settling."""
    assert patient.pain_score is not None
    if not 0.0 <= patient.pain_score <= 10.0:
        raise InputError("pain score", patient.pain_score, "is not on the 0-10 pain scale", "give 0 to 10", "0-10")
    target = patient.pain_score
    x0, x1 = target, min(10.0, target + 1.5)
    f0 = _settled_pain(scenario, at_ms, _population(patient, x0), seed, observe_ms) - target
    best = (abs(f0), x0)
    for _ in range(PAIN_STEPS):
        if math.isnan(f0) or abs(f0) <= PAIN_TOLERANCE:
            break
        f1 = _settled_pain(scenario, at_ms, _population(patient, x1), seed, observe_ms) - target
        if math.isnan(f1):
            break
        best = min(best, (abs(f1), x1))
        if abs(f1) <= PAIN_TOLERANCE or f1 == f0:
            break
        x0, f0, x1 = x1, f1, min(10.0, max(0.0, x1 - f1 * (x1 - x0) / (f1 - f0)))
    return _population(patient, best[1])


# ------------------------------------------------------------------------ the scenario's words


def _prescription_entry(schedule: DoseSchedule) -> dict[str, object]:
    """A week of doses as a scenario's `program` keys: one dose, or steps by weekday and time of day."""
    days = schedule.days
    if len(set(days)) == 1 and len(days[0]) == 1:
        return {"mode": "continuous", "dose": _dose(days[0][0].dose_ng_per_day)}
    steps = []
    for d, day in enumerate(days):
        for step in day:
            if len(set(days)) == 1 and d > 0:
                break
            name = "all" if len(set(days)) == 1 else DAY_NAMES[d][:3].lower()
            steps.append({"days": name, "at": time_of_day_text(step.start_ms), "dose": _dose(step.dose_ng_per_day)})
    return {"mode": "flexible", "steps": steps}


def _schedule_words(schedule: DoseSchedule) -> str:
    entry = _prescription_entry(schedule)
    if entry["mode"] == "continuous":
        return f"continuous {entry['dose']}"
    steps = entry["steps"]
    assert isinstance(steps, list)
    return "flexible: " + "; ".join(f"{s['days']} from {s['at']} {s['dose']}" for s in steps)


def _refills(pump: PumpNow, fill: dict[str, str], capacity: int, settle_ms: int) -> list[dict[str, object]]:
    """Refills to capacity whenever the settling would run the reservoir low, then to today's volume at the end."""
    flow = max(pump.prescription.max_dose_ng_per_day(), 1) * NL_PER_ML / pump.concentration_ng_per_ml
    if pump.demand is not None:
        flow += pump.demand.dose_ng * pump.demand.max_per_24h * NL_PER_ML / pump.concentration_ng_per_ml
    keep = pump.low_reservoir_alarm_nl or 2 * NL_PER_ML
    # Half the usable volume between refills: the priming bolus and the pump's strokes never empty it on the way.
    every_ms = max(MS_PER_DAY, int((capacity - keep) / 2 / flow * MS_PER_DAY)) if flow > 0 else settle_ms
    out: list[dict[str, object]] = []
    at = every_ms
    while at < settle_ms - MS_PER_DAY:
        out.append({"at": f"{at // MS_PER_MIN} min", "action": "refill", **fill, "volume": _ml(capacity)})
        at += every_ms
    out.append({"at": f"{settle_ms // MS_PER_MIN} min", "action": "refill", **fill, "volume": _ml(pump.reservoir_nl)})
    return out


def _capacity_nl(model: str) -> int:
    from thecal.pump.model import load_model

    return load_model(model).reservoir_nl


def _ml(nl: int) -> str:
    return format_exact(nl, NL_PER_ML, "mL")


def _dose(ng_per_day: int) -> str:
    return format_exact(ng_per_day, 1_000_000, "mg/day")


def _conc(ng_per_ml: int) -> str:
    return format_exact(ng_per_ml, 1_000_000, "mg/mL")


def _q(text: str) -> str:
    return json.dumps(text)  # a TOML basic string: JSON's escapes are TOML's


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    return _q(str(value))


__all__ = [
    "DRAWS",
    "SETTLE_DAYS",
    "UNKNOWN_PAIN",
    "WEEKS",
    "PatientNow",
    "PumpNow",
    "forecast_now",
    "periodic_start",
    "proposal_of",
    "proposal_of_plan",
    "scenario_now",
]
