"""Bad scenario input is refused before anything runs, with the field, the value, the limit and what to do."""

from __future__ import annotations

import pytest

from thecal.cli import main
from thecal.errors import InputError
from thecal.sim import runner
from thecal.sim.runner import run
from thecal.sim.scenario import load_scenario, parse_scenario

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


# ------------------------------------------------------------------ the file's shape, checked by its schema

FULL = """
[scenario]
name = "shape"
seed = 3

[pump]
model = "programmable-20"

[catheter]
volume = "0.1 mL"

[patient]
opioid_naive = false

[run]
duration = "10 d"

[[timeline]]
at = "0 d"
action = "fill"
drug = "morphine"
concentration = "10 mg/mL"
volume = "20 mL"

[[timeline]]
at = "0 d"
action = "program"
steps = [{days = "all", at = "00:00", dose = "1 mg/day"}]

[[timeline]]
at = "1 d"
action = "refill"
drug = "morphine"
concentration = "10 mg/mL"
volume = "20 mL"
bridge = true

[[timeline]]
at = "2 d"
action = "demand_settings"
dose = "0.1 mg"
duration = "10 min"
lockout = "4 h"
max_per_day = 3
"""


def shape_error(text: str) -> InputError:
    """The error that reading (not running) the scenario raises."""
    with pytest.raises(InputError) as caught:
        parse_scenario(text)
    return caught.value


def test_the_full_shape_scenario_reads() -> None:
    """The scenario the shape tests change is itself fine, with every section and a step table."""
    scenario = parse_scenario(FULL)
    assert (scenario.seed, scenario.catheter_volume_nl, scenario.opioid_naive) == (3, 100_000, False)
    assert [e.action for e in scenario.timeline] == ["fill", "program", "refill", "demand_settings"]
    assert scenario.timeline[3].params["max_per_day"] == 3


@pytest.mark.parametrize(
    ("old", "new", "field", "allowed"),
    [
        ('name = "shape"', 'nmae = "shape"', "scenario.nmae", "name"),
        ('model = "programmable-20"', 'modle = "programmable-20"', "pump.modle", "model"),
        ('volume = "0.1 mL"', 'volum = "0.1 mL"', "catheter.volum", "volume"),
        ("opioid_naive = false", "opioid_naiv = false", "patient.opioid_naiv", "opioid_naive"),
        ('duration = "10 d"', 'duraton = "10 d"', "run.duraton", "duration"),
        ('volume = "20 mL"', 'volme = "20 mL"', "timeline[0] (fill).volme", "volume"),
        ("bridge = true", "brigde = true", "timeline[2] (refill).brigde", "bridge"),
        ("max_per_day = 3", "max_per_24h = 3", "timeline[3] (demand_settings).max_per_24h", "max_per_day"),
        ('dose = "1 mg/day"}', 'dos = "1 mg/day"}', "timeline[1] (program).steps[0].dos", "dose"),
        ("[patient]", "[patients]", "patients", "patient"),
    ],
)
def test_a_misspelt_key_names_the_keys_allowed_there(old: str, new: str, field: str, allowed: str) -> None:
    """A misspelt key in any section, entry or step is named, with the keys that table allows and the likely one."""
    assert old in FULL
    error = shape_error(FULL.replace(old, new, 1))
    assert error.field == field
    assert "not a known key" in error.problem
    assert f"did you mean {allowed}?" in error.problem
    assert error.action.startswith("use one of: ")
    listed = error.action.removeprefix("use one of: ").split(", ")
    assert allowed in listed and new.split(" =")[0].strip("[]") not in listed


def test_a_timeline_entry_lists_only_the_keys_of_its_own_action() -> None:
    """The keys offered for a misspelt key are those of that entry's action, not of every action."""
    error = shape_error(FULL.replace("max_per_day = 3", "max_per_dya = 3", 1))
    listed = error.action.removeprefix("use one of: ").split(", ")
    assert {"lockout", "max_per_day", "off"} <= set(listed)
    assert "concentration" not in listed and "steps" not in listed


@pytest.mark.parametrize("written", ['"no"', '"false"', '"true"', "0", "1"])
@pytest.mark.parametrize(
    ("old", "key", "field"),
    [
        ("opioid_naive = false", "opioid_naive", "patient.opioid_naive"),
        ("bridge = true", "bridge", "timeline[2] (refill).bridge"),
    ],
)
def test_a_boolean_must_be_a_toml_boolean(written: str, old: str, key: str, field: str) -> None:
    """ "no" or "false" in quotes, or 0 and 1, is never read as a boolean: the field is named, true or false asked."""
    error = shape_error(FULL.replace(old, f"{key} = {written}", 1))
    assert error.field == field
    assert error.problem == "must be true or false"
    assert "without quotes" in error.action


@pytest.mark.parametrize("written", ["true", '"3"', "3.0"])
def test_a_count_must_be_a_whole_number(written: str) -> None:
    """The daily maximum of patient doses is a whole number: not a boolean, not text, not a float."""
    error = shape_error(FULL.replace("max_per_day = 3", f"max_per_day = {written}", 1))
    assert error.field == "timeline[3] (demand_settings).max_per_day"
    assert error.problem == "must be a whole number"


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('drug = "morphine"', 'drug = {name = "morphine"}', "timeline[0] (fill).drug"),
        ('model = "programmable-20"', 'model = {name = "programmable-20"}', "pump.model"),
        ('volume = "20 mL"', 'volume = {value = "20 mL"}', "timeline[0] (fill).volume"),
        ('at = "00:00"', "at = {hour = 0}", "timeline[1] (program).steps[0].at"),
        ('days = "all"', "days = {all = true}", "timeline[1] (program).steps[0].days"),
        ('name = "shape"', 'name = ["shape"]', "scenario.name"),
    ],
)
def test_a_table_where_text_belongs_is_refused_with_its_field(old: str, new: str, field: str) -> None:
    """A nested table or a list where text belongs is an InputError naming the field, never a crash."""
    assert old in FULL
    error = shape_error(FULL.replace(old, new, 1))
    assert error.field == field
    assert error.action


def test_a_table_where_text_belongs_exits_2_without_a_traceback(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Through the command line, the same mistake is one line naming the field, and exit code 2."""
    path = tmp_path / "nested.toml"
    path.write_text(FULL.replace('drug = "morphine"', 'drug = {name = "morphine"}', 1), encoding="utf-8")
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "timeline[0] (fill).drug" in err


def test_an_unknown_action_lists_the_actions() -> None:
    """The action picks the entry's table; an unknown one is named with every action there is."""
    error = shape_error(FULL.replace('action = "refill"', 'action = "refil"', 1))
    assert error.field == "timeline[2].action"
    assert error.value == "refil"
    assert "refill" in error.action and "demand_settings" in error.action


def test_a_missing_section_is_named() -> None:
    """A scenario without a [run] section says which section to add."""
    error = shape_error(FULL.replace('[run]\nduration = "10 d"\n', "", 1))
    assert error.field == "[run]"
    assert "add a [run] section" in error.action


def test_a_missing_key_says_how_it_is_written() -> None:
    """A key the entry needs is named, with how to write it."""
    error = shape_error(FULL.replace('lockout = "4 h"\n', "", 1))
    assert error.field == "timeline[3] (demand_settings).lockout"
    assert error.problem == "is missing"
    assert 'lockout = "4 h"' in error.action


def test_a_quantity_keeps_the_units_rules() -> None:
    """Quantities are read by thecal.units: "1,5 mg/day" is refused as ambiguous, never read as 15."""
    error = shape_error(FULL.replace('dose = "1 mg/day"}', 'dose = "1,5 mg/day"}', 1))
    assert error.field == "timeline[1] (program).steps[0].dose"
    assert "comma" in error.problem


def test_a_file_that_is_not_utf8_is_refused_with_the_file_named(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A file saved in Latin-1 (a note with "ü") is refused naming the file, not with a decoding traceback."""
    path = tmp_path / "latin1.toml"
    path.write_bytes(FULL.replace('name = "shape"', 'name = "Zürich"', 1).encode("latin-1"))
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    assert caught.value.value == str(path)
    assert "UTF-8" in caught.value.problem
    assert "UTF-8" in caught.value.action


def test_a_file_that_is_not_utf8_exits_2_naming_the_file(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Through the command line: one line naming the file, exit code 2."""
    path = tmp_path / "latin1.toml"
    path.write_bytes(FULL.replace('name = "shape"', 'name = "Zürich"', 1).encode("latin-1"))
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert str(path) in err and "UTF-8" in err
