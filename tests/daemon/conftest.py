"""Fixtures: a pump state directory and a daemon serving it on loopback TCP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_rig import START_WALL_MS, RunningPump, start

from thecal.devices.daemon import StateLayout, init_state


@pytest.fixture
def layout(tmp_path: Path) -> StateLayout:
    """A freshly initialised pump state directory."""
    return init_state(tmp_path / "pump", wall_ms=START_WALL_MS)


@pytest.fixture
def running(layout: StateLayout) -> Iterator[RunningPump]:
    """A daemon over the state directory, stopped after the test."""
    pump = start(layout)
    yield pump
    pump.stop()
