"""Quantities typed by people, turned into the integers the pump counts in.

People write "0.5 mg/day", "500 mcg/day", "0.02 mL/h" or "10mg/mL"; the core
counts nanolitres, nanograms and milliseconds. This module is the one edge
where text becomes integers. Parsing is done by pint with exact fractions, so
"0.1 mL" is exactly 100 000 nL and no float rounding creeps in. A number
without a unit, or a unit of the wrong kind, is an error, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import pint

from thecal.errors import InputError

NL_PER_ML = 1_000_000
NG_PER_MG = 1_000_000
NG_PER_MCG = 1_000
MS_PER_S = 1_000
MS_PER_MIN = 60_000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000

_REGISTRY = pint.UnitRegistry(non_int_type=Fraction)


@dataclass(frozen=True)
class Kind:
    """A kind of quantity: its dimension, the integer unit it is counted in, and examples."""

    name: str
    base_unit: str
    examples: str


VOLUME = Kind("volume", "nanoliter", '"2 mL", "0.5 mL", "150 uL"')
MASS = Kind("mass", "nanogram", '"0.5 mg", "25 mcg"')
DURATION = Kind("duration", "millisecond", '"40 min", "10 d", "2 h"')
FLOW = Kind("flow", "nanoliter / day", '"0.15 mL/day", "0.02 mL/h"')
DOSE_RATE = Kind("dose rate", "nanogram / day", '"1.5 mg/day", "500 mcg/day"')
CONCENTRATION = Kind("concentration", "nanogram / milliliter", '"10 mg/mL", "25 mcg/mL"')
LENGTH = Kind("length", "micrometer", '"45 cm", "450 mm"')
VOLUME_PER_LENGTH = Kind("volume per length", "nanoliter / centimeter", '"2.2 uL/cm", "0.0022 mL/cm"')

KINDS = (VOLUME, MASS, DURATION, FLOW, DOSE_RATE, CONCENTRATION, LENGTH, VOLUME_PER_LENGTH)


@lru_cache(maxsize=4096)
def _parse(text: str) -> pint.Quantity:
    return _REGISTRY.Quantity(text)


def parse_exact(text: object, kind: Kind, field: str) -> Fraction:
    """Parse a quantity with its unit and return it as an exact fraction of the kind's base unit."""
    if not isinstance(text, str):
        raise InputError(
            field, text, f"a {kind.name} must be written with its unit", f"write it like {kind.examples}"
        )
    try:
        quantity = _parse(text.strip())
    except Exception as exc:  # pint raises several unrelated types for bad text
        raise InputError(
            field, text, f"not a {kind.name} that can be read ({exc})", f"write it like {kind.examples}"
        ) from None
    if quantity.dimensionless:
        raise InputError(
            field, text, f"the unit is missing; a {kind.name} needs one", f"write it like {kind.examples}"
        )
    try:
        magnitude = quantity.to(kind.base_unit).magnitude
    except pint.DimensionalityError:
        raise InputError(
            field,
            text,
            f"{quantity.units:~} is not a unit of {kind.name}",
            f"write it like {kind.examples}",
        ) from None
    value = Fraction(magnitude)
    if value < 0:
        raise InputError(field, text, f"a {kind.name} cannot be negative", "enter zero or a positive value")
    return value


def parse_int(text: object, kind: Kind, field: str) -> int:
    """Parse a quantity and round it to the nearest integer of the kind's base unit."""
    return round(parse_exact(text, kind, field))


def volume_nl(text: object, field: str) -> int:
    """A volume in nanolitres."""
    return parse_int(text, VOLUME, field)


def mass_ng(text: object, field: str) -> int:
    """A mass in nanograms."""
    return parse_int(text, MASS, field)


def duration_ms(text: object, field: str) -> int:
    """A duration in milliseconds."""
    return parse_int(text, DURATION, field)


def flow_nl_per_day(text: object, field: str) -> int:
    """A flow in nanolitres per day."""
    return parse_int(text, FLOW, field)


def dose_rate_ng_per_day(text: object, field: str) -> int:
    """A dose rate in nanograms per day."""
    return parse_int(text, DOSE_RATE, field)


def concentration_ng_per_ml(text: object, field: str) -> int:
    """A concentration in nanograms per millilitre."""
    return parse_int(text, CONCENTRATION, field)


def format_volume(nl: int | float) -> str:
    """A volume for people, in mL."""
    return f"{nl / NL_PER_ML:.3f} mL"


def format_mass(ng: int | float) -> str:
    """A mass for people, in mg or mcg as fits."""
    if abs(ng) >= 100_000:
        return f"{ng / NG_PER_MG:.3f} mg"
    return f"{ng / NG_PER_MCG:.2f} mcg"


def format_flow(nl_per_day: int | float) -> str:
    """A flow for people, in mL/day."""
    return f"{nl_per_day / NL_PER_ML:.4f} mL/day"


def format_dose_rate(ng_per_day: int | float) -> str:
    """A dose rate for people, in mg/day or mcg/day as fits."""
    if abs(ng_per_day) >= 100_000:
        return f"{ng_per_day / NG_PER_MG:.3f} mg/day"
    return f"{ng_per_day / NG_PER_MCG:.2f} mcg/day"


def format_concentration(ng_per_ml: int | float) -> str:
    """A concentration for people, in mg/mL or mcg/mL as fits."""
    if abs(ng_per_ml) >= 100_000:
        return f"{ng_per_ml / NG_PER_MG:g} mg/mL"
    return f"{ng_per_ml / NG_PER_MCG:g} mcg/mL"


def format_duration(ms: int) -> str:
    """A duration or a time since start for people: days, hours and minutes."""
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    days, rest = divmod(ms, MS_PER_DAY)
    hours, rest = divmod(rest, MS_PER_HOUR)
    minutes, rest = divmod(rest, MS_PER_MIN)
    seconds = rest / MS_PER_S
    text = f"{sign}{days} d {hours:02d}:{minutes:02d}"
    if seconds:
        text += f":{seconds:06.3f}".rstrip("0").rstrip(".")
    return text
