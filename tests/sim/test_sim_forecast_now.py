"""The what-if forecast from what a clinic knows now (`thecal.sim.forecast_now`): small and fast (2 draws, 1 week)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thecal.errors import InputError
from thecal.pump.core.commands import DemandLimits, PeriodicBolusPlan
from thecal.pump.core.schedule import DoseSchedule, DoseStep
from thecal.sim.forecast_now import PatientNow, PumpNow, forecast_now, periodic_start, proposal_of, scenario_now

MG = 1_000_000
ML = 1_000_000
NOW_WALL_MS = 1_780_000_000_000
MIN_MS, DAY_MS = 60_000, 86_400_000
PUMP = PumpNow("programmable-20", 99_000, "morphine", 10 * MG, 15 * ML, DoseSchedule.continuous(1 * MG))
PATIENT = PatientNow("non_cancer", 70.0, opioid_naive=False)


def _run(dose_ng_per_day: int, pump: PumpNow = PUMP, patient: PatientNow = PATIENT) -> dict[str, Any]:
    return forecast_now(
        pump, patient, proposal_of(DoseSchedule.continuous(dose_ng_per_day)), now_wall_ms=NOW_WALL_MS, weeks=1, draws=2
    ).to_json_data()


def test_a_higher_rate_gives_more_drug_at_the_tip_and_earlier_reservoir_dates() -> None:
    data = _run(1_250_000)
    cur, pro = data["arms"]["current"], data["arms"]["proposed"]
    assert cur["prescription"] == "continuous 1 mg/day" and pro["prescription"] == "continuous 1.25 mg/day"
    assert pro["tip_ng_per_day"]["median"] > cur["tip_ng_per_day"]["median"]
    assert data["difference"]["tip_ng"]["median"] > 0
    for when in ("low_reservoir_alarm", "empty"):
        assert pro["refill"][when]["after_ms"]["median"] < cur["refill"][when]["after_ms"]["median"]
    # The fork starts from the reservoir the pump holds now.
    assert cur["refill"]["reservoir_at_fork_nl"]["median"] == 15 * ML


def test_the_bands_are_ordered() -> None:
    data = _run(1_200_000)
    for arm in data["arms"].values():
        bands = [arm["pain"], arm["toxicity"], arm["tip_ng_per_day"], *arm["side_effect_severity"].values()]
        bands += [w["pain"] for w in arm["weekly"]]
        for b in bands:
            assert b["p10"] <= b["median"] <= b["p90"]


def test_a_proposal_the_rulebook_refuses_is_reported_in_its_words() -> None:
    with pytest.raises(InputError) as refused:
        _run(5 * MG)  # a fivefold jump: above morphine's hard limit on a dose increase
    assert refused.value.field.startswith("proposal") and "dose increase" in str(refused.value)


def test_the_latest_pain_score_is_what_the_patient_reports_on_the_current_prescription() -> None:
    data = _run(1 * MG, patient=PatientNow("non_cancer", 70.0, opioid_naive=False, pain_score=4.0))
    assert data["arms"]["current"]["weekly"][0]["pain"]["median"] == pytest.approx(4.0, abs=1.0)


def test_flexible_prescriptions_and_demand_doses_are_carried_over() -> None:
    day = (DoseStep(0, 1 * MG), DoseStep(8 * 3_600_000, 1_400_000))
    flexible = DoseSchedule((day,) * 5 + ((DoseStep(0, 1 * MG),),) * 2)
    pump = PumpNow(
        "programmable-40",
        99_000,
        "morphine",
        10 * MG,
        30 * ML,
        flexible,
        DemandLimits(100_000, 600_000, 4 * 3_600_000, 3),
        2 * ML,
    )
    scenario = scenario_now(pump, PATIENT, NOW_WALL_MS, 1, 28)
    actions = [e.action for e in scenario.timeline]
    assert actions[:4] == ["fill", "prime", "program", "demand_settings"] and actions[-1] == "refill"
    assert proposal_of(flexible).text.startswith("flexible: mon from 00:00 1 mg/day")
    data = _run(1_200_000, pump=pump)
    assert data["arms"]["current"]["prescription"].startswith("flexible")


def test_an_empty_reservoir_is_refused() -> None:
    empty = PumpNow("programmable-20", 99_000, "morphine", 10 * MG, 0, DoseSchedule.continuous(1 * MG))
    with pytest.raises(InputError, match="refill the pump first"):
        _run(1_200_000, pump=empty)


@settings(max_examples=200, deadline=None)
@given(
    interval_min=st.integers(60, 7 * 24 * 60),
    first_wall_ms=st.integers(NOW_WALL_MS - 30 * DAY_MS, NOW_WALL_MS),
    start_wall_ms=st.integers(NOW_WALL_MS - 60 * DAY_MS, NOW_WALL_MS - 30 * DAY_MS),
)
def test_a_periodic_bolus_is_set_so_its_boluses_fall_when_the_pumps_own_do(
    interval_min: int, first_wall_ms: int, start_wall_ms: int
) -> None:
    plan = PeriodicBolusPlan(100_000, 10 * MIN_MS, interval_min * MIN_MS, first_wall_ms)
    at_ms, first_ms = periodic_start(plan, start_wall_ms=start_wall_ms, after_ms=6 * 3_600_000)
    assert at_ms >= 6 * 3_600_000 and 0 <= first_ms < DAY_MS and first_ms % MIN_MS == 0
    # As the therapy layer sets it: today's midnight plus the time of day, then every interval.
    set_wall = start_wall_ms + at_ms
    first = set_wall - set_wall % DAY_MS + first_ms
    assert (
        0 <= (first - first_wall_ms) % plan.interval_ms < MIN_MS or (first_wall_ms - first) % plan.interval_ms < MIN_MS
    )


def test_a_periodic_bolus_is_carried_over_and_adds_its_drug() -> None:
    six_hourly = PeriodicBolusPlan(250_000, 10 * MIN_MS, 6 * 60 * MIN_MS, NOW_WALL_MS - 3 * DAY_MS + 2 * 60 * MIN_MS)
    with_bolus = replace(PUMP, periodic=six_hourly)
    timeline = [e.action for e in scenario_now(with_bolus, PATIENT, NOW_WALL_MS, weeks=1, settle_days=28).timeline]
    assert timeline.count("periodic_bolus") == 1
    plain, boosted = _run(1 * MG), _run(1 * MG, pump=with_bolus)
    extra = (
        boosted["arms"]["current"]["tip_ng_per_day"]["median"] - plain["arms"]["current"]["tip_ng_per_day"]["median"]
    )
    assert extra == pytest.approx(4 * 250_000, rel=0.05)  # four boluses a day of 0.25 mg
