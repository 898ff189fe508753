"""What the edge accepts, it reads for certain: printed and read again it is the same value, and its digits are ASCII.

Hypothesis writes quantities, percentages and whole numbers the way people and
red teams do: digits of every script, signs, commas, powers of ten, spaces of
every kind, units in and out of the table. Whatever the edge accepts must hold
no digit but 0 to 9, and must read back as the same integer from the text thecal
itself writes for it; whatever it refuses, it refuses as an `InputError`.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from thecal import units
from thecal.errors import InputError

UNIT_WORDS = ["mL", "uL", "µL", "nL", "L", "mg", "mcg", "µg", "ng", "g", "d", "day", "h", "hour", "min", "s", "ms",
              "week", "cm", "mm", "m", "um", "milliliter", "microgram", "days", "weeks", "percent", "%"]  # fmt: skip
DIGITS = st.sampled_from("0123456789")
FOREIGN = st.sampled_from("٠١٢٣٤٥٦٧٨٩۰۱۲०१२০১২๐๑๒０１２²³¹½①ⅫⅤ〇𝟎𝟏𝟐᠐᠑")
SPACES = st.sampled_from([" ", "  ", "\u00a0", "\t", "\u2009", "\u3000", ""])
SIGNS = st.sampled_from(["", "", "", "-", "+", "−"])

hostile_numbers = st.builds(
    lambda sign, whole, point, frac: sign + whole + (point + frac if point else ""),
    SIGNS,
    st.text(st.one_of(DIGITS, DIGITS, DIGITS, FOREIGN), min_size=1, max_size=6),
    st.sampled_from(["", ".", ",", "e", "E"]),
    st.text(st.one_of(DIGITS, FOREIGN), max_size=4),
)
plain_numbers = st.builds(
    lambda whole, frac: whole + ("." + frac if frac else ""),
    st.text(DIGITS, min_size=1, max_size=5),
    st.text(DIGITS, max_size=6),
)
numbers = st.one_of(plain_numbers, plain_numbers, hostile_numbers)
# Units of each kind as people write them, in the table and only in pint's words.
UNITS_OF = {
    units.VOLUME: ["mL", "uL", "µL", "nL", "L", "milliliter"],
    units.MASS: ["mg", "mcg", "µg", "ng", "g", "microgram"],
    units.DURATION: ["d", "day", "h", "hour", "min", "s", "ms", "week", "days", "weeks"],
    units.FLOW: ["mL/day", "mL/d", "uL/h", "mL/h", "mL/min", "milliliter/day"],
    units.DOSE_RATE: ["mg/day", "mcg/day", "mg/d", "mcg/h", "ng/min", "mg / day"],
    units.CONCENTRATION: ["mg/mL", "mcg/mL", "ng/uL", "g/L", "mg/ml"],
    units.LENGTH: ["cm", "mm", "m", "um", "µm"],
    units.VOLUME_PER_LENGTH: ["uL/cm", "mL/cm", "nL/mm", "µL/cm"],
}
any_unit = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(UNIT_WORDS),
    st.sampled_from(["", "/day", "/d", "/h", "/mL", "/cm", "*h", " / day", "/24h", "/min"]),
)


def quantities(kind: units.Kind) -> st.SearchStrategy[str]:
    """Quantities of a kind as people write them, and as red teams do."""
    unit = st.one_of(st.sampled_from(UNITS_OF[kind]), st.sampled_from(UNITS_OF[kind]), any_unit)
    return st.builds(lambda n, space, u: n + space + u, numbers, SPACES, unit)


KINDS = st.sampled_from(units.KINDS)


def _no_foreign_digit(text: str) -> None:
    assert not any(units.is_foreign_digit(ch) for ch in text), (
        f"accepted {text!r}, which holds a digit of another script"
    )


@settings(max_examples=150, deadline=None)
@given(data=st.data(), kind=KINDS)
def test_an_accepted_quantity_reads_back_as_itself(data: st.DataObject, kind: units.Kind) -> None:
    _reads_back(data.draw(quantities(kind), label="text"), kind)


@pytest.mark.parametrize(
    ("text", "kind"),
    [("2٠ mg/mL", units.CONCENTRATION), ("1٠.5 mg", units.MASS), ("1.5 mg/day", units.DOSE_RATE),
     ("0.25 uL", units.VOLUME), ("1 milliliter", units.VOLUME), ("２ mL", units.VOLUME)],
)  # fmt: skip
def test_the_issues_quantities_read_back_or_are_refused(text: str, kind: units.Kind) -> None:
    _reads_back(text, kind)


def _reads_back(text: str, kind: units.Kind) -> None:
    try:
        value = units.parse_typed_int(text, kind, "x")
    except InputError:
        return  # refused in words: what the corpus checks
    _no_foreign_digit(text)
    written = units.format_typed(value, kind)
    assert units.parse_typed_int(written, kind, "x") == value
    assert units.format_typed(units.parse_typed_int(written, kind, "x"), kind) == written


@settings(max_examples=100, deadline=None)
@given(data=st.data(), limits=st.sampled_from([r for r in units.RANGES if r.kind is not units.PERCENT]))
def test_a_quantity_accepted_for_a_field_reads_back_inside_its_range(data: st.DataObject, limits: units.Range) -> None:
    text = data.draw(quantities(limits.kind), label="text")
    try:
        value = units.quantity(text, "x", limits)
    except InputError:
        return
    _no_foreign_digit(text)
    low, high = limits.bounds()
    assert low <= value <= high and not (limits.above and value == low)
    assert units.quantity(units.format_typed(value, limits.kind), "x", limits) == value


percentages = st.builds(
    lambda n, space, sign: n + space + sign, numbers, SPACES, st.sampled_from(["%", " %", "percent", ""])
)


@settings(max_examples=100, deadline=None)
@given(text=percentages, signed=st.booleans())
@example(text="+1٠ %", signed=True)
def test_an_accepted_percentage_reads_back_as_itself(text: str, signed: bool) -> None:
    try:
        value = units.percent_fraction(text, "x", signed=signed)
    except InputError:
        return
    _no_foreign_digit(text)
    assert signed or value >= 0
    written = f"{'-' if value < 0 else '+'}{units.format_exact(abs(value) * 100, 1, '%', decimals=12)}"
    assert units.percent_fraction(written, "x", signed=True) == value


hostile_counts = st.builds(
    lambda sign, body, space: sign + body + space,
    SIGNS,
    st.text(st.one_of(DIGITS, DIGITS, FOREIGN, st.sampled_from("._ex")), min_size=0, max_size=25),
    SPACES,
)
counts = st.one_of(st.integers(0, 70_000).map(str), st.text(DIGITS, min_size=1, max_size=12), hostile_counts)


@settings(max_examples=100, deadline=None)
@given(text=counts, limits=st.sampled_from(units.COUNTS))
@example(text="٦", limits=units.DEMAND_DOSES_PER_DAY)
@example(text="-1", limits=units.PORT)
def test_an_accepted_count_reads_back_as_itself(text: str, limits: units.Count) -> None:
    try:
        value = units.count(text, "x", limits)
    except InputError:
        return
    _no_foreign_digit(text)
    assert limits.low <= value <= limits.high
    assert units.count(str(value), "x", limits) == value


@pytest.mark.parametrize("limits", units.RANGES, ids=[r.name for r in units.RANGES])
def test_every_range_keeps_its_documented_bounds(limits: units.Range) -> None:
    """The bound written in docs/inputs.md is the bound applied: the most is accepted, the least unless excluded."""
    read = units.percentage if limits.kind is units.PERCENT else units.quantity_exact
    low, high = limits.bounds()
    assert read(limits.high, "x", limits) == high
    if limits.above:
        with pytest.raises(InputError, match="must be above"):
            read(limits.low, "x", limits)
    else:
        assert read(limits.low, "x", limits) == low
    assert low < high and (low >= 0 or limits.kind is units.PERCENT)


def test_a_digit_of_another_script_is_named_wherever_it_stands() -> None:
    """The issue's examples: each is refused with the character named, never read as 2, 1 or 0.5."""
    for text, kind in [("2٠ mg/mL", units.CONCENTRATION), ("1٠ mg/day", units.DOSE_RATE), ("1٠.5 mg", units.MASS)]:
        with pytest.raises(InputError) as refused:
            units.parse_typed(text, kind, "dose")
        assert "U+0660 ARABIC-INDIC DIGIT ZERO" in refused.value.problem
    with pytest.raises(InputError, match="ARABIC-INDIC DIGIT SIX"):
        units.count("٦", "--max-per-day", units.DEMAND_DOSES_PER_DAY)


def test_a_negative_number_is_called_negative_with_its_field() -> None:
    """Was: every negative number was "the number is missing"."""
    for call in (
        lambda: units.quantity("-1 mg/day", "--dose", units.DAILY_DOSE),
        lambda: units.quantity("−1 mL", "--volume", units.FILL_VOLUME),
        lambda: units.count("-1", "--max-per-day", units.DEMAND_DOSES_PER_DAY),
        lambda: units.percentage("-1 %", "fraction", units.FAULT_FRACTION),
    ):
        with pytest.raises(InputError) as refused:
            call()
        assert refused.value.problem.startswith("is negative")
        assert refused.value.field in ("--dose", "--volume", "--max-per-day", "fraction")


def test_a_value_below_the_base_unit_is_not_rounded_into_an_accepted_zero() -> None:
    """0.1 nL is 0 nL to the pump: a field that must be above zero refuses it rather than keep a zero."""
    with pytest.raises(InputError, match="must be above"):
        units.quantity("0.0001 uL", "volume", units.FILL_VOLUME)
    with pytest.raises(InputError, match="must be above"):
        units.quantity_exact("0.0000001 cm", "length", units.CATHETER_LENGTH)
    assert units.quantity("0.001 uL", "volume", units.FILL_VOLUME) == 1
    assert units.quantity_exact("1 um", "length", units.CATHETER_LENGTH) == Fraction(1)
