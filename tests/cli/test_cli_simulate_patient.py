"""`thecal simulate` and `thecal forecast` of a scenario with a [virtual_patient] section: the patient is played, its
observations and presses are in the JSON and the text, and the forecast takes the section with flags overriding it."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from thecal.cli import main
from thecal.sim.scenario import load_scenario
from thecal.units import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN

EXAMPLE = Path(__file__).parents[2] / "examples" / "virtual_patient.toml"
REASON = "breakthrough pain with demand doses most days, no sedation"


def _section(text: str, replacement: str) -> str:
    """The example with its [virtual_patient] section replaced."""
    start = text.index("[virtual_patient]")
    end = text.index("[[timeline]]", start)
    return text[:start] + replacement + "\n\n" + text[end:]


def _scenario(tmp_path: Path, section: str | None = None, name: str = "patient.toml") -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    path = tmp_path / name
    path.write_text(text if section is None else _section(text, section), encoding="utf-8")
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def _simulate_json(capsys: pytest.CaptureFixture[str], path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(_run(capsys, "simulate", str(path), "--json"))
    return data


# ------------------------------------------------------------------------------ simulate


def test_the_example_is_played_with_its_patient_who_presses_and_the_pump_gives_the_doses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = _simulate_json(capsys, EXAMPLE)
    patient = data["patient"]
    assert isinstance(patient, dict)
    assert patient["indication"] == "cancer" and patient["entry_pain"] == 7.6
    assert patient["prior_oral_mme_mg_per_day"] == 200 and patient["observe_ms"] == MS_PER_HOUR
    # Observed every hour from the first hour to the end of the two weeks.
    series = patient["series"]
    assert series["t_ms"] == list(range(MS_PER_HOUR, 14 * MS_PER_DAY + 1, MS_PER_HOUR))
    assert all(series["alive"]) and patient["death_ms"] is None
    assert all(0 <= p <= 10 for p in series["pain"]) and "csf_ng_per_ml:morphine" in series
    # The 60 mg/day kept: 30 mg of modified-release morphine at 08:00 and 20:00 on the wall clock; the run starts
    # and ends at 08:00, so two weeks hold 29 doses.
    oral = patient["oral_doses"]
    assert len(oral) == 29 and {d["dose_mg"] for d in oral} == {30.0}
    assert {b["at_ms"] - a["at_ms"] for a, b in itertools.pairwise(oral)} == {12 * MS_PER_HOUR}
    start = load_scenario(EXAMPLE).start_wall_ms
    assert {(d["at_ms"] + start) % MS_PER_DAY for d in oral} == {8 * MS_PER_HOUR, 20 * MS_PER_HOUR}

    # A cancer patient in pain with demand doses allowed presses, at a moment it is observed, when its pain is high.
    presses = patient["presses"]
    given = [p["at_ms"] for p in presses if p["outcome"] == "given"]
    assert given, "the patient pressed at least once and was given a dose"
    scores = dict(zip(series["t_ms"], series["pain_score"], strict=True))
    assert all(scores[t] >= 4 for t in given), "a press comes with a high pain score"
    assert all(b - a >= 4 * MS_PER_HOUR for a, b in itertools.pairwise(given)), "the 4 h lockout holds"
    # Each dose the patient was given is in the pump's record and its event log, at the press.
    ptm = data["ptm"]
    assert isinstance(ptm, dict) and ptm["given"] == len(given) and ptm["presses"] == len(presses)
    assert ptm["doses_ng"] == {"morphine": [{"dose_ng": 100_000, "given": len(given)}]}
    events = data["events"]
    assert isinstance(events, list)
    demand_starts = [e["at_ms"] for e in events if e["kind"] == "bolus_start" and e["detail"]["kind"] == "demand"]
    assert demand_starts == given


def test_observations_follow_the_observe_interval(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _scenario(tmp_path, '[virtual_patient]\nindication = "cancer"\nobserve = "45 min"')
    patient = _simulate_json(capsys, path)["patient"]
    assert isinstance(patient, dict)
    t = patient["series"]["t_ms"]
    assert t[0] == 45 * MS_PER_MIN and {b - a for a, b in itertools.pairwise(t)} == {45 * MS_PER_MIN}
    assert t[-1] <= 14 * MS_PER_DAY < t[-1] + 45 * MS_PER_MIN
    # No oral regimen written: none taken; no prior oral written, not opioid-naive: 60 mg/day before the pump.
    assert patient["oral_doses"] == [] and patient["prior_oral_mme_mg_per_day"] == 60


def test_a_patient_that_does_not_press_leaves_the_handset_alone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = _scenario(tmp_path, '[virtual_patient]\nindication = "cancer"\nentry_pain = 9\npresses = false')
    data = _simulate_json(capsys, path)
    assert data["patient"]["presses"] == []  # type: ignore[index]
    assert data["ptm"]["presses"] == 0  # type: ignore[index]


def test_the_same_file_gives_the_same_json_and_another_seed_another_patient(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first = _run(capsys, "simulate", str(EXAMPLE), "--json")
    again = _run(capsys, "simulate", str(EXAMPLE), "--json")
    assert first == again

    text = EXAMPLE.read_text(encoding="utf-8").replace("seed = 7 ", "seed = 4 ")
    assert "\nseed = 4 " in text
    other = tmp_path / "other_seed.toml"
    other.write_text(text, encoding="utf-8")
    changed = json.loads(_run(capsys, "simulate", str(other), "--json"))
    assert changed["patient"]["series"]["pain"] != json.loads(first)["patient"]["series"]["pain"]
    # The pump's own seed is the scenario's: the pump is the same pump.
    assert changed["pump"]["accuracy_error"] == json.loads(first)["pump"]["accuracy_error"]


def test_the_summary_tells_the_patients_story_with_units(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "simulate", str(EXAMPLE))
    data = _simulate_json(capsys, EXAMPLE)
    patient = data["patient"]
    assert isinstance(patient, dict)
    part = out[out.index("Virtual patient:") :]
    assert part.startswith(
        "Virtual patient: cancer pain 7.6 (0-10) before the pump on 200 mg/day oral morphine; observed every 1 h "
        "(336 observations)"
    )
    series = patient["series"]
    assert f"{series['pain'][0]:.1f} / {series['pain_score'][0]} at the first observation (0 d 09:00)" in part
    assert f"{series['pain'][-1]:.1f} / {series['pain_score'][-1]} at the last (14 d 08:00)" in part
    assert f"felt lowest {min(series['pain']):.1f}, highest {max(series['pain']):.1f}" in part
    assert f"toxicity (sum of side-effect grades): highest {max(series['toxicity'])} at " in part
    given = sum(p["outcome"] == "given" for p in patient["presses"])
    assert f"PTM presses of the patient: {len(patient['presses'])}, doses given {given}" in part
    assert "oral doses taken beside the pump: 29, morphine 870 mg in all" in part
    assert part.rstrip().endswith("alive at the end of the run")


def test_a_scenario_without_the_section_prints_no_patient(capsys: pytest.CaptureFixture[str]) -> None:
    demo = EXAMPLE.parent / "demo.toml"
    assert "Virtual patient" not in _run(capsys, "simulate", str(demo))


def test_a_bad_section_exits_2_naming_the_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _scenario(tmp_path, '[virtual_patient]\nobserve = "2 d"')
    capsys.readouterr()
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("thecal: virtual_patient.observe = '2 d': is above 1 d"), err
    assert "limit: 1 min to 1 d" in err


# ------------------------------------------------------------------------------ forecast

FORECAST = ["--at", "7 d", "--propose", "continuous 0.6 mg/day", "--reason", REASON, "--weeks", "1", "--draws", "2"]
SECTION = """[virtual_patient]
indication = "cancer"
entry_pain = 7.6
prior_oral = "200 mg/day"
observe = "3 h"
seed = 5"""


def _forecast(capsys: pytest.CaptureFixture[str], path: Path, *flags: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(_run(capsys, "forecast", str(path), *FORECAST, "--json", *flags))
    return data


def test_the_forecast_takes_its_patient_from_the_section(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = _forecast(capsys, _scenario(tmp_path, SECTION))
    patient = data["patient"]
    assert isinstance(patient, dict)
    assert (patient["indication"], patient["entry_pain"], patient["prior_oral_mme_mg_per_day"]) == (
        "cancer",
        7.6,
        200,
    )
    assert data["observe_ms"] == 3 * MS_PER_HOUR and data["seed"] == 5


def test_a_flag_overrides_the_sections_key_and_leaves_the_others(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = _scenario(tmp_path, SECTION)
    base = _forecast(capsys, path)
    flagged = _forecast(capsys, path, "--entry-pain", "6", "--prior-oral", "120 mg/day", "--observe", "6 h")
    assert flagged["patient"] == base["patient"] | {"entry_pain": 6, "prior_oral_mme_mg_per_day": 120}  # type: ignore[operator]
    assert flagged["observe_ms"] == 6 * MS_PER_HOUR and flagged["seed"] == 5
    made = _forecast(capsys, path, "--indication", "non_cancer", "--seed", "5")
    assert made["patient"]["indication"] == "non_cancer"  # type: ignore[index]
    assert made["patient"]["entry_pain"] == 7.6  # type: ignore[index]


def test_the_forecasts_first_patient_is_the_simulated_one(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Same file, same seed: the forecast's first draw has the weight and tip distance of the simulated patient."""
    from thecal.sim import virtual_patient
    from thecal.sim.scenario import load_scenario

    path = _scenario(tmp_path, SECTION)
    params = virtual_patient.patient_link(load_scenario(path)).patient.params
    patient = _forecast(capsys, path)["patient"]
    assert isinstance(patient, dict)
    assert patient["weight_kg"] == pytest.approx(params.weight_kg, abs=0.01)
    assert patient["tip_to_pain_cm"] == pytest.approx(params.tip_to_pain_cm, abs=0.01)


def test_a_bad_flag_is_refused_with_the_sections_limits(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _scenario(tmp_path, SECTION)
    for flags, start in (
        (("--entry-pain", "12"), "thecal: --entry-pain = '12': is not on the 0-10 pain scale"),
        (("--prior-oral", "20 g/day"), "thecal: --prior-oral = '20 g/day': is above 10 g/day"),
        (("--observe", "2 d"), "thecal: --observe = '2 d': is above 1 d"),
    ):
        capsys.readouterr()
        assert main(["forecast", str(path), *FORECAST, *flags]) == 2
        err = capsys.readouterr().err
        assert err.startswith(start), err
        assert re.search(r"limit: [^;]+; what to do: ", err), err
