"""A trial's patient outcomes reduced per arm, exactly, whatever order they arrive in.

A trial's table must be the same, to the last digit, whichever engine ran it,
on how many workers, in how many chunks, and in whatever order the chunks came
back. Floating-point sums depend on their order, so nothing here adds floats:
every finite double is an integer multiple of 2**-1074, so a value is kept as
that integer (`_exact`), its square as an integer multiple of 2**-2148, and
sums of integers do not depend on their order. A chunk's patients are reduced
where they were simulated (`Sums.add`), and the chunks' sums are merged as they
arrive (`Sums.merge`); no patient's outcome is kept. Only the summary at the
end rounds, once, from exact rationals to the nearest double
(`fractions.Fraction` → float), and then takes the square roots and the
quantile of the t distribution, which are the same for the same inputs.

Per arm and endpoint the summary holds the number observed and missing (None:
died, withdrew, not reached), and:
- for a number: the mean, the standard deviation and the mean's 95 % confidence
  interval (Student's t, n − 1 degrees of freedom);
- for true/false: the count of true, the proportion and its 95 % Wilson score
  interval (Wilson 1927, JASA 22:209), which stays inside 0–1 for small n.
Per arm and weekly series (pain, toxicity, doses, alive): the number observed
and the mean of each week, for plots.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal, Protocol, TypedDict

# Every finite double is k · 2**-1074 for an integer k (the smallest subnormal is 2**-1074).
SCALE_BITS = 1074
# The 97.5th percentile of the standard normal distribution (statistics.NormalDist().inv_cdf(0.975)).
Z_975 = 1.959963984540054
# Above this many degrees of freedom the t quantile comes from its Cornish–Fisher expansion in z (error < 1e-13).
T_SERIES_MAX_DF = 1000
CONFIDENCE = 0.95
# No outcome (a pain score, a dose in mg/day, a day, a count) comes near this; a larger one is a defect, and
# refusing it keeps every square and variance within a double's range.
MAX_MAGNITUDE = 1e12

Value = float | bool | None


class Outcome(Protocol):
    """What the reduction reads of one patient's outcome (thecal.trials.outcome.PatientOutcome)."""

    @property
    def arm(self) -> str: ...
    @property
    def index(self) -> int: ...
    @property
    def endpoints(self) -> Mapping[str, Value]: ...
    @property
    def weekly(self) -> Mapping[str, tuple[float | None, ...]]: ...


class NumberSummary(TypedDict):
    """A numeric endpoint of one arm (docs/trials.md, "The JSON document")."""

    kind: Literal["number"]
    n: int
    missing: int
    mean: float | None
    sd: float | None
    ci95: list[float] | None


class ProportionSummary(TypedDict):
    """A true/false endpoint of one arm: the proportion is 0–1."""

    kind: Literal["proportion"]
    n: int
    missing: int
    true: int
    proportion: float | None
    ci95: list[float] | None


class UnobservedSummary(TypedDict):
    """An endpoint no patient of the arm reached."""

    kind: Literal["unobserved"]
    n: int
    missing: int


EndpointSummary = NumberSummary | ProportionSummary | UnobservedSummary


class WeeklySummary(TypedDict):
    """One weekly series of one arm: per week, how many were observed and their mean."""

    n: list[int]
    mean: list[float | None]


class ArmSummary(TypedDict):
    """One arm: its patients, its endpoints and its weekly series, by name."""

    patients: int
    endpoints: dict[str, EndpointSummary]
    weekly: dict[str, WeeklySummary]


class ReductionError(ValueError):
    """An outcome the reduction cannot take: a value that is not finite, or an endpoint whose kind changes."""


def _exact(value: float, where: str) -> int:
    """A finite double as the integer k with value = k · 2**-SCALE_BITS, exactly."""
    if not abs(value) <= MAX_MAGNITUDE:  # also refuses NaN
        raise ReductionError(f"{where} = {value!r}: an outcome must be a number within ±{MAX_MAGNITUDE:g}, or None")
    numerator, denominator = float(value).as_integer_ratio()  # the denominator is a power of two
    return numerator << (SCALE_BITS - denominator.bit_length() + 1)


@dataclass
class NumberSums:
    """A numeric endpoint of one arm: how many observed, Σx and Σx², exactly."""

    n: int = 0
    total: int = 0  # Σx · 2**SCALE_BITS
    squares: int = 0  # Σx² · 2**(2·SCALE_BITS)

    def add(self, scaled: int) -> None:
        """Count one observed value, given as `_exact` gives it."""
        self.n += 1
        self.total += scaled
        self.squares += scaled * scaled

    def merge(self, other: NumberSums) -> None:
        """Add another chunk's sums of the same endpoint."""
        self.n += other.n
        self.total += other.total
        self.squares += other.squares

    def summary(self, patients: int) -> NumberSummary:
        """n, missing, mean, sd and the mean's 95 % t-interval (None where n is too small to tell)."""
        mean = sd = None
        ci95 = None
        if self.n:
            mean = float(Fraction(self.total, self.n << SCALE_BITS))
        if self.n >= 2 and mean is not None:
            # Var = (n·Σx² − (Σx)²) / (n(n − 1)), exact until this one division is rounded.
            variance = Fraction(
                self.n * self.squares - self.total * self.total, (self.n * (self.n - 1)) << 2 * SCALE_BITS
            )
            sd = math.sqrt(float(variance))
            half = t_quantile_975(self.n - 1) * sd / math.sqrt(self.n)
            ci95 = [mean - half, mean + half]
        return {"kind": "number", "n": self.n, "missing": patients - self.n, "mean": mean, "sd": sd, "ci95": ci95}


@dataclass
class CountSums:
    """A true/false endpoint of one arm: how many observed and how many were true."""

    n: int = 0
    true: int = 0

    def add(self, value: bool) -> None:
        """Count one observed value."""
        self.n += 1
        self.true += value

    def merge(self, other: CountSums) -> None:
        """Add another chunk's counts of the same endpoint."""
        self.n += other.n
        self.true += other.true

    def summary(self, patients: int) -> ProportionSummary:
        """n, missing, the count of true, the proportion and its 95 % Wilson interval."""
        proportion = self.true / self.n if self.n else None
        ci95 = list(wilson_interval(self.true, self.n)) if self.n else None
        return {
            "kind": "proportion",
            "n": self.n,
            "missing": patients - self.n,
            "true": self.true,
            "proportion": proportion,
            "ci95": ci95,
        }


@dataclass
class WeekSums:
    """One weekly series of one arm: per week, how many observed and their exact sum."""

    n: list[int] = field(default_factory=list)
    total: list[int] = field(default_factory=list)

    def _grow(self, weeks: int) -> None:
        missing = weeks - len(self.n)
        if missing > 0:
            self.n.extend([0] * missing)
            self.total.extend([0] * missing)

    def add(self, series: tuple[float | None, ...], where: str) -> None:
        """Count one patient's series (None: not observed that week)."""
        self._grow(len(series))
        for week, value in enumerate(series):
            if value is not None:
                self.n[week] += 1
                self.total[week] += _exact(float(value), f"{where}[{week}]")

    def merge(self, other: WeekSums) -> None:
        """Add another chunk's sums of the same series."""
        self._grow(len(other.n))
        for week, (n, total) in enumerate(zip(other.n, other.total, strict=True)):
            self.n[week] += n
            self.total[week] += total

    def summary(self) -> WeeklySummary:
        """Per week: the number observed and their mean (None for a week nobody was observed)."""
        means = [float(Fraction(t, n << SCALE_BITS)) if n else None for n, t in zip(self.n, self.total, strict=True)]
        return {"n": list(self.n), "mean": means}


@dataclass
class ArmSums:
    """Everything one arm's patients have added so far."""

    patients: int = 0
    numbers: dict[str, NumberSums] = field(default_factory=dict)
    counts: dict[str, CountSums] = field(default_factory=dict)
    unobserved: set[str] = field(default_factory=set)  # endpoints seen only as None so far
    weekly: dict[str, WeekSums] = field(default_factory=dict)

    def add(self, outcome: Outcome) -> None:
        """Add one patient's outcome."""
        self.patients += 1
        for name, value in outcome.endpoints.items():
            where = f"arm {outcome.arm!r}, patient {outcome.index}, endpoint {name!r}"
            if value is None:
                if name not in self.numbers and name not in self.counts:
                    self.unobserved.add(name)
            elif isinstance(value, bool):
                self._counts(name, where).add(value)
            elif isinstance(value, int | float):
                self._numbers(name, where).add(_exact(float(value), where))
            else:
                raise ReductionError(f"{where} = {value!r}: an endpoint is a number, true/false or None")
        for name, series in outcome.weekly.items():
            self.weekly.setdefault(name, WeekSums()).add(
                series, f"arm {outcome.arm!r}, patient {outcome.index}, {name}"
            )

    def merge(self, other: ArmSums) -> None:
        """Add another chunk's sums of the same arm."""
        self.patients += other.patients
        for name, numbers in other.numbers.items():
            self._numbers(name, f"endpoint {name!r}").merge(numbers)
        for name, counts in other.counts.items():
            self._counts(name, f"endpoint {name!r}").merge(counts)
        self.unobserved |= {name for name in other.unobserved if name not in self.numbers and name not in self.counts}
        for name, week_sums in other.weekly.items():
            self.weekly.setdefault(name, WeekSums()).merge(week_sums)

    def _numbers(self, name: str, where: str) -> NumberSums:
        if name in self.counts:
            raise ReductionError(f"{where}: a number where other patients have true/false")
        self.unobserved.discard(name)
        return self.numbers.setdefault(name, NumberSums())

    def _counts(self, name: str, where: str) -> CountSums:
        if name in self.numbers:
            raise ReductionError(f"{where}: true/false where other patients have a number")
        self.unobserved.discard(name)
        return self.counts.setdefault(name, CountSums())

    def summary(self) -> ArmSummary:
        """The arm's endpoints and weekly means, by name in sorted order."""
        endpoints: dict[str, EndpointSummary] = {}
        for name in sorted({*self.numbers, *self.counts, *self.unobserved}):
            if name in self.numbers:
                endpoints[name] = self.numbers[name].summary(self.patients)
            elif name in self.counts:
                endpoints[name] = self.counts[name].summary(self.patients)
            else:
                endpoints[name] = {"kind": "unobserved", "n": 0, "missing": self.patients}
        weekly = {name: self.weekly[name].summary() for name in sorted(self.weekly)}
        return {"patients": self.patients, "endpoints": endpoints, "weekly": weekly}


@dataclass
class Sums:
    """The exact sums of a set of patients, per arm: what a chunk sends back and what the run merges."""

    arms: dict[str, ArmSums] = field(default_factory=dict)

    def add(self, outcome: Outcome) -> None:
        """Add one patient's outcome."""
        self.arms.setdefault(outcome.arm, ArmSums()).add(outcome)

    def merge(self, other: Sums) -> None:
        """Add the sums of other patients (another chunk)."""
        for arm, sums in other.arms.items():
            self.arms.setdefault(arm, ArmSums()).merge(sums)

    def patients(self) -> int:
        """How many patients have been added."""
        return sum(arm.patients for arm in self.arms.values())

    def summary(self) -> dict[str, ArmSummary]:
        """Per arm (sorted by name): patients, endpoints and weekly means."""
        return {arm: self.arms[arm].summary() for arm in sorted(self.arms)}


def reduce_outcomes(outcomes: Iterable[Outcome]) -> Sums:
    """The exact sums of some patients' outcomes."""
    sums = Sums()
    for outcome in outcomes:
        sums.add(outcome)
    return sums


def wilson_interval(true: int, n: int, z: float = Z_975) -> tuple[float, float]:
    """The Wilson score interval of a proportion true/n (95 % with the default z)."""
    if n <= 0 or not 0 <= true <= n:
        raise ValueError(f"a proportion needs 0 <= true <= n and n > 0, not {true}/{n}")
    p = true / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # At 0 and n the interval touches its bound exactly; rounding must not push it past.
    return (0.0 if true == 0 else max(0.0, centre - half), 1.0 if true == n else min(1.0, centre + half))


def t_quantile_975(df: int) -> float:
    """The 97.5th percentile of Student's t distribution with `df` degrees of freedom (two-sided 95 %)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, not {df}")
    if df > T_SERIES_MAX_DF:
        return _t_cornish_fisher(df, Z_975)
    # Bisection on P(|T| <= t) = 0.95; the t quantile lies between z and the Cauchy's (df = 1).
    low, high = Z_975, 12.8
    for _ in range(200):
        middle = (low + high) / 2
        if middle in (low, high):
            break
        if _t_central_probability(middle, df) < CONFIDENCE:
            low = middle
        else:
            high = middle
    return high


def _t_central_probability(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with an integer number of degrees of freedom, by the finite series of
    Abramowitz & Stegun 26.7.3 (odd df) and 26.7.4 (even df)."""
    theta = math.atan(t / math.sqrt(df))
    s, c2 = math.sin(theta), math.cos(theta) ** 2
    if df % 2 == 0:
        term, total = 1.0, 1.0
        for k in range(2, df, 2):  # 1 + (1/2)c² + (1·3)/(2·4)c⁴ + … up to c^(df−2)
            term *= c2 * (k - 1) / k
            total += term
        return s * total
    if df == 1:
        return 2 * theta / math.pi
    c = math.cos(theta)
    term, total = c, c
    for k in range(3, df - 1, 2):  # cos θ (1 + (2/3)c² + (2·4)/(3·5)c⁴ + … up to c^(df−3))
        term *= c2 * (k - 1) / k
        total += term
    return 2 / math.pi * (theta + s * total)


def _t_cornish_fisher(df: int, z: float) -> float:
    """The t quantile for large df from the normal one (Abramowitz & Stegun 26.7.5)."""
    z3, z5, z7, z9 = z**3, z**5, z**7, z**9
    return (
        z
        + (z3 + z) / (4 * df)
        + (5 * z5 + 16 * z3 + 3 * z) / (96 * df**2)
        + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * df**3)
        + (79 * z9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / (92160 * df**4)
    )
