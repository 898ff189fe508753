"""Pain: the drive by indication, its rhythm and breakthrough episodes, the drug effect with tolerance, the report.

Effect sites and tolerance (normalised exposures u, in EC50 units):
    de_sp/dt  = ke0_sp  (u_sp  - e_sp)      u_sp  = f(d) sum_drug pot_sp  C_csf / EC50_sp
    de_sys/dt = ke0_sys (u_sys - e_sys)     u_sys = sum_drug pot_sys C_p / EC50_sys
    dtau/dt   = k_tol   (u_sp + u_sys - tau)                      (Ekblom 1993: separate tolerance compartment)
    fold(tau) = 1 + (max_fold - 1) tau / (tau50 + tau)            (saturable rise of the EC50)
    E_op = Emax X / (1 + X),  X = (e_sp + e_sys) / fold           (Loewe-additive opioid effect, Emax model)
    E_z  = Emax_z e_z / (1 + e_z)                                 (ziconotide, a separate mechanism)
    relief = 1 - (1 - E_op)(1 - E_z)
Pain:  drive(t) = min(cap, B0 exp(g t)) rhythm(t) + breakthrough(t);  pain = clip(drive (1 - relief), 0, 10);
the reported score is round(pain + noise z) kept within 0..10, z a standard normal quantile picked by a hash of
(patient seed, observation time): counter-based, the same answer however a run is chunked.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from thecal.patient.params import Params, load_params
from thecal.patient.pk import LN2, drug_pk

MIN_PER_DAY = 1440.0

_PD = {
    "effect.systemic_equilibration_half_life": "min",
    "effect.spinal_equilibration_half_life": "min",
    "effect.ziconotide_equilibration_half_life": "min",
    "tolerance.half_life": "min",
    "tolerance.max_fold": "1",
    "tolerance.half_saturation": "1",
    "opioid.plasma_ec50_morphine": "ng/mL",
    "opioid.spinal_ec50_morphine": "ng/mL",
    "opioid.hydromorphone_intrathecal_potency": "1",
    "opioid.hydromorphone_oral_potency": "1",
    "opioid.max_relief": "1",
    "ziconotide.ec50": "ng/mL",
    "ziconotide.max_relief": "1",
    "ziconotide.adaptation_half_life": "min",
}
_PAIN = {
    "rhythm.amplitude": "1",
    "rhythm.peak_hour": "h",
    "rhythm.wake_hour": "h",
    "rhythm.sleep_hour": "h",
    "rhythm.activity": "1",
    "breakthrough.episodes_cancer": "1/day",
    "breakthrough.episodes_non_cancer": "1/day",
    "breakthrough.prevalence_cancer": "1",
    "breakthrough.prevalence_non_cancer": "1",
    "breakthrough.duration": "min",
    "breakthrough.intensity": "NRS",
    "progression.cancer": "1/day",
    "progression.non_cancer": "1/day",
    "progression.max_drive": "NRS",
    "report.noise": "NRS",
    "ptm.threshold": "NRS",
    "ptm.min_gap": "min",
}


def pd_params() -> Params:
    """The checked figures of params/pd.toml."""
    return load_params("pd", _PD)


def pain_params() -> Params:
    """The checked figures of params/pain.toml."""
    return load_params("pain", _PAIN)


@dataclass(frozen=True, slots=True)
class Potency:
    """Typical EC50s and relative potencies, derived once from the published kinetics and conversion ratios."""

    ec50_systemic_ng_per_ml: float  # morphine in plasma
    ec50_spinal_ng_per_ml: float  # morphine in CSF at the segment of the pain
    spinal: dict[str, float]  # per opioid, relative to morphine at the spinal site
    systemic: dict[str, float]  # per opioid, relative to morphine in plasma


def potency() -> Potency:
    """The typical potencies: measured EC50s for morphine, equivalence ratios for hydromorphone."""
    pd = pd_params()
    m = drug_pk("morphine", 70.0)
    h = drug_pk("hydromorphone", 70.0)
    ec50_sys = pd.value("opioid.plasma_ec50_morphine")
    ec50_sp = pd.value("opioid.spinal_ec50_morphine")
    # Hydromorphone in plasma: as strong as the oral equivalence ratio says, corrected for its own F and CL.
    oral = pd.value("opioid.hydromorphone_oral_potency")
    sys_hm = oral * (m.f_mr / m.plasma_clearance_ml_per_min) / (h.f_mr / h.plasma_clearance_ml_per_min)
    spinal_hm = pd.value("opioid.hydromorphone_intrathecal_potency")
    return Potency(
        ec50_sys, ec50_sp, {"morphine": 1.0, "hydromorphone": spinal_hm}, {"morphine": 1.0, "hydromorphone": sys_hm}
    )


def tolerance_fold(tau: float, max_fold: float, half: float) -> float:
    """How many times the EC50 has risen at tolerance level `tau`."""
    return 1.0 + (max_fold - 1.0) * tau / (half + tau) if tau > 0 else 1.0


def opioid_effect(e_spinal: float, e_systemic: float, fold: float, max_relief: float) -> float:
    """The fraction of pain an opioid takes away (Emax model on the summed normalised effect-site exposure)."""
    x = (e_spinal + e_systemic) / fold
    return max_relief * x / (1.0 + x)


def ziconotide_effect(e_z: float, max_relief: float) -> float:
    """The fraction of pain ziconotide takes away."""
    return max_relief * e_z / (1.0 + e_z) if e_z > 0 else 0.0


def relief(opioid: float, ziconotide: float) -> float:
    """The combined relief of two independent mechanisms."""
    return 1.0 - (1.0 - opioid) * (1.0 - ziconotide)


# ---------------------------------------------------------------------------- the pain drive


@dataclass(frozen=True, slots=True)
class Rhythm:
    """The daily rhythm of pain and activity."""

    amplitude: float
    peak_hour: float
    wake_hour: float
    sleep_hour: float
    activity: float

    @classmethod
    def typical(cls) -> Rhythm:
        """The rhythm of params/pain.toml."""
        p = pain_params()
        return cls(*(p.value(f"rhythm.{k}") for k in ("amplitude", "peak_hour", "wake_hour", "sleep_hour", "activity")))

    def awake(self, t_min: float) -> bool:
        """True when the patient is awake at `t_min` (time 0 is midnight)."""
        hour = (t_min / 60.0) % 24.0
        return self.wake_hour <= hour < self.sleep_hour

    def factor(self, t_min: float) -> float:
        """The multiplier of the pain drive at `t_min`."""
        hour = (t_min / 60.0) % 24.0
        wave = 1.0 + self.amplitude * math.cos(2.0 * math.pi * (hour - self.peak_hour) / 24.0)
        return wave * (1.0 + self.activity if self.awake(t_min) else 1.0)

    def awake_many(self, t_min: np.ndarray) -> np.ndarray:
        """`awake` at every time of an array."""
        hour = (t_min / 60.0) % 24.0
        return (self.wake_hour <= hour) & (hour < self.sleep_hour)

    def factor_many(self, t_min: np.ndarray) -> np.ndarray:
        """`factor` at every time of an array."""
        hour = (t_min / 60.0) % 24.0
        wave = 1.0 + self.amplitude * np.cos(2.0 * math.pi * (hour - self.peak_hour) / 24.0)
        awake = (self.wake_hour <= hour) & (hour < self.sleep_hour)
        return np.where(awake, wave * (1.0 + self.activity), wave)

    def mean_factor(self) -> float:
        """The factor averaged over a day (the cosine averages out)."""
        return 1.0 + self.activity * (self.sleep_hour - self.wake_hour) / 24.0


@dataclass(frozen=True, slots=True)
class Episode:
    """A breakthrough episode: from, to (minutes) and the points it adds to the drive."""

    start_min: float
    end_min: float
    intensity: float


@dataclass
class Breakthrough:
    """Breakthrough episodes, a Poisson process drawn day by day from the patient's seed (any chunking, same series)."""

    seed: int
    episodes_per_day: float
    duration_min: float
    duration_cv: float
    intensity: float
    intensity_sd: float
    _days: dict[int, list[Episode]] = field(default_factory=dict)

    def day(self, n: int) -> list[Episode]:
        """The episodes that start on day `n`."""
        found = self._days.get(n)
        if found is None:
            found = self._draw(n)
            if len(self._days) > 8:
                self._days.clear()
            self._days[n] = found
        return found

    def _draw(self, n: int) -> list[Episode]:
        if self.episodes_per_day <= 0:
            return []
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 1, n]))
        count = int(rng.poisson(self.episodes_per_day))
        sigma = math.sqrt(math.log1p(self.duration_cv**2))
        out = []
        for _ in range(count):
            start = (n + float(rng.random())) * MIN_PER_DAY
            length = self.duration_min * math.exp(sigma * float(rng.standard_normal()))
            points = max(0.5, self.intensity + self.intensity_sd * float(rng.standard_normal()))
            out.append(Episode(start, start + length, points))
        return out

    def at(self, t_min: float) -> float:
        """The points breakthrough episodes add to the drive at `t_min`."""
        n = int(t_min // MIN_PER_DAY)
        total = 0.0
        for d in (n - 1, n):  # an episode may run past midnight
            if d < 0:
                continue
            for e in self.day(d):
                if e.start_min <= t_min < e.end_min:
                    total += e.intensity
        return total

    def at_many(self, t_min: np.ndarray) -> np.ndarray:
        """`at` for every time of an array (the episodes of every day the times touch)."""
        total = np.zeros(len(t_min))
        if self.episodes_per_day <= 0 or not len(t_min):
            return total
        first = max(0, int(t_min.min() // MIN_PER_DAY) - 1)
        for d in range(first, int(t_min.max() // MIN_PER_DAY) + 1):
            for e in self.day(d):
                total[(e.start_min <= t_min) & (t_min < e.end_min)] += e.intensity
        return total


# The report's noise is counter-based: a hash of (patient seed, observation time) picks a quantile of the standard
# normal, so the same question gets the same answer however a run is chunked, and a whole series is drawn at once.
_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_NOISE_BITS = 12  # 4,096 equally likely quantiles: far finer than a report rounded to whole points
_STREAM = 0xD1B54A32D192ED03  # the report's stream, apart from any other use of the seed


def _mix(x: int) -> int:
    """The splitmix64 finaliser: a bijection of 64-bit integers that scatters every input bit."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _mix_many(x: np.ndarray) -> np.ndarray:
    """`_mix` over an array of uint64 (numpy wraps the products modulo 2**64, as the mask does)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@cache
def _quantiles() -> tuple[tuple[float, ...], np.ndarray]:
    """The standard normal's quantiles at the midpoints of 2**_NOISE_BITS equal slices of probability."""
    n = 1 << _NOISE_BITS
    inv = statistics.NormalDist().inv_cdf
    values = tuple(inv((i + 0.5) / n) for i in range(n))
    return values, np.array(values)


def noise_key(seed: int) -> int:
    """The key of a patient's report noise (computed once per patient)."""
    return _mix((seed ^ _STREAM) & _MASK)


def standard_normal_at(key: int, at_ms: int) -> float:
    """The standard normal draw of the report at `at_ms` (the same key and time, the same draw)."""
    return _quantiles()[0][_mix((key + at_ms * _GOLDEN) & _MASK) >> (64 - _NOISE_BITS)]


def standard_normal_many(key: int, times_ms: np.ndarray) -> np.ndarray:
    """`standard_normal_at` for every time of an array, element for element the same values."""
    with np.errstate(over="ignore"):
        x = np.uint64(key) + times_ms.astype(np.uint64) * np.uint64(_GOLDEN)
        return _quantiles()[1][(_mix_many(x) >> np.uint64(64 - _NOISE_BITS)).astype(np.intp)]


def score_of(pain: float, noise: float, z: float) -> int:
    """The whole number 0-10 reported for felt `pain` with the noise draw `z`."""
    return int(min(10, max(0, round(pain + noise * z))))


def reported_score(pain: float, seed: int, at_ms: int, noise: float) -> int:
    """The whole number 0-10 a patient says when asked at `at_ms` (the same question, the same answer)."""
    return score_of(pain, noise, standard_normal_at(noise_key(seed), at_ms))


def reported_scores(pain: np.ndarray, key: int, times_ms: np.ndarray, noise: float) -> np.ndarray:
    """`reported_score` for a whole series (`key` from `noise_key`): the same integers, element for element."""
    # np.rint rounds half to even, as Python's round does.
    return np.clip(np.rint(pain + noise * standard_normal_many(key, times_ms)), 0, 10).astype(np.int64)


# ---------------------------------------------------------------------------- the PTM press rule


@dataclass
class PressPolicy:
    """When a patient presses the PTM: pain at or above a threshold, awake, and not when they expect a refusal.

    The patient learns from what the PTM says: a lockout "until HH:MM" is
    remembered, and so is the lockout interval it implies after a dose; after
    the daily maximum they stop until the next day.
    """

    threshold: float
    min_gap_min: float
    _last_press_ms: int | None = None
    _last_given_ms: int | None = None
    _blocked_until_ms: int = 0
    _learned_lockout_ms: int | None = None
    time_of_day_at_0_ms: int = 0  # the clock on the wall at time 0, ms after midnight: "tomorrow" starts at midnight

    def wants(self, now_ms: int, score: int, awake: bool = True) -> bool:
        """Whether the patient presses now."""
        return score >= self.threshold and self.may_press(now_ms, awake)

    def may_press(self, now_ms: int, awake: bool = True) -> bool:
        """Whether a high enough score would make the patient press now (awake, not expecting a refusal)."""
        if not awake or now_ms < self._blocked_until_ms:
            return False
        return self._last_press_ms is None or now_ms - self._last_press_ms >= self.min_gap_min * 60_000

    def pressed(self, now_ms: int, outcome: str, until_ms: int | None = None) -> None:
        """Tell the patient what the PTM answered: "given", "locked_out" (until `until_ms`) or "daily_max"."""
        self._last_press_ms = now_ms
        if outcome == "given":
            self._last_given_ms = now_ms
            if self._learned_lockout_ms is not None:
                self._blocked_until_ms = now_ms + self._learned_lockout_ms
        elif outcome == "locked_out" and until_ms is not None:
            self._blocked_until_ms = until_ms
            if self._last_given_ms is not None and until_ms > self._last_given_ms:
                self._learned_lockout_ms = until_ms - self._last_given_ms
        elif outcome == "daily_max":
            shift = self.time_of_day_at_0_ms
            self._blocked_until_ms = ((now_ms + shift) // 86_400_000 + 1) * 86_400_000 - shift


def equilibration_rate(half_life_min: float) -> float:
    """A first-order rate from a half-life."""
    return LN2 / half_life_min
