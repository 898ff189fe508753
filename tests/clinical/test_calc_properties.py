"""Properties of the calculators: conversions round-trip as ranges, plans keep to the rules, dates only tighten."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from thecal.clinical import convert_opioid, plan_refill, titration_plan
from thecal.drugs import Fill, drug_names, get_drug
from thecal.pump.model import load_model
from thecal.units import BP_PER_ONE

PUMP_20 = load_model("programmable-20")

routes = st.sampled_from(["oral", "iv", "epidural", "intrathecal"])
morphine_doses = st.integers(min_value=1_000, max_value=500_000_000)


@settings(max_examples=200)
@given(dose=morphine_doses, a=routes, b=routes)
def test_a_conversion_and_its_reverse_contain_the_original_dose(dose: int, a: str, b: str) -> None:
    there = convert_opioid(dose, from_drug="morphine", from_route=a, to_route=b)
    for estimate in there.estimates:
        assert estimate.low_ng_per_day <= estimate.high_ng_per_day
        low_back = convert_opioid(estimate.low_ng_per_day, from_drug="morphine", from_route=b, to_route=a)
        high_back = convert_opioid(estimate.high_ng_per_day, from_drug="morphine", from_route=b, to_route=a)
        same = [e for e in low_back.estimates if e.basis == estimate.basis]
        top = [e for e in high_back.estimates if e.basis == estimate.basis]
        # Going there and back with the same ratios brackets the dose we started from (within rounding).
        assert same[0].low_ng_per_day <= dose + 1
        assert top[0].high_ng_per_day >= dose - 1


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(drug_names()), data=st.data())
def test_a_plan_without_a_chosen_step_keeps_every_usual_limit(name: str, data) -> None:
    drug = get_drug(name)
    ceiling = drug.max_daily_dose.hard * 3 // 2
    current = data.draw(st.integers(min_value=0, max_value=ceiling), label="current")
    target = data.draw(st.integers(min_value=0, max_value=ceiling), label="target")
    plan = titration_plan(drug, current_ng_per_day=current, target_ng_per_day=target)
    if target > drug.max_daily_dose.hard:
        # A target beyond the hard limit is refused before any step is planned.
        assert plan.steps == () and not plan.verdict.allowed
        return
    doses = [current] + [s.dose_ng_per_day for s in plan.steps]
    assert doses[-1] == target
    assert doses == sorted(doses) or doses == sorted(doses, reverse=True)
    # No step is refused by a step-size or interval limit: the planner only ever picks usual-size steps.
    steps = {"dose increase", "dose decrease", "time since the last increase", "starting daily dose"}
    assert not [f for f in plan.verdict.findings if f.field in steps]
    start = drug.require_limit("max_start_dose").soft
    for before, after in pairwise(doses):
        if after <= max(before, start):
            continue
        if (percent := drug.limit("max_step_up")) is not None:
            assert (after - before) * BP_PER_ONE <= percent.soft * before
        if (amount := drug.limit("max_step_up_amount")) is not None:
            assert after - before <= amount.soft


@settings(max_examples=100)
@given(
    flow=st.integers(min_value=48_000, max_value=2_000_000),
    demand=st.integers(min_value=0, max_value=500_000),
    days=st.integers(min_value=1, max_value=200),
)
def test_the_next_refill_is_never_later_than_any_bound(flow: int, demand: int, days: int) -> None:
    start = date(2025, 3, 1)
    plan = plan_refill(
        fill=Fill.parse("morphine 10 mg/mL"),
        fill_volume_nl=20_000_000,
        flow_nl_per_day=flow,
        demand_volume_per_day_nl=demand,
        refill_date=start,
        clinic_date=start + timedelta(days=days),
        pump=PUMP_20,
    )
    assert all(plan.next_refill.on <= bound.on for bound in plan.bounds)
    # The date if the pump runs fast is never later than the date the pump itself would alarm.
    assert plan.bounds[1].on <= plan.bounds[0].on
