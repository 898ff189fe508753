"""The virtual patient wired to the scenario runner: drug at the tip reaches the body; without a patient, no change."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from thecal.patient import PopulationSpec, sample_patient
from thecal.sim.patient_link import OralRegimen, PatientLink
from thecal.sim.runner import run
from thecal.sim.scenario import load_scenario
from thecal.units import MS_PER_DAY, MS_PER_HOUR, NG_PER_MG

HERE = Path(__file__).parent / "scenarios"
EXAMPLES = Path(__file__).parents[2] / "examples"


def _naive_patient(seed: int = 3, observe_ms: int = MS_PER_HOUR) -> PatientLink:
    patient = sample_patient(PopulationSpec(indication="non_cancer"), np.random.default_rng(seed))
    return PatientLink(patient, observe_ms=observe_ms, presses=False)


def test_drug_reaches_the_patient_only_after_the_catheter_dead_volume() -> None:
    """catheter_lag.toml: the first morphine reaches the tip after 4 days, and only then the patient's CSF."""
    link = _naive_patient()
    data = run(load_scenario(HERE / "catheter_lag.toml"), link).to_json_data()
    series = data["patient"]["series"]
    csf = dict(zip(series["t_ms"], series["csf_ng_per_ml:morphine"], strict=True))
    # Day 0 08:00 is pump time 0; the hand-computed lag is 0.40 mL at 0.1 mL/day = 4 days.
    assert all(c == 0 for t, c in csf.items() if t < 4 * MS_PER_DAY - MS_PER_HOUR)
    assert csf[5 * MS_PER_DAY] > 0


def test_steady_csf_level_is_the_tip_rate_over_the_patient_clearance() -> None:
    """Six days after the drug arrives, CSF morphine equals 1 mg/day divided by the patient's CSF clearance."""
    link = _naive_patient()
    data = run(load_scenario(HERE / "catheter_lag.toml"), link).to_json_data()
    last = data["patient"]["series"]["csf_ng_per_ml:morphine"][-1]
    clearance = link.patient.params.pk["morphine"].csf_clearance_ml_per_min
    expected = NG_PER_MG / 1440.0 / clearance
    assert last == pytest.approx(expected, rel=0.02)
    # What the body received is what the pump's record says reached the tip: 6 mg by hand (catheter_lag.toml).
    assert data["delivered_ng"]["catheter_tip"]["morphine"] == pytest.approx(6 * NG_PER_MG, rel=1e-3)


def test_a_patient_that_does_not_press_leaves_the_pump_record_unchanged() -> None:
    """The run's pump record with an observing patient equals the run without one, byte for byte."""
    scenario = load_scenario(EXAMPLES / "demo.toml")
    alone = run(scenario).to_json_data()
    assert "patient" not in alone
    observed = run(scenario, _naive_patient(observe_ms=6 * MS_PER_HOUR)).to_json_data()
    observed.pop("patient")
    assert observed == alone


def test_oral_doses_follow_the_regimen_and_raise_plasma_morphine() -> None:
    """A 60 mg/day regimen in two doses gives doses at 08:00 and 20:00 on the wall clock (the run starts at 08:00)
    and plasma morphine in the body."""
    link = _naive_patient()
    link.oral = OralRegimen(mg_per_day=60.0, doses_per_day=2, first_hour=8.0)
    scenario = load_scenario(HERE / "catheter_lag.toml")
    assert scenario.start_wall_ms % MS_PER_DAY == 8 * MS_PER_HOUR
    data = run(scenario, link).to_json_data()
    doses = data["patient"]["oral_doses"]
    assert [(d["at_ms"] + scenario.start_wall_ms) % MS_PER_DAY for d in doses[:3]] == [
        8 * MS_PER_HOUR,
        20 * MS_PER_HOUR,
        8 * MS_PER_HOUR,
    ]
    assert all(d["dose_mg"] == 30.0 for d in doses)
    assert len(doses) == 21  # ten days, two a day, and the one at the end
    assert max(data["patient"]["series"]["plasma_ng_per_ml:morphine"]) > 1.0


def test_a_patient_in_pain_presses_and_learns_the_lockout() -> None:
    """demo.toml allows 3 demand doses a day 4 h apart: the patient's presses give at most 3 a day, 4 h apart,
    and the patient, having learned the lockout, is refused less often than it is given a dose."""
    patient = sample_patient(
        PopulationSpec(indication="cancer", entry_pain_mean=8.0, entry_pain_sd=0.0, oral_mme_mg_per_day_median=200),
        np.random.default_rng(5),
    )
    link = PatientLink(patient, oral=OralRegimen(mg_per_day=patient.params.prior_oral_mme_mg_per_day))
    data = run(load_scenario(EXAMPLES / "demo.toml"), link).to_json_data()
    presses = data["patient"]["presses"]
    given = [p["at_ms"] for p in presses if p["outcome"] == "given"]
    assert given, "a patient in pain with demand doses allowed presses and gets some"
    assert data["ptm"]["given"] >= len(given)  # the timeline's own presses (every 7 h) are counted there too
    per_day: dict[int, int] = {}
    for t in given:
        per_day[t // MS_PER_DAY] = per_day.get(t // MS_PER_DAY, 0) + 1
    assert max(per_day.values()) <= 3
    gaps = [b - a for a, b in itertools.pairwise(given)]
    assert min(gaps) >= 4 * MS_PER_HOUR
    locked = [p for p in presses if p["outcome"] == "locked_out"]
    assert len(locked) < len(given), "after the first lockout the patient waits instead of pressing again"
    assert not math.isnan(sum(data["patient"]["series"]["pain"]))


def test_no_oral_dose_is_taken_after_death() -> None:
    """A cancer patient with a prognosis of a day dies within the run; the regimen's doses stop there."""
    spec = PopulationSpec(indication="cancer", prognosis_median_days=1.0, oral_mme_mg_per_day_median=120.0)
    patient = sample_patient(spec, np.random.default_rng(5))
    link = PatientLink(patient, observe_ms=MS_PER_HOUR, oral=OralRegimen("morphine", 60.0, 2, 8.0), presses=False)
    for t in range(MS_PER_HOUR, 20 * MS_PER_DAY + 1, MS_PER_HOUR):
        link.tick(t, None)
    record = link.to_json()  # the observations waited (no press): the record works them out, the death too
    death = patient.death_ms
    assert death is not None and death < 10 * MS_PER_DAY  # dead well before the end
    assert record["death_ms"] == death and record["series"]["alive"][-1] is False
    taken = link.oral_doses_taken()
    assert taken and all(at <= death for at, _, _ in taken)
    assert len(taken) < 2 * 10  # not the forty of a patient alive for twenty days
    assert record["oral_doses"] == [{"at_ms": t, "drug": d, "dose_mg": mg} for t, d, mg in taken]
