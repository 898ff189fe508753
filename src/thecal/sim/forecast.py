"""What-if forecast: fork the virtual patient and the pump at a moment of a scenario, run the current prescription and
a proposed one over the following weeks, and compare them with uncertainty bands.

`forecast(scenario, at_ms, proposal, weeks, seed)`:
1. draws the patient (`PopulationSpec` + seed) and `draws - 1` more versions
   of the same person whose uncertain parameters (kinetics, EC50, maximal
   relief, side-effect sensitivity, progression) are drawn again from their
   stated distributions; what is known of the person (indication, entry
   pain, prior oral dose, weight, catheter tip, breakthrough pattern, PTM
   threshold) is kept;
2. for each draw, plays the scenario with that patient through the runner's
   pieces (`thecal.sim.forecast_loop.World`) up to `at_ms`, then forks the
   whole world (pump, therapy service, patient) twice;
3. the current fork goes on as it is; the proposed fork is given the proposal
   as a `Prescribe` intent planned by the therapy layer, the one rulebook:
   a proposal the rulebook refuses is an `InputError` in its words, and no
   forecast is made; while only the pump's present state stops it (a demand
   bolus running) the forecast waits, a minute at a time, as a clinician would;
4. both play `weeks` more (the scenario's own later entries are left out: the
   forecast is what these two prescriptions do, not what the file does next);
5. pain, side effects, drug at the tip and the reservoir are summarised per
   week and over the horizon as the median of the draws with a 10-90 % band;
   the low-reservoir and empty dates from the pump's calculated reservoir.

Equal inputs and seed give the same `Forecast`, byte for byte in JSON.
The format is documented in docs/forecast.md.
"""

from __future__ import annotations

import copy
import math
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from thecal.errors import InputError
from thecal.patient import PatientParams, PopulationSpec, VirtualPatient
from thecal.patient.patient import sample_params
from thecal.pump.core.schedule import DoseSchedule
from thecal.sim import virtual_patient
from thecal.sim.forecast_loop import Sample, World
from thecal.sim.patient_link import OralRegimen, PatientLink
from thecal.sim.runner import RUNTIME_CODES, dose_schedule, lead_drug
from thecal.sim.scenario import Event, FlexStep, Scenario, flex_steps, timeline_time
from thecal.therapy import Plan, Prescribe
from thecal.therapy.settings import dose_rate_text
from thecal.therapy.snapshot import Label
from thecal.units import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN, read_text_file

FORMAT = "thecal.forecast/1"
ARMS = ("current", "proposed")
BAND = (10, 90)  # percentiles of the draws shown as the band
ITEMS_SHOWN = ("sedation", "respiratory_depression", "nausea", "pruritus", "constipation", "confusion")
MAX_WEEKS = 26
MAX_DRAWS = 200
MS_PER_WEEK = 7 * MS_PER_DAY
MAX_WAIT_MS = MS_PER_DAY  # how long a forecast waits for a running bolus to end before the proposal is refused
PROPOSAL_FIELD = "proposal"


# ---------------------------------------------------------------------------- the proposal


@dataclass(frozen=True)
class Proposal:
    """A prescription as a scenario's `program` entry writes it, checked by the scenario's own schema."""

    text: str  # as the person wrote it
    steps: tuple[FlexStep, ...]
    override_reason: str | None = None


def read_proposal(text: str, override_reason: str | None = None) -> Proposal:
    """A proposal in words ("continuous 2.5 mg/day", "continuous 0.1 mL/day") or a TOML file of a `program` entry."""
    path = Path(text)
    if text.endswith(".toml"):
        raw = read_text_file(path, PROPOSAL_FIELD)
        try:
            entry: dict[str, Any] = tomllib.loads(raw)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(
                PROPOSAL_FIELD, text, f"is not valid TOML ({exc})", "fix the syntax at the line named"
            ) from None
        written = text
    else:
        entry = _words(text)
        written = " ".join(text.split())
    reason = entry.pop("override_reason", None)
    entry.pop("drug", None)  # a prescription is in the lead drug; the runner checks a named one against the label
    if override_reason is not None:
        reason = override_reason
    if reason is not None and not isinstance(reason, str):
        raise InputError(f"{PROPOSAL_FIELD}.override_reason", reason, "is not text", "write the reason in quotes")
    return Proposal(written, flex_steps(entry, PROPOSAL_FIELD), reason)


def _words(text: str) -> dict[str, Any]:
    words = text.split(maxsplit=1)
    if not words:
        raise InputError(PROPOSAL_FIELD, text, "is empty", 'write it like "continuous 2.5 mg/day"')
    mode, rest = (words[0], words[1] if len(words) > 1 else "") if words[0].isalpha() else ("continuous", text)
    if mode != "continuous":
        raise InputError(
            PROPOSAL_FIELD,
            text,
            f"{mode!r} is not a prescription that fits in words",
            'write "continuous 2.5 mg/day" (or a flow such as "continuous 0.1 mL/day"); for flexible steps give a '
            "TOML file with mode, steps and override_reason as a scenario's program entry has them",
        )
    key = "flow" if "l/" in rest.lower().replace(" ", "") else "dose"
    return {"mode": "continuous", key: rest.strip()}


class _ProposalEvent(Event):
    """The proposal as a timeline entry, named "proposal" in what the rulebook says about it."""

    @property
    def where(self) -> str:
        """How error messages name the proposal."""
        return PROPOSAL_FIELD


def plan_proposal(world: World, proposal: Proposal) -> Plan:
    """Plan the proposal through the therapy layer at the world's moment, without sending it."""
    run = world.run
    at = world.pump.now_ms
    event = _ProposalEvent(
        -1, at, "program", {"_at_text": timeline_time(run.scenario.start_wall_ms, at), "steps": proposal.steps}
    )
    _, concentration = lead_drug(run, event)
    intent = Prescribe(dose_schedule(proposal.steps, concentration, event), override_reason=proposal.override_reason)
    return run.service.plan(intent, run.clinician)


def refusal(plan: Plan) -> InputError | None:
    """The rulebook's refusal of a planned proposal, as the error a person acts on, or None."""
    blocking = [f for f in plan.findings if f.blocking]
    if not blocking:
        return None
    return blocking[0].input_error(
        where=PROPOSAL_FIELD, how_to_pass='with --reason "…" (a physician\'s written reason)'
    )


def waits(plan: Plan) -> bool:
    """Whether only the pump's present state (a bolus running, a stall) stops the plan: a clinician would wait."""
    blocking = [f for f in plan.findings if f.blocking]
    return bool(blocking) and all(f.code in RUNTIME_CODES for f in blocking)


def send(world: World, plan: Plan) -> None:
    """Send an allowed plan to the world's pump; a pump that refuses it is an `InputError` in its words."""
    execution = world.run.service.execute(plan, world.run.clinician, confirmed=True)
    if execution.refusal is not None:
        raise execution.refusal.input_error(where=PROPOSAL_FIELD)


def _fork_when_programmable(world: World, proposal: Proposal, at_ms: int) -> tuple[Plan, list[Sample]]:
    """Plan the proposal at `at_ms`; while only the pump's state stops it, wait a minute at a time (at most
    `MAX_WAIT_MS`) with the world running on. Returns the plan and the samples taken while waiting."""
    waited: list[Sample] = []
    while True:
        plan = plan_proposal(world, proposal)
        if not waits(plan) or world.pump.now_ms >= at_ms + MAX_WAIT_MS:
            error = refusal(plan)
            if error is not None:
                raise error
            return plan, waited
        waited += world.play(world.pump.now_ms + MS_PER_MIN)


# ---------------------------------------------------------------------------- the patient and its uncertainty


def default_population(scenario: Scenario) -> PopulationSpec:
    """The scenario's [virtual_patient]; without one, non-cancer pain 7.5, on oral morphine unless opioid-naive."""
    return virtual_patient.population(scenario)


def patient_draws(population: PopulationSpec, seed: int, draws: int) -> list[PatientParams]:
    """The patient (first) and `draws - 1` versions of the same person with the uncertain parameters drawn again."""
    base = sample_params(population, np.random.default_rng(np.random.SeedSequence([seed, 0])))
    # What is known of this person is fixed; `sample_params` then draws the rest and solves the pain drive anew.
    known = replace(
        population,
        entry_pain_mean=base.entry_pain,
        entry_pain_sd=0.0,
        oral_mme_mg_per_day_median=base.prior_oral_mme_mg_per_day,
        oral_mme_cv=0.0,
        weight_kg_mean=base.weight_kg,
        weight_kg_sd=0.0,
        tip_to_pain_cm_mean=base.tip_to_pain_cm,
        tip_to_pain_cm_sd=0.0,
    )
    out = [base]
    for n in range(1, draws):
        other = sample_params(known, np.random.default_rng(np.random.SeedSequence([seed, 1, n])))
        out.append(
            replace(
                other,
                seed=base.seed,
                breakthrough_per_day=base.breakthrough_per_day,
                press_threshold=base.press_threshold,
                survival_draw=base.survival_draw,
            )
        )
    return out


# ---------------------------------------------------------------------------- the forecast


@dataclass(frozen=True)
class Arm:
    """One prescription's future for every draw: samples as arrays (draw x time)."""

    prescription: str
    t_ms: np.ndarray
    pain: np.ndarray
    toxicity: np.ndarray
    severity: dict[str, np.ndarray]
    alive: np.ndarray
    tip_ng: np.ndarray  # cumulative lead drug at the tip since the fork
    reservoir_nl: np.ndarray  # the pump's calculated reservoir
    low_reservoir_alarm_nl: int
    reservoir_at_fork_nl: np.ndarray  # per draw
    presses: np.ndarray  # per draw
    given: np.ndarray


@dataclass(frozen=True)
class Forecast:
    """Two futures of one patient from one moment: the current prescription and the proposed one."""

    scenario: Scenario
    at_ms: int
    fork_ms: int  # the latest moment a draw's proposal could be sent (a running bolus waited out), >= at_ms
    weeks: int
    seed: int
    draws: int
    observe_ms: int
    drug: str
    patient: PatientParams
    proposal: Proposal
    plan: Plan
    arms: dict[str, Arm]

    def to_json_data(self) -> dict[str, Any]:
        """The forecast as the documented JSON document (docs/forecast.md)."""
        from thecal.sim.forecast_report import json_data

        return json_data(self)

    def to_json_text(self) -> str:
        """The JSON document as text, keys sorted."""
        from thecal.sim.record import json_text

        return json_text(self.to_json_data())


def forecast(
    scenario: Scenario,
    at_ms: int,
    proposal: Proposal,
    weeks: int = 4,
    seed: int = 0,
    *,
    draws: int = 20,
    population: PopulationSpec | None = None,
    oral: OralRegimen | None = None,
    observe_ms: int | None = None,
) -> Forecast:
    """Fork the patient and the pump at `at_ms` and run the current and the proposed prescription for `weeks`.

    What is not given (the population, the oral regimen, the observation interval) is the scenario's
    [virtual_patient], or its defaults when the file has none (`thecal.sim.virtual_patient`).
    """
    spec = virtual_patient.spec_of(scenario)
    observe_ms = spec.observe_ms if observe_ms is None else observe_ms
    _check(scenario, at_ms, weeks, draws, observe_ms)
    people = patient_draws(population or default_population(scenario), seed, draws)
    oral = virtual_patient.oral_regimen(spec) if oral is None else oral
    end_ms = at_ms + weeks * MS_PER_WEEK
    futures: dict[str, list[list[Sample]]] = {arm: [] for arm in ARMS}
    counts: dict[str, list[tuple[int, int, int]]] = {arm: [] for arm in ARMS}
    plan: Plan | None = None
    drug = ""
    fork_ms = at_ms
    for params in people:
        link = PatientLink(VirtualPatient(params), observe_ms=observe_ms, oral=oral, presses=spec.presses)
        world = World.start(scenario, link)
        world.drop_timeline_from(at_ms + 1)  # the entries at the moment itself have happened
        world.next_sample_ms = None  # the scenario's own record is not what a forecast shows
        world.play(at_ms)
        label = world.pump.firmware.state.label
        if not label:
            raise InputError(
                "--at",
                timeline_time(scenario.start_wall_ms, at_ms),
                "the pump holds no drug then",
                "choose a later time",
            )
        drug = label[0].drug
        reservoir_nl = world.pump.firmware.state.reservoir_nl
        before = dict(world.tip_ng)
        presses_before = len(world.link.press_outcomes)
        plan, waited = _fork_when_programmable(world, proposal, at_ms)
        fork_ms = max(fork_ms, world.pump.now_ms)
        proposed = world.fork()
        send(proposed, plan)
        for arm, w in (("current", world), ("proposed", proposed)):
            samples = [copy.copy(s) for s in waited] + w.play(end_ms)
            for s in samples:
                s.tip_ng = {d: ng - before.get(d, 0.0) for d, ng in s.tip_ng.items()}
            futures[arm].append(samples)
            outcomes = [o for _, o in w.link.press_outcomes[presses_before:]]
            counts[arm].append((len(outcomes), outcomes.count("given"), reservoir_nl))
    assert plan is not None
    arms = {arm: _arm(futures[arm], counts[arm], drug, _prescription_text(arm, plan)) for arm in ARMS}
    return Forecast(scenario, at_ms, fork_ms, weeks, seed, draws, observe_ms, drug, people[0], proposal, plan, arms)


def _check(scenario: Scenario, at_ms: int, weeks: int, draws: int, observe_ms: int) -> None:
    if not 0 < at_ms <= scenario.duration_ms:
        raise InputError(
            "--at",
            timeline_time(scenario.start_wall_ms, at_ms),
            "lies outside the scenario's run",
            "choose a moment after the start and not after run.duration",
        )
    if not 1 <= weeks <= MAX_WEEKS:
        raise InputError("--weeks", weeks, "is out of range", f"give 1 to {MAX_WEEKS} weeks", f"1-{MAX_WEEKS}")
    if not 1 <= draws <= MAX_DRAWS:
        raise InputError("--draws", draws, "is out of range", f"give 1 to {MAX_DRAWS} draws", f"1-{MAX_DRAWS}")
    if not MS_PER_HOUR // 60 <= observe_ms <= MS_PER_DAY:
        raise InputError("--observe", observe_ms, "is out of range", "observe every 1 min to 1 d", "1 min-1 d")


def schedule_text(label: Label, schedule: DoseSchedule | None) -> str:
    """A prescription in words: "continuous 1.2 mg/day", or a flexible week's range of daily doses."""
    if schedule is None:
        return "none"
    doses = [step.dose_ng_per_day for day in schedule.days for step in day]
    if len(doses) == 7 and len(set(doses)) == 1:
        return f"continuous {dose_rate_text(label, doses[0])}"
    low, high = dose_rate_text(label, min(doses)), dose_rate_text(label, max(doses))
    return f"flexible, {len(doses)} steps a week, {low} to {high}"


def _prescription_text(arm: str, plan: Plan) -> str:
    settings = plan.before if arm == "current" else plan.expected
    if settings is None:
        return "unknown"
    return schedule_text(settings.label, settings.prescription)


def _arm(runs: list[list[Sample]], counts: list[tuple[int, int, int]], drug: str, prescription: str) -> Arm:
    first = runs[0]
    t = np.array([s.at_ms for s in first], dtype=np.int64)
    items = list(first[0].observation.severity) if first else []

    def grid(get: Any) -> np.ndarray:
        return np.array([[get(s) for s in samples] for samples in runs], dtype=float)

    alive = grid(lambda s: 1.0 if s.observation.alive else 0.0)
    dead = alive == 0.0
    pain = grid(lambda s: s.observation.pain)
    pain[dead] = math.nan
    toxicity = grid(lambda s: s.observation.toxicity)
    toxicity[dead] = math.nan
    severity = {}
    for item in items:
        values = grid(lambda s, i=item: s.observation.severity[i])
        values[dead] = math.nan
        severity[item] = values
    return Arm(
        prescription,
        t,
        pain,
        toxicity,
        severity,
        alive,
        grid(lambda s: s.tip_ng.get(drug, 0.0)),
        grid(lambda s: s.reservoir_calculated_nl),
        first[-1].low_reservoir_alarm_nl if first else 0,
        np.array([c[2] for c in counts], dtype=float),
        np.array([c[0] for c in counts]),
        np.array([c[1] for c in counts]),
    )


def weekly(values: np.ndarray, t_ms: np.ndarray, at_ms: int, weeks: int) -> np.ndarray:
    """Each draw's mean over each week after the fork (draw x week); NaN where the patient was not alive."""
    out = np.full((values.shape[0], weeks), math.nan)
    week = (t_ms - at_ms - 1) // MS_PER_WEEK
    for w in range(weeks):
        cols = values[:, week == w]
        if cols.size:
            with np.errstate(all="ignore"):
                counted = np.sum(~np.isnan(cols), axis=1)
                out[:, w] = np.where(counted > 0, np.nansum(cols, axis=1) / np.maximum(counted, 1), math.nan)
    return out


def crossing_ms(
    reservoir_nl: np.ndarray, t_ms: np.ndarray, at_ms: int, start_nl: np.ndarray, level_nl: float
) -> np.ndarray:
    """Per draw, when the calculated reservoir reaches `level_nl` (ms after the fork): seen in the forecast, or
    carried on at the horizon's mean use; inf when nothing is used."""
    out = np.empty(reservoir_nl.shape[0])
    horizon = float(t_ms[-1] - at_ms)
    for i, series in enumerate(reservoir_nl):
        below = np.nonzero(series <= level_nl)[0]
        if below.size:
            out[i] = float(t_ms[below[0]] - at_ms)
            continue
        used = float(start_nl[i]) - float(series[-1])
        out[i] = math.inf if used <= 0 else horizon + (float(series[-1]) - level_nl) * horizon / used
    return out


__all__ = [
    "ARMS",
    "FORMAT",
    "Arm",
    "Forecast",
    "Proposal",
    "default_population",
    "forecast",
    "patient_draws",
    "plan_proposal",
    "read_proposal",
]
