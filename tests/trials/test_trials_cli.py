"""`thecal trial`: the table for people, the JSON, the plots, and every mistake refused in words."""

from __future__ import annotations

import io
import json
import logging
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from thecal.cli import main
from thecal.cli.trial import ProgressLine
from thecal.trials import engines

SMITH = str(Path(__file__).parents[2] / "examples" / "trials" / "smith2002.toml")


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["trial", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_table_shows_each_arm_with_units_and_the_targets(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, SMITH, "--patients", "2", "--engine", "serial")
    assert code == 0 and err == ""
    assert "Arm idds+cmm (2 patients)" in out and "Arm cmm (2 patients)" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ") and line.split()}
    assert rows["pain_week4"].endswith("0–10")
    assert rows["it_dose_mg_day_week4"].endswith("mg/day")
    assert rows["success_week4"].endswith("%")
    assert "Published targets" in out and "of 14 targets inside their tolerance" in out
    assert "Run: serial engine, 1 worker" in out


def test_the_json_is_the_same_on_every_engine_and_changes_with_the_seed(capsys: pytest.CaptureFixture[str]) -> None:
    common = (SMITH, "--patients", "2", "--json")
    code, serial, _ = _run(capsys, *common, "--engine", "serial")
    assert code == 0
    code, processes, _ = _run(capsys, *common, "--workers", "2")
    assert code == 0 and processes == serial
    document = json.loads(serial)
    assert document["format"] == "thecal-trial/1" and document["seed"] == 2002
    assert set(document["arms"]) == {"idds+cmm", "cmm"} and len(document["targets"]) == 14
    assert "run" not in document and "wall_seconds" not in serial
    code, reseeded, _ = _run(capsys, *common, "--engine", "serial", "--seed", "7")
    assert code == 0 and json.loads(reseeded)["seed"] == 7 and reseeded != serial


def test_a_dask_scheduler_at_an_address_gives_the_same_json(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    from distributed import LocalCluster

    common = (SMITH, "--patients", "2", "--json")
    _, serial, _ = _run(capsys, *common, "--engine", "serial")
    monkeypatch.setattr(engines, "WORKERS_TIMEOUT_S", 1.0)
    # A scheduler with one worker thread in this process (the real-process cluster is tested in test_trials_engines).
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None, silence_logs=logging.ERROR
    ) as cluster:
        code, remote, err = _run(capsys, *common, "--scheduler", cluster.scheduler_address)
        assert code == 0, err
        assert remote == serial
        # Asking for more workers than joined: refused once the wait is over, in words.
        code, out, err = _run(capsys, *common, "--scheduler", cluster.scheduler_address, "--workers", "2")
    assert code == 2 and out == ""
    assert "fewer than 2 worker(s) joined it within 1 s" in err and "dask worker ADDRESS" in err


def test_plots_are_written_one_per_weekly_series(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = _run(capsys, SMITH, "--patients", "2", "--engine", "serial", "--plot", str(tmp_path / "plots"))
    assert code == 0
    written = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert written == ["it_dose.png", "oral_dose.png", "pain.png", "survival.png", "toxicity.png"]
    for name in written:
        data = (tmp_path / "plots" / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    assert f"Plots written to {tmp_path / 'plots'}" in out


@pytest.mark.parametrize(
    ("args", "field", "words"),
    [
        (("--workers", "0"), "--workers", "below 1"),
        (("--workers", "two"), "--workers", "not a whole number"),
        (("--patients", "-3"), "--patients", "negative"),
        (("--seed", "1.5"), "--seed", "not a whole number"),
        (("--engine", "serial", "--workers", "2"), "--workers", "one patient at a time"),
        (("--engine", "processes", "--scheduler", "tcp://127.0.0.1:8786"), "--scheduler", "for the dask engine"),
    ],
)
def test_a_mistake_on_the_command_line_is_refused_by_option(capsys, args, field, words) -> None:
    code, out, err = _run(capsys, SMITH, *args)
    assert code == 2 and out == ""
    assert err.startswith(f"thecal: {field} = ") and words in err and "what to do:" in err
    assert "Traceback" not in err


def test_a_protocol_that_cannot_be_read_is_refused_by_name(capsys, tmp_path: Path) -> None:
    code, _, err = _run(capsys, str(tmp_path / "missing.toml"))
    assert code == 2 and "protocol" in err and "missing.toml" in err and "what to do:" in err


def test_a_scheduler_nobody_runs_is_refused_in_words(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "CONNECT_TIMEOUT_S", 2.0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    code, out, err = _run(capsys, SMITH, "--patients", "1", "--scheduler", address)
    assert code == 2 and out == ""
    assert err.startswith(f"thecal: --scheduler = '{address}': no Dask scheduler answered") and "Traceback" not in err


def test_an_address_that_is_not_one_is_refused_as_such(capsys) -> None:
    code, _, err = _run(capsys, SMITH, "--patients", "1", "--scheduler", "localhost")
    assert code == 2 and "--scheduler = 'localhost': is not an address a Dask scheduler listens at" in err


def test_the_progress_line_redraws_in_place_and_clears_itself() -> None:
    stream = io.StringIO()
    bar = ProgressLine(stream, "smith")
    bar(0, 4)
    bar(3, 4)
    bar.close()
    drawn = stream.getvalue().split("\r")
    assert drawn[1].startswith("trial smith: [") and drawn[1].endswith("0/4 patients (0%)")
    assert drawn[2].endswith("3/4 patients (75%)") and drawn[2].count("#") == round(0.75 * ProgressLine.WIDTH)
    assert drawn[3] == "\033[K"


def test_the_command_starts_without_the_trial_libraries() -> None:
    """--help imports neither the engines' libraries nor the plots': the command line starts at once."""
    script = (
        "import sys, contextlib, io\n"
        "from thecal.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        "    main(['trial', '--help'])\n"
        "heavy = [m for m in ('numpy', 'matplotlib', 'distributed', 'dask', 'thecal.trials') if m in sys.modules]\n"
        "print(heavy, '--scheduler' in out.getvalue())\n"
    )
    shown = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert shown.strip() == "[] True"


def test_the_command_offers_the_engines_thecal_has() -> None:
    from thecal.cli import trial
    from thecal.trials.engines import ENGINES

    assert trial.ENGINES == ENGINES
