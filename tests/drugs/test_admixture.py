"""Admixtures: one fill, several drugs, one flow that gives each its dose."""

from __future__ import annotations

import pytest

from thecal.drugs import Admixture, Fill, Tier, get_drug
from thecal.errors import InputError

MORPHINE_BUPIVACAINE = "morphine 10 mg/mL + bupivacaine 15 mg/mL"


def test_parse_as_people_write_it() -> None:
    fill = Fill.parse(MORPHINE_BUPIVACAINE)
    assert fill.is_admixture
    assert [(c.drug.name, c.concentration_ng_per_ml) for c in fill.components] == [
        ("morphine", 10_000_000),
        ("bupivacaine", 15_000_000),
    ]
    assert fill.text() == MORPHINE_BUPIVACAINE
    assert Admixture is Fill


def test_one_flow_gives_each_drug_its_dose() -> None:
    # 1.5 mg/day morphine at 10 mg/mL needs 0.15 mL/day = 150 000 nL/day;
    # that flow carries 0.15 mL × 15 mg/mL = 2.25 mg/day bupivacaine.
    fill = Fill.parse(MORPHINE_BUPIVACAINE)
    flow = fill.flow_for_dose(1_500_000)
    assert flow == 150_000
    assert [dose for _, dose in fill.doses_at_flow(flow)] == [1_500_000, 2_250_000]
    # The flow for 3 mg/day bupivacaine is 0.2 mL/day, which gives 2 mg/day morphine.
    assert fill.flow_for_dose(3_000_000, "bupivacaine") == 200_000


def test_every_drug_is_checked_at_the_flow() -> None:
    # 16 mg/day bupivacaine needs 16/15 mL/day; morphine then gets 10.67 mg/day (fine),
    # bupivacaine 16 mg/day is above its soft 15 mg/day.
    fill = Fill.parse(MORPHINE_BUPIVACAINE)
    verdict = fill.check_flow(fill.flow_for_dose(16_000_000, "bupivacaine"))
    assert [(f.field, f.tier) for f in verdict.findings] == [("daily dose", Tier.SOFT)]
    assert "bupivacaine" in verdict.findings[0].message


def test_admixture_is_refilled_by_its_least_stable_drug() -> None:
    # Morphine alone 180 days; with bupivacaine 90 days (Classen 2004).
    assert Fill.parse("morphine 10 mg/mL").max_refill_interval_days == 180
    drug, limit = Fill.parse(MORPHINE_BUPIVACAINE).refill_limit()
    assert drug.name == "bupivacaine" and limit.hard == 90 * 86_400_000


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("morphine 10 mg/mL + ziconotide 25 mcg/mL", "only combinations the library lists"),
        ("morphine 10 mg/mL + hydromorphone 2 mg/mL", "at most one opioid"),
        ("morphine 10 mg/mL + morphine 25 mg/mL", "each drug once"),
    ],
)
def test_combinations_the_library_does_not_list_are_refused(text: str, rule: str) -> None:
    verdict = Fill.parse(text).check()
    assert not verdict.allowed
    assert any(f.limit == rule and f.tier is Tier.HARD for f in verdict.findings)


def test_three_drug_admixture_is_allowed() -> None:
    assert Fill.parse("morphine 10 mg/mL + bupivacaine 15 mg/mL + clonidine 500 mcg/mL").check().allowed


def test_concentrations_of_each_drug_are_checked() -> None:
    verdict = Fill.parse("morphine 10 mg/mL + clonidine 1500 mcg/mL").check()
    assert [(f.field, f.tier) for f in verdict.findings] == [("concentration", Tier.HARD)]


@pytest.mark.parametrize(
    "text",
    ["morphine", "morphine 10", "10 mg/mL", "morphine 10 mg/mL +", "morphin 10 mg/mL", "morphine 10 mg/day"],
)
def test_unreadable_fills_are_refused(text: str) -> None:
    with pytest.raises(InputError):
        Fill.parse(text)


def test_vial_must_match_what_is_programmed() -> None:
    programmed = Fill.parse(MORPHINE_BUPIVACAINE)
    assert programmed.check_against_vial(Fill.parse(MORPHINE_BUPIVACAINE)).allowed
    swapped = programmed.check_against_vial(Fill.parse("morphine 25 mg/mL + bupivacaine 15 mg/mL"))
    assert not swapped.allowed and "2.5 times" in swapped.findings[0].message
    missing = programmed.check_against_vial(Fill.parse("morphine 10 mg/mL"))
    assert not missing.allowed


def test_component_not_in_the_fill() -> None:
    with pytest.raises(InputError):
        Fill.parse("morphine 10 mg/mL").component(get_drug("clonidine"))
