"""Bad scenario input is refused before anything runs, with the field, the value, the limit and what to do."""

from __future__ import annotations

import pytest

from thecal.cli import main
from thecal.errors import InputError
from thecal.sim import runner
from thecal.sim.runner import run
from thecal.sim.scenario import parse_scenario

BASE = """
[pump]
model = "{model}"

[[timeline]]
at = "0 d"
action = "fill"
drug = "{drug}"
concentration = "10 mg/mL"
volume = "{volume}"

[[timeline]]
at = "0 d"
action = "program"
{rate}
override_reason = "opioid-tolerant patient: the trial bolus was well tolerated"

[run]
duration = "10 d"
"""


def scenario_text(
    model: str = "programmable-20", drug: str = "morphine", volume: str = "20 mL", rate: str = 'dose = "1 mg/day"'
) -> str:
    """A small valid scenario with one part replaced."""
    return BASE.format(model=model, drug=drug, volume=volume, rate=rate)


@pytest.fixture
def nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a result is ever produced: a refused entry stops the run before anything is written."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a result was produced although the input was bad")

    monkeypatch.setattr(runner.Recorder, "finish", refuse)


def refused(text: str) -> InputError:
    """The error that reading and planning the scenario raises."""
    with pytest.raises(InputError) as caught:
        run(parse_scenario(text))
    return caught.value


def test_the_valid_base_scenario_runs() -> None:
    """The base scenario itself is fine, so each test below fails for its one change only."""
    data = run(parse_scenario(scenario_text())).to_json_data()
    assert data["delivered_ng"]["pump_calculated"]["morphine"] > 0


def test_a_dose_without_unit_is_refused(nothing_runs: None) -> None:
    """A bare number is never guessed to be mg/day."""
    error = refused(scenario_text(rate='dose = "1.5"'))
    assert error.field == "timeline[1] (program).dose"
    assert "unit is missing" in error.problem


def test_per_hour_entered_for_per_day_is_refused(nothing_runs: None) -> None:
    """1.5 mg/h is 36 mg/day of morphine, 24 times the intended dose: beyond the hard limit."""
    error = refused(scenario_text(rate='dose = "1.5 mg/h"'))
    assert error.field == "timeline[1] (program): starting daily dose"
    assert "36 mg/day" in str(error.value)
    assert "hard limit" in error.limit


def test_flow_below_the_pump_minimum_is_refused(nothing_runs: None) -> None:
    """0.02 mL/day is below the 0.048 mL/day the pump can deliver."""
    error = refused(scenario_text(rate='flow = "0.02 mL/day"'))
    assert "minimum flow" in error.problem
    assert error.limit == "0.0480 mL/day"


def test_volume_above_the_reservoir_is_refused(nothing_runs: None) -> None:
    """40 mL entered for a 20 mL pump: the wrong-reservoir error that ran pumps dry."""
    error = refused(scenario_text(volume="40 mL"))
    assert error.limit == "20.000 mL"
    assert "40.000 mL" in str(error.value)


def test_unknown_drug_is_refused(nothing_runs: None) -> None:
    """A drug missing from the library is refused with the known names."""
    error = refused(scenario_text(drug="morphinne"))
    assert "morphine" in error.action


def test_unknown_model_is_refused(nothing_runs: None) -> None:
    """A pump model that does not exist is refused with the known ones."""
    error = refused(scenario_text(model="programmable-30"))
    assert error.field == "pump.model"
    assert "programmable-20" in error.action


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('action = "program"', 'action = "programme"', "timeline[1].action"),
        ('duration = "10 d"', 'duration = "10"', "run.duration"),
        ('at = "0 d"\naction = "fill"', 'at = "0 d 25:00"\naction = "fill"', "timeline[0] (fill).at"),
        ('concentration = "10 mg/mL"', 'concentration = "10 mg"', "timeline[0] (fill).concentration"),
    ],
)
def test_malformed_entries_name_their_field(old: str, new: str, field: str, nothing_runs: None) -> None:
    """Each malformed entry names the exact field that must change."""
    text = scenario_text()
    assert old in text
    error = refused(text.replace(old, new, 1))
    assert error.field == field


def test_the_command_line_prints_one_clear_error_and_exits_2(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """No traceback: the error names field, value and what to do, and the exit code is 2."""
    path = tmp_path / "bad.toml"
    path.write_text(scenario_text(volume="40 mL"))
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "40.000 mL" in err and "what to do" in err
