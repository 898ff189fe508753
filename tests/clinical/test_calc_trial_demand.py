"""Screening-trial doses and the demand-bolus worst case, worked by hand."""

from __future__ import annotations

from thecal.clinical import demand_worst_case, trial_dose
from thecal.clinical.trial import CONTINUOUS
from thecal.drugs import Fill, Override, Tier
from thecal.pump.model import load_model
from thecal.units import MS_PER_HOUR

PUMP_20 = load_model("programmable-20")

REASON = Override("physician", "breakthrough pain on movement, reviewed")


def test_morphine_bolus_trial_for_an_opioid_naive_patient() -> None:
    # PACC 2017: 0.1-0.5 mg; start at 0.1 mg. At 0.5 mg/mL: 0.1 ÷ 0.5 = 0.2 mL.
    result = trial_dose("morphine", concentration_ng_per_ml=500_000, opioid_naive=True, pump=PUMP_20)
    assert (result.range_low, result.range_high, result.dose) == (100_000, 500_000, 100_000)
    assert result.volume_nl == 200_000
    assert result.verdict.allowed
    assert any("24 h" in note for note in result.reasoning.notes)


def test_hydromorphone_trial_refused_for_an_opioid_naive_patient() -> None:
    result = trial_dose("hydromorphone", opioid_naive=True, override=REASON)
    assert not result.verdict.allowed


def test_ziconotide_trial_volume_too_small_to_draw_up() -> None:
    # 1 mcg at 25 mcg/mL = 0.04 mL: too small to measure; dilute.
    result = trial_dose("ziconotide", concentration_ng_per_ml=25_000, pump=PUMP_20)
    assert result.volume_nl == 40_000
    assert any("dilute" in note for note in result.reasoning.notes)


def test_continuous_trial_flow_and_the_pump_minimum() -> None:
    # Ziconotide continuous trial starts at 0.5 mcg/day; at 25 mcg/mL that is 0.02 mL/day,
    # below the pump's 0.048 mL/day: refused with "use a weaker concentration".
    low = trial_dose("ziconotide", mode=CONTINUOUS, concentration_ng_per_ml=25_000, pump=PUMP_20)
    assert low.dose == 500 and low.flow_nl_per_day == 20_000
    assert [(f.field, f.tier) for f in low.verdict.findings] == [("flow", Tier.HARD)]
    # 1.2 mcg/day at 25 mcg/mL = 0.048 mL/day: possible.
    ok = trial_dose("ziconotide", mode=CONTINUOUS, dose=1_200, concentration_ng_per_ml=25_000, pump=PUMP_20)
    assert ok.flow_nl_per_day == 48_000 and ok.verdict.allowed


def test_trial_dose_beyond_the_limits() -> None:
    assert [f.tier for f in trial_dose("morphine", dose=800_000).verdict.findings] == [Tier.SOFT]
    assert [f.tier for f in trial_dose("morphine", dose=1_500_000, override=REASON).verdict.findings] == [Tier.HARD]


def test_demand_worst_case_for_morphine() -> None:
    # 2 mg/day + 6 presses (cap 6; a 2 h lockout would allow 13) × 0.1 mg = 2.6 mg/day.
    # Volume: 0.2 mL/day + 6 × 0.01 mL = 0.26 mL/day.
    result = demand_worst_case(
        Fill.parse("morphine 10 mg/mL"),
        continuous_ng_per_day=2_000_000,
        bolus_ng=100_000,
        lockout_ms=2 * MS_PER_HOUR,
        max_per_day=6,
        pump=PUMP_20,
    )
    assert result.presses_per_day == 6
    assert result.drugs[0].worst_case_ng_per_day == 2_600_000
    assert (result.bolus_volume_nl, result.worst_case_volume_per_day_nl) == (10_000, 260_000)
    assert result.verdict.allowed


def test_demand_worst_case_in_an_admixture() -> None:
    # The bolus is 0.01 mL of the admixture: 0.1 mg morphine and 0.15 mg bupivacaine.
    # Bupivacaine: 3 mg/day + 6 × 0.15 = 3.9 mg/day.
    result = demand_worst_case(
        Fill.parse("morphine 10 mg/mL + bupivacaine 15 mg/mL"),
        continuous_ng_per_day=2_000_000,
        bolus_ng=100_000,
        lockout_ms=2 * MS_PER_HOUR,
        max_per_day=6,
        pump=PUMP_20,
    )
    assert [(d.drug.name, d.bolus_ng, d.worst_case_ng_per_day) for d in result.drugs] == [
        ("morphine", 100_000, 2_600_000),
        ("bupivacaine", 150_000, 3_900_000),
    ]


def test_demand_worst_case_beyond_the_hard_daily_limit_is_refused() -> None:
    # A 2 h lockout allows 24 ÷ 2 + 1 = 13 presses (cap 24): 18 mg/day + 13 × 0.2 mg = 20.6 mg/day > 20 mg/day.
    result = demand_worst_case(
        Fill.parse("morphine 10 mg/mL"),
        continuous_ng_per_day=18_000_000,
        bolus_ng=200_000,
        lockout_ms=2 * MS_PER_HOUR,
        max_per_day=24,
        override=REASON,
        pump=PUMP_20,
    )
    assert result.presses_per_day == 13
    assert result.drugs[0].worst_case_ng_per_day == 20_600_000
    assert not result.verdict.allowed


def test_no_demand_bolus_for_an_opioid_naive_patient() -> None:
    result = demand_worst_case(
        Fill.parse("morphine 10 mg/mL"),
        continuous_ng_per_day=500_000,
        bolus_ng=50_000,
        lockout_ms=4 * MS_PER_HOUR,
        max_per_day=4,
        opioid_naive=True,
        override=REASON,
        pump=PUMP_20,
    )
    assert ("demand bolus", Tier.HARD) in [(f.field, f.tier) for f in result.verdict.findings]
