"""The virtual patient: parameters drawn for one person, the body advanced exactly between events, what it reports.

`sample_patient(spec, rng)` draws a `PatientParams` from a `PopulationSpec`
and the distributions of the parameter files; `VirtualPatient` takes the drug
the catheter delivered at its tip (`DeliveryRecord`s), oral and subcutaneous
doses and tip moves, and `advance(to_ms)` moves every compartment on in closed
form between those events, then reports an `Observation`; `observe_many(times)`
does the same for a whole series at once (NumPy over the times, the state a
superposition of responses to each input) and reports an `ObservationSeries`.
Time is the pump's clock in ms; the day starts at midnight of time 0.
"""

from __future__ import annotations

import copy
import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from thecal.errors import InputError
from thecal.patient import side_effects as se
from thecal.patient.observation import Observation, ObservationSeries
from thecal.patient.pain import (
    MIN_PER_DAY,
    Breakthrough,
    PressPolicy,
    Rhythm,
    equilibration_rate,
    noise_key,
    opioid_effect,
    pain_params,
    pd_params,
    potency,
    relief,
    reported_scores,
    score_of,
    standard_normal_at,
    tolerance_fold,
    ziconotide_effect,
)
from thecal.patient.params import Params, load_params
from thecal.patient.pk import (
    DEPOTS,
    DRUGS,
    MS_PER_MIN,
    NG_PER_MG,
    OPIOIDS,
    Amount,
    DrugPK,
    DrugState,
    ExpSum,
    chain,
    drug_pk,
    drug_solution,
    pk_params,
    spread_fraction,
    subcutaneous_fraction,
    subcutaneous_ka,
)
from thecal.pump.device import DeliveryRecord

Indication = Literal["cancer", "non_cancer"]
MAX_NON_OPIOID_RELIEF = 0.9  # no non-opioid treatment takes all of a patient's pain away (assumption)
Release = Literal["ir", "mr"]
_POPULATION = {
    "body.weight": "kg",
    "body.tip_to_pain": "cm",
    "body.side_effect_sensitivity": "1",
    "body.survival_shape": "1",
    "body.toxicity_hazard": "1/grade",
    "body.non_opioid_response": "1",
    "body.toxicity_reference": "1",
}


def population_params() -> Params:
    """The checked figures of params/population.toml."""
    return load_params("population", _POPULATION)


@dataclass(frozen=True)
class PopulationSpec:
    """What a trial states about its patients; what it leaves out comes from params/population.toml."""

    indication: Indication = "cancer"
    entry_pain_mean: float = 7.5
    entry_pain_sd: float = 1.5
    oral_mme_mg_per_day_median: float = 0.0
    oral_mme_cv: float = 0.5
    prognosis_median_days: float | None = None
    weight_kg_mean: float | None = None
    weight_kg_sd: float | None = None
    tip_to_pain_cm_mean: float | None = None
    tip_to_pain_cm_sd: float | None = None
    opioid_max_relief_mean: float | None = None  # None: params/pd.toml opioid.max_relief
    opioid_max_relief_sd: float | None = None

    def __post_init__(self) -> None:
        if self.indication not in ("cancer", "non_cancer"):
            raise InputError("indication", self.indication, "not a known indication", "write cancer or non_cancer")
        checks = {
            "entry_pain_mean": (self.entry_pain_mean, 0.0, 10.0),
            "entry_pain_sd": (self.entry_pain_sd, 0.0, 10.0),
            "oral_mme_mg_per_day_median": (self.oral_mme_mg_per_day_median, 0.0, 10_000.0),
            "oral_mme_cv": (self.oral_mme_cv, 0.0, 5.0),
            "opioid_max_relief_mean": (self.opioid_max_relief_mean or 0.5, 0.0, 1.0),
            "opioid_max_relief_sd": (self.opioid_max_relief_sd or 0.0, 0.0, 1.0),
        }
        for name, (value, lo, hi) in checks.items():
            if not lo <= value <= hi:
                raise InputError(name, value, "out of range", f"give a value from {lo:g} to {hi:g}", f"{lo:g}-{hi:g}")
        if self.prognosis_median_days is not None and self.prognosis_median_days <= 0:
            raise InputError(
                "prognosis_median_days", self.prognosis_median_days, "must be positive", "give days, or leave it out"
            )


@dataclass(frozen=True)
class PatientParams:
    """Everything that makes one virtual patient this patient (all drawn once, then fixed)."""

    seed: int
    indication: Indication
    weight_kg: float
    entry_pain: float
    prior_oral_mme_mg_per_day: float
    pain_drive: float  # B0: the pain with no drug, averaged over the day (NRS points, may exceed 10)
    progression_per_day: float
    tip_to_pain_cm: float
    pk: dict[str, DrugPK]
    ec50_factor: float
    opioid_max_relief: float
    ziconotide_ec50_ng_per_ml: float
    ziconotide_max_relief: float
    side_effect_sensitivity: float
    breakthrough_per_day: float
    press_threshold: float
    survival_median_days: float | None
    survival_draw: float  # Exp(1): death when the cumulative hazard reaches it
    non_opioid_response: float = 1.0  # how strongly this patient responds to non-opioid management (1 = typical)


def _lognormal(rng: np.random.Generator, median: float, cv: float) -> float:
    if cv <= 0:
        return median
    return median * math.exp(math.sqrt(math.log1p(cv * cv)) * float(rng.standard_normal()))


def _normal(rng: np.random.Generator, mean: float, sd: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, mean + sd * float(rng.standard_normal())))


def sample_patient(spec: PopulationSpec, rng: np.random.Generator) -> VirtualPatient:
    """Draw one patient of the population; the same generator state gives the same patient."""
    return VirtualPatient(sample_params(spec, rng))


def sample_params(spec: PopulationSpec, rng: np.random.Generator) -> PatientParams:
    """Draw one patient's parameters; the same generator state gives the same parameters."""
    body, pd, pain = population_params(), pd_params(), pain_params()
    seed = int(rng.integers(0, 2**63 - 1))
    cancer = spec.indication == "cancer"
    weight = _normal(
        rng,
        spec.weight_kg_mean or body.value("body.weight"),
        spec.weight_kg_sd if spec.weight_kg_sd is not None else body["body.weight"].sd or 0.0,
        35.0,
        200.0,
    )
    tip = abs(
        (spec.tip_to_pain_cm_mean if spec.tip_to_pain_cm_mean is not None else body.value("body.tip_to_pain"))
        + (spec.tip_to_pain_cm_sd if spec.tip_to_pain_cm_sd is not None else body["body.tip_to_pain"].sd or 0.0)
        * float(rng.standard_normal())
    )
    kinetics = {d: drug_pk(d, weight, rng) for d in DRUGS}
    ec50_factor = _lognormal(rng, 1.0, pd["opioid.plasma_ec50_morphine"].cv or 0.0)
    emax = pd["opioid.max_relief"]
    max_relief = _normal(
        rng,
        emax.value if spec.opioid_max_relief_mean is None else spec.opioid_max_relief_mean,
        (emax.sd or 0.0) if spec.opioid_max_relief_sd is None else spec.opioid_max_relief_sd,
        0.05,
        0.98,
    )
    zic_ec50 = _lognormal(rng, pd.value("ziconotide.ec50"), pd["ziconotide.ec50"].cv or 0.0)
    zic_relief = _normal(rng, pd.value("ziconotide.max_relief"), pd["ziconotide.max_relief"].sd or 0.0, 0.0, 0.95)
    sensitivity = _lognormal(
        rng, body.value("body.side_effect_sensitivity"), body["body.side_effect_sensitivity"].cv or 0.0
    )
    entry = _normal(rng, spec.entry_pain_mean, spec.entry_pain_sd, 0.0, 10.0)
    oral = (
        _lognormal(rng, spec.oral_mme_mg_per_day_median, spec.oral_mme_cv) if spec.oral_mme_mg_per_day_median else 0.0
    )
    kind = "cancer" if cancer else "non_cancer"
    has_breakthrough = float(rng.random()) < pain.value(f"breakthrough.prevalence_{kind}")
    g = pain[f"progression.{kind}"]
    progression = max(0.0, g.value + (g.sd or 0.0) * float(rng.standard_normal()))
    threshold = _normal(rng, pain.value("ptm.threshold"), pain["ptm.threshold"].sd or 0.0, 1.0, 10.0)
    survival_draw = float(rng.exponential(1.0))
    nor = body["body.non_opioid_response"]
    response = _normal(rng, nor.value, nor.sd or 0.0, 0.0, 10.0)
    partial = PatientParams(
        seed, spec.indication, weight, entry, oral, 0.0, progression, tip, kinetics, ec50_factor, max_relief,
        zic_ec50, zic_relief, sensitivity,
        pain.value(f"breakthrough.episodes_{kind}") if has_breakthrough else 0.0,
        threshold, spec.prognosis_median_days if cancer else None, survival_draw, response,
    )  # fmt: skip
    # The drive that, under the steady state of the entry oral dose, gives the stated entry pain.
    probe = VirtualPatient(partial)
    left = max(1e-3, 1.0 - probe.relief())
    drive = min(pain.value("progression.max_drive"), entry / (left * probe.rhythm.mean_factor()))
    return _replace(partial, pain_drive=drive)


def _replace(p: PatientParams, **changes: float) -> PatientParams:
    values = dict(p.__dict__)
    values.update(changes)
    return PatientParams(**values)


class _Input:
    """An input waiting for its time; held in the heap as (at_ms, order, input), so the heap compares plain ints."""

    __slots__ = ("amount", "at_ms", "depot", "done", "drug", "kind")

    def __init__(self, at_ms: int, kind: str, drug: str, amount: float, depot: str):
        self.at_ms = at_ms
        self.kind = kind  # "rate" (a change of the intrathecal rate) | "dose" | "tip" | "adjuvant"
        self.drug = drug
        self.amount = amount  # ng/min for "rate" (signed), ng for "dose", cm for "tip", fraction for "adjuvant"
        self.depot = depot
        self.done = False


class _Note(NamedTuple):
    """A moment noted by `VirtualPatient.note`: the state then, and what the patient reported (a tuple: one is made
    at every observation at which the patient may press, and a run's notes become columns with one `zip`)."""

    at_ms: int
    state: list[float]
    f_site: float
    adjuvant: float
    relief: float
    pain: float
    score: int


@dataclass(frozen=True, slots=True)
class _Stretch:
    """Moments noted by `VirtualPatient.note_many`: the states then, worked out as a series; nobody has asked what the
    patient reports at them yet."""

    times: np.ndarray
    rows: np.ndarray  # (len(STATE), len(times))
    f_site: np.ndarray
    adjuvant: np.ndarray

    def columns(self) -> tuple[np.ndarray, ...]:
        """The columns `noted` works with, as `_columns_of` gives them (what was reported: not known yet)."""
        n = len(self.times)
        unknown = np.full(n, np.nan)
        return (self.times, self.rows, self.f_site, self.adjuvant, unknown, unknown.copy(),
                np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool))  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Reported:
    """What the patient reported at the moments of a series, where it was asked one at a time (`known`)."""

    relief: np.ndarray
    pain: np.ndarray
    score: np.ndarray
    known: np.ndarray  # bool


_AMOUNTS = ("csf_ng", "plasma_ng", *DEPOTS)
_EFFECTS = ("e_sp", "e_sys", "tol", "brain", "e_z", "adapt_z")
STATE = tuple(f"{d}.{a}" for d in DRUGS for a in _AMOUNTS) + _EFFECTS  # the state vector's order
STEPPED = 8  # the first times of a series worked out one at a time, by steps (`_states_at`)

_NEVER_FED = {DRUGS.index(d) * len(_AMOUNTS) + _AMOUNTS.index(a) for d in DRUGS if d not in OPIOIDS for a in DEPOTS[:2]}

_RATE_CHANNEL = {d: len(STATE) + n for n, d in enumerate(DRUGS)}
_DOSE_CHANNEL = {(d, a): n * len(_AMOUNTS) + _AMOUNTS.index(a) for n, d in enumerate(DRUGS) for a in _AMOUNTS}


def _columns_of(notes: list[_Note]) -> tuple[np.ndarray, ...]:
    """Moments noted one at a time (at least one), as the columns `noted` works with (what was reported: known)."""
    at_ms, state, f_site, adjuvant, relief, pain, score = zip(*notes, strict=True)
    return (
        np.array(at_ms, dtype=np.int64),
        np.array(state, dtype=float).T,
        np.array(f_site, dtype=float),
        np.array(adjuvant, dtype=float),
        np.array(relief, dtype=float),
        np.array(pain, dtype=float),
        np.array(score, dtype=np.int64),
        np.ones(len(notes), dtype=bool),
    )


def _sum_terms(coef: np.ndarray, exps: np.ndarray) -> np.ndarray:
    """sum over m of coef[:, m] * exps[:, m], per time: (variables x m), (times x m) -> (variables x times).

    Summed along m by NumPy's own reduction (not a matrix product, whose blocking depends on the number of times), so
    a time gets the very same value whatever series it is worked out in.
    """
    return (coef[:, :, None] * exps.T[None, :, :]).sum(axis=1)


@dataclass(frozen=True)
class _Responses:
    """Responses of the state to unit inputs: consts (channels x variables), coefs (channels x variables x m) over
    the rates mu (m); per channel the columns it uses; the fastest rate an input can excite."""

    consts: np.ndarray
    coefs: np.ndarray
    mu: np.ndarray
    columns: list[np.ndarray]
    fastest: float

    @property
    def flat(self) -> np.ndarray:
        """coefs as (channels x (variables * m)): one product with a state gives its coefficients."""
        return self.coefs.reshape(self.coefs.shape[0], -1)

    @classmethod
    def of(cls, solution: list[ExpSum]) -> _Responses:
        """The responses from the solution for unit inputs (per state variable, coefficients per channel)."""
        rates: dict[float, int] = {}
        variable, column, amounts = [], [], []
        for n, x in enumerate(solution):
            for a, r in x.terms:
                variable.append(n)
                column.append(rates.setdefault(r, len(rates)))
                amounts.append(a)
        channels = len(STATE) + len(DRUGS)
        consts = np.empty((len(STATE), channels))
        for n, x in enumerate(solution):
            consts[n] = x.const
        # Terms of one variable at one rate are added in the order they come (np.add.at adds repeats in order).
        by_rate = np.zeros((len(STATE), len(rates), channels))
        np.add.at(by_rate, (np.array(variable), np.array(column)), np.array(amounts).reshape(len(amounts), channels))
        coefs = np.ascontiguousarray(by_rate.transpose(2, 0, 1))
        mu = np.array(list(rates), dtype=float)
        used = np.asarray(coefs.any(axis=1))  # (channels x rates)
        channel, rate = np.nonzero(used)  # ordered by channel
        bounds = np.searchsorted(channel, np.arange(channels + 1))
        columns = [rate[bounds[c] : bounds[c + 1]] for c in range(channels)]
        # The oral depots of a drug without oral kinetics are never fed: their placeholder rate does not count.
        used[sorted(_NEVER_FED)] = False
        return cls(np.ascontiguousarray(consts.T), coefs, mu, columns, float(mu[used.any(axis=0)].max()))


class VirtualPatient:
    """One patient's body over time: kinetics, effect, pain, side effects, survival."""

    def __init__(self, params: PatientParams, start_ms: int = 0):
        self.params = params
        pd, pain = pd_params(), pain_params()
        self.potency = potency()
        self.rhythm = Rhythm.typical()
        self.noise = pain.value("report.noise")
        self.max_drive = pain.value("progression.max_drive")
        self.press = PressPolicy(params.press_threshold, pain.value("ptm.min_gap"))
        self.breakthrough = Breakthrough(
            params.seed,
            params.breakthrough_per_day,
            pain.value("breakthrough.duration"),
            pain["breakthrough.duration"].cv or 0.0,
            pain.value("breakthrough.intensity"),
            pain["breakthrough.intensity"].sd or 0.0,
        )
        self.ke0_sp = equilibration_rate(pd.value("effect.spinal_equilibration_half_life"))
        self.ke0_sys = equilibration_rate(pd.value("effect.systemic_equilibration_half_life"))
        self.ke0_z = equilibration_rate(pd.value("effect.ziconotide_equilibration_half_life"))
        self.k_tol = equilibration_rate(pd.value("tolerance.half_life"))
        self.k_adapt = equilibration_rate(pd.value("ziconotide.adaptation_half_life"))
        self.max_fold = pd.value("tolerance.max_fold")
        self.tol_half = pd.value("tolerance.half_saturation")
        pk = pk_params()
        self.k_brain = equilibration_rate(pk.value("spread.brainstem_half_life"))
        self.brain_distance_cm = pk.value("spread.tip_to_brainstem")
        self.ka_sc = subcutaneous_ka()
        self.f_sc = subcutaneous_fraction()
        self.ec50_sys = self.potency.ec50_systemic_ng_per_ml * params.ec50_factor
        self.ec50_sp = self.potency.ec50_spinal_ng_per_ml * params.ec50_factor
        body = population_params()
        self.survival_shape = body.value("body.survival_shape")
        self.toxicity_hazard = body.value("body.toxicity_hazard")
        self.toxicity_reference = body.value("body.toxicity_reference")
        self.gut_reference_ng = se.side_effect_model().gut_reference_mg * NG_PER_MG
        # The time of day at time 0, ms after midnight: the body's day (sleep, the pain's rhythm, breakthrough days)
        # follows the clock on the wall, not the time since the start (`set_time_of_day`).
        self.time_of_day_at_0_ms = 0
        # State.
        self.now_ms = start_ms
        self.tip_to_pain_cm = params.tip_to_pain_cm
        self.tip_blocked = False
        self._site = (params.tip_to_pain_cm, spread_fraction(params.tip_to_pain_cm))  # (distance, its fraction)
        self.adjuvant_relief = 0.0
        self.drugs = {d: DrugState() for d in DRUGS}
        self.e_sp = self.e_sys = self.tol = self.e_z = self.adapt_z = self.brain = 0.0
        self.cumulative_hazard = 0.0
        self.death_ms: int | None = None
        self._rates: dict[str, float] = dict.fromkeys(DRUGS, 0.0)
        self._version = 0  # counts changes of the state, so a toxicity worked out for it can be reused
        self._vector: tuple[int, list[float]] = (-1, [])  # (version, the state as a vector) as last set
        self._toxicity_seen: tuple[int, int, int] | None = None  # (time, version, toxicity) of the last report
        self._response_cache: dict[float, _Responses] = {}
        self._transitions: dict[tuple[float, float], np.ndarray] = {}
        self._noise_key = noise_key(params.seed)
        self._inputs: list[tuple[int, int, _Input]] = []
        self._rate_end: dict[str, _Input] = {}  # the pending end of each drug's last infusion, to join the next to
        self._order = 0
        self._notes: list[_Note | _Stretch] = []  # moments noted (`note`, `note_many`), not yet observations
        self._notes_from = (start_ms, 0)  # (time, toxicity) where the first waiting note's interval starts
        self._settle_on_oral(params.prior_oral_mme_mg_per_day)

    def set_time_of_day(self, ms_after_midnight: int) -> None:
        """Say what the clock on the wall shows at time 0 (a run that starts at 08:00: 8 h), before time moves on."""
        if not 0 <= ms_after_midnight < MS_PER_MIN * MIN_PER_DAY:
            raise InputError(
                "ms_after_midnight", ms_after_midnight, "is not a time of day", "give 0 to 86,399,999 ms", "0-24 h"
            )
        self.time_of_day_at_0_ms = ms_after_midnight
        self.press.time_of_day_at_0_ms = ms_after_midnight

    def _clock_min(self, at_ms: int | float) -> float:
        """Minutes on the wall clock since the midnight before time 0, at `at_ms`."""
        return (at_ms + self.time_of_day_at_0_ms) / MS_PER_MIN

    # ------------------------------------------------------------------ inputs

    def deliver(self, records: Iterable[DeliveryRecord]) -> None:
        """Take what the catheter delivered at its tip (and what it lost into the tissue) over intervals."""
        for r in records:
            for drug, ng in r.at_tip.drugs_ng.items():
                self._intrathecal(r.start_ms, r.end_ms, drug, ng)
            for drug, ng in r.lost.drugs_ng.items():
                if ng > 0 and drug in self.drugs:
                    # Drug leaking from the catheter ends up in the tissue and is absorbed like a subcutaneous dose.
                    self._push(max(r.end_ms, self.now_ms), "dose", drug, ng * self.f_sc, "subcutaneous_ng")

    def intrathecal(self, start_ms: int, end_ms: int, drug: str, mg: float) -> None:
        """Drug reaching the CSF at the tip evenly over [start, end] (a bolus when start == end)."""
        self._intrathecal(start_ms, end_ms, drug, mg * NG_PER_MG)

    def _intrathecal(self, start_ms: int, end_ms: int, drug: str, ng: float) -> None:
        if ng <= 0 or drug not in self.drugs:
            return
        if end_ms < start_ms:
            raise InputError("end_ms", end_ms, f"ends before it starts ({start_ms})", "give end_ms >= start_ms")
        # Drug reported late (before the body's clock) is not lost: it enters from now on, all of it.
        start = max(start_ms, self.now_ms)
        end = max(end_ms, start)
        if end == start:
            self._push(start, "dose", drug, ng, "csf_ng")
            return
        rate = ng / ((end - start) / MS_PER_MIN)
        last = self._rate_end.get(drug)
        if last is not None and not last.done and last.at_ms == start:
            last.amount += rate  # one infusion follows the other: a single change of rate
        else:
            self._push(start, "rate", drug, rate)
        self._rate_end[drug] = self._push(end, "rate", drug, -rate)

    def take_oral(self, at_ms: int, drug: str, mg: float, release: Release = "ir") -> None:
        """An oral dose (immediate or modified release) swallowed at `at_ms`."""
        if drug not in OPIOIDS:
            raise InputError("drug", drug, "no oral kinetics for this drug", f"give one of {', '.join(OPIOIDS)}")
        if mg < 0:
            raise InputError("mg", mg, "a dose cannot be negative", "give 0 or more")
        pk = self.params.pk[drug]
        f = pk.f_ir if release == "ir" else pk.f_mr
        self._push(max(at_ms, self.now_ms), "dose", drug, mg * NG_PER_MG * f, f"oral_{release}_ng")

    def take_subcutaneous(self, at_ms: int, drug: str, mg: float) -> None:
        """Drug under the skin at `at_ms` (a pocket fill): absorbed into plasma."""
        if drug in self.drugs and mg > 0:
            self._push(max(at_ms, self.now_ms), "dose", drug, mg * NG_PER_MG * self.f_sc, "subcutaneous_ng")

    def move_tip(self, at_ms: int, tip_to_pain_cm: float) -> None:
        """The catheter tip is now this far from the segments of the pain (migration, revision)."""
        self._push(max(at_ms, self.now_ms), "tip", amount=abs(tip_to_pain_cm))

    def set_adjuvant(self, at_ms: int, fraction: float) -> None:
        """From `at_ms` on, non-opioid treatment (adjuvants, radiotherapy, blocks) takes away this fraction.

        `fraction` is the relief of a typical patient; this patient's own is `fraction` times their response
        (`non_opioid_response`), at most MAX_NON_OPIOID_RELIEF.
        """
        if not 0.0 <= fraction < 1.0:
            raise InputError("adjuvant_relief", fraction, "is not a fraction of the pain", "give 0 to below 1")
        own = min(MAX_NON_OPIOID_RELIEF, fraction * self.params.non_opioid_response)
        self._push(max(at_ms, self.now_ms), "adjuvant", amount=own)

    def block_tip(self, blocked: bool = True) -> None:
        """An inflammatory mass at the tip: drug leaving the catheter no longer reaches the cord's segments."""
        self.tip_blocked = blocked

    def _push(self, at_ms: int, kind: str, drug: str = "", amount: float = 0.0, depot: str = "") -> _Input:
        self._order += 1
        event = _Input(at_ms, kind, drug, amount, depot)
        heapq.heappush(self._inputs, (at_ms, self._order, event))
        return event

    def _pop(self) -> _Input:
        event = heapq.heappop(self._inputs)[2]
        event.done = True
        return event

    # ------------------------------------------------------------------ time

    def advance(self, to_ms: int) -> Observation:
        """Move the body on to `to_ms` exactly and report how it is then."""
        self.run_to(to_ms)
        return self.observe()

    def run_to(self, to_ms: int) -> None:
        """Move the body on to `to_ms` exactly, without a report (cheaper when nobody asks)."""
        if to_ms < self.now_ms:
            raise InputError("to_ms", to_ms, f"is before the patient's time {self.now_ms}", "advance forwards only")
        self._no_notes("run_to")
        toxicity_before = self._toxicity_before()
        start = self.now_ms
        self._move_to(to_ms)
        self._survival(start, to_ms, toxicity_before)

    def _move_to(self, to_ms: int) -> None:
        """Move every compartment on to `to_ms`, taking the inputs due on the way (survival is the caller's)."""
        while True:
            while self._inputs and self._inputs[0][0] <= self.now_ms:
                self._apply(self._pop())
            if self.now_ms >= to_ms:
                break
            nxt = min(to_ms, self._inputs[0][0]) if self._inputs else to_ms
            self._step((nxt - self.now_ms) / MS_PER_MIN)
            self.now_ms = nxt

    def _apply(self, event: _Input) -> None:
        if event.kind == "rate":  # a rate acts from now on: the state itself is as it was
            rate = self._rates[event.drug] + event.amount
            self._rates[event.drug] = 0.0 if rate < 1e-9 else rate  # an infusion's end leaves no rounding crumbs
        elif event.kind == "dose":
            self._version += 1
            state = self.drugs[event.drug]
            setattr(state, event.depot, getattr(state, event.depot) + event.amount)
        elif event.kind == "tip":
            self.tip_to_pain_cm = event.amount
        elif event.kind == "adjuvant":
            self.adjuvant_relief = event.amount

    def _step(self, dt: float) -> None:
        """Advance every compartment `dt` minutes at constant inputs, in closed form."""
        self._set_state((self._present() @ self._transition(dt)).tolist())

    def _present(self) -> np.ndarray:
        """The state and the intrathecal rates as one vector: what the responses' channels take, in their order."""
        return np.array([*self._state(), *self._rates.values()])  # the rates in the order of DRUGS

    def _transition(self, dt: float) -> np.ndarray:
        """The state after `dt` minutes from a unit of each input channel (channels x variables), at this tip."""
        key = (self._f_site(), dt)
        found = self._transitions.get(key)
        if found is None:
            r = self._responses()
            found = r.consts + np.tensordot(r.coefs, np.exp(-r.mu * dt), axes=1)
            if len(self._transitions) > 64:  # the steps of a run come in a few lengths; an odd one is not kept
                self._transitions.clear()
            self._transitions[key] = found
        return found

    def _solve(
        self, drugs: dict[str, DrugState], rates: dict[str, Amount], effects: tuple[Amount, ...]
    ) -> list[ExpSum]:
        """Every state variable (in the order of STATE) over an interval of constant inputs, from the state given.

        Each amount may be a float or a vector (one entry per input channel): with unit vectors one call gives the
        response to every channel at once, each entry worked out by the very operations a float would get.
        """
        e_sp, e_sys, tol, brain, e_z, adapt_z = effects
        f_site = self._f_site()
        f_brain = spread_fraction(self.brain_distance_cm)
        u_csf = ExpSum()  # opioid in CSF at the tip, in spinal EC50 units
        u_sys = ExpSum()
        u_z = ExpSum()
        out: list[ExpSum] = []
        for drug in DRUGS:
            pk = self.params.pk[drug]
            amounts = drug_solution(drugs[drug], pk, rates[drug], self.ka_sc)
            c_csf = ExpSum().add(amounts[0], 1.0 / pk.v_csf_ml)
            c_plasma = ExpSum().add(amounts[1], 1.0 / pk.v_plasma_ml)
            if drug == "ziconotide":
                u_z.add(c_csf, 1.0 / self.params.ziconotide_ec50_ng_per_ml)
            else:
                u_csf.add(c_csf, self.potency.spinal[drug] / self.ec50_sp)
                u_sys.add(c_plasma, self.potency.systemic[drug] / self.ec50_sys)
            out += amounts
        u_sp = ExpSum().add(u_csf, f_site)
        out.append(chain(e_sp, self.ke0_sp, u_sp, self.ke0_sp))
        out.append(chain(e_sys, self.ke0_sys, u_sys, self.ke0_sys))
        out.append(chain(tol, self.k_tol, ExpSum().add(u_sp).add(u_sys), self.k_tol))
        out.append(chain(brain, self.k_brain, ExpSum().add(u_csf, f_brain), self.k_brain))
        out.append(chain(e_z, self.ke0_z, ExpSum().add(u_z, f_site), self.ke0_z))
        out.append(chain(adapt_z, self.k_adapt, ExpSum().add(u_z, f_site), self.k_adapt))
        return out

    def _f_site(self) -> float:
        if self.tip_blocked:
            return 0.0
        distance, fraction = self._site
        if distance != self.tip_to_pain_cm:  # asked at every step: worked out again only when the tip has moved
            fraction = spread_fraction(self.tip_to_pain_cm)
            self._site = (self.tip_to_pain_cm, fraction)
        return fraction

    def _effects(self) -> tuple[float, float, float, float, float, float]:
        return self.e_sp, self.e_sys, self.tol, self.brain, self.e_z, self.adapt_z

    def _state(self) -> list[float]:
        """The state as a vector, in the order of STATE (not to be changed in place: it may be the one kept)."""
        version, kept = self._vector
        if version == self._version:
            return kept
        out = [getattr(self.drugs[d], a) for d in DRUGS for a in _AMOUNTS]
        return out + list(self._effects())

    def _set_state(self, values: Sequence[float]) -> None:
        """Set the state from a vector in the order of STATE."""
        n = len(_AMOUNTS)
        for i, state in enumerate(self.drugs.values()):  # in the order of DRUGS
            state.csf_ng, state.plasma_ng, state.oral_ir_ng, state.oral_mr_ng, state.subcutaneous_ng = values[
                i * n : i * n + n
            ]
        self.e_sp, self.e_sys, self.tol, self.brain, self.e_z, self.adapt_z = values[len(DRUGS) * n :]
        self._version += 1
        # The vector is kept as given, for the next `_state` until anything changes (an input bumps the version).
        self._vector = (self._version, values if isinstance(values, list) else list(values))

    # ------------------------------------------------------------------ a whole series at once

    def observe_many(self, times_ms: Sequence[int] | np.ndarray) -> ObservationSeries:
        """Move the body through `times_ms` (ascending, from now on) and report how it is at each, all at once.

        The same as `advance(t)` for every t in turn (within rounding): between events every state variable is
        a superposition of the responses to the state it starts from and to each input after, all sums of
        exponentials, evaluated with NumPy over every time of the series (docs/patient.md, "A whole series").
        """
        self._no_notes("observe_many")
        times = self._ahead(times_ms)
        start_ms = self.now_ms
        toxicity_before = self._toxicity_before()
        rows, f_site, adjuvant = self._states_at(times)
        return self._series(times, rows, f_site, adjuvant, start_ms, toxicity_before)

    def _ahead(self, times_ms: Sequence[int] | np.ndarray) -> np.ndarray:
        """`times_ms` as an array, checked to be ascending and not before now."""
        times = np.asarray(times_ms, dtype=np.int64)
        if len(times) and (int(times[0]) < self.now_ms or bool(np.any(np.diff(times) < 0))):
            raise InputError(
                "times_ms", int(times[0]), f"must be ascending and not before the patient's time {self.now_ms}",
                "give ascending times from now on",
            )  # fmt: skip
        return times

    def _states_at(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Move the body through `times` (ascending, from now on): the state at each (a column per time), and the
        fraction reaching the pain's segments and the non-opioid relief then."""
        n = len(times)
        rows = np.empty((len(STATE), n))
        f_site = np.empty(n)
        adjuvant = np.empty(n)
        # The first times one at a time, by steps (as `advance`): a window costs the same NumPy calls however few
        # times it holds. Always the first ones, so that a series read in part on a copy gets the same treatment.
        i = min(n, STEPPED)
        for k in range(i):
            self._move_to(int(times[k]))
            rows[:, k] = self._state()
            f_site[k], adjuvant[k] = self._f_site(), self.adjuvant_relief
        while i < n:
            while self._inputs and self._inputs[0][0] <= self.now_ms:
                self._apply(self._pop())
            j = int(np.searchsorted(times, self.now_ms, side="right"))
            if j > i:  # times that are now: the state as it is
                rows[:, i:j] = np.array(self._state())[:, None]
                f_site[i:j], adjuvant[i:j] = self._f_site(), self.adjuvant_relief
                i = j
                continue
            # A window from now: at most as long as the exponentials allow, and ending before a move of the tip.
            # Its bounds depend only on now, so however a series is split, each time is worked out the same way.
            end = min(int(times[-1]), self.now_ms + self._window_ms())
            tips = [at for at, _, e in self._inputs if e.kind == "tip" and at <= end]
            inclusive = not tips
            end = min([end, *tips])
            j = int(np.searchsorted(times, end, side="right" if inclusive else "left"))
            self._window(times[i:j], end, inclusive, rows[:, i:j], adjuvant[i:j])
            f_site[i:j] = self._f_site()
            i = j
        return rows, f_site, adjuvant

    def _window_ms(self) -> int:
        """The longest window whose scaled exponentials stay far from overflow (fastest rate x length <= 500)."""
        fastest = self._responses().fastest
        return max(1, int(500.0 / fastest * MS_PER_MIN))

    def _responses(self) -> _Responses:
        """The response of every state variable to a unit of each input channel, at this tip (cached)."""
        key = self._f_site()
        found = self._response_cache.get(key)
        if found is not None:
            return found
        # One unit vector per input channel: a unit of each state variable, then a unit of each intrathecal rate.
        unit = np.eye(len(STATE) + len(DRUGS))
        n = len(_AMOUNTS)
        drugs = {d: DrugState(*unit[i * n : i * n + n]) for i, d in enumerate(DRUGS)}
        rates: dict[str, Amount] = {d: unit[len(STATE) + i] for i, d in enumerate(DRUGS)}
        effects = tuple(unit[len(DRUGS) * n : len(STATE)])
        found = _Responses.of(self._solve(drugs, rates, effects))
        self._response_cache[key] = found
        return found

    def _window(self, times: np.ndarray, end_ms: int, inclusive: bool, rows: np.ndarray, adjuvant: np.ndarray) -> None:
        """Fill `rows` with the state at `times` (now < t <= end_ms) and move the body to `end_ms`.

        Inputs up to `end_ms` act by superposition (before it only, if not `inclusive`: a tip move is due then).
        """
        t0 = self.now_ms
        events: list[_Input] = []
        while self._inputs and (self._inputs[0][0] <= end_ms if inclusive else self._inputs[0][0] < end_ms):
            events.append(self._pop())
        # Every input of the window as (channel, time in ms, amount).
        by_channel: dict[int, tuple[list[int], list[float]]] = {}
        adjuvant[:] = self.adjuvant_relief
        for e in events:
            if e.kind == "rate":
                c = _RATE_CHANNEL[e.drug]
            elif e.kind == "dose":
                c = _DOSE_CHANNEL[e.drug, e.depot]
            else:
                if e.kind == "adjuvant":
                    adjuvant[times >= e.at_ms] = e.amount
                self._apply(e)
                continue
            found = by_channel.get(c)
            if found is None:
                by_channel[c] = ([e.at_ms], [e.amount])
            else:
                found[0].append(e.at_ms)
                found[1].append(e.amount)
        tau = np.empty(len(times) + 1)  # minutes from now to each time, and to the window's end
        tau[:-1] = (times - t0) / MS_PER_MIN
        tau[-1] = (end_ms - t0) / MS_PER_MIN
        r = self._responses()
        # The present state and rates, left to themselves (one superposition over every channel at once) ...
        present = self._present()
        decay = np.exp(-np.outer(tau, r.mu))  # (times, rates)
        values = (present @ r.consts)[:, None] + _sum_terms((present @ r.flat).reshape(r.coefs.shape[1:]), decay)
        # ... plus every input of the window, channel by channel.
        for c in sorted(by_channel):  # one order of the sums, whatever inputs this window holds
            s_list, a_list = by_channel[c]
            s, a = (np.array(s_list) - t0) / MS_PER_MIN, np.array(a_list)
            # How many of the channel's inputs each time has seen: a dose at t has entered at t; a change of rate
            # at t has not acted yet (nor can it, as infusions are joined, depend on what follows).
            rate_channel = c >= len(STATE)
            k = np.searchsorted(s, tau, side="left" if rate_channel else "right")
            total = np.concatenate(([0.0], np.cumsum(a)))
            values += r.consts[c][:, None] * total[k][None, :]
            if rate_channel:  # the drug's intrathecal rate after the window
                drug = DRUGS[c - len(STATE)]
                rate = self._rates[drug] + float(total[-1])
                self._rates[drug] = 0.0 if rate < 1e-9 else rate
            cols = r.columns[c]
            if len(cols):
                # sum over inputs of a exp(-mu (t - s)) = exp(-mu t) * cumsum(a exp(mu s)); the window length keeps
                # mu t far from overflow.
                scaled = np.cumsum(a[:, None] * np.exp(np.outer(s, r.mu[cols])), axis=0)
                summed = np.vstack((np.zeros(len(cols)), scaled))[k] * decay[:, cols]
                values += _sum_terms(r.coefs[c][:, cols], summed)
        rows[:] = values[:, :-1]
        self._set_state(values[:, -1].tolist())
        self.now_ms = end_ms

    def _series(
        self,
        times: np.ndarray,
        rows: np.ndarray,
        f_site: np.ndarray,
        adjuvant: np.ndarray,
        start_ms: int,
        toxicity_before: int,
        reported: _Reported | None = None,
    ) -> ObservationSeries:
        """The observations of a series from its state rows: effect, pain, side effects, report, survival.

        `reported`: the relief, pain and score already worked out one at a time for some of these times (`note`),
        kept as they were, so the observation says what the patient answered then.
        """
        p = self.params
        n = len(_AMOUNTS)
        e_sp, e_sys, tol, brain, e_z, adapt_z = rows[len(DRUGS) * n :]
        amount = {d: rows[i * n : i * n + n] for i, d in enumerate(DRUGS)}
        fold = np.where(tol > 0, 1.0 + (self.max_fold - 1.0) * tol / (self.tol_half + np.abs(tol)), 1.0)
        clock_min = (times + self.time_of_day_at_0_ms) / MS_PER_MIN
        if reported is None:
            relieved, pain = self._felt_many(times, clock_min, fold, e_sp, e_sys, e_z, adjuvant)
            scores = reported_scores(pain, self._noise_key, times, self.noise)
        else:
            relieved, pain, scores = reported.relief, reported.pain, reported.score
            fresh = np.flatnonzero(~reported.known)
            if len(fresh):  # each time on its own, as a whole series of them would have it
                relieved[fresh], pain[fresh] = self._felt_many(
                    times[fresh], clock_min[fresh], fold[fresh], e_sp[fresh], e_sys[fresh], e_z[fresh], adjuvant[fresh]
                )
                scores[fresh] = reported_scores(pain[fresh], self._noise_key, times[fresh], self.noise)
        ir, mr = _AMOUNTS.index("oral_ir_ng"), _AMOUNTS.index("oral_mr_ng")
        gut = amount[OPIOIDS[0]][ir] + amount[OPIOIDS[0]][mr]
        for d in OPIOIDS[1:]:
            gut = gut + (amount[d][ir] + amount[d][mr])
        exposure = (e_sys, e_sp, brain, np.asarray(gut) / self.gut_reference_ng, e_z, adapt_z)
        severity = se.severities_many(exposure, fold, p.side_effect_sensitivity, self._cancer)
        grades = se.grades_many(severity)
        toxicity = grades.sum(axis=0)
        csf = {d: amount[d][0] / p.pk[d].v_csf_ml for d in DRUGS}
        alive = self._survive_many(times, toxicity, start_ms, toxicity_before)
        return ObservationSeries(
            at_ms=times,
            alive=alive,
            pain=pain,
            pain_score=scores,
            relief=relieved,
            awake=self.rhythm.awake_many(clock_min),
            severity=severity,
            grades=grades,
            toxicity=toxicity,
            csf_ng_per_ml=csf,
            site_ng_per_ml={d: c * f_site for d, c in csf.items()},
            plasma_ng_per_ml={d: amount[d][1] / p.pk[d].v_plasma_ml for d in DRUGS},
            tolerance_fold=fold,
        )

    def _felt_many(
        self,
        times: np.ndarray,
        clock_min: np.ndarray,
        fold: np.ndarray,
        e_sp: np.ndarray,
        e_sys: np.ndarray,
        e_z: np.ndarray,
        adjuvant: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The relief and the pain felt over a series (as `relief` and `pain` at each time)."""
        p = self.params
        x = (e_sp + e_sys) / fold
        e_op = p.opioid_max_relief * x / (1.0 + x)
        # Without ziconotide its effect is 0 everywhere: the same sum as with an array of zeros, without the work.
        e_zic: np.ndarray | float = 0.0
        if e_z.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                e_zic = np.where(e_z > 0, p.ziconotide_max_relief * e_z / (1.0 + e_z), 0.0)
        drugs = 1.0 - (1.0 - e_op) * (1.0 - e_zic)
        relieved = np.where(adjuvant != 0, 1.0 - (1.0 - drugs) * (1.0 - adjuvant), drugs) if adjuvant.any() else drugs
        t_min = times / MS_PER_MIN
        base = np.minimum(self.max_drive, p.pain_drive * np.exp(p.progression_per_day * t_min / MIN_PER_DAY))
        drive = base * self.rhythm.factor_many(clock_min) + self.breakthrough.at_many(clock_min)
        return relieved, np.clip(drive * (1.0 - relieved), 0.0, 10.0)

    def _survive_many(self, times: np.ndarray, toxicity: np.ndarray, start_ms: int, before: int) -> np.ndarray:
        """Survival over a series, as `_survival` does interval by interval; True where alive."""
        n = len(times)
        median = self.params.survival_median_days
        if median is None or self.death_ms is not None or not n:
            return np.full(n, self.death_ms is None)
        k = self.survival_shape
        scale = median / math.log(2.0) ** (1.0 / k)
        base = (np.append(start_ms, times) / MS_PER_MIN / MIN_PER_DAY / scale) ** k
        previous = np.append(before, toxicity[:-1])
        excess = self.toxicity_hazard * (previous - self.toxicity_reference) if self.toxicity_hazard else 0.0 * previous
        steps = (base[1:] - base[:-1]) * np.exp(excess)
        steps[times <= np.append(start_ms, times[:-1])] = 0.0
        hazard = np.cumsum(np.append(self.cumulative_hazard, steps))[1:]
        dead = np.flatnonzero(hazard >= self.params.survival_draw)
        if not len(dead):
            self.cumulative_hazard = float(hazard[-1])
            return np.ones(n, dtype=bool)
        first = int(dead[0])
        self.cumulative_hazard = float(hazard[first])
        self.death_ms = int(times[first])
        return np.arange(n) < first

    def _settle_on_oral(self, mg_per_day: float) -> None:
        """Start at the average steady state of a long-standing oral morphine dose (modified release)."""
        if mg_per_day <= 0:
            return
        pk = self.params.pk["morphine"]
        per_min = mg_per_day * NG_PER_MG / MIN_PER_DAY * pk.f_mr
        state = self.drugs["morphine"]
        state.oral_mr_ng = per_min / pk.ka_mr
        state.plasma_ng = per_min / pk.k_plasma
        u = per_min / pk.plasma_clearance_ml_per_min / self.ec50_sys
        self.e_sys = self.tol = u

    # ------------------------------------------------------------------ what the body is and says

    def fold(self) -> float:
        """How many times the opioid EC50 has risen with tolerance."""
        return tolerance_fold(self.tol, self.max_fold, self.tol_half)

    def relief(self, fold: float | None = None) -> float:
        """The fraction of the pain drive the drugs take away now (`fold`: the tolerance fold, if known)."""
        fold = self.fold() if fold is None else fold
        e_op = opioid_effect(self.e_sp, self.e_sys, fold, self.params.opioid_max_relief)
        drugs = relief(e_op, ziconotide_effect(self.e_z, self.params.ziconotide_max_relief))
        return relief(drugs, self.adjuvant_relief) if self.adjuvant_relief else drugs

    def pain(self, relieved: float | None = None) -> float:
        """The pain the patient feels now, 0-10 (`relieved`: the relief, if known)."""
        relieved = self.relief() if relieved is None else relieved
        t = self.now_ms / MS_PER_MIN
        clock = self._clock_min(self.now_ms)
        base = min(self.max_drive, self.params.pain_drive * math.exp(self.params.progression_per_day * t / MIN_PER_DAY))
        drive = base * self.rhythm.factor(clock) + self.breakthrough.at(clock)
        return min(10.0, max(0.0, drive * (1.0 - relieved)))

    def exposure(self) -> se.Exposure:
        """What drives side effects now."""
        gut = sum(self.drugs[d].oral_ir_ng + self.drugs[d].oral_mr_ng for d in OPIOIDS) / self.gut_reference_ng
        return se.Exposure(self.e_sys, self.e_sp, self.brain, gut, self.e_z, self.adapt_z)

    def _toxicity_now(self) -> int:
        seen = self._toxicity_seen
        if seen is not None and seen[0] == self.now_ms and seen[1] == self._version:
            return seen[2]
        sev = se.severities(self.exposure(), self.fold(), self.params.side_effect_sensitivity, self._cancer)
        return se.toxicity_score(se.grades(sev))

    def _toxicity_before(self) -> int:
        """The toxicity now, held over the interval ahead for the hazard of death (0 where nothing uses it)."""
        return self._toxicity_now() if self._hazard_follows_toxicity() else 0

    def _hazard_follows_toxicity(self) -> bool:
        """Whether the toxicity now changes anything ahead: only the hazard of death of a living patient uses it."""
        return bool(self.toxicity_hazard) and self.may_die

    @property
    def _cancer(self) -> bool:
        return self.params.indication == "cancer"

    def _survival(self, start_ms: int, end_ms: int, toxicity: int) -> None:
        median = self.params.survival_median_days
        if median is None or self.death_ms is not None or end_ms <= start_ms:
            return
        k = self.survival_shape
        scale = median / math.log(2.0) ** (1.0 / k)

        def base(ms: int) -> float:
            return (ms / MS_PER_MIN / MIN_PER_DAY / scale) ** k

        excess = self.toxicity_hazard * (toxicity - self.toxicity_reference) if self.toxicity_hazard else 0.0
        self.cumulative_hazard += (base(end_ms) - base(start_ms)) * math.exp(excess)
        if self.cumulative_hazard >= self.params.survival_draw:
            self.death_ms = end_ms

    @property
    def may_die(self) -> bool:
        """Whether death can come at all: a cancer patient alive so far (non-cancer pain does not kill in the model)."""
        return self.params.survival_median_days is not None and self.death_ms is None

    def may_press(self, at_ms: int) -> bool:
        """Whether, alive so far, the patient could press the handset at `at_ms` if the pain were high enough."""
        return self.death_ms is None and self.press.may_press(at_ms, self.rhythm.awake(self._clock_min(at_ms)))

    def observe(self) -> Observation:
        """How the body is now, and the score the patient reports."""
        self._no_notes("observe")
        fold = self.fold()
        sev = se.severities(self.exposure(), fold, self.params.side_effect_sensitivity, self._cancer)
        graded = se.grades(sev)
        toxicity = se.toxicity_score(graded)
        self._toxicity_seen = (self.now_ms, self._version, toxicity)
        relieved = self.relief(fold)
        pain = self.pain(relieved)
        f_site = self._f_site()
        csf = {d: s.csf_ng / self.params.pk[d].v_csf_ml for d, s in self.drugs.items()}
        return Observation(
            at_ms=self.now_ms,
            alive=self.death_ms is None,
            pain=pain,
            pain_score=score_of(pain, self.noise, standard_normal_at(self._noise_key, self.now_ms)),
            relief=relieved,
            awake=self.rhythm.awake(self._clock_min(self.now_ms)),
            severity=sev,
            grades=graded,
            toxicity=toxicity,
            csf_ng_per_ml=csf,
            site_ng_per_ml={d: c * f_site for d, c in csf.items()},
            plasma_ng_per_ml={d: s.plasma_ng / self.params.pk[d].v_plasma_ml for d, s in self.drugs.items()},
            tolerance_fold=fold,
        )

    # ------------------------------------------------------------------ moments noted now, observed later

    def note(self, at_ms: int) -> tuple[int, bool]:
        """Move the body to `at_ms`, keep its state there for `noted`, and return the score the patient reports then
        and whether they are awake: what a decision to press needs, without the rest of an observation.

        The rest (side effects, toxicity, survival) is worked out by `noted` for all the noted moments at once.
        Until then `death_ms` may lag: a caller about to act on the answer calls `noted` first.
        """
        if at_ms < self.now_ms:
            raise InputError("at_ms", at_ms, f"is before the patient's time {self.now_ms}", "note forwards only")
        self._start_noting()
        self._move_to(at_ms)
        relieved = self.relief()
        pain = self.pain(relieved)
        score = score_of(pain, self.noise, standard_normal_at(self._noise_key, at_ms))
        self._notes.append(_Note(at_ms, self._state(), self._f_site(), self.adjuvant_relief, relieved, pain, score))
        return score, self.rhythm.awake(self._clock_min(at_ms))

    def note_many(self, times_ms: Sequence[int] | np.ndarray) -> None:
        """Move the body through `times_ms` (ascending, from now on) and keep its states there for `noted`, as a
        series: moments at which nobody waits for what the patient reports (asleep, expecting a lockout)."""
        times = self._ahead(times_ms)
        if not len(times):
            return
        self._start_noting()
        self._notes.append(_Stretch(times, *self._states_at(times)))

    def _start_noting(self) -> None:
        """Before the first of a run of noted moments: where survival over them starts, and from what toxicity."""
        if not self._notes:
            self._notes_from = (self.now_ms, self._toxicity_before())

    @property
    def notes_waiting(self) -> int:
        """How many noted moments `noted` has not worked out yet."""
        return sum(1 if isinstance(n, _Note) else len(n.times) for n in self._notes)

    def noted(self) -> ObservationSeries:
        """The observations at the moments noted since the last call, with survival over them, all at once."""
        notes, self._notes = self._notes, []
        if not notes:  # nothing noted: an empty series
            notes = [_Stretch(np.zeros(0, dtype=np.int64), np.zeros((len(STATE), 0)), np.zeros(0), np.zeros(0))]
        parts: list[tuple[np.ndarray, ...]] = []
        single: list[_Note] = []
        for item in [*notes, None]:
            if isinstance(item, _Note):
                single.append(item)
                continue
            if single:
                parts.append(_columns_of(single))
                single = []
            if item is not None:
                parts.append(item.columns())
        times, rows, f_site, adjuvant, relief, pain, score, known = (
            np.concatenate(column, axis=-1) if len(parts) > 1 else column[0] for column in zip(*parts, strict=True)
        )
        start_ms, toxicity_before = self._notes_from
        reported = _Reported(relief, pain, score, known)
        return self._series(times, rows, f_site, adjuvant, start_ms, toxicity_before, reported)

    def _no_notes(self, what: str) -> None:
        if self._notes:
            # Survival over noted moments is worked out in order; moving on past them first would skip it.
            raise RuntimeError(f"{what} with {self.notes_waiting} noted moments not worked out: call noted() first")

    def fork(self) -> VirtualPatient:
        """An independent copy of this patient at this moment (for what-if comparisons)."""
        return copy.deepcopy(self)

    def __deepcopy__(self, memo: dict[int, object]) -> VirtualPatient:
        # What depends only on the parameters is shared, not copied: the parameters themselves and the caches of
        # responses, steps and breakthrough days, whose entries are the same whichever copy works them out.
        for shared in (
            self.params,
            self.potency,
            self.rhythm,
            self.breakthrough,
            self._response_cache,
            self._transitions,
        ):
            memo[id(shared)] = shared
        twin = VirtualPatient.__new__(VirtualPatient)
        memo[id(self)] = twin
        for name, value in self.__dict__.items():
            setattr(twin, name, copy.deepcopy(value, memo))
        return twin
