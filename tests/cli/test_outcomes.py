"""How a sent plan ended decides the exit code and the words: done, refused, unknown (counts as delivered)."""

from __future__ import annotations

import pytest

from thecal.cli.run_plan import run
from thecal.drugs import Fill, pump_formulary
from thecal.pump.core import commands as pump
from thecal.pump.core.actions import Refusal
from thecal.pump.core.schedule import DoseSchedule
from thecal.pump.device import VirtualPump
from thecal.pump.model import load_model
from thecal.therapy import (
    Actor,
    ClinicianBolus,
    DirectPort,
    FirstFill,
    Prescribe,
    SendOutcome,
    Sent,
    StaffRole,
    TherapyService,
)

DOCTOR = Actor("Dr Rivera", StaffRole.PHYSICIAN)
WALL_MS = 1_700_000_000_000


class FlakyPort(DirectPort):
    """A virtual pump whose answer to one kind of command is lost (after it acted) or refused."""

    def __init__(self, pump_: VirtualPump, lost: type | None = None, refused: type | None = None):
        super().__init__(pump_)
        self.lost, self.refused = lost, refused

    def send(self, command: pump.Command) -> Sent:
        if self.refused is not None and isinstance(command, self.refused):
            return Sent(command, SendOutcome.REFUSED, Refusal("motor_stall", "the motor has stalled"))
        sent = super().send(command)
        if self.lost is not None and isinstance(command, self.lost):
            return Sent(command, SendOutcome.UNKNOWN, reason="no reply after 4 attempts")
        return sent


def service(lost: type | None = None, refused: type | None = None) -> TherapyService:
    """A therapy service on a filled, programmed virtual pump."""
    vp = VirtualPump(
        load_model("programmable-20"), formulary=pump_formulary(), catheter_volume_nl=99_000, wall_ms=WALL_MS
    )
    ready = TherapyService(DirectPort(vp))
    for intent in (
        FirstFill(20_000_000, Fill.single("morphine", 10_000_000)),
        Prescribe(DoseSchedule.continuous(500_000)),
    ):
        assert ready.execute(ready.plan(intent, DOCTOR), DOCTOR, confirmed=True).status.value == "done"
    return TherapyService(FlakyPort(vp, lost, refused))


def test_an_unknown_outcome_exits_3_and_counts_the_dose_as_delivered(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        service(lost=pump.ClinicianBolus), ClinicianBolus(200_000, 600_000), DOCTOR, "SN-1", yes=True, as_json=False
    )
    out = capsys.readouterr().out
    assert code == 3
    assert "may have been delivered" in out and "do not repeat the dose" in out


def test_a_pump_refusal_exits_1_with_the_pumps_words(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        service(refused=pump.ClinicianBolus), ClinicianBolus(200_000, 600_000), DOCTOR, "SN-1", yes=True, as_json=False
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "The pump refused this: the motor has stalled." in out


def test_a_confirmed_plan_exits_0_once_verified(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(service(), ClinicianBolus(200_000, 600_000), DOCTOR, "SN-1", yes=True, as_json=False)
    out = capsys.readouterr().out
    assert code == 0
    assert "0.2 mg of morphine (0.02 mL) over 10 min" in out and "Done" in out
