"""The virtual patient: parameters drawn for one person, the body advanced exactly between events, what it reports.

`sample_patient(spec, rng)` draws a `PatientParams` from a `PopulationSpec`
and the distributions of the parameter files; `VirtualPatient` takes the drug
the catheter delivered at its tip (`DeliveryRecord`s), oral and subcutaneous
doses and tip moves, and `advance(to_ms)` moves every compartment on in closed
form between those events, then reports an `Observation`. Time is the pump's
clock in ms; the day starts at midnight of time 0.
"""

from __future__ import annotations

import copy
import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from thecal.errors import InputError
from thecal.patient import side_effects as se
from thecal.patient.pain import (
    MIN_PER_DAY,
    Breakthrough,
    PressPolicy,
    Rhythm,
    equilibration_rate,
    opioid_effect,
    pain_params,
    pd_params,
    potency,
    relief,
    reported_score,
    tolerance_fold,
    ziconotide_effect,
)
from thecal.patient.params import Params, load_params
from thecal.patient.pk import (
    DRUGS,
    MS_PER_MIN,
    NG_PER_MG,
    OPIOIDS,
    DrugPK,
    DrugState,
    ExpSum,
    advance_drug,
    chain,
    drug_pk,
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


@dataclass(frozen=True)
class Observation:
    """What the body is and says at one moment."""

    at_ms: int
    alive: bool
    pain: float  # felt pain, 0-10, continuous
    pain_score: int  # what the patient reports, 0-10
    relief: float
    awake: bool
    severity: dict[str, float]
    grades: dict[str, int]
    toxicity: int
    csf_ng_per_ml: dict[str, float]  # at the tip level
    site_ng_per_ml: dict[str, float]  # at the segments of the pain
    plasma_ng_per_ml: dict[str, float]
    tolerance_fold: float


@dataclass(order=True)
class _Input:
    at_ms: int
    order: int
    kind: str = field(compare=False)  # "start" | "end" | "dose" | "tip" | "adjuvant"
    drug: str = field(compare=False, default="")
    amount: float = field(compare=False, default=0.0)  # ng, ng/min for "start"/"end", cm for "tip"
    depot: str = field(compare=False, default="")


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
        # State.
        self.now_ms = start_ms
        self.tip_to_pain_cm = params.tip_to_pain_cm
        self.tip_blocked = False
        self.adjuvant_relief = 0.0
        self.drugs = {d: DrugState() for d in DRUGS}
        self.e_sp = self.e_sys = self.tol = self.e_z = self.adapt_z = self.brain = 0.0
        self.cumulative_hazard = 0.0
        self.death_ms: int | None = None
        self._rates: dict[str, float] = dict.fromkeys(DRUGS, 0.0)
        self._inputs: list[_Input] = []
        self._order = 0
        self._settle_on_oral(params.prior_oral_mme_mg_per_day)

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
        self._push(start, "start", drug, rate)
        self._push(end, "end", drug, rate)

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

    def _push(self, at_ms: int, kind: str, drug: str = "", amount: float = 0.0, depot: str = "") -> None:
        self._order += 1
        heapq.heappush(self._inputs, _Input(at_ms, self._order, kind, drug, amount, depot))

    # ------------------------------------------------------------------ time

    def advance(self, to_ms: int) -> Observation:
        """Move the body on to `to_ms` exactly and report how it is then."""
        self.run_to(to_ms)
        return self.observe()

    def run_to(self, to_ms: int) -> None:
        """Move the body on to `to_ms` exactly, without a report (cheaper when nobody asks)."""
        if to_ms < self.now_ms:
            raise InputError("to_ms", to_ms, f"is before the patient's time {self.now_ms}", "advance forwards only")
        toxicity_before = self._toxicity_now() if self.toxicity_hazard else 0
        start = self.now_ms
        while True:
            while self._inputs and self._inputs[0].at_ms <= self.now_ms:
                self._apply(heapq.heappop(self._inputs))
            if self.now_ms >= to_ms:
                break
            nxt = min(to_ms, self._inputs[0].at_ms) if self._inputs else to_ms
            self._step((nxt - self.now_ms) / MS_PER_MIN)
            self.now_ms = nxt
        self._survival(start, to_ms, toxicity_before)

    def _apply(self, event: _Input) -> None:
        if event.kind == "start":
            self._rates[event.drug] += event.amount
        elif event.kind == "end":
            self._rates[event.drug] = max(0.0, self._rates[event.drug] - event.amount)
            if self._rates[event.drug] < 1e-9:
                self._rates[event.drug] = 0.0
        elif event.kind == "dose":
            state = self.drugs[event.drug]
            setattr(state, event.depot, getattr(state, event.depot) + event.amount)
        elif event.kind == "tip":
            self.tip_to_pain_cm = event.amount
        elif event.kind == "adjuvant":
            self.adjuvant_relief = event.amount

    def _step(self, dt: float) -> None:
        """Advance every compartment `dt` minutes at constant inputs, in closed form."""
        f_site = 0.0 if self.tip_blocked else spread_fraction(self.tip_to_pain_cm)
        f_brain = spread_fraction(self.brain_distance_cm)
        u_csf = ExpSum()  # opioid in CSF at the tip, in spinal EC50 units
        u_sys = ExpSum()
        u_z = ExpSum()
        for drug, state in self.drugs.items():
            rate = self._rates[drug]
            if rate == 0.0 and not (
                state.csf_ng or state.plasma_ng or state.oral_ir_ng or state.oral_mr_ng or state.subcutaneous_ng
            ):
                continue
            c_csf, c_plasma = advance_drug(state, self.params.pk[drug], rate, dt, self.ka_sc)
            if drug == "ziconotide":
                u_z.add(c_csf, 1.0 / self.params.ziconotide_ec50_ng_per_ml)
            else:
                u_csf.add(c_csf, self.potency.spinal[drug] / self.ec50_sp)
                u_sys.add(c_plasma, self.potency.systemic[drug] / self.ec50_sys)
        u_sp = ExpSum().add(u_csf, f_site)
        self.e_sp = chain(self.e_sp, self.ke0_sp, u_sp, self.ke0_sp).at(dt)
        self.e_sys = chain(self.e_sys, self.ke0_sys, u_sys, self.ke0_sys).at(dt)
        self.tol = chain(self.tol, self.k_tol, ExpSum().add(u_sp).add(u_sys), self.k_tol).at(dt)
        self.brain = chain(self.brain, self.k_brain, ExpSum().add(u_csf, f_brain), self.k_brain).at(dt)
        self.e_z = chain(self.e_z, self.ke0_z, ExpSum().add(u_z, f_site), self.ke0_z).at(dt)
        self.adapt_z = chain(self.adapt_z, self.k_adapt, ExpSum().add(u_z, f_site), self.k_adapt).at(dt)

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

    def relief(self) -> float:
        """The fraction of the pain drive the drugs take away now."""
        e_op = opioid_effect(self.e_sp, self.e_sys, self.fold(), self.params.opioid_max_relief)
        drugs = relief(e_op, ziconotide_effect(self.e_z, self.params.ziconotide_max_relief))
        return relief(drugs, self.adjuvant_relief) if self.adjuvant_relief else drugs

    def pain(self) -> float:
        """The pain the patient feels now, 0-10."""
        t = self.now_ms / MS_PER_MIN
        base = min(self.max_drive, self.params.pain_drive * math.exp(self.params.progression_per_day * t / MIN_PER_DAY))
        drive = base * self.rhythm.factor(t) + self.breakthrough.at(t)
        return min(10.0, max(0.0, drive * (1.0 - self.relief())))

    def exposure(self) -> se.Exposure:
        """What drives side effects now."""
        gut = sum(self.drugs[d].oral_ir_ng + self.drugs[d].oral_mr_ng for d in OPIOIDS) / self.gut_reference_ng
        return se.Exposure(self.e_sys, self.e_sp, self.brain, gut, self.e_z, self.adapt_z)

    def _toxicity_now(self) -> int:
        sev = se.severities(self.exposure(), self.fold(), self.params.side_effect_sensitivity, self._cancer)
        return se.toxicity_score(se.grades(sev))

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

    def observe(self) -> Observation:
        """How the body is now, and the score the patient reports."""
        sev = se.severities(self.exposure(), self.fold(), self.params.side_effect_sensitivity, self._cancer)
        graded = se.grades(sev)
        pain = self.pain()
        f_site = 0.0 if self.tip_blocked else spread_fraction(self.tip_to_pain_cm)
        csf = {d: s.csf_ng / self.params.pk[d].v_csf_ml for d, s in self.drugs.items()}
        return Observation(
            at_ms=self.now_ms,
            alive=self.death_ms is None,
            pain=pain,
            pain_score=reported_score(pain, self.params.seed, self.now_ms, self.noise),
            relief=self.relief(),
            awake=self.rhythm.awake(self.now_ms / MS_PER_MIN),
            severity=sev,
            grades=graded,
            toxicity=se.toxicity_score(graded),
            csf_ng_per_ml=csf,
            site_ng_per_ml={d: c * f_site for d, c in csf.items()},
            plasma_ng_per_ml={d: s.plasma_ng / self.params.pk[d].v_plasma_ml for d, s in self.drugs.items()},
            tolerance_fold=self.fold(),
        )

    def fork(self) -> VirtualPatient:
        """An independent copy of this patient at this moment (for what-if comparisons)."""
        return copy.deepcopy(self)
