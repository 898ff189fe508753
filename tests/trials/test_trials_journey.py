"""The clinical journey of one patient: screening, implant, titration through the therapy layer, CMM, determinism."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from thecal.trials.journey import Journey, _enrolled, simulate_patient
from thecal.trials.protocol import Protocol, Screening, Titration, load_protocol, scaled
from thecal.units import MS_PER_DAY, MS_PER_HOUR, NG_PER_MG

SMITH = Path(__file__).parents[2] / "examples" / "trials" / "smith2002.toml"


@pytest.fixture(scope="module")
def smith() -> Protocol:
    """Smith 2002, cut to 4 weeks and a few patients so each journey takes a fraction of a second.

    Nobody dies here (no prognosis), so every journey reaches the events the tests look at.
    """
    p = scaled(load_protocol(SMITH), 3)
    population = dataclasses.replace(p.population, prognosis_median_days=None)
    return dataclasses.replace(p, horizon_days=28, survival_months=(), population=population)


def _journey(protocol: Protocol, arm: str, index: int = 0) -> Journey:
    a = protocol.arm(arm)
    seeds = np.random.SeedSequence((protocol.seed, protocol.arm_number(arm), index)).spawn(3)
    patient = _enrolled(protocol, np.random.default_rng(seeds[0]))
    return Journey(protocol, a, patient, np.random.default_rng(seeds[1]), np.random.default_rng(seeds[2]))


def test_same_seed_arm_and_index_give_the_same_outcome(smith: Protocol) -> None:
    """simulate_patient is a pure function of (seed, arm, index)."""
    first = simulate_patient(smith, "idds+cmm", 1).to_json()
    again = simulate_patient(smith, "idds+cmm", 1).to_json()
    other = simulate_patient(smith, "idds+cmm", 2).to_json()
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert first != other


def test_a_failed_screening_is_not_implanted(smith: Protocol) -> None:
    """With a screening rule no bolus can meet (100 % relief), the patient gets no pump and stays on CMM."""
    arm = smith.arm("idds+cmm")
    assert arm.screening is not None
    strict = dataclasses.replace(arm, screening=dataclasses.replace(arm.screening, success_relief=1.0))
    protocol = dataclasses.replace(smith, arms=(strict, smith.arm("cmm")))
    journey = _journey(protocol, "idds+cmm")
    outcome = journey.run(0)
    assert outcome.endpoints["screened"] is True
    assert outcome.endpoints["screening_passed"] is False
    assert outcome.endpoints["implanted"] is False
    assert journey.pump is None
    assert all(d == 0.0 for d in outcome.weekly["it_dose_mg_day"] if d is not None)


def test_a_passed_screening_is_implanted_and_weans_oral_opioids(smith: Protocol) -> None:
    """A screening any bolus passes (0 % relief) leads to a primed, programmed pump; the IT dose shows weekly."""
    arm = smith.arm("idds+cmm")
    assert arm.screening is not None
    easy = dataclasses.replace(arm, screening=dataclasses.replace(arm.screening, success_relief=0.0))
    protocol = dataclasses.replace(smith, arms=(easy, smith.arm("cmm")))
    journey = _journey(protocol, "idds+cmm")
    outcome = journey.run(0)
    assert outcome.endpoints["implanted"] is True
    assert journey.pump is not None
    doses = [d for d in outcome.weekly["it_dose_mg_day"] if d]
    assert doses and doses[-1] >= doses[0] > 0
    assert journey.pump.firmware.state.label[0].drug == "morphine"


def test_a_cmm_patient_never_has_a_pump(smith: Protocol) -> None:
    """The CMM arm titrates oral opioids only: no pump, no intrathecal dose, no screening."""
    for index in range(3):
        journey = _journey(smith, "cmm", index)
        outcome = journey.run(index)
        assert journey.pump is None
        assert outcome.endpoints["implanted"] is None
        assert all(d == 0.0 for d in outcome.weekly["it_dose_mg_day"] if d is not None)
        assert outcome.endpoints["oral_mg_day_week0"] == pytest.approx(journey.entry_oral)


def test_ziconotide_titration_obeys_the_interval_rule_of_the_therapy_layer(smith: Protocol) -> None:
    """Visits every day ask for a step each time; the therapy layer lets one through at most every 56 h."""
    arm = smith.arm("idds+cmm")
    titration = Titration(
        start_ng_per_day=1_200,  # 1.2 mcg/day, the PACC start
        start_oral_ratio=300.0,
        start_reason=None,
        step_fraction=0.25,
        step_ng_per_day=1_200,
        visit_ms=MS_PER_DAY,
        titration_days=28,
        review_ms=28 * MS_PER_DAY,
        target_pain=0.0,  # always above target: the clinician asks every day
        max_ng_per_day=19_200,
        tolerable_grade=4,
    )
    zic = dataclasses.replace(
        arm,
        drug="ziconotide",
        concentration_ng_per_ml=25_000,
        screening=Screening(bolus_ng=2_000, success_relief=0.0, day=4),
        titration=titration,
    )
    protocol = dataclasses.replace(smith, arms=(zic, smith.arm("cmm")))
    # Patient 1 of this seed tolerates the start (patient 0's low ziconotide clearance stops it at grade 4).
    journey = _journey(protocol, "idds+cmm", 1)
    journey.run(1)
    steps = journey.step_times_ms
    assert len(steps) >= 3
    assert journey.refused_steps > 0, "daily requests must meet the interval limit"
    gaps = [b - a for a, b in itertools.pairwise(steps)]
    assert min(gaps) >= 56 * MS_PER_HOUR
    assert journey.it_ng_per_day <= 19_200
    assert journey.it_ng_per_day - 1_200 == 1_200 * len(steps)


def test_the_screening_bolus_is_checked_against_the_drug_library() -> None:
    """A protocol whose trial bolus is beyond the drug's hard limit stops with the field named."""
    p = scaled(load_protocol(SMITH), 1)
    arm = p.arm("idds+cmm")
    assert arm.screening is not None
    big = dataclasses.replace(arm, screening=dataclasses.replace(arm.screening, bolus_ng=2 * NG_PER_MG))
    protocol = dataclasses.replace(p, arms=(big, p.arm("cmm")), horizon_days=28, survival_months=())
    with pytest.raises(Exception, match="screening"):
        simulate_patient(protocol, "idds+cmm", 0)


def _cmm_visit(smith: Protocol, grades: dict[str, int], score: int) -> tuple[float, float]:
    """The oral dose before and after one CMM visit, after a week of diary rows with these grades and scores."""
    journey = _journey(smith, "cmm")
    journey.now_ms = 10 * MS_PER_DAY
    journey.link.run_to(journey.now_ms)
    full = dict.fromkeys(journey.patient.observe().grades, 0) | grades
    journey.diary.rows = [(journey.now_ms - h * MS_PER_HOUR, score, sum(full.values()), full) for h in range(1, 150, 6)]
    before = journey.link.oral.mg_per_day
    journey._do_oral_visit(None)
    return before, journey.link.oral.mg_per_day


def test_the_cmm_rule_raises_the_oral_opioid_only_while_side_effects_allow(smith: Protocol) -> None:
    """Pain above target: up a step with no side effect at grade 2; held at grade 2 (constipation too); down above."""
    step = 1.0 + smith.arm("cmm").oral_step_fraction
    before, after = _cmm_visit(smith, {}, 9)
    assert after == pytest.approx(before * step)
    before, after = _cmm_visit(smith, {"constipation": 2}, 9)
    assert after == before
    before, after = _cmm_visit(smith, {"constipation": 3}, 9)
    assert after == pytest.approx(before * (1.0 - smith.arm("cmm").oral_step_fraction))


def test_a_failed_screening_ends_follow_up_when_the_study_follows_implanted_patients_only(smith: Protocol) -> None:
    """follow_screen_failures = false: no implant, no oral visits, no week-4 endpoints."""
    arm = smith.arm("idds+cmm")
    assert arm.screening is not None
    strict = dataclasses.replace(
        arm, screening=dataclasses.replace(arm.screening, success_relief=1.0), follow_screen_failures=False
    )
    protocol = dataclasses.replace(smith, arms=(strict, smith.arm("cmm")))
    outcome = simulate_patient(protocol, "idds+cmm", 0)
    assert outcome.endpoints["screening_passed"] is False and outcome.endpoints["implanted"] is False
    assert outcome.endpoints["pain_week0"] is not None and outcome.endpoints["pain_week4"] is None


def test_the_baseline_is_taken_after_a_wash_out_when_the_protocol_says_so(smith: Protocol) -> None:
    """Weaned at day 3 and scored at days 11-13: the week-0 pain is higher than on the entry dose, no oral opioid."""
    arm = dataclasses.replace(smith.arm("idds+cmm"), wean_before_screening=1.0, screening=None, implant_day=20)
    on = simulate_patient(dataclasses.replace(smith, arms=(smith.arm("idds+cmm"), smith.arm("cmm"))), "idds+cmm", 1)
    off = simulate_patient(dataclasses.replace(smith, arms=(arm, smith.arm("cmm")), baseline_day=14), "idds+cmm", 1)
    oral_on, pain_on, pain_off = (
        float(o.endpoints[k] or 0.0) for o, k in ((on, "oral_mg_day_week0"), (on, "pain_week0"), (off, "pain_week0"))
    )
    assert off.endpoints["oral_mg_day_week0"] == 0.0 and oral_on > 0
    assert pain_off > pain_on
