"""What the drug library knows about one drug: its strengths, dose ranges and two-tier limits.

Every number is an integer in the base unit of its kind (nanograms, nanograms per
day, nanograms per millilitre, milliseconds, basis points, counts) so that checks
compare exactly. The display unit (mg or mcg) belongs to the drug, because a nurse
reads ziconotide in mcg and morphine in mg.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction

from thecal.units import (
    BP_PER_PERCENT,
    MS_PER_DAY,
    MS_PER_HOUR,
    MS_PER_MIN,
    NG_PER_MCG,
    NG_PER_MG,
    format_exact,
)


class Measure(Enum):
    """The kind of quantity a limit is about, with the integer unit it is counted in."""

    DOSE_RATE = "ng/day"
    CONCENTRATION = "ng/mL"
    MASS = "ng"
    DURATION = "ms"
    PERCENT = "bp"
    COUNT = "count"


class Direction(Enum):
    """Whether a limit caps a value from above (max) or from below (min)."""

    MAX = "max"
    MIN = "min"


@dataclass(frozen=True)
class LimitSpec:
    """The fixed meaning of a named limit: what it measures, which way it caps, and its words."""

    key: str
    measure: Measure
    direction: Direction
    field: str
    required: bool


LIMIT_SPECS: dict[str, LimitSpec] = {
    spec.key: spec
    for spec in (
        LimitSpec("max_daily_dose", Measure.DOSE_RATE, Direction.MAX, "daily dose", True),
        LimitSpec(
            "max_daily_dose_opioid_naive",
            Measure.DOSE_RATE,
            Direction.MAX,
            "daily dose for an opioid-naïve patient",
            False,
        ),
        LimitSpec("max_start_dose", Measure.DOSE_RATE, Direction.MAX, "starting daily dose", True),
        LimitSpec("max_concentration", Measure.CONCENTRATION, Direction.MAX, "concentration", True),
        LimitSpec("max_step_up", Measure.PERCENT, Direction.MAX, "dose increase", False),
        LimitSpec("max_step_up_amount", Measure.DOSE_RATE, Direction.MAX, "dose increase", False),
        LimitSpec("min_step_interval", Measure.DURATION, Direction.MIN, "time since the last increase", True),
        LimitSpec("max_step_down", Measure.PERCENT, Direction.MAX, "dose decrease", True),
        LimitSpec("max_trial_bolus", Measure.MASS, Direction.MAX, "trial bolus dose", True),
        LimitSpec("max_demand_bolus", Measure.MASS, Direction.MAX, "demand bolus dose", False),
        LimitSpec("max_demand_per_day", Measure.COUNT, Direction.MAX, "demand boluses per 24 h", False),
        LimitSpec("min_demand_lockout", Measure.DURATION, Direction.MIN, "demand bolus lockout", False),
        LimitSpec("max_refill_interval", Measure.DURATION, Direction.MAX, "time between refills", True),
        LimitSpec(
            "max_first_refill_interval",
            Measure.DURATION,
            Direction.MAX,
            "time to the first refill",
            False,
        ),
        LimitSpec(
            "max_refill_interval_undiluted",
            Measure.DURATION,
            Direction.MAX,
            "time between refills (undiluted drug)",
            False,
        ),
    )
}

DEMAND_LIMITS = ("max_demand_bolus", "max_demand_per_day", "min_demand_lockout")


@dataclass(frozen=True)
class Limit:
    """A two-tier limit: a soft value a physician may pass with a written reason, a hard one nothing passes."""

    spec: LimitSpec
    soft: int
    hard: int
    soft_source: str
    hard_source: str
    why: str

    @property
    def key(self) -> str:
        """The limit's name in the data files."""
        return self.spec.key

    def soft_exceeded(self, value: int | Fraction) -> bool:
        """Whether an exact value lies beyond the soft tier."""
        return self._beyond(value, self.soft)

    def hard_exceeded(self, value: int | Fraction) -> bool:
        """Whether an exact value lies beyond the hard tier."""
        return self._beyond(value, self.hard)

    def _beyond(self, value: int | Fraction, bound: int) -> bool:
        if self.spec.direction is Direction.MAX:
            return value > bound
        return value < bound


@dataclass(frozen=True)
class DoseRange:
    """A published range (low to high) in base units, with where it comes from."""

    low: int
    high: int
    source: str


@dataclass(frozen=True)
class Drug:
    """One drug of the library, loaded from its data file."""

    name: str
    description: str
    aliases: tuple[str, ...]
    mass_unit: str
    opioid: bool
    approved_for_pump: bool
    approved_source: str
    allowed_opioid_naive: bool
    opioid_naive_source: str
    demand_bolus_allowed: bool
    demand_bolus_source: str
    concentrations_ng_per_ml: tuple[int, ...]
    concentrations_source: str
    start_dose: DoseRange
    usual_dose: DoseRange
    trial_bolus: DoseRange
    limits: dict[str, Limit]
    admixture_partners: tuple[str, ...]
    admixture_source: str
    notes: tuple[str, ...] = field(default=())

    def limit(self, key: str) -> Limit | None:
        """The named limit, or None when the drug has no such limit."""
        return self.limits.get(key)

    def require_limit(self, key: str) -> Limit:
        """The named limit; the loader guarantees required limits exist."""
        return self.limits[key]

    @property
    def max_refill_interval_days(self) -> int:
        """The longest time between refills the drug's stability allows, in whole days."""
        return self.require_limit("max_refill_interval").hard // MS_PER_DAY

    @property
    def max_daily_dose(self) -> Limit:
        """The maximum daily dose limit."""
        return self.require_limit("max_daily_dose")

    @property
    def max_concentration(self) -> Limit:
        """The maximum concentration limit."""
        return self.require_limit("max_concentration")

    @property
    def mass_scale(self) -> int:
        """Nanograms per display unit of mass."""
        return NG_PER_MG if self.mass_unit == "mg" else NG_PER_MCG

    def mass_text(self, ng: int) -> str:
        """A mass of this drug for people, in its display unit."""
        return format_exact(ng, self.mass_scale, self.mass_unit)

    def dose_text(self, ng_per_day: int) -> str:
        """A daily dose of this drug for people, in its display unit per day."""
        return format_exact(ng_per_day, self.mass_scale, f"{self.mass_unit}/day")

    def concentration_text(self, ng_per_ml: int) -> str:
        """A concentration of this drug for people, in its display unit per mL."""
        return format_exact(ng_per_ml, self.mass_scale, f"{self.mass_unit}/mL")

    def quantity_text(self, measure: Measure, value: int) -> str:
        """Any limit quantity of this drug for people, with its unit."""
        if measure is Measure.DOSE_RATE:
            return self.dose_text(value)
        if measure is Measure.CONCENTRATION:
            return self.concentration_text(value)
        if measure is Measure.MASS:
            return self.mass_text(value)
        return quantity_text(measure, value)


def quantity_text(measure: Measure, value: int) -> str:
    """A drug-independent limit quantity (duration, percentage, count) for people."""
    if measure is Measure.DURATION:
        return duration_text(value)
    if measure is Measure.PERCENT:
        return format_exact(value, BP_PER_PERCENT, "%")
    if measure is Measure.COUNT:
        return f"{value}"
    raise ValueError(f"{measure} needs a drug to be shown")


def duration_text(ms: int) -> str:
    """A duration in the largest whole unit people use for it, or exactly in h, min and s when it has none."""
    if ms != 0 and ms % MS_PER_DAY == 0 and ms >= 2 * MS_PER_DAY:
        return f"{ms // MS_PER_DAY} days"
    if ms % MS_PER_HOUR == 0:
        return f"{ms // MS_PER_HOUR} h"
    if ms % MS_PER_MIN == 0:
        return f"{ms // MS_PER_MIN} min"
    hours, rest = divmod(ms, MS_PER_HOUR)
    minutes, rest = divmod(rest, MS_PER_MIN)
    parts = [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes else []
    return " ".join([*parts, format_exact(rest, 1000, "s", decimals=3)])
