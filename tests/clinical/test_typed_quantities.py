"""Quantities as people type them: normalised when clear, refused when a unit is missing or ambiguous."""

from __future__ import annotations

from fractions import Fraction

import pytest

from thecal.errors import InputError
from thecal.units import CONCENTRATION, DOSE_RATE, FLOW, parse_typed_int, percent_bp, percent_fraction


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("0.5 mg/day", DOSE_RATE, 500_000),
        ("500 mcg/day", DOSE_RATE, 500_000),
        ("500 µg/day", DOSE_RATE, 500_000),
        ("0.5mg/day", DOSE_RATE, 500_000),
        ("2.4 mcg per day", DOSE_RATE, 2_400),
        ("0.1 mcg/h", DOSE_RATE, 2_400),  # Prialt PI: 2.4 mcg/day is 0.1 mcg/h
        ("0.02 mL/h", FLOW, 480_000),  # 0.02 × 24 = 0.48 mL/day
        ("0.048 mL/day", FLOW, 48_000),
        ("10mg/mL", CONCENTRATION, 10_000_000),
        ("10 mg/ml", CONCENTRATION, 10_000_000),
        ("25 mcg/mL", CONCENTRATION, 25_000),
    ],
)
def test_people_s_notations_are_normalised(text: str, kind, expected: int) -> None:
    assert parse_typed_int(text, kind, "value") == expected


@pytest.mark.parametrize(
    ("text", "kind", "problem"),
    [
        ("1.5", DOSE_RATE, "unit is missing"),
        ("mg/day", DOSE_RATE, "number is missing"),
        ("1,5 mg/day", DOSE_RATE, "comma"),
        ("1,000 mcg/day", DOSE_RATE, "comma"),
        ("1 mg/24h", DOSE_RATE, "numbers inside the unit"),
        ("10 mg", DOSE_RATE, "not a unit of dose rate"),
        ("10 mg/mL", DOSE_RATE, "not a unit of dose rate"),
        ("1.5 mg/day", CONCENTRATION, "not a unit of concentration"),
        ("0.5 mg/day", FLOW, "not a unit of flow"),
        ("0.5 MG/DAY", DOSE_RATE, "can be read"),
        ("-1 mg/day", DOSE_RATE, "is negative"),
    ],
)
def test_missing_or_ambiguous_units_are_refused(text: str, kind, problem: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_typed_int(text, kind, "dose")
    assert problem in raised.value.problem
    assert raised.value.field == "dose"
    assert "like" in raised.value.action


def test_percentages_need_their_sign() -> None:
    assert percent_bp("14.5 %", "accuracy") == 1_450
    assert percent_bp("25%", "step") == 2_500
    with pytest.raises(InputError):
        percent_bp("14.5", "accuracy")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+1 %", Fraction(1, 100)),  # field data: +1 % at 6 months
        ("-3.5 %", Fraction(-35, 1000)),
        ("− 3.5 %", Fraction(-35, 1000)),  # the minus sign a word processor puts in
        ("+0.5 percent", Fraction(5, 1000)),
        ("-0 %", Fraction(0)),
        ("14.5 %", Fraction(145, 1000)),
    ],
)
def test_signed_percentages_are_read_exactly(text: str, expected: Fraction) -> None:
    assert percent_fraction(text, "accuracy error", signed=True) == expected
    assert percent_bp(text, "accuracy error", signed=True) == expected * 10_000


def test_a_negative_percentage_is_refused_where_it_makes_no_sense() -> None:
    # A step limit or a loss rate of "-25 %" is a typo, not a value: refused unless the field is signed.
    assert percent_bp("+25 %", "step") == 2_500
    with pytest.raises(InputError) as raised:
        percent_bp("-25 %", "step")
    assert raised.value.field == "step" and "negative" in raised.value.problem


@pytest.mark.parametrize("text", ["+-1 %", "1 %%", "--1 %", "1.5", "%", "one %", "1e2 %", "1,5 %"])
def test_unreadable_percentages_are_refused(text: str) -> None:
    with pytest.raises(InputError) as raised:
        percent_fraction(text, "accuracy error", signed=True)
    assert "percent sign" in raised.value.action
