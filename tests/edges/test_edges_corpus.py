"""Every hostile input of the corpus is refused at its door: exit 2, one line naming the field, nothing run.

The corpus (`edges_corpus`) is generated: every Unicode script's digits,
booleans as text, nan, inf, huge, negative, zero and just-beyond-the-range
values for every field, wrong types, nesting thousands deep, other encodings.
Each case runs in this process through `thecal.cli.main`, with every door
past the edge (the scenario runner, the programmer, the handset, the pump
daemon, `pump init`) replaced by one that fails the test if it is reached.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.edges.edges_corpus import (
    BASE,
    CALC_BASES,
    CASES,
    PUMP_BASES,
    TMP,
    Case,
    calc_argv,
    kinds,
    pump_argv,
    toml_text,
)

from thecal.cli import main
from thecal.sim.scenario import parse_scenario

DOORS = {"scenario", "calc", "pump", "ptm", "pump model file", "pump send"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for the whole corpus; each case gets its own inside."""
    return tmp_path_factory.mktemp("edges")


@pytest.fixture
def reached(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The doors past the edge, each replaced by one that notes it was reached and fails."""
    import thecal.cli.connect as connect
    import thecal.devices.daemon as daemon
    import thecal.devices.recovery as recovery
    import thecal.sim.runner as runner
    import thecal.telemetry.device_files as device_files
    import thecal.telemetry.transport as transport

    doors: list[str] = []

    def guard(name: str):  # type: ignore[no-untyped-def]
        def refuse(*args: object, **kwargs: object) -> None:
            doors.append(name)
            raise AssertionError(f"{name} was reached although the input was bad")

        return refuse

    monkeypatch.setattr(runner, "run", guard("the scenario runner"))
    monkeypatch.setattr(connect.ProgrammerClient, "connect", guard("the programmer"))
    monkeypatch.setattr(connect.TherapyManagerClient, "connect", guard("the handset"))
    monkeypatch.setattr(daemon, "PumpDaemon", guard("the pump daemon"))
    monkeypatch.setattr(daemon, "init_state", guard("pump init"))
    monkeypatch.setattr(recovery, "recover_pump", guard("the recovery"))
    monkeypatch.setattr(transport, "TcpTransport", guard("the link"))
    monkeypatch.setattr(device_files, "DeviceFiles", guard("the device"))
    return doors


def _run(case: Case, here: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    here.mkdir()
    for name, raw in case.files:
        (here / name).write_bytes(raw.replace(TMP.encode(), str(here).encode()))
    argv = [word.replace(TMP, str(here)) for word in case.argv]
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own usage errors: not what these cases are about
        pytest.fail(f"argparse stopped the command line (exit {exit_.code}): {capsys.readouterr().err}")
    out, err = capsys.readouterr()
    return code, out, err


def _numbered() -> Iterator[tuple[int, Case]]:
    yield from enumerate(CASES)


@pytest.mark.parametrize(("number", "case"), list(_numbered()), ids=[c.id for c in CASES])
def test_a_hostile_input_is_refused_at_its_door(
    number: int, case: Case, workdir: Path, reached: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    here = workdir / f"case{number}"
    code, out, err = _run(case, here, capsys)
    assert "Traceback" not in err
    assert (code, reached) == (2, []), err
    assert err.startswith("thecal: ") and err.count("\n") == 1, err
    assert re.match(rf"thecal: {re.escape(case.field)}( = |: |\.|\[)", err), f"expected {case.field!r}: {err}"
    assert case.names in err
    assert out == ""  # nothing worked out, planned or printed
    for path in case.must_not_exist:
        assert not Path(path.replace(TMP, str(here))).exists()


def test_the_corpus_is_larger_than_what_the_red_team_tried_and_covers_every_door() -> None:
    """The issue counted 548 hostile inputs; the corpus holds more kinds, at every door and every command."""
    assert len(kinds()) >= 548
    assert {case.door for case in CASES} == DOORS
    commands = {case.argv[1] for case in CASES if case.argv[0] in ("calc", "pump", "ptm")}
    assert set(CALC_BASES) <= commands
    assert {name.removesuffix("-volume") for name in PUMP_BASES} <= commands
    assert {"init", "serve", "log", "pair", "send", "recover", "bolus", "status"} <= commands


def test_every_case_differs_from_a_valid_input_by_its_one_hostile_value(
    reached: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The inputs the cases change are valid: a refusal in the corpus is about the one value changed."""
    parse_scenario(toml_text(BASE))
    for calculator in CALC_BASES:
        assert main(list(calc_argv(calculator))) == 0, capsys.readouterr().err
    for command in PUMP_BASES:
        reached.clear()
        main(list(pump_argv(command)))
        assert reached == ["the programmer"], capsys.readouterr().err
