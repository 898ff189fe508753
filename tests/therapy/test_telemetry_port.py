"""The same therapy layer through telemetry: a live pump daemon, a paired programmer and a paired handset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import HOUR, MG, ML, PATIENT, PHYSICIAN, REASON
from tests.daemon.daemon_rig import START_WALL_MS, RunningPump, start

from thecal.devices.daemon import init_state
from thecal.devices.programmer import ProgrammerClient
from thecal.devices.ptm import TherapyManagerClient
from thecal.drugs import Fill
from thecal.pump.core.schedule import DoseSchedule
from thecal.therapy import (
    DemandPress,
    ExecutionStatus,
    FirstFill,
    Implant,
    Prescribe,
    PtmSettings,
    TelemetryPort,
    TherapyService,
)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[RunningPump]:
    """A pump daemon with a clinician programmer and a patient handset paired."""
    pump = start(init_state(tmp_path / "pump", wall_ms=START_WALL_MS))
    pump.pair("clinician")
    pump.pair("ptm")
    yield pump
    pump.stop()


def test_a_programmer_and_a_handset_program_and_press_through_telemetry(daemon: RunningPump) -> None:
    clinic = TherapyService(TelemetryPort(ProgrammerClient(daemon.session("clinician"))))
    for intent in (
        Implant(200_000),
        FirstFill(20 * ML, Fill.single("morphine", 10 * MG)),
        Prescribe(DoseSchedule.continuous(1 * MG), override_reason=REASON),
        PtmSettings(100_000, 600_000, 3 * HOUR, 4),
    ):
        plan = clinic.plan(intent, PHYSICIAN)
        assert plan.allowed, [f.message for f in plan.findings]
        execution = clinic.execute(plan, PHYSICIAN, confirmed=True)
        assert execution.status is ExecutionStatus.DONE, execution.message
    handset = TherapyService(TelemetryPort(TherapyManagerClient(daemon.session("ptm"))))
    press = handset.execute(handset.plan(DemandPress(), PATIENT), PATIENT, confirmed=True)
    assert press.status is ExecutionStatus.DONE, press.message
    again = handset.plan(DemandPress(), PATIENT)
    assert not again.allowed and again.findings[0].code == "locked_out"
    bolus = clinic.port.interrogate().bolus
    assert bolus is not None and bolus.kind == "demand" and bolus.volume_nl == 10_000
