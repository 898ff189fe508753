"""What the command line says about the pairing window is what the pump does."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests.daemon.daemon_rig import START_WALL_MS, FakeTime

from thecal.cli import main
from thecal.cli.pump import PAIRING_WINDOW_WORDS
from thecal.devices.daemon import PumpDaemon, init_state
from thecal.telemetry.pairing import PAIRING_WINDOW_MS


def test_the_window_admits_one_pairing_within_the_stated_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    layout = init_state(tmp_path / "pump", wall_ms=START_WALL_MS)
    now = [0]
    daemon = PumpDaemon(layout.root, accel=1440, time_source=FakeTime(), endpoint_clock=lambda: now[0])

    def pair(role: str) -> int:
        return main(["pump", "pair", "--state", str(layout.root), "--port", str(server.port), "--role", role])

    with daemon.server(0) as server:
        daemon.proximity_detected()
        assert pair("clinician") == 0
        assert "The pairing window is now closed" in capsys.readouterr().out
        assert pair("ptm") == 1  # closed by the first pairing, though its time has not run out
        assert "already paired since the last proximity step" in capsys.readouterr().err

        daemon.proximity_detected()
        now[0] += PAIRING_WINDOW_MS  # the stated time has run out
        assert pair("ptm") == 1

        daemon.proximity_detected()
        now[0] += PAIRING_WINDOW_MS - 1  # still inside the stated time
        assert pair("ptm") == 0
    assert f"open for {PAIRING_WINDOW_MS // 1000} s and closes as soon as one device has paired" in PAIRING_WINDOW_WORDS


def test_serve_says_when_the_window_opens(tmp_path: Path) -> None:
    assert main(["pump", "init", "--state", str(tmp_path / "pump")]) == 0
    serve = subprocess.Popen(
        [sys.executable, "-m", "thecal.cli", "pump", "serve", "--state", str(tmp_path / "pump"), "--pairing-window"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert serve.stdout is not None
        assert "listening on 127.0.0.1:" in serve.stdout.readline()
        assert serve.stdout.readline().strip() == PAIRING_WINDOW_WORDS
        serve.send_signal(signal.SIGUSR1)  # the magnet over the pump again
        assert serve.stdout.readline().strip() == PAIRING_WINDOW_WORDS
    finally:
        serve.terminate()
        serve.wait(timeout=10)
    assert serve.returncode == 0
