"""Titration plans that keep to each drug's rules, worked by hand."""

from __future__ import annotations

from datetime import date

import pytest

from thecal.clinical import titration_plan
from thecal.drugs import Override, Tier
from thecal.errors import InputError
from thecal.pump.model import load_model
from thecal.units import MS_PER_HOUR

PUMP_20 = load_model("programmable-20")

REASON = Override("physician", "tolerating well, no confusion at three visits")


def _doses(plan) -> list[int]:
    return [s.dose_ng_per_day for s in plan.steps]


def test_ziconotide_from_1_2_to_7_2_mcg_per_day() -> None:
    # Usual step 1.2 mcg/day, usual interval 56 h (three a week): 2.4, 3.6, 4.8, 6.0, 7.2 mcg/day
    # at 0, 56, 112, 168, 224 h; dates from Monday 2025-03-03: 03-03, 03-05, 03-07, 03-10, 03-12.
    plan = titration_plan("ziconotide", current_ng_per_day=1_200, target_ng_per_day=7_200, start_date=date(2025, 3, 3))
    assert _doses(plan) == [2_400, 3_600, 4_800, 6_000, 7_200]
    assert [s.after_ms // MS_PER_HOUR for s in plan.steps] == [0, 56, 112, 168, 224]
    assert [s.on for s in plan.steps] == [date(2025, 3, d) for d in (3, 5, 7, 10, 12)]
    assert plan.verdict.allowed


def test_morphine_in_quarter_steps_rounded_to_readable_doses() -> None:
    # 25 % of 1 mg = 0.25 → 1.25; 25 % of 1.25 = 0.3125 → 1.5625, shown to 0.01 mg: 1.56;
    # 1.56 × 1.25 = 1.95; 1.95 × 1.25 = 2.4375 → 2.43; then 2.43 + 0.6075 > 3, so 3 (the target). Every 72 h.
    plan = titration_plan(
        "morphine",
        current_ng_per_day=1_000_000,
        target_ng_per_day=3_000_000,
        concentration_ng_per_ml=10_000_000,
        pump=PUMP_20,
    )
    assert _doses(plan) == [1_250_000, 1_560_000, 1_950_000, 2_430_000, 3_000_000]
    assert [s.after_ms // MS_PER_HOUR for s in plan.steps] == [0, 72, 144, 216, 288]
    assert [s.flow_nl_per_day for s in plan.steps] == [125_000, 156_000, 195_000, 243_000, 300_000]
    assert plan.verdict.allowed


def test_the_first_step_waits_for_the_interval_since_the_last_increase() -> None:
    # Last increase 20 h ago, interval 56 h: the first step comes 36 h from now.
    plan = titration_plan(
        "ziconotide", current_ng_per_day=2_400, target_ng_per_day=3_600, since_last_increase_ms=20 * MS_PER_HOUR
    )
    assert plan.steps[0].after_ms == 36 * MS_PER_HOUR
    assert plan.verdict.allowed


def test_a_chosen_step_beyond_the_usual_needs_a_physician() -> None:
    kwargs = {"current_ng_per_day": 2_400, "target_ng_per_day": 7_200, "step_ng_per_day": 2_400}
    plan = titration_plan("ziconotide", **kwargs)
    assert _doses(plan) == [4_800, 7_200]
    assert {(f.field, f.tier) for f in plan.verdict.findings} == {("dose increase", Tier.SOFT)}
    assert titration_plan("ziconotide", override=REASON, **kwargs).verdict.allowed


def test_a_chosen_step_beyond_the_hard_limit_is_refused() -> None:
    plan = titration_plan(
        "ziconotide", current_ng_per_day=2_400, target_ng_per_day=7_200, step_ng_per_day=3_000, override=REASON
    )
    assert not plan.verdict.allowed
    assert ("dose increase", Tier.HARD) in [(f.field, f.tier) for f in plan.verdict.findings]


def test_a_chosen_interval_shorter_than_the_hard_limit_is_refused() -> None:
    plan = titration_plan(
        "ziconotide", current_ng_per_day=1_200, target_ng_per_day=3_600, interval_ms=12 * MS_PER_HOUR, override=REASON
    )
    assert ("time since the last increase", Tier.HARD) in [(f.field, f.tier) for f in plan.verdict.findings]


def test_a_percentage_step() -> None:
    # 10 % of 2 mg/day = 0.2 → 2.2; 10 % of 2.2 = 0.22 → 2.42; then 2.5 (the target).
    plan = titration_plan("morphine", current_ng_per_day=2_000_000, target_ng_per_day=2_500_000, step_bp=1_000)
    assert _doses(plan) == [2_200_000, 2_420_000, 2_500_000]


def test_a_target_beyond_the_hard_limit_is_refused() -> None:
    plan = titration_plan("morphine", current_ng_per_day=16_000_000, target_ng_per_day=21_000_000, override=REASON)
    assert ("daily dose", Tier.HARD) in [(f.field, f.tier) for f in plan.verdict.findings]


def test_starting_from_zero_begins_at_the_usual_starting_dose() -> None:
    # Morphine starts at most 0.5 mg/day (PACC 2017), then 25 % steps.
    plan = titration_plan("morphine", current_ng_per_day=0, target_ng_per_day=700_000)
    assert _doses(plan) == [500_000, 620_000, 700_000]


def test_clonidine_taper_rests_at_the_lowest_starting_dose_then_stops() -> None:
    # 25 % cuts from 40 mcg/day: 30, 22.5 (shown 22.5), then 20 (lowest PACC start dose), then 0.
    plan = titration_plan("clonidine", current_ng_per_day=40_000, target_ng_per_day=0)
    assert _doses(plan) == [30_000, 22_500, 20_000, 0]
    assert plan.verdict.allowed
    assert all(s.change_ng_per_day < 0 for s in plan.steps)


def test_no_change_needed() -> None:
    plan = titration_plan("morphine", current_ng_per_day=1_000_000, target_ng_per_day=1_000_000)
    assert plan.steps == () and plan.verdict.allowed


def test_a_plan_with_too_many_steps_is_refused() -> None:
    with pytest.raises(InputError):
        # Steps of 1 mcg/day from 1 to 2 mg/day would take 1000 changes.
        titration_plan("morphine", current_ng_per_day=1_000_000, target_ng_per_day=2_000_000, step_ng_per_day=1_000)


def test_bad_plan_input() -> None:
    with pytest.raises(InputError):
        titration_plan("morphine", current_ng_per_day=1, target_ng_per_day=2, step_ng_per_day=1, step_bp=100)
    with pytest.raises(InputError):
        titration_plan("morphine", current_ng_per_day=1, target_ng_per_day=2, interval_ms=0)


def test_the_concentration_used_for_flows_is_checked() -> None:
    plan = titration_plan(
        "morphine",
        current_ng_per_day=1_000_000,
        target_ng_per_day=1_200_000,
        concentration_ng_per_ml=30_000_000,
        pump=PUMP_20,
    )
    assert ("concentration", Tier.HARD) in [(f.field, f.tier) for f in plan.verdict.findings]
