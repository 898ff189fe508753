"""Fixtures: a pump daemon with demand doses on, its paired PTM, and the patient's app over a switchable link."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.patient_app.patient_rig import Rig, make_rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """The pump, its link and the app's state; stopped after the test."""
    made = make_rig(tmp_path)
    yield made
    made.state.store.close()
    made.pump.stop()


@pytest.fixture
def client(rig: Rig) -> Iterator[TestClient]:
    """A browser stand-in for the app."""
    with TestClient(rig.app()) as c:
        yield c
