"""docs/daemon.md keeps up with the code: every serve option and every telemetry log entry is described."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from thecal.cli.main import build_parser
from thecal.devices.daemon import PumpDaemon
from thecal.pump.core.firmware import REJECTIONS_LOGGED_PER_DAY

DOC = (Path(__file__).parents[2] / "docs" / "daemon.md").read_text()


def _subparser(parser: argparse.ArgumentParser, *path: str) -> argparse.ArgumentParser:
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


SERVE_OPTIONS = sorted(
    option
    for action in _subparser(build_parser(), "pump", "serve")._actions
    for option in action.option_strings
    if option.startswith("--") and option != "--help"
)


@pytest.mark.parametrize("option", SERVE_OPTIONS)
def test_every_serve_option_has_a_row(option: str) -> None:
    assert any(line.startswith(f"| `{option}") for line in DOC.splitlines()), option


@pytest.mark.parametrize("kind", ["telemetry_rejected", "key_paired", "key_revoked", "refused"])
def test_every_telemetry_log_entry_is_described(kind: str) -> None:
    assert f"| `{kind}` |" in DOC


def test_the_refusal_budget_in_the_words_is_the_one_in_the_code() -> None:
    assert f"at most {REJECTIONS_LOGGED_PER_DAY}\n`telemetry_rejected` entries are written per pump day" in DOC


def test_the_client_library_example_runs(running) -> None:
    section = DOC.split("## The client libraries", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    running.pair("clinician")
    running.pair("ptm")
    code = code.replace('"pump1/devices/', f'"{running.layout.root}/devices/').replace("4700", str(running.port))
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/daemon.md", "exec"), namespace)
    reply = namespace["reply"]
    assert reply.ok, reply.describe()  # type: ignore[attr-defined]
    assert any(e["kind"] == "program" for e in namespace["entries"])  # type: ignore[attr-defined]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_first_run_works_when_pasted(tmp_path: Path) -> None:
    section = DOC.split("## A first run", 1)[1]
    script = section.split("```\n", 1)[1].split("```", 1)[0]
    assert "4700" in script and "thecal pump serve" in script
    port = str(_free_port())
    # A machine slow to start the pump: its server listens only two seconds after `serve` is typed, so a script
    # that pairs before the server listens fails here every time, not only on an unlucky day.
    slow = tmp_path / "bin"
    slow.mkdir()
    (slow / "thecal").write_text(
        f'#!/bin/sh\nif [ "$2" = serve ]; then sleep 2; fi\nexec "{Path(sys.executable).parent / "thecal"}" "$@"\n'
    )
    (slow / "thecal").chmod(0o755)
    env = {**os.environ, "PATH": f"{slow}{os.pathsep}{os.environ['PATH']}"}
    run = tmp_path / "run"
    run.mkdir()
    # Every line as written, stopped at the first that fails. The shell and the server it starts share a process
    # group, so nothing is left running whatever happens; the output goes to a file, which the server may keep
    # open after the shell has ended.
    transcript = tmp_path / "transcript.txt"
    with transcript.open("w") as output:
        shell = subprocess.Popen(
            ["bash", "-e", "-c", script.replace("4700", port)],
            cwd=run,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            shell.wait(timeout=180)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(shell.pid, signal.SIGKILL)
    assert shell.returncode == 0, transcript.read_text()
    assert "listening on 127.0.0.1:" in (run / "serve.out").read_text()
    daemon_log = [json.loads(line) for line in (run / "pump1" / "daemon.log").read_text().splitlines()]
    assert sorted(e["role"] for e in daemon_log if e["event"] == "paired") == ["clinician", "ptm"]

    status = PumpDaemon(run / "pump1").status()  # the state the script left on disk
    assert status["label"] == [{"drug": "morphine", "concentration_ng_per_ml": 10_000_000}]
    assert status["prescription"] == [[[0, 1_000_000]]] * 7
    assert status["demand"] == {"dose_ng": 100_000, "duration_ms": 300_000, "lockout_ms": 3_600_000, "max_per_24h": 4}
    assert status["demand_left_24h"] == 3  # the patient's press was given
