"""`format_exact` shows a base-unit value exactly; it works with integers alone, and must equal the exact rule.

The rule: the value divided by the scale, as an exact fraction, rounded to
`decimals` places with a half away from zero, trailing zeros dropped, a minus
sign for anything below zero.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thecal.units import format_exact


def _by_fractions(value: int | float | Fraction, scale: int, unit: str, decimals: int) -> str:
    """The rule, written with fractions as it was first written."""
    quantity = Fraction(value) / scale
    sign = "-" if quantity < 0 else ""
    scaled = abs(quantity) * 10**decimals
    rounded = int(scaled) + (1 if scaled - int(scaled) >= Fraction(1, 2) else 0)
    whole, frac = divmod(rounded, 10**decimals)
    digits = f"{frac:0{decimals}d}".rstrip("0")
    number = f"{whole}.{digits}" if digits else f"{whole}"
    return f"{sign}{number} {unit}".rstrip()


VALUES = (
    st.integers()
    | st.fractions()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0, -1, 1, True, False, Fraction(1, 2), Fraction(-1, 2), 499_999, 500_000, -500_000])
)
SCALES = st.sampled_from([1, 3, 7, 1_000, 1_000_000, 1_000_000_000, -1_000]) | st.integers(min_value=1)


@given(VALUES, SCALES, st.integers(min_value=0, max_value=9), st.sampled_from(["mg", "mL/day", ""]))
def test_format_exact_follows_the_exact_rule(value: int | Fraction, scale: int, decimals: int, unit: str) -> None:
    assert format_exact(value, scale, unit, decimals) == _by_fractions(value, scale, unit, decimals)


@pytest.mark.parametrize(
    ("value", "scale", "decimals", "shown"),
    [
        (1_500_000, 1_000_000, 6, "1.5 mg"),
        (500, 1_000_000, 3, "0.001 mg"),  # a half rounds away from zero
        (-500, 1_000_000, 3, "-0.001 mg"),
        (0, 1_000_000, 6, "0 mg"),
        (Fraction(1, 3), 1, 6, "0.333333 mg"),
    ],
)
def test_format_exact_shows_known_values(value: int | Fraction, scale: int, decimals: int, shown: str) -> None:
    assert format_exact(value, scale, "mg", decimals) == shown
