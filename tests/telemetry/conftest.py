"""Fixtures: a fresh pump endpoint in memory, and a clinician programmer and a PTM paired with it."""

from __future__ import annotations

import pytest
from telemetry_rig import Device, Rig

from thecal.pump.core.commands import Role


@pytest.fixture
def rig() -> Rig:
    """A fresh pump endpoint in memory."""
    return Rig()


@pytest.fixture
def clinician(rig: Rig) -> Device:
    """A clinician programmer paired with the rig's pump."""
    device = rig.device(Role.CLINICIAN, "programmer-1")
    rig.pair(device)
    return device


@pytest.fixture
def ptm(rig: Rig) -> Device:
    """A patient therapy manager paired with the rig's pump."""
    device = rig.device(Role.PTM, "ptm-1")
    rig.pair(device)
    return device
