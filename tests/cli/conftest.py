"""Fixtures: a live pump daemon with a paired programmer and handset, and the command line aimed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.cli_rig import Cli
from tests.daemon.daemon_rig import START_WALL_MS, RunningPump, start

from thecal.devices.daemon import init_state


@pytest.fixture
def pump(tmp_path: Path) -> Iterator[RunningPump]:
    """A pump daemon with the programmer and the handset made at init both paired."""
    running = start(init_state(tmp_path / "pump", wall_ms=START_WALL_MS))
    running.pair("clinician")
    running.pair("ptm")
    yield running
    running.stop()


@pytest.fixture
def cli(pump: RunningPump, capsys: pytest.CaptureFixture[str]) -> Cli:
    """The command line aimed at the running pump."""
    return Cli(pump, capsys)
