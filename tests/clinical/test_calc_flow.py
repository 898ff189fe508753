"""Dose ↔ flow worked examples, computed by hand, for one drug and for an admixture."""

from __future__ import annotations

import json

from thecal.clinical import dose_for_flow, flow_for_dose
from thecal.drugs import Fill, Override, Tier
from thecal.pump.model import load_model

PUMP_20 = load_model("programmable-20")


def test_morphine_flow_for_a_daily_dose() -> None:
    # 1.5 mg/day ÷ 10 mg/mL = 0.15 mL/day = 150 000 nL/day.
    result = flow_for_dose(Fill.parse("morphine 10 mg/mL"), 1_500_000, pump=PUMP_20)
    assert result.flow_nl_per_day == 150_000
    assert result.doses[0].dose_ng_per_day == 1_500_000
    assert result.verdict.allowed
    assert ("flow", "0.15 mL/day") in result.summary


def test_ziconotide_lowest_undiluted_dose_is_the_pump_s_minimum_flow() -> None:
    # Prialt site: the lowest undiluted starting dose through the pump is 1.2 mcg/day:
    # 1.2 mcg/day ÷ 25 mcg/mL = 0.048 mL/day, the pump's minimum flow.
    result = flow_for_dose(Fill.parse("ziconotide 25 mcg/mL"), 1_200, pump=PUMP_20)
    assert result.flow_nl_per_day == PUMP_20.min_programmable_flow_nl_per_day == 48_000
    assert result.verdict.allowed
    # 1 mcg/day would need 0.04 mL/day: below what the pump can run.
    low = flow_for_dose(Fill.parse("ziconotide 25 mcg/mL"), 1_000, pump=PUMP_20)
    assert low.flow_nl_per_day == 40_000
    assert [(f.field, f.tier) for f in low.verdict.findings] == [("flow", Tier.HARD)]
    assert "weaker concentration" in low.verdict.findings[0].action


def test_dose_for_a_flow() -> None:
    # 0.5 mL/day × 10 mg/mL = 5 mg/day.
    result = dose_for_flow(Fill.parse("morphine 10 mg/mL"), 500_000, pump=PUMP_20)
    assert result.doses[0].dose_ng_per_day == 5_000_000


def test_rounding_never_gives_more_than_prescribed() -> None:
    # 1 mg/day ÷ 3 mg/mL = 0.3333… mL/day; rounded down to 333 333 nL/day,
    # which carries 333 333 × 3 = 999 999 ng/day, just under 1 mg/day.
    result = flow_for_dose(Fill.parse("morphine 3 mg/mL"), 1_000_000, pump=PUMP_20)
    assert result.flow_nl_per_day == 333_333
    assert result.doses[0].dose_ng_per_day == 999_999
    assert any("rounded down" in step for step in result.reasoning.steps)


def test_admixture_gives_each_drug_its_dose() -> None:
    # 2 mg/day morphine at 10 mg/mL: 0.2 mL/day; bupivacaine 0.2 × 15 = 3 mg/day; clonidine 0.2 × 500 = 100 mcg/day.
    fill = Fill.parse("morphine 10 mg/mL + bupivacaine 15 mg/mL + clonidine 500 mcg/mL")
    result = flow_for_dose(fill, 2_000_000, pump=PUMP_20)
    assert result.flow_nl_per_day == 200_000
    assert [(d.drug.name, d.dose_ng_per_day) for d in result.doses] == [
        ("morphine", 2_000_000),
        ("bupivacaine", 3_000_000),
        ("clonidine", 100_000),
    ]
    assert "bupivacaine is not approved for this pump (off-label)." in result.reasoning.notes


def test_admixture_dose_of_another_drug_sets_the_flow() -> None:
    # 300 mcg/day clonidine at 500 mcg/mL: 0.6 mL/day, which gives 6 mg/day morphine.
    fill = Fill.parse("morphine 10 mg/mL + clonidine 500 mcg/mL")
    result = flow_for_dose(fill, 300_000, drug="clonidine", pump=PUMP_20)
    assert result.flow_nl_per_day == 600_000
    assert result.doses[0].dose_ng_per_day == 6_000_000


def test_an_admixture_component_beyond_its_limit_refuses_the_flow() -> None:
    # 6 mg/day morphine at 10 mg/mL = 0.6 mL/day, which carries 0.6 × 30 = 18 mg/day bupivacaine:
    # above bupivacaine's soft 15 mg/day although the morphine dose is ordinary.
    fill = Fill.parse("morphine 10 mg/mL + bupivacaine 30 mg/mL")
    result = flow_for_dose(fill, 6_000_000, pump=PUMP_20)
    assert result.doses[1].dose_ng_per_day == 18_000_000
    assert ("daily dose", Tier.SOFT) in [(f.field, f.tier) for f in result.verdict.findings]
    passed = flow_for_dose(
        fill, 6_000_000, override=Override("physician", "palliative care, reviewed today"), pump=PUMP_20
    )
    # The 30 mg/mL strength is also above the soft 20 mg/mL: both pass with the physician's reason.
    assert passed.verdict.allowed


def test_reasoning_and_json_carry_the_units() -> None:
    result = flow_for_dose(Fill.parse("morphine 10 mg/mL"), 1_500_000, typed="0.0625 mg/h", pump=PUMP_20)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["calculator"] == "flow"
    assert data["values"]["flow_nl_per_day"] == 150_000
    assert data["values"]["doses"][0] == {
        "drug": "morphine",
        "concentration_ng_per_ml": 10_000_000,
        "dose_ng_per_day": 1_500_000,
    }
    assert data["reasoning"]["inputs"]["daily dose of morphine"] == "1.5 mg/day (typed as '0.0625 mg/h')"
    assert data["reasoning"]["formula"].startswith("flow = daily dose ÷ concentration")
    assert any("20 mg/day" in line for line in data["reasoning"]["limits"])
    assert data["verdict"] == {"allowed": True, "findings": [], "override": None}
