"""`thecal forecast` at the command line: the table, the JSON, the plot, and refusals a person can act on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thecal.cli import main

DEMO = str(Path(__file__).parents[2] / "examples" / "demo.toml")
REASON = "pain above 6 for two weeks at the current dose, no sedation"
SMALL = ["--weeks", "1", "--draws", "2", "--observe", "3 h", "--seed", "2"]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["forecast", DEMO, *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_table_sets_the_two_prescriptions_side_by_side_with_units_and_the_plot_is_a_png(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _run(
        capsys, "--at", "10 d 12:00", "--propose", "continuous 2 mg/day", "--reason", REASON, *SMALL,
        "--plot", str(tmp_path / "plots"),
    )  # fmt: skip

    assert code == 0, err
    assert "from 10 d 12:00" in out and "1 week; 2 draws of the patient (seed 2)" in out
    lines = {line.split("  ")[0]: line for line in out.splitlines()}
    assert "continuous 2 mg/day" in lines["prescription"] and "flexible" in lines["prescription"]
    assert lines["morphine at the tip, per day"].count("mg/day") == 2
    assert lines["reservoir at the end"].count(" mL") == 2
    assert "pain felt, mean (0-10)" in lines and "sedation (severity 0-4)" in lines
    assert "The rulebook on the proposal: allowed" in out and "basal dose, mon from 00:00: 1.2 mg/day" in out
    png = tmp_path / "plots" / "forecast.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert f"Plot written to {png}" in out


def test_json_is_the_whole_output_and_the_same_for_the_same_seed(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("--at", "10 d", "--propose", "continuous 2 mg/day", "--reason", REASON, *SMALL, "--json")
    code, first, _ = _run(capsys, *args)
    again = _run(capsys, *args)[1]

    assert code == 0 and first == again
    data = json.loads(first)
    assert data["format"] == "thecal.forecast/1" and set(data["arms"]) == {"current", "proposed"}
    assert data["arms"]["proposed"]["prescription"] == "continuous 2 mg/day"
    # The demo's patient is not opioid-naive: by default on 60 mg/day oral morphine before the pump, pain 7.5.
    assert data["patient"]["prior_oral_mme_mg_per_day"] == 60 and data["patient"]["entry_pain"] == 7.5


def test_the_options_describe_the_patient_exactly(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(
        capsys, "--at", "10 d", "--propose", "continuous 2 mg/day", "--reason", REASON, *SMALL, "--json",
        "--indication", "cancer", "--prior-oral", "200 mg/day", "--entry-pain", "8",
    )  # fmt: skip
    assert code == 0, err
    patient = json.loads(out)["patient"]
    assert patient == patient | {"indication": "cancer", "prior_oral_mme_mg_per_day": 200, "entry_pain": 8}


def test_a_proposal_past_a_hard_limit_exits_2_with_the_rulebooks_words(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--at", "10 d", "--propose", "continuous 40 mg/day", "--reason", REASON, *SMALL)

    assert code == 2 and out == ""
    assert err.startswith("thecal: proposal: ") and "hard limit" in err and "what to do:" in err


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("--at", "400 d", "--propose", "continuous 1 mg/day"), "--at"),
        (("--at", "10 d", "--propose", "continuous 1 mg/day", "--weeks", "0"), "--weeks"),
        (("--at", "10 d", "--propose", "continuous 1 mg"), "proposal"),
        (("--at", "10 d", "--propose", "weekly 1 mg/day"), "proposal"),
        (("--at", "10 d", "--propose", "continuous 1 mg/day", "--oral", "60 mg"), "--oral"),
    ],
)
def test_input_a_person_must_correct_exits_2_naming_the_field(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], field: str
) -> None:
    code, out, err = _run(capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith(f"thecal: {field}"), err
