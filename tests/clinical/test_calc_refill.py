"""Refill reconciliation and planning, worked by hand."""

from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path

import pytest

from thecal.clinical import plan_refill, reconcile_refill
from thecal.clinical.refill import CONSISTENT, FLAGGED, OUTSIDE_ACCURACY
from thecal.drugs import Fill, Override, Tier
from thecal.errors import InputError
from thecal.pump.model import load_model
from thecal.units import MS_PER_DAY, NL_PER_ML

PUMP_20 = load_model("programmable-20")
PUMP_40 = load_model("programmable-40")

ML = NL_PER_ML
DAY = MS_PER_DAY
MORPHINE = Fill.parse("morphine 10 mg/mL")
REASON = Override("physician", "pump interrogated, known over-infusion, replaced next week")


def test_the_flag_threshold_and_its_source_come_from_the_pump_model() -> None:
    # Maino 2017: over 1 mL in a 20 mL pump, over 2 mL in a 40 mL pump, is potentially consequential.
    for pump, threshold in ((PUMP_20, 1 * ML), (PUMP_40, 2 * ML)):
        result = reconcile_refill(expected_nl=5 * ML, aspirated_nl=5 * ML, pump=pump)
        assert result.flag_threshold_nl == threshold == pump.refill_discrepancy_flag_nl
        assert result.threshold_source == pump.source("refill_discrepancy_flag_nl")
        assert "Neuromodulation 2017" in result.threshold_source


def test_any_pump_the_model_files_describe_can_be_reconciled(tmp_path: Path) -> None:
    # A 30 mL pump is no shipped model, but its model file is enough: its own threshold applies.
    text = (resources.files("thecal.pump") / "models" / "programmable-20.toml").read_text(encoding="utf-8")
    text = text.replace('value = "20 mL"', 'value = "30 mL"').replace(
        'refill_discrepancy_flag = { value = "1 mL"', 'refill_discrepancy_flag = { value = "1.5 mL"'
    )
    path = tmp_path / "programmable-30.toml"
    path.write_text(text, encoding="utf-8")
    pump = load_model(str(path))
    assert pump.reservoir_nl == 30 * ML
    within = reconcile_refill(
        volume_after_last_fill_nl=30 * ML, flow_nl_per_day=ML, elapsed_ms=20 * DAY, aspirated_nl=8_600_000, pump=pump
    )
    beyond = reconcile_refill(
        volume_after_last_fill_nl=30 * ML, flow_nl_per_day=ML, elapsed_ms=20 * DAY, aspirated_nl=8_400_000, pump=pump
    )
    assert (within.difference_nl, within.flagged) == (-1_400_000, False)
    assert (beyond.difference_nl, beyond.flagged) == (-1_600_000, True)


def test_the_pump_s_own_calculated_volume_is_reconciled_the_same_way() -> None:
    # The therapy layer reads the reservoir volume the pump calculates: 5 mL; 3.5 mL comes back: −1.5 mL > 1 mL.
    result = reconcile_refill(
        expected_nl=5 * ML, aspirated_nl=3_500_000, volume_after_last_fill_nl=20 * ML, pump=PUMP_20
    )
    assert (result.expected_nl, result.delivered_nl, result.difference_nl) == (5 * ML, 15 * ML, -1_500_000)
    assert result.expected_from == "the pump's calculated reservoir volume"
    assert result.flagged and result.status == FLAGGED
    assert "pocket" in result.words and "do not inject" in result.words
    assert not result.verdict.allowed
    # Without the volume after the last fill the spread is unknown, but the flag still decides.
    bare = reconcile_refill(expected_nl=5 * ML, aspirated_nl=5_400_000, pump=PUMP_20)
    assert (bare.accuracy_spread_nl, bare.status, bare.flagged) == (None, CONSISTENT, False)
    assert "cannot be judged" in bare.words


def test_a_clinic_may_tighten_the_threshold_but_never_loosen_it() -> None:
    strict = reconcile_refill(expected_nl=5 * ML, aspirated_nl=5_600_000, flag_threshold_nl=ML // 2, pump=PUMP_20)
    assert strict.flagged and strict.flag_threshold_nl == ML // 2
    assert "set by the clinic" in strict.threshold_source
    with pytest.raises(InputError) as raised:
        reconcile_refill(expected_nl=5 * ML, aspirated_nl=5 * ML, flag_threshold_nl=3 * ML, pump=PUMP_20)
    assert raised.value.field == "flag threshold"
    assert "1 mL" in raised.value.problem


def test_the_expected_volume_comes_from_one_place_only() -> None:
    with pytest.raises(InputError):
        reconcile_refill(expected_nl=5 * ML, flow_nl_per_day=ML, elapsed_ms=DAY, aspirated_nl=5 * ML, pump=PUMP_20)
    with pytest.raises(InputError):
        reconcile_refill(volume_after_last_fill_nl=20 * ML, aspirated_nl=5 * ML, pump=PUMP_20)


def test_consistent_refill() -> None:
    # 20 mL, 0.5 mL/day for 30 days: 15 mL delivered, 5 mL expected; 5.1 mL aspirated: +0.1 mL.
    # Normal spread 14.5 % × 15 mL = 2.175 mL.
    result = reconcile_refill(
        volume_after_last_fill_nl=20 * ML,
        flow_nl_per_day=ML // 2,
        elapsed_ms=30 * DAY,
        aspirated_nl=5_100_000,
        pump=PUMP_20,
    )
    assert (result.delivered_nl, result.expected_nl, result.difference_nl) == (15 * ML, 5 * ML, 100_000)
    assert result.accuracy_spread_nl == 2_175_000
    assert result.status == CONSISTENT
    assert result.verdict.allowed


def test_outside_accuracy_but_under_the_flag() -> None:
    # 0.1 mL/day for 30 days: 3 mL delivered, 17 mL expected, spread 0.435 mL.
    # 16.4 mL aspirated: −0.6 mL, beyond the spread, within the 1 mL flag: recorded, not stopped.
    result = reconcile_refill(
        volume_after_last_fill_nl=20 * ML,
        flow_nl_per_day=100_000,
        elapsed_ms=30 * DAY,
        aspirated_nl=16_400_000,
        pump=PUMP_20,
    )
    assert result.accuracy_spread_nl == 435_000
    assert result.status == OUTSIDE_ACCURACY
    assert result.verdict.allowed


def test_pocket_fill_is_flagged_on_a_40_ml_pump() -> None:
    # 40 mL, 1 mL/day for 30 days: 30 mL delivered, 10 mL expected; 7.5 mL aspirated: −2.5 mL > 2 mL.
    result = reconcile_refill(
        volume_after_last_fill_nl=40 * ML,
        flow_nl_per_day=ML,
        elapsed_ms=30 * DAY,
        aspirated_nl=7_500_000,
        pump=PUMP_40,
    )
    assert result.status == FLAGGED
    (finding,) = result.verdict.findings
    assert finding.tier is Tier.SOFT
    assert "pocket" in finding.message and "over-infusion" in finding.message
    assert finding.action.startswith("stop: do not inject")
    # The same −2.5 mL is within the labeled spread (4.35 mL): the note says so, and still flags.
    assert any("pocket fill must be ruled out" in note for note in result.reasoning.notes)
    # A physician who has found the cause may continue with a written reason.
    assert reconcile_refill(
        volume_after_last_fill_nl=40 * ML,
        flow_nl_per_day=ML,
        elapsed_ms=30 * DAY,
        aspirated_nl=7_500_000,
        pump=PUMP_40,
        override=REASON,
    ).verdict.allowed


def test_more_back_than_expected_suggests_under_infusion() -> None:
    # 20 mL pump, expected 5 mL, aspirated 6.5 mL: +1.5 mL > 1 mL.
    result = reconcile_refill(
        volume_after_last_fill_nl=20 * ML,
        flow_nl_per_day=ML // 2,
        elapsed_ms=30 * DAY,
        aspirated_nl=6_500_000,
        pump=PUMP_20,
    )
    assert result.status == FLAGGED
    assert "under-infusion" in result.verdict.findings[0].message


def test_boluses_count_as_delivered() -> None:
    # 15 mL continuous + 0.5 mL boluses: 4.5 mL expected.
    result = reconcile_refill(
        volume_after_last_fill_nl=20 * ML,
        flow_nl_per_day=ML // 2,
        elapsed_ms=30 * DAY,
        aspirated_nl=4_500_000,
        bolus_volume_nl=ML // 2,
        pump=PUMP_20,
    )
    assert result.expected_nl == 4_500_000 and result.status == CONSISTENT


def test_a_reservoir_that_should_be_empty() -> None:
    result = reconcile_refill(
        volume_after_last_fill_nl=20 * ML, flow_nl_per_day=ML, elapsed_ms=25 * DAY, aspirated_nl=0, pump=PUMP_20
    )
    assert result.expected_nl == 0
    assert any("run empty" in note for note in result.reasoning.notes)


def test_refill_plan_dates() -> None:
    # 20 mL at 0.5 mL/day, alarm at 2 mL: (20 − 2) ÷ 0.5 = 36 days → 2025-04-06.
    # Fast pump (+14.5 %): 0.5725 mL/day; 18 ÷ 0.5725 = 31.44 days → 2025-04-01; empty 34.93 days → 2025-04-04.
    # Morphine stability 180 days → 2025-08-28. The next refill is the earliest: 2025-04-01.
    plan = plan_refill(
        fill=MORPHINE, fill_volume_nl=20 * ML, flow_nl_per_day=ML // 2, refill_date=date(2025, 3, 1), pump=PUMP_20
    )
    on = {b.reason.split(" (")[0]: b.on for b in plan.bounds}
    assert on["low-reservoir alarm"] == date(2025, 4, 6)
    assert plan.bounds[1].on == date(2025, 4, 1)
    assert on["morphine stability in the pump"] == date(2025, 8, 28)
    assert plan.empty_worst_case is not None and plan.empty_worst_case.on == date(2025, 4, 4)
    assert plan.next_refill.on == date(2025, 4, 1)
    assert "fast" in plan.next_refill.reason


def test_slow_flow_is_bounded_by_stability() -> None:
    # Ziconotide 25 mcg/mL at 0.048 mL/day: (20 − 2) ÷ 0.048 = 375 days to alarm; stability 40 days wins.
    plan = plan_refill(
        fill=Fill.parse("ziconotide 25 mcg/mL"),
        fill_volume_nl=20 * ML,
        flow_nl_per_day=48_000,
        refill_date=date(2025, 3, 1),
        pump=PUMP_20,
    )
    assert plan.next_refill.on == date(2025, 4, 10)
    assert "stability" in plan.next_refill.reason


def test_ziconotide_first_fill_of_a_new_pump_is_replaced_within_14_days() -> None:
    plan = plan_refill(
        fill=Fill.parse("ziconotide 25 mcg/mL"),
        fill_volume_nl=16 * ML,
        flow_nl_per_day=48_000,
        refill_date=date(2025, 3, 1),
        first_fill=True,
        pump=PUMP_20,
    )
    assert plan.next_refill.on == date(2025, 3, 15)


def test_undiluted_ziconotide_lasts_84_days() -> None:
    plan = plan_refill(
        fill=Fill.parse("ziconotide 100 mcg/mL"),
        fill_volume_nl=20 * ML,
        flow_nl_per_day=48_000,
        refill_date=date(2025, 3, 1),
        undiluted=True,
        pump=PUMP_20,
    )
    assert plan.next_refill.on == date(2025, 5, 24)


def test_demand_boluses_bring_the_alarm_forward() -> None:
    # 0.4 mL/day + 0.1 mL/day worst-case demand: (20 − 2) ÷ 0.5 = 36 days.
    plan = plan_refill(
        fill=MORPHINE,
        fill_volume_nl=20 * ML,
        flow_nl_per_day=400_000,
        demand_volume_per_day_nl=100_000,
        refill_date=date(2025, 3, 1),
        pump=PUMP_20,
    )
    assert plan.bounds[0].on == date(2025, 4, 6)


def test_clinic_date_checks() -> None:
    start = date(2025, 3, 1)
    kwargs = {"fill": MORPHINE, "fill_volume_nl": 20 * ML, "flow_nl_per_day": ML // 2, "refill_date": start}
    # Before every bound: the clinic's date is the next refill.
    early = plan_refill(**kwargs, clinic_date=date(2025, 3, 25), pump=PUMP_20)
    assert early.verdict.allowed and early.next_refill.on == date(2025, 3, 25)
    # 2025-04-03 is day 33: before the nominal alarm (day 36) and the fast-pump empty date (day 34.93).
    assert plan_refill(**kwargs, clinic_date=date(2025, 4, 3), pump=PUMP_20).verdict.allowed
    # 2025-04-05 is day 35: the reservoir may already be empty if the pump runs fast: hard.
    late = plan_refill(**kwargs, clinic_date=date(2025, 4, 5), override=REASON, pump=PUMP_20)
    assert [(f.field, f.tier) for f in late.verdict.findings] == [("clinic refill date", Tier.HARD)]
    # Ziconotide at 0.048 mL/day: a clinic date 50 days out is beyond the 40-day stability: hard.
    zico = plan_refill(
        fill=Fill.parse("ziconotide 25 mcg/mL"),
        fill_volume_nl=20 * ML,
        flow_nl_per_day=48_000,
        refill_date=start,
        clinic_date=date(2025, 4, 20),
        pump=PUMP_20,
    )
    assert [(f.field, f.tier) for f in zico.verdict.findings] == [("time between refills", Tier.HARD)]


def test_clinic_date_after_the_nominal_alarm_is_soft() -> None:
    # 5 mL at 0.1 mL/day with the alarm at 1 mL: alarm after (5 − 1) ÷ 0.1 = 40 days (2025-04-10);
    # empty with a fast pump after 5 ÷ 0.1145 = 43.67 days (2025-04-13). 2025-04-12 (day 42) lies between.
    plan = plan_refill(
        fill=MORPHINE,
        fill_volume_nl=5 * ML,
        flow_nl_per_day=100_000,
        refill_date=date(2025, 3, 1),
        alarm_volume_nl=ML,
        clinic_date=date(2025, 4, 12),
        pump=PUMP_20,
    )
    assert [(f.field, f.tier) for f in plan.verdict.findings] == [("clinic refill date", Tier.SOFT)]


def test_bad_refill_input() -> None:
    with pytest.raises(InputError):
        plan_refill(fill=MORPHINE, fill_volume_nl=ML, flow_nl_per_day=ML, refill_date=date(2025, 3, 1), pump=PUMP_20)
    with pytest.raises(InputError):
        reconcile_refill(
            volume_after_last_fill_nl=20 * ML, flow_nl_per_day=-1, elapsed_ms=DAY, aspirated_nl=0, pump=PUMP_20
        )
    # 30 mL cannot have been in a 20 mL pump: a hard refusal, not a guess at another pump.
    too_much = reconcile_refill(
        volume_after_last_fill_nl=30 * ML, flow_nl_per_day=ML, elapsed_ms=DAY, aspirated_nl=0, pump=PUMP_20
    )
    assert ("volume after the last fill", Tier.HARD) in [(f.field, f.tier) for f in too_much.verdict.findings]


def test_the_new_fill_itself_is_checked() -> None:
    # 30 mg/mL morphine is above the hard 25 mg/mL: the refill plan is refused whatever the dates.
    plan = plan_refill(
        fill=Fill.parse("morphine 30 mg/mL"),
        fill_volume_nl=20 * ML,
        flow_nl_per_day=ML // 2,
        refill_date=date(2025, 3, 1),
        override=REASON,
        pump=PUMP_20,
    )
    assert [(f.field, f.tier) for f in plan.verdict.findings] == [("concentration", Tier.HARD)]
