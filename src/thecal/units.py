"""Quantities typed by people, turned into the integers the pump counts in.

People write "0.5 mg/day", "500 mcg/day", "0.02 mL/h" or "10mg/mL"; the core
counts nanolitres, nanograms and milliseconds. This module is the one edge
where text becomes integers. Parsing is done by pint with exact fractions, so
"0.1 mL" is exactly 100 000 nL and no float rounding creeps in. A number
without a unit, or a unit of the wrong kind, is an error, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import pint

from thecal.errors import InputError

# The conversion factors have one home, beside the firmware that counts in them; re-exported here.
from thecal.pump.core.integers import MS_PER_DAY as MS_PER_DAY
from thecal.pump.core.integers import MS_PER_HOUR as MS_PER_HOUR
from thecal.pump.core.integers import MS_PER_MIN as MS_PER_MIN
from thecal.pump.core.integers import MS_PER_S as MS_PER_S
from thecal.pump.core.integers import NG_PER_MCG as NG_PER_MCG
from thecal.pump.core.integers import NG_PER_MG as NG_PER_MG
from thecal.pump.core.integers import NL_PER_ML as NL_PER_ML
from thecal.pump.core.integers import UM_PER_MM as UM_PER_MM

_REGISTRY: pint.UnitRegistry = pint.UnitRegistry(non_int_type=Fraction)


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
        raise InputError(field, text, f"a {kind.name} must be written with its unit", f"write it like {kind.examples}")
    try:
        quantity = _parse(text.strip())
    except Exception as exc:  # pint raises several unrelated types for bad text
        raise InputError(
            field, text, f"not a {kind.name} that can be read ({exc})", f"write it like {kind.examples}"
        ) from None
    if quantity.dimensionless:
        raise InputError(field, text, f"the unit is missing; a {kind.name} needs one", f"write it like {kind.examples}")
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
    """Parse a typed quantity and round it to the nearest integer of the kind's base unit."""
    return round(parse_typed(text, kind, field))


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


def parse_typed(text: object, kind: Kind, field: str) -> Fraction:
    """Parse a quantity as a person types it: a plain decimal number, then its unit, nothing else."""
    if isinstance(text, str):
        stripped = text.strip()
        if "," in stripped:
            # "1,5 mg/day" could mean 1.5 or 15; pint reads it as 15, a tenfold error.
            raise InputError(
                field,
                text,
                "a comma is neither a decimal point nor a thousands separator here (1,5 could be 1.5 or 15)",
                f"write the number with a decimal point and no separators, like {kind.examples}",
            )
        match = _TYPED_NUMBER.match(stripped)
        if match is None:
            raise InputError(
                field, text, f"the number is missing; a {kind.name} starts with one", f"write it like {kind.examples}"
            )
        if any(ch.isdigit() for ch in stripped[match.end() :]):
            # "1 mg/24h" or "2 3 mg" are arithmetic or typos, not a unit.
            raise InputError(
                field,
                text,
                "numbers inside the unit are not read; the unit must be letters only",
                f"work the number out first and write it like {kind.examples}",
            )
    return parse_exact(text, kind, field)


def parse_typed_int(text: object, kind: Kind, field: str) -> int:
    """Parse a typed quantity and round it to the nearest integer of the kind's base unit."""
    return round(parse_typed(text, kind, field))


def reader(kind: Kind) -> Callable[[object], int]:
    """How a data-file schema reads a quantity of this kind: typed text to its integer in the base unit."""

    def read(text: object) -> int:
        # The field is left empty: the schema knows where the value sits and names it.
        return parse_typed_int(text, kind, "")

    return read


_TYPED_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)")
# A sign may be typed as "+", "-" or the minus sign "−" that word processors put in.
_PERCENT = re.compile(r"\s*(?P<sign>[+\-−]?)\s*(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?:%|percent)\s*")
BP_PER_PERCENT = 100
BP_PER_ONE = 10_000


def percent_fraction(text: object, field: str, *, signed: bool = False) -> Fraction:
    """A percentage written with its % sign ("14.5 %", "+1 %", "-3.5 %") as an exact fraction of one."""
    match = _PERCENT.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InputError(
            field,
            text,
            "not a percentage that can be read; a bare number could mean a fraction or a percent",
            'write it with the percent sign, like "14.5 %", "+1 %" or "-3.5 %"',
        )
    value = Fraction(match["number"]) / 100
    if match["sign"] in ("-", "−"):
        if not signed and value:
            raise InputError(field, text, "this percentage cannot be negative", "enter zero or a positive percentage")
        value = -value
    return value


def percent_bp(text: object, field: str, *, signed: bool = False) -> int:
    """A percentage written with its % sign, in basis points (hundredths of a percent), rounded to the nearest."""
    return round(percent_fraction(text, field, signed=signed) * BP_PER_ONE)


def format_exact(value: int | Fraction, scale: int, unit: str, decimals: int = 6) -> str:
    """A base-unit value shown in a display unit by exact arithmetic, trailing zeros dropped."""
    quantity = Fraction(value) / scale
    sign = "-" if quantity < 0 else ""
    scaled = abs(quantity) * 10**decimals
    rounded = int(scaled) + (1 if scaled - int(scaled) >= Fraction(1, 2) else 0)
    whole, frac = divmod(rounded, 10**decimals)
    digits = f"{frac:0{decimals}d}".rstrip("0")
    number = f"{whole}.{digits}" if digits else f"{whole}"
    return f"{sign}{number} {unit}".rstrip()
