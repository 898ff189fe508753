"""The alarm test through the therapy layer: planned in words, sent, and verified by the pump's own event log."""

from __future__ import annotations

import pytest
from fakes import HOUR, MG, ML, NURSE, PATIENT, PHYSICIAN, REASON, WALL_MS

from thecal.drugs import Fill, pump_formulary
from thecal.pump.core import Tone
from thecal.pump.core import commands as pump
from thecal.pump.core.schedule import DoseSchedule
from thecal.pump.device import VirtualPump
from thecal.pump.model import load_model
from thecal.therapy import (
    AlarmTest,
    DirectPort,
    ExecutionStatus,
    FirstFill,
    Intent,
    Prescribe,
    PrimingBolus,
    Sent,
    TherapyService,
    TherapySettings,
)
from thecal.therapy.ports import SendOutcome


def _done(service: TherapyService, intent: Intent) -> None:
    plan = service.plan(intent, PHYSICIAN)
    assert service.execute(plan, PHYSICIAN, confirmed=True).status is ExecutionStatus.DONE


@pytest.fixture
def pump_and_service() -> tuple[VirtualPump, TherapyService]:
    """A pump filled with morphine 10 mg/mL, primed, giving 1 mg/day."""
    vp = VirtualPump(load_model("programmable-20"), formulary=pump_formulary(), catheter_volume_nl=0, wall_ms=WALL_MS)
    service = TherapyService(DirectPort(vp))
    _done(service, FirstFill(18 * ML, Fill.single("morphine", 10 * MG)))
    _done(service, PrimingBolus())
    vp.advance(vp.now_ms + HOUR)
    _done(service, Prescribe(DoseSchedule.continuous(1 * MG), override_reason=REASON))
    return vp, service


def test_the_plan_says_what_will_happen_and_changes_no_setting(
    pump_and_service: tuple[VirtualPump, TherapyService],
) -> None:
    vp, service = pump_and_service
    plan = service.plan(AlarmTest(), NURSE)
    assert plan.allowed and plan.commands == (pump.AlarmToneTest(),)
    assert not plan.changed and plan.expected == plan.before
    [said] = [w.message for w in plan.warnings if w.code == "alarm_test"]
    assert said.startswith("The pump will sound the single tone (a non-critical alarm: the reservoir is low;")
    assert "then the two-tone sound (a critical alarm: the reservoir is empty: no drug is delivered;" in said
    assert "Nothing in the therapy changes: no setting, no alarm and no reservoir volume" in said
    assert vp.tones == []  # planning sounds nothing


def test_sent_the_pump_sounds_both_tones_and_the_log_shows_the_test(
    pump_and_service: tuple[VirtualPump, TherapyService],
) -> None:
    vp, service = pump_and_service
    before = TherapySettings.of(service.port.interrogate())
    plan = service.plan(AlarmTest(), NURSE)
    execution = service.execute(plan, NURSE, confirmed=True)
    assert execution.status is ExecutionStatus.DONE, execution.verification.to_dict()
    assert [(t.tone, t.alarms) for t in vp.tones] == [(Tone.SINGLE, ()), (Tone.TWO_TONE, ())]
    v = execution.verification
    assert v.ok and v.event_expected == "alarm_tone_test" and v.mode_found == "running"
    [event] = v.events
    assert event.detail["tones"] == "single,two-tone" and event.seq == vp.log_entries[-1].seq
    assert TherapySettings.of(service.port.interrogate()) == before
    assert execution.sent[0].info == {"tones": "single,two-tone"}


class SilentPort(DirectPort):
    """A port that answers every command as accepted without giving it to the pump."""

    def send(self, command: pump.Command) -> Sent:
        return Sent(command, SendOutcome.ACCEPTED)


def test_an_accepted_test_that_the_log_does_not_show_is_not_verified(
    pump_and_service: tuple[VirtualPump, TherapyService],
) -> None:
    vp, _ = pump_and_service
    service = TherapyService(SilentPort(vp))
    execution = service.execute(service.plan(AlarmTest(), NURSE), NURSE, confirmed=True)
    assert execution.status is ExecutionStatus.NOT_VERIFIED
    assert execution.verification.events == () and not execution.verification.mismatches
    assert "the pump's event log does not show the alarm tone test" in execution.message
    assert vp.tones == []


def test_the_patients_handset_cannot_ask_for_the_test(pump_and_service: tuple[VirtualPump, TherapyService]) -> None:
    _, service = pump_and_service
    plan = service.plan(AlarmTest(), PATIENT)
    assert not plan.allowed and [f.code for f in plan.findings] == ["role"]
