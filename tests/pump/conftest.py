"""Shared fixtures for the proofs of the pump firmware core."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from thecal.pump.core import Fill, Firmware, Program, WeekSchedule
from thecal.pump.model import PumpModel, load_model

MORPHINE_10_MG_PER_ML = (("morphine", 10_000_000),)


@pytest.fixture(scope="session")
def model20() -> PumpModel:
    """The shipped 20 mL pump model."""
    return load_model("programmable-20")


@pytest.fixture(scope="session")
def model40() -> PumpModel:
    """The shipped 40 mL pump model."""
    return load_model("programmable-40")


@pytest.fixture
def running_pump(model20: PumpModel) -> Callable[..., Firmware]:
    """A factory: a 20 mL pump filled with morphine and running a continuous flow, at pump time 0."""

    def make(volume_nl: int = 20_000_000, flow_nl_per_day: int = 150_000, wall_ms: int = 0) -> Firmware:
        fw = Firmware(model20, wall_ms=wall_ms)
        assert fw.handle(Fill(volume_nl, MORPHINE_10_MG_PER_ML)).accepted
        assert fw.handle(Program(WeekSchedule.continuous(flow_nl_per_day))).accepted
        return fw

    return make
