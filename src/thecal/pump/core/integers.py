"""The base units the firmware counts in, and exact texts for people, from integers alone.

The core counts nanolitres, nanograms and milliseconds. These constants are
the one home of the conversion factors (thecal.units imports them), and the
formatters turn base-unit integers into the texts a refusal shows, with the
same layout as the rest of thecal ("0.150 mL", "0.1500 mL/day", "20.000
mg/day", "0 d 01:00:22.642"). They work on exact decimals, so a text never
depends on how a float happens to round; a value exactly halfway rounds up.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

NL_PER_ML = 1_000_000
NG_PER_MG = 1_000_000
NG_PER_MCG = 1_000
UM_PER_MM = 1_000
MS_PER_S = 1_000
MS_PER_MIN = 60_000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000

# Below this many ng (or ng/day, ng/mL) a mass is shown in mcg, from it on in mg.
_MG_FROM_NG = 100_000
_SIGNIFICANT = 6


def ceil_div(a: int, b: int) -> int:
    """The smallest integer not below a / b, for b > 0."""
    return -(-a // b)


def _fixed(value: int, scale: int, decimals: int) -> str:
    """value / scale with exactly `decimals` digits after the point."""
    with localcontext() as ctx:
        ctx.prec = 60
        quantum = Decimal(1).scaleb(-decimals)
        return str((Decimal(value) / Decimal(scale)).quantize(quantum, rounding=ROUND_HALF_UP))


def _significant(value: int, scale: int) -> str:
    """value / scale to six significant digits, trailing zeros dropped, never in exponent form."""
    if value == 0:
        return "0"
    with localcontext() as ctx:
        ctx.prec = 60
        exact = Decimal(value) / Decimal(scale)
        quantum = Decimal(1).scaleb(exact.adjusted() - _SIGNIFICANT + 1)
        rounded = exact.quantize(quantum, rounding=ROUND_HALF_UP)
        text = f"{rounded:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_volume(nl: int) -> str:
    """A volume for people, in mL."""
    return f"{_fixed(nl, NL_PER_ML, 3)} mL"


def format_flow(nl_per_day: int) -> str:
    """A flow for people, in mL/day."""
    return f"{_fixed(nl_per_day, NL_PER_ML, 4)} mL/day"


def format_mass(ng: int) -> str:
    """A mass for people, in mg or mcg as fits."""
    if abs(ng) >= _MG_FROM_NG:
        return f"{_fixed(ng, NG_PER_MG, 3)} mg"
    return f"{_fixed(ng, NG_PER_MCG, 2)} mcg"


def format_dose_rate(ng_per_day: int) -> str:
    """A dose rate for people, in mg/day or mcg/day as fits."""
    if abs(ng_per_day) >= _MG_FROM_NG:
        return f"{_fixed(ng_per_day, NG_PER_MG, 3)} mg/day"
    return f"{_fixed(ng_per_day, NG_PER_MCG, 2)} mcg/day"


def format_concentration(ng_per_ml: int) -> str:
    """A concentration for people, in mg/mL or mcg/mL as fits."""
    if abs(ng_per_ml) >= _MG_FROM_NG:
        return f"{_significant(ng_per_ml, NG_PER_MG)} mg/mL"
    return f"{_significant(ng_per_ml, NG_PER_MCG)} mcg/mL"


def format_duration(ms: int) -> str:
    """A duration or a time since start for people: days, hours and minutes (and seconds when not whole)."""
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    days, rest = divmod(ms, MS_PER_DAY)
    hours, rest = divmod(rest, MS_PER_HOUR)
    minutes, rest = divmod(rest, MS_PER_MIN)
    text = f"{sign}{days} d {hours:02d}:{minutes:02d}"
    if rest:
        seconds, millis = divmod(rest, MS_PER_S)
        text += f":{seconds:02d}.{millis:03d}".rstrip("0").rstrip(".")
    return text
