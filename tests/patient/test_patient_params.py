"""Parameter files: every figure carries its source; a file that does not is refused with a message to act on."""

from __future__ import annotations

import pytest

from thecal.errors import InputError
from thecal.patient.events import event_params
from thecal.patient.pain import pain_params, pd_params
from thecal.patient.params import parse_params
from thecal.patient.patient import population_params
from thecal.patient.pk import pk_params
from thecal.patient.side_effects import side_effect_model

NEED = {"csf.morphine.half_life": "min"}


def test_the_shipped_files_load_and_every_figure_has_a_source() -> None:
    for params in (pk_params(), pd_params(), pain_params(), event_params(), population_params()):
        assert params.figures
        for figure in params.figures.values():
            assert figure.source.strip()
    assert len(side_effect_model().items) == 12


def test_a_figure_without_its_source_is_refused() -> None:
    with pytest.raises(InputError) as err:
        parse_params({"csf": {"morphine": {"half_life": {"value": 185.0, "unit": "min"}}}}, "test.toml", NEED)
    assert err.value.field == "test.toml: csf.morphine.half_life.source"
    assert "source" in err.value.action


def test_a_blank_source_is_refused() -> None:
    with pytest.raises(InputError, match="blank"):
        parse_params({"csf": {"morphine": {"half_life": {"value": 1.0, "unit": "min", "source": " "}}}}, "t", NEED)


def test_a_missing_figure_a_wrong_unit_and_an_unknown_name_are_refused() -> None:
    ok = {"value": 185.0, "unit": "min", "source": "Nordberg 1984"}
    with pytest.raises(InputError, match="missing"):
        parse_params({}, "t", NEED)
    with pytest.raises(InputError, match="read in 'min'"):
        parse_params({"csf": {"morphine": {"half_life": {**ok, "unit": "h"}}}}, "t", NEED)
    with pytest.raises(InputError, match="misspelt"):
        parse_params({"csf": {"morphine": {"half_life": ok, "halflife": ok}}}, "t", NEED)


def test_a_spread_without_its_source_and_a_non_number_are_refused() -> None:
    ok = {"value": 185.0, "unit": "min", "source": "Nordberg 1984"}
    with pytest.raises(InputError, match="spread"):
        parse_params({"csf": {"morphine": {"half_life": {**ok, "cv": 0.2}}}}, "t", NEED)
    with pytest.raises(InputError, match="finite number"):
        parse_params({"csf": {"morphine": {"half_life": {**ok, "value": "185"}}}}, "t", NEED)
    figure = parse_params({"csf": {"morphine": {"half_life": {**ok, "source": "assumption: x"}}}}, "t", NEED)
    assert figure["csf.morphine.half_life"].assumption
