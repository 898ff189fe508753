"""A command line starts at once: `thecal simulate` leaves the libraries and packages it does not use unimported, and
`--version` or `--help` load no command but the one they name.

Each run is a whole new process (`python -c`), as a person starts the command, with the user's cache of checked
files in a folder of the test's own: the first run finds it empty (cold) and checks the files, the next finds them
kept (warm, the usual case). The module lists are read from `sys.modules` once the command has run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo.toml"

# Never needed to run a scenario, cold or warm: numbers in arrays, plots, the database, the web, the radio's
# cryptography and framing, and the parts of thecal that serve them.
NEVER = (
    "numpy",
    "matplotlib",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "jinja2",
    "cryptography",
    "cbor2",
    "thecal.telemetry",
    "thecal.devices",
    "thecal.apps",
    "thecal.patient",
    "thecal.trials",
    "thecal.sim.plot",
)
# Needed only to check a file the first time it is read (the schemas, unit spellings): absent once it is kept.
ONLY_COLD = ("pydantic", "pint", "tomllib", "thecal.sim.scenario_schema", "thecal.drugs.drug_schema")

_RUN = """
import io, json, sys
from contextlib import redirect_stdout
from thecal.cli import main
out = io.StringIO()
with redirect_stdout(out):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exit:  # --help and --version end here, as argparse ends them
        code = exit.code
sys.stdout.write(json.dumps({"code": code, "modules": sorted(sys.modules), "stdout": out.getvalue()}))
"""


def _simulate(cache: Path, *args: str) -> dict[str, object]:
    return _thecal(cache, "simulate", str(DEMO), *args)


def _thecal(cache: Path, *args: str) -> dict[str, object]:
    """Run one command line in a new process; its exit code, the modules it imported and what it printed."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    ran = subprocess.run(
        [sys.executable, "-c", _RUN, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(ran.stdout)
    return result


def _loaded(modules: object, names: tuple[str, ...]) -> list[str]:
    """The names, or any of their submodules, among the modules a run imported."""
    assert isinstance(modules, list)
    return sorted({name for name in names for m in modules if m == name or m.startswith(name + ".")})


def test_simulate_imports_no_heavy_library_cold_or_warm_and_prints_the_same(tmp_path: Path) -> None:
    cold = _simulate(tmp_path / "cache", "--json")
    warm = _simulate(tmp_path / "cache", "--json")

    assert cold["code"] == warm["code"] == 0
    assert _loaded(cold["modules"], NEVER) == []
    assert "pydantic" in _loaded(cold["modules"], ONLY_COLD)  # the first run did check the files
    assert _loaded(warm["modules"], NEVER + ONLY_COLD) == []
    assert warm["stdout"] == cold["stdout"]
    assert isinstance(warm["stdout"], str)
    assert json.loads(warm["stdout"])["scenario"]["name"] == "demo: a year of intrathecal morphine"


def test_the_summary_of_a_kept_scenario_imports_no_heavy_library_either(tmp_path: Path) -> None:
    _simulate(tmp_path / "cache")
    warm = _simulate(tmp_path / "cache")

    assert warm["code"] == 0
    assert _loaded(warm["modules"], NEVER + ONLY_COLD) == []
    assert isinstance(warm["stdout"], str) and warm["stdout"].startswith("Scenario: demo: a year of intrathecal")


def test_the_version_and_the_help_load_no_command_but_the_one_they_name(tmp_path: Path) -> None:
    for args, command in (
        (("--version",), None),
        (("--help",), None),
        (("simulate", "--help"), "simulate"),
        (("calc", "--help"), "calc"),
    ):
        ran = _thecal(tmp_path / "cache", *args)
        assert ran["code"] == 0 and isinstance(ran["stdout"], str) and "thecal" in ran["stdout"]
        assert isinstance(ran["modules"], list)
        loaded = sorted(m for m in ran["modules"] if m == "thecal" or m.startswith("thecal."))
        expected = ["thecal", "thecal.cli", "thecal.cli.main"] + ([f"thecal.cli.{command}"] if command else [])
        assert loaded == sorted(expected), args


def test_the_priming_words_of_calc_are_the_calculators_own() -> None:
    from thecal.cli.calc import PRIMING_AFTER
    from thecal.clinical.bolus import IMPLANT, REVISION

    assert PRIMING_AFTER == (IMPLANT, REVISION)
