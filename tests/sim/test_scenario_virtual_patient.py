"""The [virtual_patient] section of a scenario: read with its defaults, refused with field, value and limit, and turned
into the patient the runner plays and the forecast draws."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from thecal.errors import InputError
from thecal.sim import scenario as scenario_module
from thecal.sim import virtual_patient
from thecal.sim.forecast import default_population, patient_draws
from thecal.sim.scenario import Scenario, VirtualPatientSpec, load_scenario, parse_scenario
from thecal.units import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN, NG_PER_MG

EXAMPLE = Path(__file__).parents[2] / "examples" / "virtual_patient.toml"
BASE = """
[scenario]
seed = 11

[pump]
model = "programmable-20"

[patient]
opioid_naive = {naive}

{section}

[run]
duration = "{duration}"
"""


def scenario_with(section: str, *, naive: bool = False, duration: str = "10 d") -> str:
    """A small scenario holding the given [virtual_patient] text."""
    return BASE.format(section=section, naive="true" if naive else "false", duration=duration)


def refused(section: str, **kwargs: object) -> InputError:
    with pytest.raises(InputError) as caught:
        parse_scenario(scenario_with(section, **kwargs))  # type: ignore[arg-type]
    return caught.value


# ------------------------------------------------------------------------------ read


def test_a_scenario_without_the_section_has_no_virtual_patient() -> None:
    assert parse_scenario(scenario_with("")).virtual_patient is None


def test_an_empty_section_is_a_patient_with_every_default() -> None:
    spec = parse_scenario(scenario_with("[virtual_patient]")).virtual_patient
    assert spec == VirtualPatientSpec(
        indication="non_cancer",
        entry_pain=7.5,
        prior_oral_ng_per_day=None,
        oral_ng_per_day=None,
        prognosis_ms=None,
        observe_ms=MS_PER_HOUR,
        presses=True,
        seed=11,  # the scenario's seed
    )


def test_every_key_is_read_in_the_units_the_rest_of_the_file_uses() -> None:
    section = """[virtual_patient]
indication = "cancer"
entry_pain = 8
prior_oral = "0.25 g/day"
oral = "60000 mcg/day"
prognosis = "26 weeks"
observe = "15 min"
presses = false
seed = 5
"""
    spec = parse_scenario(scenario_with(section)).virtual_patient
    assert spec == VirtualPatientSpec(
        indication="cancer",
        entry_pain=8.0,
        prior_oral_ng_per_day=250 * NG_PER_MG,
        oral_ng_per_day=60 * NG_PER_MG,
        prognosis_ms=182 * MS_PER_DAY,
        observe_ms=15 * MS_PER_MIN,
        presses=False,
        seed=5,
    )


def test_the_defaults_that_depend_on_other_keys_come_from_one_place() -> None:
    """Prior oral: 60 mg/day unless opioid-naive; prognosis: 365 d for cancer, none otherwise."""
    tolerant = parse_scenario(scenario_with("[virtual_patient]"))
    naive = parse_scenario(scenario_with("[virtual_patient]", naive=True))
    cancer = parse_scenario(scenario_with('[virtual_patient]\nindication = "cancer"'))

    assert virtual_patient.population(tolerant).oral_mme_mg_per_day_median == 60.0
    assert virtual_patient.population(naive).oral_mme_mg_per_day_median == 0.0
    assert virtual_patient.population(tolerant).prognosis_median_days is None
    assert virtual_patient.population(cancer).prognosis_median_days == 365.0
    # The forecast's default patient is the same rule, for a file with the section and without it.
    assert default_population(tolerant) == virtual_patient.population(tolerant)
    bare = parse_scenario(scenario_with("", naive=True))
    assert default_population(bare).oral_mme_mg_per_day_median == 0.0
    assert default_population(bare).indication == "non_cancer" and default_population(bare).entry_pain_mean == 7.5


def test_the_section_gives_the_population_the_regimen_and_the_link() -> None:
    section = """[virtual_patient]
indication = "cancer"
entry_pain = 7.6
prior_oral = "200 mg/day"
oral = "60 mg/day"
prognosis = "180 d"
observe = "30 min"
presses = false
"""
    scenario = parse_scenario(scenario_with(section))
    spec = virtual_patient.population(scenario)
    assert (spec.indication, spec.entry_pain_mean, spec.entry_pain_sd) == ("cancer", 7.6, 0.0)
    assert (spec.oral_mme_mg_per_day_median, spec.oral_mme_cv, spec.prognosis_median_days) == (200.0, 0.0, 180.0)
    link = virtual_patient.patient_link(scenario)
    assert link.observe_ms == 30 * MS_PER_MIN and link.presses is False
    assert (link.oral.drug, link.oral.mg_per_day, link.oral.doses_per_day, link.oral.release) == (
        "morphine",
        60.0,
        2,
        "mr",
    )
    assert link.patient.params.entry_pain == 7.6 and link.patient.params.prior_oral_mme_mg_per_day == 200.0


def test_the_simulated_patient_is_the_forecasts_first_draw_of_the_same_seed() -> None:
    scenario = parse_scenario(scenario_with('[virtual_patient]\nindication = "cancer"\nseed = 9'))
    link = virtual_patient.patient_link(scenario)
    assert link.patient.params == patient_draws(virtual_patient.population(scenario), 9, 1)[0]
    other = parse_scenario(scenario_with('[virtual_patient]\nindication = "cancer"\nseed = 10'))
    assert virtual_patient.patient_link(other).patient.params != link.patient.params


def test_a_command_line_value_overrides_the_key_and_a_non_cancer_patient_loses_the_prognosis() -> None:
    spec = VirtualPatientSpec(indication="cancer", entry_pain=7.6, prognosis_ms=180 * MS_PER_DAY, seed=3)
    assert virtual_patient.overridden(spec) == spec
    assert virtual_patient.overridden(spec, entry_pain=5.0) == replace(spec, entry_pain=5.0)
    assert virtual_patient.overridden(spec, indication="non_cancer").prognosis_ms is None
    made_cancer = virtual_patient.overridden(VirtualPatientSpec(), indication="cancer")
    assert virtual_patient.prognosis_days(made_cancer) == 365.0


# ------------------------------------------------------------------------------ refused


@pytest.mark.parametrize(
    ("section", "field", "value", "words", "limit"),
    [
        ("weight = 70", "virtual_patient.weight", None, "is not a known key", None),
        ('indication = "chronic"', "virtual_patient.indication", "chronic", "is not one of the values", None),
        ("entry_pain = 11", "virtual_patient.entry_pain", 11, "is not on the 0-10 pain scale", "0 to 10"),
        ("entry_pain = -1", "virtual_patient.entry_pain", -1, "is not on the 0-10 pain scale", "0 to 10"),
        ("entry_pain = nan", "virtual_patient.entry_pain", None, "is not on the 0-10 pain scale", "0 to 10"),
        ('entry_pain = "7.5"', "virtual_patient.entry_pain", "7.5", "must be a number, not text", "0 to 10"),
        ("entry_pain = true", "virtual_patient.entry_pain", True, "must be a number", "0 to 10"),
        ('prior_oral = "60 mg"', "virtual_patient.prior_oral", "60 mg", "dose rate", None),
        ('prior_oral = "60"', "virtual_patient.prior_oral", "60", "", None),
        ('prior_oral = "11 g/day"', "virtual_patient.prior_oral", "11 g/day", "is above 10 g/day", "0 mg/day to"),
        ('oral = "-5 mg/day"', "virtual_patient.oral", "-5 mg/day", "negative", None),
        ('oral = "20 g/day"', "virtual_patient.oral", "20 g/day", "is above 10 g/day", "0 mg/day to 10 g/day"),
        ('indication = "cancer"\nprognosis = "0 d"', "virtual_patient.prognosis", "0 d", "must be above 0 d", None),
        ('indication = "cancer"\nprognosis = "4000 d"', "virtual_patient.prognosis", "4000 d", "above 3660 d", None),
        ('prognosis = "180 d"', "virtual_patient.prognosis", None, "applies to cancer pain only", None),
        ('observe = "30 s"', "virtual_patient.observe", "30 s", "is below 1 min", "1 min to 1 d"),
        ('observe = "2 d"', "virtual_patient.observe", "2 d", "is above 1 d", "1 min to 1 d"),
        ('observe = "1 h 5 min"', "virtual_patient.observe", "1 h 5 min", "", None),
        ('presses = "yes"', "virtual_patient.presses", "yes", "must be true or false", None),
        ("seed = -1", "virtual_patient.seed", -1, "negative", "0 to 4294967295"),
        ('seed = "7"', "virtual_patient.seed", "7", "must be a whole number", None),
    ],
)
def test_a_bad_key_or_value_is_refused_naming_the_field_the_value_and_the_limit(
    section: str, field: str, value: object, words: str, limit: str | None
) -> None:
    error = refused(f"[virtual_patient]\n{section}")
    assert error.field == field, str(error)
    if value is not None:
        assert error.value == value, str(error)
    assert words in error.problem, str(error)
    if limit is not None:
        assert error.limit is not None and limit in error.limit, str(error)
    assert error.action, str(error)


def test_an_unknown_key_lists_the_keys_allowed() -> None:
    error = refused("[virtual_patient]\nentry_pian = 7")
    assert "did you mean entry_pain?" in error.problem
    assert "indication" in error.action and "prior_oral" in error.action and "observe" in error.action


def test_a_prognosis_for_non_cancer_pain_says_what_to_do() -> None:
    error = refused('[virtual_patient]\nprognosis = "26 weeks"')
    assert error.value == "182 d"
    assert 'indication = "cancer"' in error.action and "remove prognosis" in error.action


def test_the_section_must_be_a_table() -> None:
    with pytest.raises(InputError) as caught:
        parse_scenario('virtual_patient = "cancer"\n' + scenario_with(""))
    assert caught.value.field == "[virtual_patient]"


def test_observations_that_would_not_fit_are_refused_with_the_interval_that_would() -> None:
    """A minute for ten years is five million observations: refused before anything runs, as samples are."""
    error = refused('[virtual_patient]\nobserve = "1 min"', duration="3650 d")
    assert error.field == "virtual_patient.observe"
    assert "more than 100000" in error.problem and error.limit == "100000 observations in a run"
    assert error.value == "1 min" and 'observe = "53 min" or longer' in error.action
    # An hour for ten years fits.
    assert parse_scenario(scenario_with('[virtual_patient]\nobserve = "1 h"', duration="3650 d")).virtual_patient


def test_the_section_is_kept_with_the_checked_scenario_and_read_back_equal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file read the second time comes from the user's cache: the patient must come back with it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    checked: list[str] = []

    def counting(text: str, source: str = "<scenario>") -> Scenario:
        checked.append(text)
        return parse_scenario(text, source)

    monkeypatch.setattr(scenario_module, "parse_scenario", counting)
    first = load_scenario(EXAMPLE)
    again = load_scenario(EXAMPLE)
    assert len(checked) == 1, "the second read was the kept one"
    assert again == first and again.virtual_patient is not None
    assert again.virtual_patient.indication == "cancer" and again.virtual_patient.seed == 7
