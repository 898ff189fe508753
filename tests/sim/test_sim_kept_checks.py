"""What a check of a file gave is kept for the user and read back only while nothing it came from has changed.

The scenario, the drug library and a pump model are checked in full by their
schemas the first time (thecal.units.checked). These tests hold the cache to
its word: the same inputs and code give the kept value, equal to a fresh check;
a changed file, changed code, another version, a damaged entry or one that
others could have written is checked again; a cache that cannot be written
changes nothing but the time; and a second run of `thecal simulate` builds no
schema at all.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import thecal
from thecal import units
from thecal.drugs import loader
from thecal.errors import InputError
from thecal.pump.model import PumpModel, model_files
from thecal.pump.model.schema import check_model
from thecal.sim import scenario as scenario_module
from thecal.sim.scenario import Scenario, load_scenario, parse_scenario

DEMO = Path(__file__).parents[2] / "examples" / "demo.toml"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's cache in a directory of the test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "thecal"


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The scenario texts the schema checked, in order (the kept ones are not checked)."""
    checked: list[str] = []

    def counting(text: str, source: str = "<scenario>") -> Scenario:
        checked.append(text)
        return parse_scenario(text, source)

    monkeypatch.setattr(scenario_module, "parse_scenario", counting)
    return checked


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    """A copy of the demo scenario to change."""
    path = tmp_path / "demo.toml"
    path.write_text(DEMO.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def _entries(cache: Path, kind: str) -> list[Path]:
    return sorted(cache.glob(f"{kind}-*.pickle"))


def test_a_scenario_read_twice_is_checked_once_and_read_back_equal(
    cache: Path, checks: list[str], scenario_file: Path
) -> None:
    first = load_scenario(scenario_file)
    second = load_scenario(scenario_file)
    assert len(checks) == 1
    assert second == first == parse_scenario(scenario_file.read_text(encoding="utf-8"), str(scenario_file))
    [entry] = _entries(cache, "scenario")
    assert entry.stat().st_mode & 0o777 == 0o600


def test_a_changed_scenario_is_checked_again_and_gives_the_new_values(
    cache: Path, checks: list[str], scenario_file: Path
) -> None:
    load_scenario(scenario_file)
    scenario_file.write_text(scenario_file.read_text(encoding="utf-8").replace("seed = 7", "seed = 8"), "utf-8")
    assert load_scenario(scenario_file).seed == 8
    assert len(checks) == 2


def test_a_scenario_refused_is_never_kept(cache: Path, checks: list[str], scenario_file: Path) -> None:
    scenario_file.write_text(scenario_file.read_text(encoding="utf-8").replace('"45 cm"', '"45"'), "utf-8")
    for _ in range(2):
        with pytest.raises(InputError, match="unit"):
            load_scenario(scenario_file)
    assert len(checks) == 2
    assert _entries(cache, "scenario") == []


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: b"not a pickle at all",
        lambda raw: raw[: len(raw) // 2],
        lambda raw: raw[:-1] + bytes([raw[-1] ^ 0x01]),  # one bit of the kept value flipped
        lambda raw: b"",
    ],
    ids=["garbage", "truncated", "one bit flipped", "empty"],
)
def test_a_damaged_entry_is_ignored_and_written_anew(
    cache: Path, checks: list[str], scenario_file: Path, damage: Callable[[bytes], bytes]
) -> None:
    expected = load_scenario(scenario_file)
    [entry] = _entries(cache, "scenario")
    entry.write_bytes(damage(entry.read_bytes()))
    assert load_scenario(scenario_file) == expected
    assert load_scenario(scenario_file) == expected
    assert len(checks) == 2  # the damaged entry was checked again once, then read back


def test_an_entry_others_could_have_written_is_not_read(cache: Path, checks: list[str], scenario_file: Path) -> None:
    load_scenario(scenario_file)
    [entry] = _entries(cache, "scenario")
    entry.chmod(0o666)
    load_scenario(scenario_file)
    assert len(checks) == 2


def test_changed_code_is_checked_again(
    cache: Path, checks: list[str], scenario_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_scenario(scenario_file)
    # Every code file now looks edited since the entry was written.
    monkeypatch.setattr(units, "_file_version", lambda path: (-1, -1))
    load_scenario(scenario_file)
    assert len(checks) == 2


def test_a_process_whose_code_is_older_than_its_files_keeps_nothing(
    cache: Path, checks: list[str], scenario_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The process first saw every code file other than it is now: what it checks comes from older code.
    monkeypatch.setattr(units, "_file_version", lambda path: (-1, -1))
    load_scenario(scenario_file)
    load_scenario(scenario_file)
    assert len(checks) == 2
    assert _entries(cache, "scenario") == []


def test_another_version_of_thecal_does_not_read_the_entry(
    cache: Path, checks: list[str], scenario_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_scenario(scenario_file)
    monkeypatch.setattr(thecal, "__version__", "99.0.0")
    load_scenario(scenario_file)
    assert len(checks) == 2
    assert len(_entries(cache, "scenario")) == 2


@pytest.mark.skipif(sys.platform != "linux", reason="a file name that is not UTF-8 is a Linux file system's")
def test_a_scenario_whose_file_name_is_not_utf8_is_kept_too(cache: Path, checks: list[str], tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/sc\xffenario.toml"
    with open(raw, "wb") as file:
        file.write(DEMO.read_bytes())
    path = os.fsdecode(raw)  # the undecodable byte becomes a lone surrogate
    assert load_scenario(path) == load_scenario(path)
    assert len(checks) == 1


def test_a_scenario_with_a_model_file_of_its_own_is_checked_every_time(
    cache: Path, checks: list[str], tmp_path: Path
) -> None:
    model = tmp_path / "my-pump.toml"
    model.write_bytes(dict(model_files())["programmable-40.toml"])
    path = tmp_path / "own-model.toml"
    path.write_text(DEMO.read_text(encoding="utf-8").replace('"programmable-40"', json.dumps(str(model))), "utf-8")
    load_scenario(path)
    load_scenario(path)
    assert len(checks) == 2
    assert _entries(cache, "scenario") == []


def test_a_cache_that_cannot_be_written_changes_nothing_but_the_time(
    tmp_path: Path, checks: list[str], scenario_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert load_scenario(scenario_file) == load_scenario(scenario_file)
    assert len(checks) == 2


@pytest.mark.skipif(os.geteuid() == 0, reason="the superuser writes into a read-only directory all the same")
def test_a_read_only_cache_is_read_and_not_written(cache: Path, checks: list[str], scenario_file: Path) -> None:
    load_scenario(scenario_file)
    cache.chmod(0o500)
    try:
        scenario_file.write_text(scenario_file.read_text(encoding="utf-8") + "\n# edited\n", "utf-8")
        load_scenario(scenario_file)
        load_scenario(scenario_file)
    finally:
        cache.chmod(0o700)
    assert len(checks) == 3
    assert len(_entries(cache, "scenario")) == 1


def test_a_cache_on_a_read_only_file_system_is_read_and_not_written(
    cache: Path, checks: list[str], scenario_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_scenario(scenario_file)

    def read_only(path: object, *args: object, **kwargs: object) -> int:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    scenario_file.with_name("edited.toml").write_text(scenario_file.read_text(encoding="utf-8") + "\n# edited\n")
    with monkeypatch.context() as patch:
        patch.setattr(os, "open", read_only)  # how the cache writes an entry; reading uses open()
        load_scenario(scenario_file)  # read back
        load_scenario(scenario_file.with_name("edited.toml"))  # checked, and nothing written
    assert len(checks) == 2
    assert len(_entries(cache, "scenario")) == 1
    assert not list(cache.glob(".*"))  # no temporary file left behind


def test_an_unset_or_relative_cache_home_means_the_home_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("", "relative/path"):
        monkeypatch.setenv("XDG_CACHE_HOME", value)
        assert units.cache_dir() == Path.home() / ".cache" / "thecal"
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/else")
    assert units.cache_dir() == Path("/somewhere/else/thecal")


def test_the_oldest_entries_of_a_kind_go(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(units, "CACHE_ENTRIES_KEPT", 2)
    for number in range(4):
        assert units.checked("sample", [str(number).encode()], lambda number=number: number * 10) == number * 10
    assert len(_entries(cache, "sample")) == 2
    # The newest two are still read back; the oldest is checked again.
    assert units.checked("sample", [b"3"], lambda: pytest.fail("the newest entry was not read back")) == 30
    assert units.checked("sample", [b"0"], lambda: "checked again") == "checked again"


def test_the_drug_library_and_a_pump_model_read_back_equal_to_what_their_schemas_give(cache: Path) -> None:
    files = loader.data_files()
    inputs = [part for name, data in files for part in (name, data)]
    fresh = loader._check_library()
    assert units.checked("drugs", inputs, loader._check_library) == fresh
    assert units.checked("drugs", inputs, lambda: pytest.fail("the library was checked again")) == fresh
    text = dict(model_files())["programmable-20.toml"].decode("utf-8")
    assert PumpModel.from_toml(text, "programmable-20.toml") == check_model(text, "programmable-20.toml")
    assert len(_entries(cache, "pump-model")) == 1
    assert PumpModel.from_toml(text, "programmable-20.toml") == check_model(text, "programmable-20.toml")


def test_a_changed_model_file_is_checked_again(cache: Path) -> None:
    text = dict(model_files())["programmable-20.toml"].decode("utf-8")
    PumpModel.from_toml(text, "programmable-20.toml")
    changed = text.replace('name = "programmable-20"', 'name = "programmable-20b"')
    assert changed != text
    assert PumpModel.from_toml(changed, "mine.toml").name == "programmable-20b"
    assert len(_entries(cache, "pump-model")) == 2


def test_a_second_run_of_simulate_builds_no_schema_and_prints_the_same(tmp_path: Path) -> None:
    """The first run checks everything with the schemas and keeps it; the second imports no pydantic at all."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    code = (
        "import sys\n"
        "from thecal.cli import main\n"
        f"code = main(['simulate', {str(DEMO)!r}, '--json'])\n"
        "print('pydantic' in sys.modules, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert [run.stderr.strip() for run in runs] == ["True", "False"]
    assert runs[0].stdout == runs[1].stdout
    assert json.loads(runs[1].stdout)["scenario"]["seed"] == 7
