"""Whatever goes wrong, a command line ends with one line and a documented exit code, never a traceback.

Most of these run in this process through `thecal.cli.main`; the few that
need a real process (a reader that went away, bytes on the command line that
are not UTF-8) run `python -m thecal.cli`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from thecal.cli import main
from thecal.cli.main import EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_PIPE_CLOSED, EXIT_REFUSED
from thecal.errors import ThecalError

FLOW = ["calc", "flow", "--drug", "morphine", "--dose", "1 mg/day", "--concentration", "10 mg/mL"]


def _failing(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    """Make `thecal calc flow` meet an error it does not handle itself."""
    from thecal.cli import calc_commands

    def fail(args: object) -> int:
        raise error

    monkeypatch.setattr(calc_commands, "run_flow", fail)


@pytest.mark.parametrize(
    ("error", "code", "words"),
    [
        (ZeroDivisionError("division by zero"), EXIT_INTERNAL, "internal error (ZeroDivisionError: division by zero)"),
        (KeyError("x"), EXIT_INTERNAL, "this is a defect of thecal, not of what you typed"),
        (KeyboardInterrupt(), EXIT_INTERRUPTED, "interrupted"),
        (ThecalError("stored telemetry record 'x' is damaged"), EXIT_REFUSED, "is damaged"),
        (MemoryError(), EXIT_INPUT, "too large"),
        (PermissionError(13, "Permission denied", "/clinic/out.png"), EXIT_INPUT, "path = '/clinic/out.png'"),
        (ConnectionResetError(104, "Connection reset by peer"), EXIT_INTERNAL, "ConnectionResetError"),
    ],
)
def test_an_error_no_command_handles_becomes_one_line_and_its_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: BaseException, code: int, words: str
) -> None:
    monkeypatch.delenv("THECAL_TRACEBACK", raising=False)
    _failing(monkeypatch, error)
    assert main(FLOW) == code
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("thecal: ") and err.count("\n") == 1
    assert words in err and "Traceback" not in err


def test_a_defect_shows_where_it_happened_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """THECAL_TRACEBACK=1 lets the traceback through, for whoever fixes the defect."""
    monkeypatch.setenv("THECAL_TRACEBACK", "1")
    _failing(monkeypatch, ZeroDivisionError("division by zero"))
    with pytest.raises(ZeroDivisionError):
        main(FLOW)


def test_a_port_in_use_is_refused_as_input_before_the_pump_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Was: a traceback, exit 1. A port another program holds is a mistake on the command line: exit 2."""
    import thecal.devices.daemon as daemon

    started: list[object] = []
    monkeypatch.setattr(daemon, "PumpDaemon", lambda *args, **kwargs: started.append(args))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code = main(["pump", "serve", "--state", str(tmp_path / "pump"), "--port", str(port)])
    err = capsys.readouterr().err
    assert (code, started) == (EXIT_INPUT, [])
    assert err.startswith(f"thecal: --port = {port}: cannot be listened on") and "Traceback" not in err


def _thecal(*argv: str | bytes, stdout: int | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {key: value for key, value in os.environ.items() if key != "THECAL_TRACEBACK"}
    return subprocess.run(
        [sys.executable, "-m", "thecal.cli", *argv],
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "argv",
    [["calc", "library"], FLOW, ["calc", "--help"]],
    ids=["a long listing", "an answer", "the help"],
)
def test_a_reader_that_went_away_ends_the_command_quietly(argv: list[str]) -> None:
    """Was: a BrokenPipeError traceback for `thecal calc … | head`. Now nothing more is said, and the code says why."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    try:
        ran = _thecal(*argv, stdout=write_end)
    finally:
        os.close(write_end)
    assert ran.stderr == b""
    assert ran.returncode == (0 if "--help" in argv else EXIT_PIPE_CLOSED)


def test_bytes_that_are_not_text_on_the_command_line_are_refused_in_words(tmp_path: Path) -> None:
    """Was: a label that cannot be encoded crashed `pump init` after it had started writing the pump's files."""
    state = tmp_path / "pump"
    ran = _thecal("pump", "init", "--state", str(state), "--label", b"SN-\xff")
    err = ran.stderr.decode("utf-8", "backslashreplace")
    assert ran.returncode == EXIT_INPUT
    assert err.startswith("thecal: --label = ") and "U+DCFF" in err and "Traceback" not in err
    assert not state.exists()
