"""Pharmacokinetics: drug at the catheter tip -> CSF -> plasma, oral and subcutaneous uptake, spread along the canal.

Every compartment is linear and first order, and between two events every
input is constant, so each quantity over an interval is exactly a constant
plus a sum of exponentials (`ExpSum`). A compartment fed by another is solved
in closed form from its feeder's `ExpSum` (`chain`): no time step, no ODE
solver. Units inside: minutes, ng, mL, ng/mL; the public edges take ms.

CSF (per drug):      dA/dt = R(t) - k_csf A,         C_csf = A / V_csf,  k_csf = ln2 / t1/2, V_csf = CL t1/2 / ln2
plasma (per drug):   dP/dt = k_csf A + sum ka G - k_p P,   C_p = P / V_p,  k_p = CL_p / V_p
depot (oral, s.c.):  dG/dt = -ka G,  a dose D adds F D to G
segment of the pain: C_site = C_csf f(d),  f(d) = q ** (d / d_ref)   (Kroin 1993: q = 0.43 over 20 cm)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from typing import TypeAlias

import numpy as np

from thecal.patient.params import Params, load_params

LN2 = math.log(2.0)
DRUGS = ("morphine", "hydromorphone", "ziconotide")
OPIOIDS = ("morphine", "hydromorphone")
ORAL_DRUGS = ("morphine", "hydromorphone")
MS_PER_MIN = 60_000.0
NG_PER_MG = 1_000_000.0
# A coefficient of a solution: a float, or a vector of them worked out element by element (one per input channel,
# as the patient works out its responses to every input at once).
Amount: TypeAlias = float | np.ndarray

_REQUIRED = {
    **{f"csf.{d}.half_life": "min" for d in DRUGS},
    "csf.morphine.clearance": "uL/kg/min",
    "csf.hydromorphone.clearance": "uL/kg/min",
    "csf.ziconotide.clearance": "mL/min",
    **{f"plasma.{d}.clearance": "mL/min" for d in DRUGS},
    **{f"plasma.{d}.volume": "L" for d in DRUGS},
    **{f"oral.{d}.{k}": "1" for d in ORAL_DRUGS for k in ("bioavailability_ir", "bioavailability_mr")},
    **{f"oral.{d}.{k}": "min" for d in ORAL_DRUGS for k in ("tmax_ir", "tmax_mr")},
    "subcutaneous.bioavailability": "1",
    "subcutaneous.absorption_half_life": "min",
    "spread.reference_fraction": "1",
    "spread.reference_distance": "cm",
    "spread.tip_to_brainstem": "cm",
    "spread.brainstem_half_life": "min",
}


def pk_params() -> Params:
    """The checked figures of params/pk.toml."""
    return load_params("pk", _REQUIRED)


# ---------------------------------------------------------------------------- exact linear solutions


@dataclass(slots=True)
class ExpSum:
    """A function of time in an interval: const + sum(a * exp(-r t)), t in minutes from the interval's start.

    `at` and `integral` need float coefficients; building one (`add`, `source`, `chain`) takes vectors too.
    """

    const: Amount = 0.0
    terms: list[tuple[Amount, float]] = field(default_factory=list)

    def at(self, t: float) -> float:
        """The value at `t` minutes."""
        # The same sum as `sum(generator)`, term by term from 0 in the same order, without a generator per call.
        total = 0.0
        exp = math.exp
        for a, r in self.terms:
            total += float(a) * exp(-r * t)
        return float(self.const) + total

    def integral(self, t: float) -> float:
        """The integral from 0 to `t` minutes."""
        return float(self.const) * t + sum(float(a) * (-math.expm1(-r * t)) / r for a, r in self.terms)

    def add(self, other: ExpSum, scale: float = 1.0) -> ExpSum:
        """Add `scale` times another function to this one (in place) and return self."""
        if scale == 1.0:  # the very same numbers, without a product per term
            self.const += other.const
            self.terms += other.terms
            return self
        self.const += scale * other.const
        self.terms += [(scale * a, r) for a, r in other.terms]
        return self


def source(a0: Amount, rate: Amount, k: float) -> ExpSum:
    """The solution of dA/dt = rate - k A from A(0) = a0."""
    steady = rate / k
    return ExpSum(steady, [(a0 - steady, k)])


def chain(y0: Amount, gain: float, x: ExpSum, k: float) -> ExpSum:
    """The solution of dy/dt = gain x(t) - k y from y(0) = y0, with x itself a sum of exponentials.

    A feeder rate equal to `k` would need a t*exp(-kt) term; it is moved by a
    relative 1e-9, which changes the result by far less than any figure's precision.
    """
    const = gain * x.const / k
    last = y0 - const
    nudge = 1e-9 * k
    terms: list[tuple[Amount, float]] = []
    append = terms.append
    for a, r in x.terms:
        if not isinstance(a, np.ndarray) and a == 0.0:  # (a vector's zero entries just add zeros)
            continue
        gap = k - r
        if abs(gap) <= nudge:
            gap = nudge
        c = gain * a / gap
        append((c, r))
        last -= c
    append((last, k))
    return ExpSum(const, terms)


def ka_from_tmax(tmax_min: float, k_min: float) -> float:
    """The first-order absorption rate that puts the plasma peak of a single dose at `tmax` (one compartment)."""
    # tmax = ln(ka/k) / (ka - k) falls as ka rises; bisection on ka > k.
    lo, hi = k_min * (1 + 1e-9), 1e3
    if math.log(hi / k_min) / (hi - k_min) > tmax_min:
        return hi
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if math.log(mid / k_min) / (mid - k_min) > tmax_min:
            lo = mid
        else:
            hi = mid
    # A tmax beyond 1/k cannot be reached (the peak of ka -> k is at 1/k): the search ends at ka = k, where the
    # closed form divides by ka - k and loses every digit. Kept 0.1 % above k, the peak moves by far less than its
    # published precision and the sums keep 12 digits.
    return max(math.sqrt(lo * hi), k_min * (1.0 + 1e-3))


# ---------------------------------------------------------------------------- spread along the spinal canal


def spread_length_cm(params: Params | None = None) -> float:
    """The length over which CSF concentration falls by a factor e away from the tip."""
    if params is None:
        return _typical_spread_length_cm()
    return params.value("spread.reference_distance") / -math.log(params.value("spread.reference_fraction"))


@cache
def _typical_spread_length_cm() -> float:
    # Asked at every step of every patient: params/pk.toml is read once (load_params caches it too).
    p = pk_params()
    return p.value("spread.reference_distance") / -math.log(p.value("spread.reference_fraction"))


def spread_fraction(distance_cm: float, params: Params | None = None) -> float:
    """The fraction of the tip's CSF concentration found `distance_cm` along the canal (Kroin 1993)."""
    return math.exp(-abs(distance_cm) / spread_length_cm(params))


# ---------------------------------------------------------------------------- one patient's kinetics


@dataclass(frozen=True, slots=True)
class DrugPK:
    """One drug's kinetics in one patient (per minute, mL)."""

    k_csf: float
    v_csf_ml: float
    k_plasma: float
    v_plasma_ml: float
    f_ir: float = 0.0
    f_mr: float = 0.0
    ka_ir: float = 1.0
    ka_mr: float = 1.0

    @property
    def csf_clearance_ml_per_min(self) -> float:
        """CSF clearance."""
        return self.k_csf * self.v_csf_ml

    @property
    def plasma_clearance_ml_per_min(self) -> float:
        """Plasma clearance."""
        return self.k_plasma * self.v_plasma_ml


def _draw(p: Params, name: str, rng: np.random.Generator | None) -> float:
    figure = p[name]
    if rng is None:
        return figure.value
    if figure.cv:
        sigma = math.sqrt(math.log1p(figure.cv**2))
        return figure.value * math.exp(sigma * rng.standard_normal() - sigma * sigma / 2)
    if figure.sd:
        return max(0.0, figure.value + figure.sd * rng.standard_normal())
    return figure.value


def drug_pk(drug: str, weight_kg: float, rng: np.random.Generator | None = None) -> DrugPK:
    """A patient's kinetics of one drug: typical values, or drawn from their stated variability when `rng` is given."""
    p = pk_params()
    t_half = _draw(p, f"csf.{drug}.half_life", rng)
    cl = _draw(p, f"csf.{drug}.clearance", rng)
    cl_ml = cl if drug == "ziconotide" else cl * weight_kg / 1000.0  # uL/kg/min -> mL/min
    k_csf = LN2 / t_half
    cl_p = _draw(p, f"plasma.{drug}.clearance", rng)
    v_p = _draw(p, f"plasma.{drug}.volume", rng) * 1000.0
    k_p = cl_p / v_p
    if drug not in ORAL_DRUGS:
        return DrugPK(k_csf, cl_ml / k_csf, k_p, v_p)
    return DrugPK(
        k_csf,
        cl_ml / k_csf,
        k_p,
        v_p,
        p.value(f"oral.{drug}.bioavailability_ir"),
        p.value(f"oral.{drug}.bioavailability_mr"),
        ka_from_tmax(p.value(f"oral.{drug}.tmax_ir"), k_p),
        ka_from_tmax(p.value(f"oral.{drug}.tmax_mr"), k_p),
    )


@dataclass(slots=True)
class DrugState:
    """Amounts of one drug in the body (ng): CSF, plasma and the depots that feed plasma."""

    csf_ng: float = 0.0
    plasma_ng: float = 0.0
    oral_ir_ng: float = 0.0
    oral_mr_ng: float = 0.0
    subcutaneous_ng: float = 0.0


DEPOTS = ("oral_ir_ng", "oral_mr_ng", "subcutaneous_ng")


def drug_solution(
    state: DrugState, pk: DrugPK, it_rate_ng_per_min: Amount, ka_sc: float
) -> tuple[ExpSum, ExpSum, ExpSum, ExpSum, ExpSum]:
    """One drug's amounts (ng) over an interval at a constant intrathecal rate: CSF, plasma and the three depots."""
    csf = source(state.csf_ng, it_rate_ng_per_min, pk.k_csf)
    plasma = chain(state.plasma_ng, pk.k_csf, csf, pk.k_plasma)
    depots = []
    for amount, ka in ((state.oral_ir_ng, pk.ka_ir), (state.oral_mr_ng, pk.ka_mr), (state.subcutaneous_ng, ka_sc)):
        if isinstance(amount, np.ndarray) or amount > 0.0:  # (a vector's zero entries just add zeros)
            depot = ExpSum(0.0, [(amount, ka)])
            plasma.add(chain(0.0, ka, depot, pk.k_plasma))
        else:
            depot = ExpSum()
        depots.append(depot)
    return csf, plasma, depots[0], depots[1], depots[2]


def subcutaneous_ka() -> float:
    """The absorption rate of drug under the skin (a pocket fill or a leak), per minute."""
    return LN2 / pk_params().value("subcutaneous.absorption_half_life")


def subcutaneous_fraction() -> float:
    """The fraction of drug under the skin that reaches plasma."""
    return pk_params().value("subcutaneous.bioavailability")
