"""Trial protocol files: the shipped two read, every bad field refused with its name, value and limit."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from thecal.errors import InputError
from thecal.trials.protocol import load_protocol, parse_protocol, scaled
from thecal.units import MS_PER_DAY, NG_PER_MG

TRIALS = Path(__file__).parents[2] / "examples" / "trials"


def _raw(name: str = "smith2002.toml") -> dict[str, Any]:
    return tomllib.loads((TRIALS / name).read_text())


def test_smith_2002_reads_with_its_arms_targets_and_entry_criteria() -> None:
    """The Smith file gives two arms of 101, 14 targets with sources, and the entry criteria of the paper."""
    p = load_protocol(TRIALS / "smith2002.toml")
    assert p.arm_names == ("idds+cmm", "cmm")
    assert [a.n_patients for a in p.arms] == [101, 101]
    assert len(p.targets) == 14 and all(t.source for t in p.targets)
    assert p.min_entry_pain == 5.0 and p.min_oral_mme_mg_per_day == 200.0
    idds = p.arm("idds+cmm")
    assert idds.screening is not None and idds.screening.bolus_ng == NG_PER_MG // 2
    assert idds.titration is not None and idds.titration.visit_ms == 3 * MS_PER_DAY
    assert p.horizon_days == 183 and p.survival_months == (6,)


def test_hamza_2012_reads_with_36_months_of_follow_up() -> None:
    """The Hamza file: one arm of 58, endpoints at weeks 0, 26 and 156."""
    p = load_protocol(TRIALS / "hamza2012.toml")
    assert p.arm_names == ("idds",) and p.arms[0].n_patients == 58
    assert p.endpoint_weeks == (0, 26, 156)
    assert {t.endpoint for t in p.targets} >= {"pain_week156", "it_dose_mg_day_week26"}


def test_hamza_2012_states_its_low_dose_protocol() -> None:
    """Weaned before the trial, baseline after the weaning, implanted patients followed, a low ceiling."""
    p = load_protocol(TRIALS / "hamza2012.toml")
    arm = p.arms[0]
    assert p.baseline_day == 28 and arm.screening is not None and arm.screening.day == 28
    assert arm.wean_before_screening == 1.0 and arm.follow_screen_failures is False
    assert arm.screening.success_relief == 0.5
    assert arm.titration is not None and arm.titration.max_ng_per_day == 1_700_000
    smith = load_protocol(TRIALS / "smith2002.toml")
    assert smith.baseline_day == 3 and smith.arms[0].follow_screen_failures is True
    assert smith.population.opioid_max_relief_mean == 0.6 and smith.population.opioid_max_relief_sd == 0.35


def test_scaled_keeps_everything_but_the_sizes() -> None:
    """scaled() changes only n_patients."""
    p = load_protocol(TRIALS / "smith2002.toml")
    s = scaled(p, 40)
    assert [a.n_patients for a in s.arms] == [40, 40]
    assert s.targets == p.targets and s.seed == p.seed
    with pytest.raises(InputError, match="n_per_arm"):
        scaled(p, 0)


def _change(path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    raw = copy.deepcopy(_raw())
    node: Any = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return raw


@pytest.mark.parametrize(
    ("path", "value", "field", "words"),
    [
        (("trial", "horizon"), "90000 d", "trial.horizon", "1-3660 d"),
        (("trial", "horizon"), "183", "trial.horizon", "unit"),
        (("population", "entry_pain_mean"), 12, "population.entry_pain_mean", "0-10"),
        (("population", "indication"), "flu", "population.indication", "cancer or non_cancer"),
        (("arms", 0, "n_patients"), 0, "arms[0].n_patients", "1-1000000"),
        (("arms", 0, "therapy"), "magic", "arms[0].therapy", "idds, cmm"),
        (("arms", 0, "reservoir"), "30 mL", "arms[0].reservoir", '"20 mL" or "40 mL"'),
        (("arms", 0, "wean_step"), "150 %", "arms[0].wean_step", "0-100 %"),
        (("arms", 0, "titration", "step"), "25", "arms[0].titration.step", "percent"),
        (("arms", 0, "colour"), "red", "arms[0].colour", "use only"),
        (("targets", 0, "arm"), "nobody", "targets[0].arm", "idds+cmm, cmm"),
        (("trial", "baseline_day"), "1 d", "trial.baseline_day", "3-183 d"),
        (("population", "opioid_max_relief"), 1.5, "population.opioid_max_relief", "0-1"),
        (("arms", 0, "follow_screen_failures"), "no", "arms[0].follow_screen_failures", "true or false"),
        (("arms", 0, "wean_before_screening"), "120 %", "arms[0].wean_before_screening", "0-100 %"),
    ],
)
def test_a_bad_field_is_refused_with_its_name_value_and_limit(
    path: tuple[str | int, ...], value: object, field: str, words: str
) -> None:
    """Every refusal names the field and says the limit or what to write."""
    with pytest.raises(InputError) as caught:
        parse_protocol(_change(path, value))
    assert caught.value.field == field
    assert words in str(caught.value)


def test_an_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    """A missing file or broken TOML is refused in words, not with a traceback."""
    with pytest.raises(InputError, match="cannot be read"):
        load_protocol(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[trial\nname = 1")
    with pytest.raises(InputError, match="not valid TOML"):
        load_protocol(bad)
