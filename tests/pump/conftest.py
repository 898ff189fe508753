"""Shared fixtures for the proofs of the pump firmware core."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from thecal.drugs import pump_formulary
from thecal.pump.core import DoseSchedule, DrugRule, Fill, Firmware, Formulary, Program
from thecal.pump.core.integers import NL_PER_ML
from thecal.pump.model import PumpModel, load_model

MORPHINE_10_MG_PER_ML = (("morphine", 10_000_000),)

# A drug for proofs of the pump's own mechanics: its hard limits lie far beyond anything the pump can
# deliver (1 kg a day, 1 g/mL), so only the pump's limits show. It is no drug of the library. At 1 mg/mL
# a dose of d ng/day derives a flow of exactly d nL/day.
PLACEBO = DrugRule(
    drug="placebo",
    opioid=False,
    max_concentration_ng_per_ml=1_000_000_000,
    max_daily_dose_ng_per_day=10**12,
    max_bolus_ng=10**12,
    demand_allowed=True,
    max_demand_dose_ng=10**12,
)
PLACEBO_1_MG_PER_ML = (("placebo", 1_000_000),)


@pytest.fixture(scope="session")
def model20() -> PumpModel:
    """The shipped 20 mL pump model."""
    return load_model("programmable-20")


@pytest.fixture(scope="session")
def model40() -> PumpModel:
    """The shipped 40 mL pump model."""
    return load_model("programmable-40")


@pytest.fixture(scope="session")
def formulary() -> Formulary:
    """The formulary a pump is built with: every drug of the library with its hard limits."""
    return pump_formulary()


@pytest.fixture(scope="session")
def wide_formulary() -> Formulary:
    """A formulary of one drug whose limits never bind, to prove the pump's own limits."""
    return Formulary([PLACEBO])


@pytest.fixture
def placebo_pump(model20: PumpModel, wide_formulary: Formulary) -> Callable[..., Firmware]:
    """A factory: a 20 mL pump of the wide formulary filled with placebo at 1 mg/mL, not programmed."""

    def make(volume_nl: int = 20_000_000) -> Firmware:
        fw = Firmware(model20, wide_formulary)
        assert fw.handle(Fill(volume_nl, PLACEBO_1_MG_PER_ML)).accepted
        return fw

    return make


@pytest.fixture
def running_pump(model20: PumpModel, formulary: Formulary) -> Callable[..., Firmware]:
    """A factory: a 20 mL pump filled with morphine 10 mg/mL and running a continuous flow, at pump time 0."""

    def make(volume_nl: int = 20_000_000, flow_nl_per_day: int = 150_000, wall_ms: int = 0) -> Firmware:
        fw = Firmware(model20, formulary, wall_ms=wall_ms)
        assert fw.handle(Fill(volume_nl, MORPHINE_10_MG_PER_ML)).accepted
        # At 10 mg/mL a flow of f nL/day carries exactly 10 f ng/day: the dose that derives this flow.
        dose_ng_per_day = flow_nl_per_day * MORPHINE_10_MG_PER_ML[0][1] // NL_PER_ML
        assert fw.handle(Program(DoseSchedule.continuous(dose_ng_per_day))).accepted
        return fw

    return make
