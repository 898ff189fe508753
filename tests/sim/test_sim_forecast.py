"""The what-if forecast: the same seed gives the same document, a higher dose relieves more and sedates more, the
rulebook refuses in its own words, and forking leaves the original run as it was."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from thecal.errors import InputError
from thecal.patient import PopulationSpec, VirtualPatient, sample_patient
from thecal.sim.forecast import FORMAT, Proposal, forecast, patient_draws, plan_proposal, read_proposal, send
from thecal.sim.forecast_loop import World
from thecal.sim.patient_link import OralRegimen, PatientLink
from thecal.sim.runner import run
from thecal.sim.scenario import Scenario, load_scenario, parse_scenario
from thecal.units import MS_PER_DAY, MS_PER_HOUR, NG_PER_MG

EXAMPLES = Path(__file__).parents[2] / "examples"
REASON = "pain above 6 for two weeks at the current dose, no sedation"

SCENARIO = """
[scenario]
name = "forecast test: continuous morphine with PTM"
seed = 5

[pump]
model = "programmable-20"

[[timeline]]
at = "0 d"
action = "fill"
drug = "morphine"
concentration = "10 mg/mL"
volume = "20 mL"

[[timeline]]
at = "0 d"
action = "prime"

[[timeline]]
at = "2 h"
action = "program"
mode = "continuous"
dose = "1 mg/day"
override_reason = "opioid-tolerant patient on oral morphine before the pump"

[[timeline]]
at = "2 h"
action = "demand_settings"
dose = "0.1 mg"
duration = "10 min"
lockout = "4 h"
max_per_day = 3

[[timeline]]
at = "20 d"
action = "program"
mode = "continuous"
dose = "1.2 mg/day"

[run]
duration = "30 d"
"""
AT = 7 * MS_PER_DAY
PATIENTS = PopulationSpec(indication="non_cancer", entry_pain_mean=7.5, oral_mme_mg_per_day_median=60.0)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    """A month of continuous intrathecal morphine with PTM demand doses."""
    return parse_scenario(SCENARIO, "forecast_test.toml")


def _small(scenario: Scenario, proposal: Proposal, seed: int = 4) -> dict[str, object]:
    result = forecast(
        scenario, AT, proposal, weeks=1, seed=seed, draws=3, population=PATIENTS, observe_ms=2 * MS_PER_HOUR
    )
    return result.to_json_data()


def test_the_same_seed_gives_the_same_json_and_another_seed_another(scenario: Scenario) -> None:
    proposal = read_proposal("continuous 1.9 mg/day", REASON)
    first = forecast(scenario, AT, proposal, 1, 4, draws=3, population=PATIENTS, observe_ms=2 * MS_PER_HOUR)
    again = forecast(scenario, AT, proposal, 1, 4, draws=3, population=PATIENTS, observe_ms=2 * MS_PER_HOUR)
    other = forecast(scenario, AT, proposal, 1, 5, draws=3, population=PATIENTS, observe_ms=2 * MS_PER_HOUR)

    assert first.to_json_text() == again.to_json_text()
    assert first.to_json_text() != other.to_json_text()
    data = json.loads(first.to_json_text())
    assert data["format"] == FORMAT and data["draws"] == 3 and data["weeks"] == 1 and data["at"] == "7 d 08:00"
    # One week observed every 2 h after the fork, in both arms, on one grid.
    assert data["series"]["t_ms"][0] == AT + 2 * MS_PER_HOUR and data["series"]["t_ms"][-1] == AT + 7 * MS_PER_DAY
    assert len(data["series"]["current"]["pain_median"]) == len(data["series"]["t_ms"]) == 84


def test_a_higher_dose_gives_less_pain_and_more_sedation_in_every_draw(scenario: Scenario) -> None:
    data = _small(scenario, read_proposal("continuous 1.9 mg/day", REASON))
    current, proposed = data["arms"]["current"], data["arms"]["proposed"]  # type: ignore[index]

    assert current["prescription"] == "continuous 1 mg/day" and proposed["prescription"] == "continuous 1.9 mg/day"
    diff = data["difference"]  # type: ignore[index]
    assert diff["pain"]["p90"] < 0  # less pain in (nearly) every draw, paired draw by draw
    assert diff["sedation_severity"]["p10"] > 0
    assert (
        proposed["side_effect_severity"]["sedation"]["median"] > current["side_effect_severity"]["sedation"]["median"]
    )
    assert proposed["pain"]["median"] < current["pain"]["median"]
    # The drug reaching the tip follows the prescriptions: about 1 and 1.9 mg/day, within the pump's accuracy,
    # plus the demand doses the patient was given.
    for arm, mg in ((current, 1.0), (proposed, 1.9)):
        per_day = arm["tip_ng_per_day"]["median"] / NG_PER_MG
        demand = arm["doses_given"]["median"] * 0.1 / 7
        assert mg * 0.85 < per_day - demand < mg * 1.15
    # A higher flow empties the reservoir sooner; both dates lie after the fork.
    cur_low = current["refill"]["low_reservoir_alarm"]["after_ms"]["median"]
    pro_low = proposed["refill"]["low_reservoir_alarm"]["after_ms"]["median"]
    assert 0 < pro_low < cur_low
    assert proposed["reservoir_end_nl"]["median"] < current["reservoir_end_nl"]["median"]


def test_the_reservoir_dates_are_the_calculated_reservoir_run_down_at_the_prescribed_flow(scenario: Scenario) -> None:
    data = _small(scenario, read_proposal("continuous 1.9 mg/day", REASON))
    for arm, ml_per_day in (("current", 0.1), ("proposed", 0.19)):  # 1 and 1.9 mg/day of 10 mg/mL
        a = data["arms"][arm]  # type: ignore[index]
        refill = a["refill"]
        at_fork, end = refill["reservoir_at_fork_nl"]["median"], a["reservoir_end_nl"]["median"]
        # What the pump counts: the prescribed flow and 0.01 mL for each demand dose given.
        used_per_day = (at_fork - end) / 7 / 1e6
        assert used_per_day == pytest.approx(ml_per_day + a["doses_given"]["median"] * 0.01 / 7, rel=0.01)
        # Not reached within the week: carried on at that use down to the alarm volume, then to empty.
        days_to_alarm = 7 + (end - refill["low_reservoir_alarm_nl"]) / 1e6 / used_per_day
        assert refill["low_reservoir_alarm"]["after_ms"]["median"] / MS_PER_DAY == pytest.approx(
            days_to_alarm, rel=1e-3
        )
        assert refill["empty"]["after_ms"]["median"] / MS_PER_DAY == pytest.approx(
            7 + end / 1e6 / used_per_day, rel=1e-3
        )
        assert not refill["low_reservoir_alarm"]["seen_in_forecast"]


def test_a_proposal_past_a_hard_limit_is_refused_in_the_rulebooks_words(scenario: Scenario) -> None:
    with pytest.raises(InputError) as refused:
        _small(scenario, read_proposal("continuous 30 mg/day", REASON))
    assert refused.value.field.startswith("proposal")
    assert "hard limit" in str(refused.value) and "No one can override this limit" in str(refused.value)


def test_a_proposal_past_a_soft_limit_needs_a_physicians_reason(scenario: Scenario) -> None:
    with pytest.raises(InputError) as refused:
        _small(scenario, read_proposal("continuous 1.9 mg/day"))
    assert "soft limit" in str(refused.value) and "--reason" in refused.value.action
    allowed = _small(scenario, read_proposal("continuous 1.9 mg/day", REASON))
    assert allowed["proposal"]["override_reason"] == REASON  # type: ignore[index]
    assert allowed["proposal"]["overridden"]  # type: ignore[index]


def test_proposals_are_read_as_a_scenario_writes_a_prescription(tmp_path: Path) -> None:
    assert read_proposal("continuous 2.5 mg/day").steps == read_proposal("2500 mcg/day").steps
    flow = read_proposal("continuous 0.25 mL/day").steps[0].rate
    assert flow.flow_nl_per_day == 250_000 and flow.dose_ng_per_day is None
    file = tmp_path / "flex.toml"
    file.write_text(
        'mode = "flexible"\n'
        'steps = [{ days = "all", at = "00:00", dose = "1 mg/day" }, { days = "mon-fri", at = "07:00", dose = "1.5 '
        'mg/day" }]\noverride_reason = "daytime pain on weekdays"\n',
        encoding="utf-8",
    )
    flex = read_proposal(str(file))
    assert len(flex.steps) == 2 and flex.override_reason == "daytime pain on weekdays"
    with pytest.raises(InputError, match="flexible steps give a TOML file"):
        read_proposal("flexible 1 mg/day")
    with pytest.raises(InputError, match="proposal"):
        read_proposal("continuous 2.5")  # no unit


def test_forking_leaves_the_original_run_as_it_was(scenario: Scenario) -> None:
    def world() -> World:
        patient = sample_patient(PATIENTS, np.random.default_rng(9))
        return World.start(scenario, PatientLink(patient, observe_ms=MS_PER_HOUR, oral=OralRegimen(mg_per_day=30.0)))

    untouched = world()
    expected = untouched.play(14 * MS_PER_DAY)

    original = world()
    before = original.play(AT)
    twin = original.fork()
    plan = plan_proposal(twin, read_proposal("continuous 1.9 mg/day", REASON))
    send(twin, plan)
    changed = twin.play(14 * MS_PER_DAY)
    after = original.play(14 * MS_PER_DAY)

    assert [s.observation for s in before + after] == [s.observation for s in expected]
    assert [s.tip_ng for s in before + after] == [s.tip_ng for s in expected]
    assert (
        original.run.recorder.finish(original.pump).to_json_data()
        == untouched.run.recorder.finish(untouched.pump).to_json_data()
    )
    assert changed[-1].tip_ng["morphine"] > after[-1].tip_ng["morphine"]  # the twin did get the higher dose


def test_a_world_played_to_the_end_is_the_runners_run() -> None:
    scenario = load_scenario(EXAMPLES / "demo.toml")

    def link() -> PatientLink:
        patient = sample_patient(PATIENTS, np.random.default_rng(2))
        return PatientLink(patient, observe_ms=6 * MS_PER_HOUR, oral=OralRegimen(mg_per_day=60.0))

    by_runner = run(scenario, link()).to_json_data()
    world = World.start(scenario, link())
    world.play(scenario.duration_ms)
    by_world = world.run.recorder.finish(world.pump).to_json_data()
    by_world["patient"] = world.link.to_json()
    assert by_world == by_runner


def test_the_draws_keep_the_person_and_vary_the_uncertain_parameters() -> None:
    people = patient_draws(PATIENTS, seed=3, draws=4)
    first = people[0]
    for other in people[1:]:
        assert (other.entry_pain, other.weight_kg, other.tip_to_pain_cm) == (
            first.entry_pain,
            first.weight_kg,
            first.tip_to_pain_cm,
        )
        assert other.prior_oral_mme_mg_per_day == pytest.approx(first.prior_oral_mme_mg_per_day)
        assert other.seed == first.seed and other.press_threshold == first.press_threshold
    assert len({p.pk["morphine"].k_csf for p in people}) == 4
    assert len({p.ec50_factor for p in people}) == 4
    # Each draw still reports the person's entry pain under their entry oral dose (the drive is solved anew).
    for p in people:
        probe = VirtualPatient(p)
        assert probe.pain() >= 0
    assert patient_draws(PATIENTS, seed=3, draws=4) == people


def test_a_proposal_waits_for_a_running_demand_bolus_as_a_clinician_would() -> None:
    """demo.toml presses the handset every 7 h from 7 d 12:00, so at 20 d 08:00 a 10-minute demand bolus starts."""
    scenario = load_scenario(EXAMPLES / "demo.toml")
    at = 20 * MS_PER_DAY
    proposal = read_proposal("continuous 2 mg/day")

    result = forecast(scenario, at, proposal, 1, 0, draws=1, population=PATIENTS, observe_ms=6 * MS_PER_HOUR)

    assert at < result.fork_ms <= at + 10 * 60_000
    data = result.to_json_data()
    assert data["at_ms"] == at and data["arms"]["proposed"]["prescription"] == "continuous 2 mg/day"
    assert data["series"]["t_ms"][0] == at + 6 * MS_PER_HOUR
