"""The what-if forecast from what a clinic knows now (`thecal.sim.forecast_now`): small and fast (2 draws, 1 week)."""

from __future__ import annotations

import pytest

from thecal.errors import InputError
from thecal.pump.core.commands import DemandLimits
from thecal.pump.core.schedule import DoseSchedule, DoseStep
from thecal.sim.forecast_now import PatientNow, PumpNow, forecast_now, proposal_of, scenario_now

MG = 1_000_000
ML = 1_000_000
NOW_WALL_MS = 1_780_000_000_000
PUMP = PumpNow("programmable-20", 99_000, "morphine", 10 * MG, 15 * ML, DoseSchedule.continuous(1 * MG))
PATIENT = PatientNow("non_cancer", 70.0, opioid_naive=False)


def _run(dose_ng_per_day: int, pump: PumpNow = PUMP, patient: PatientNow = PATIENT):  # type: ignore[no-untyped-def]
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
