"""Opioid conversions: always ranges with sources, worked by hand."""

from __future__ import annotations

import pytest

from thecal.clinical import convert_opioid
from thecal.errors import InputError


def _ranges(result) -> dict[str, tuple[int, int]]:
    return {e.basis: (e.low_ng_per_day, e.high_ng_per_day) for e in result.estimates}


def test_oral_to_intrathecal_morphine() -> None:
    # Textbook chain: oral:IV 2–3, IV:epidural 10, epidural:IT 10, so oral:IT 200–300.
    # 60 mg/day ÷ 300 = 0.2 mg/day, ÷ 200 = 0.3 mg/day.
    # Observed in patients oral:IT 10:1 to 150:1: 60 ÷ 150 = 0.4, 60 ÷ 10 = 6 mg/day.
    result = convert_opioid(60_000_000, from_drug="morphine", from_route="oral", to_route="intrathecal")
    assert _ranges(result) == {
        "textbook ratios": (200_000, 300_000),
        "as observed in patients": (400_000, 6_000_000),
    }
    assert all(e.sources for e in result.estimates)
    assert any("0.1 mg/day to 0.5 mg/day" in note for note in result.reasoning.notes)


def test_intrathecal_to_oral_morphine_equivalent() -> None:
    # 1 mg/day IT × 200–300 = 200–300 mg/day oral; observed × 10–150 = 10–150 mg/day.
    result = convert_opioid(1_000_000, from_drug="morphine", from_route="intrathecal", to_route="oral")
    assert _ranges(result) == {
        "textbook ratios": (200_000_000, 300_000_000),
        "as observed in patients": (10_000_000, 150_000_000),
    }
    assert [(e.low_ng_per_day, e.high_ng_per_day) for e in result.oral_morphine_equivalent] == [
        (200_000_000, 300_000_000),
        (10_000_000, 150_000_000),
    ]


def test_intrathecal_hydromorphone_to_morphine() -> None:
    # Hydromorphone is 5–6 times morphine intrathecally: 0.5 mg/day = 2.5–3 mg/day morphine.
    result = convert_opioid(
        500_000, from_drug="hydromorphone", from_route="intrathecal", to_route="intrathecal", to_drug="morphine"
    )
    assert _ranges(result) == {"textbook ratios": (2_500_000, 3_000_000)}
    # Oral morphine equivalent: 2.5–3 mg/day IT × 200–300 = 500–900 mg/day.
    assert result.oral_morphine_equivalent[0].low_ng_per_day == 500_000_000
    assert result.oral_morphine_equivalent[0].high_ng_per_day == 900_000_000


def test_iv_to_intrathecal_joins_observed_oral_ratio_through_oral_iv() -> None:
    # Textbook IV:IT 100:1: 10 mg/day IV = 0.1 mg/day IT.
    # Observed: IV → oral × 2–3 (20–30 mg/day), then oral:IT 10–150: 20 ÷ 150 = 0.133…, 30 ÷ 10 = 3 mg/day.
    result = convert_opioid(10_000_000, from_drug="morphine", from_route="iv", to_route="it")
    ranges = _ranges(result)
    assert ranges["textbook ratios"] == (100_000, 100_000)
    assert ranges["as observed in patients"] == (133_333, 3_000_000)
    assert "practice varies widely" in dict(result.summary)["textbook ratios"]


def test_a_range_is_never_reported_as_one_number_across_the_spinal_barrier() -> None:
    result = convert_opioid(60_000_000, from_drug="morphine", from_route="oral", to_route="intrathecal")
    assert all(e.low_ng_per_day < e.high_ng_per_day for e in result.estimates)


def test_same_drug_same_route_is_no_conversion() -> None:
    result = convert_opioid(30_000_000, from_drug="morphine", from_route="oral", to_route="oral")
    assert _ranges(result) == {"textbook ratios": (30_000_000, 30_000_000)}
    assert dict(result.summary)["textbook ratios"] == "30 mg/day"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"from_drug": "morphine", "from_route": "rectal", "to_route": "oral"}, "from route"),
        ({"from_drug": "hydromorphone", "from_route": "epidural", "to_route": "oral"}, "route"),
        ({"from_drug": "ziconotide", "from_route": "intrathecal", "to_route": "oral"}, "from drug"),
        ({"from_drug": "fentanyl", "from_route": "iv", "to_route": "oral"}, "drug"),
    ],
)
def test_conversions_the_table_cannot_make_are_refused(kwargs, field: str) -> None:
    with pytest.raises(InputError) as raised:
        convert_opioid(1_000_000, **kwargs)
    assert raised.value.field == field
