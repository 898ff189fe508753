"""Pump model files: the one source of pump figures, each with its source, read by a strict schema."""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

import pytest

from thecal.clinical import CatheterSegment, flow_for_dose, model_with_reservoir, priming_bolus
from thecal.drugs import Fill
from thecal.errors import InputError
from thecal.pump.model import FIELDS, PumpModel, load_model, model_names
from thecal.units import NL_PER_ML

ML = NL_PER_ML


def _text(name: str = "programmable-20") -> str:
    return (resources.files("thecal.pump") / "models" / f"{name}.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", model_names())
def test_every_figure_of_a_shipped_model_has_a_source(name: str) -> None:
    model = load_model(name)
    figures = {f.name for f in dataclasses.fields(PumpModel)} - {"name", "description", "sources"}
    assert set(FIELDS) == figures
    assert {field for field, _ in model.sources} == figures
    for field in figures:
        source = model.source(field)
        assert source.strip() and "DESIGN" not in source


def test_the_shipped_figures() -> None:
    small, large = load_model("programmable-20"), load_model("programmable-40")
    assert (small.reservoir_nl, small.refill_discrepancy_flag_nl) == (20 * ML, 1 * ML)
    assert (large.reservoir_nl, large.refill_discrepancy_flag_nl) == (40 * ML, 2 * ML)
    assert small.accuracy_bp == 1_450 and small.min_programmable_flow_nl_per_day == 48_000
    assert small.max_steps_per_day == 13 and small.max_bolus_flow_nl_per_day == 24 * ML
    assert "Neuromodulation 2017" in small.source("refill_discrepancy_flag_nl")
    assert small.source("accuracy").startswith("TGA notice 2014")
    with pytest.raises(KeyError):
        small.source("colour")


def test_a_shipped_model_is_found_by_its_reservoir_and_an_unknown_size_is_refused() -> None:
    assert model_with_reservoir(20 * ML).name == "programmable-20"
    assert model_with_reservoir(40 * ML).name == "programmable-40"
    with pytest.raises(InputError) as raised:
        model_with_reservoir(30 * ML)
    assert "programmable-20" in raised.value.problem and "model file" in raised.value.action


@pytest.mark.parametrize(
    ("old", "new", "field", "problem"),
    [
        (
            'capacity = { value = "20 mL", source = "Medtronic SynchroMed II HCP specification (model 8637-20): '
            'reservoir 20 mL" }',
            'capacity = { value = "20 mL" }',
            "reservoir.capacity.source",
            "missing",
        ),
        ('value = "20 mL"', 'value = "20 mg"', "reservoir.capacity.value", "not a unit of volume"),
        ('value = "20 mL"', "value = 20", "reservoir.capacity.value", "with its unit"),
        ("dead_space =", "dead_spaec =", "reservoir.dead_spaec", "known names: capacity, dead_space"),
        ('"14.5 %"', '"14.5"', "flow.accuracy.value", "percentage"),
        ('"14.5 %"', '"-14.5 %"', "flow.accuracy.value", "negative"),
        ("value = 13,", 'value = "13",', "therapy.max_steps_per_day.value", "whole number"),
        ("value = 13,", "value = 0,", "therapy.max_steps_per_day.value", "greater than or equal to 1"),
        ('"0.25 uL"', '"0 uL"', "flow.stroke_volume", "above zero"),
        ("[memory]", "[memroy]", "memroy", "known names"),
        ('value = "2 mL", source = "Medtronic', 'value = "6 mL", source = "Medtronic', "low_reservoir_alarm", "min"),
        (
            'refill_discrepancy_flag = { value = "1 mL"',
            'refill_discrepancy_flag = { value = "25 mL"',
            "refill",
            "below",
        ),
        (
            'max_continuous = { value = "24 mL/day"',
            'max_continuous = { value = "0.01 mL/day"',
            "min_programmable",
            "above",
        ),
    ],
)
def test_a_broken_model_file_is_refused_naming_file_field_and_value(
    old: str, new: str, field: str, problem: str
) -> None:
    text = _text()
    assert old in text
    with pytest.raises(InputError) as raised:
        PumpModel.from_toml(text.replace(old, new, 1), "clinic-pump.toml")
    assert raised.value.field.startswith("clinic-pump.toml: ")
    assert field in raised.value.field
    assert problem in raised.value.problem + raised.value.action


def test_a_model_file_that_is_not_toml_is_refused() -> None:
    with pytest.raises(InputError) as raised:
        PumpModel.from_toml(_text() + "\nx = \n", "clinic-pump.toml")
    assert raised.value.field == "clinic-pump.toml" and "TOML" in raised.value.problem


def test_the_calculators_take_every_figure_from_the_model(tmp_path: Path) -> None:
    # A pump whose bolus ceiling is 0.5 mL/h and whose slowest flow is 0.1 mL/day, from its own file.
    text = _text().replace('value = "1 mL/h"', 'value = "0.5 mL/h"').replace('"0.048 mL/day"', '"0.1 mL/day"')
    text = text.replace("Prialt HCP site: minimum flow 0.048 mL/day", "clinic test pump: 0.1 mL/day")
    path = tmp_path / "slow.toml"
    path.write_text(text, encoding="utf-8")
    slow = load_model(str(path))
    prime = priming_bolus(segments=(CatheterSegment(450_000, 2_200),), pump=slow)
    assert prime.rate_nl_per_day == 12 * ML
    # 0.5 mg/day of morphine at 10 mg/mL is 0.05 mL/day: the shipped pump runs it, this one cannot.
    fill = Fill.parse("morphine 10 mg/mL")
    assert flow_for_dose(fill, 500_000, pump=load_model("programmable-20")).verdict.allowed
    refused = flow_for_dose(fill, 500_000, pump=slow)
    [finding] = refused.verdict.findings
    assert finding.field == "flow" and finding.source.endswith("clinic test pump: 0.1 mL/day")
