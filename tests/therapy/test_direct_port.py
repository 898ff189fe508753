"""Every intent planned and executed through DirectPort on a real VirtualPump, then verified."""

from __future__ import annotations

import pytest
from fakes import DAY, HOUR, MG, ML, NURSE, PATIENT, PHYSICIAN, REASON, WALL_MS

from thecal.drugs import Fill, Tier, pump_formulary
from thecal.pump.core import commands as pump
from thecal.pump.core.alarms import Alarm
from thecal.pump.core.schedule import DoseSchedule
from thecal.pump.device import VirtualPump
from thecal.pump.model import load_model
from thecal.therapy import (
    Actor,
    ClearAlarm,
    ClinicianBolus,
    DemandPress,
    DirectPort,
    ExecutionStatus,
    FirstFill,
    Implant,
    Intent,
    LowReservoirAlarm,
    PeriodicBolus,
    PeriodicBolusOff,
    PostMriCheck,
    Prescribe,
    PrimingBolus,
    PtmOff,
    PtmSettings,
    Refill,
    ResumeTherapy,
    Sent,
    StopTherapy,
    TherapyService,
    Titrate,
)
from thecal.therapy.ports import SendOutcome


def new_pump() -> VirtualPump:
    """A 20 mL pump at a known wall time, nothing implanted yet."""
    return VirtualPump(
        load_model("programmable-20"),
        formulary=pump_formulary(),
        catheter_volume_nl=0,
        seed=7,
        wall_ms=WALL_MS,
        accuracy_error=0.0,
    )


def done(service: TherapyService, intent: Intent, actor: Actor = NURSE) -> None:
    """Plan, confirm and execute one intent; it must be allowed, accepted and verified."""
    plan = service.plan(intent, actor)
    assert plan.allowed, [f.message for f in plan.findings]
    execution = service.execute(plan, actor, confirmed=True)
    assert execution.status is ExecutionStatus.DONE, (execution.message, execution.verification.to_dict())


@pytest.fixture
def running() -> tuple[VirtualPump, TherapyService]:
    """A pump implanted, filled with morphine 10 mg/mL, primed, giving 1 mg/day for three days, demand doses 0.1 mg."""
    vp = new_pump()
    service = TherapyService(DirectPort(vp))
    done(service, Implant(200_000))
    done(service, FirstFill(20 * ML, Fill.single("morphine", 10 * MG)))
    done(service, PrimingBolus())
    vp.advance(vp.now_ms + HOUR)
    done(service, Prescribe(DoseSchedule.continuous(1 * MG), override_reason=REASON), PHYSICIAN)
    done(service, PtmSettings(100_000, 10 * 60_000, 3 * HOUR, 6), PHYSICIAN)
    vp.advance(vp.now_ms + 3 * DAY)  # the usual wait before the next increase of morphine
    return vp, service


def test_every_clinic_intent_runs_through_the_therapy_layer(running: tuple[VirtualPump, TherapyService]) -> None:
    vp, service = running
    vp.advance(vp.now_ms + 2 * DAY)
    done(service, ClinicianBolus(200_000, HOUR), PHYSICIAN)
    vp.advance(vp.now_ms + 2 * HOUR)
    done(service, PeriodicBolus(100_000, HOUR, 12 * HOUR, 8 * HOUR), PHYSICIAN)
    done(service, PeriodicBolusOff())
    done(service, LowReservoirAlarm(3 * ML))
    done(service, StopTherapy())
    done(service, ResumeTherapy())
    vp.advance(vp.now_ms + 3 * DAY)
    done(service, Titrate(1_200_000), PHYSICIAN)
    done(service, PtmOff())
    snapshot = service.port.interrogate()
    assert snapshot.prescription == DoseSchedule.continuous(1_200_000)
    assert snapshot.low_reservoir_alarm_nl == 3 * ML and snapshot.demand is None and snapshot.periodic is None


def test_the_patient_presses_through_the_same_layer(running: tuple[VirtualPump, TherapyService]) -> None:
    _, service = running
    plan = service.plan(DemandPress(), PATIENT)
    execution = service.execute(plan, PATIENT, confirmed=True)
    assert execution.status is ExecutionStatus.DONE
    bolus = service.port.interrogate().bolus
    assert bolus is not None and bolus.kind == "demand" and bolus.volume_nl == 10_000  # 0.1 mg at 10 mg/mL
    # The next press within the lockout: the pump's own demand window says when.
    again = service.plan(DemandPress(), PATIENT)
    assert not again.allowed and again.findings[0].code == "locked_out"


def test_refill_from_10_to_25_mg_per_ml_keeps_every_demand_dose_at_0_1_mg(
    running: tuple[VirtualPump, TherapyService],
) -> None:
    vp, service = running
    done(
        service, Titrate(2 * MG, override_reason=REASON), PHYSICIAN
    )  # 0.08 mL/day at 25 mg/mL: within the pump's flows
    vp.advance(vp.now_ms + 10 * DAY)
    left = service.port.interrogate().reservoir_nl
    refill = Refill(18 * ML, Fill.single("morphine", 25 * MG), aspirated_nl=left, override_reason=REASON)
    plan = service.plan(refill, PHYSICIAN)
    old, new = next((s.old, s.new) for s in plan.settings if s.key == "demand")
    assert old is not None and new is not None
    assert (old.dose, old.volume) == ("0.1 mg of morphine", "0.01 mL")
    assert (new.dose, new.volume) == ("0.1 mg of morphine", "0.004 mL")
    assert service.execute(plan, PHYSICIAN, confirmed=True).status is ExecutionStatus.DONE
    vp.advance(vp.now_ms + 10 * DAY)  # the bridge has pushed the old solution through
    assert service.port.interrogate().bridge_remaining_nl is None
    assert service.execute(service.plan(DemandPress(), PATIENT), PATIENT, confirmed=True).status is (
        ExecutionStatus.DONE
    )
    bolus = service.port.interrogate().bolus
    assert bolus is not None and bolus.volume_nl == 4_000  # still 0.1 mg, now 0.004 mL of 25 mg/mL


def test_a_refill_the_pump_would_refuse_is_refused_by_the_plan_before_the_needle_goes_in(
    running: tuple[VirtualPump, TherapyService],
) -> None:
    vp, service = running
    done(service, Titrate(2 * MG, override_reason=REASON), PHYSICIAN)
    vp.advance(vp.now_ms + 5 * DAY)
    left = service.port.interrogate().reservoir_nl
    up = Refill(18 * ML, Fill.single("morphine", 25 * MG), aspirated_nl=left, override_reason=REASON)
    done(service, up, PHYSICIAN)
    # A second change while the bridge of the first still runs: the pump would refuse it, so the plan does.
    left = service.port.interrogate().reservoir_nl
    again = service.plan(Refill(18 * ML, Fill.single("morphine", 10 * MG), aspirated_nl=left), NURSE)
    assert not again.allowed and "bridge_running" in {f.code for f in again.findings}
    vp.advance(vp.now_ms + 10 * DAY)
    # Back to the weaker solution without a bridge: the stronger one in the catheter would go too fast.
    left = service.port.interrogate().reservoir_nl
    plan = service.plan(Refill(18 * ML, Fill.single("morphine", 10 * MG), aspirated_nl=left, bridge=False), NURSE)
    (finding,) = [f for f in plan.findings if f.code == "bridge_needed"]
    assert finding.tier is Tier.HARD and finding.source == "pump firmware" and not plan.allowed
    assert "no_bridge" not in {w.code for w in plan.warnings}  # not a warning: a refusal
    execution = service.execute(plan, NURSE, confirmed=True)
    assert execution.status is ExecutionStatus.NOT_ALLOWED and execution.sent == ()
    assert service.port.interrogate().label == (("morphine", 25 * MG),)


def test_a_pump_refusal_stops_the_plan_and_reads_as_a_hard_finding(
    running: tuple[VirtualPump, TherapyService],
) -> None:
    """A plan made, then the patient's dose starts before it is sent: the pump refuses the bolus it cannot add."""
    _, service = running
    plan = service.plan(ClinicianBolus(200_000, HOUR), PHYSICIAN)
    assert plan.allowed
    done(service, DemandPress(), PATIENT)
    execution = service.execute(plan, PHYSICIAN, confirmed=True)
    assert execution.status is ExecutionStatus.REFUSED
    refusal = execution.refusal
    assert refusal is not None and refusal.tier is Tier.HARD and refusal.source == "pump firmware"
    assert refusal.code == "bolus_running"


def test_after_an_mri_the_stall_is_cleared_once_the_motor_turns(running: tuple[VirtualPump, TherapyService]) -> None:
    vp, service = running
    vp.magnetic_field(True)
    stalled = service.plan(PostMriCheck(), NURSE)
    assert not stalled.allowed and "still_stalled" in {f.code for f in stalled.findings}
    vp.advance(vp.now_ms + HOUR)
    vp.magnetic_field(False)
    done(service, PostMriCheck())
    snapshot = service.port.interrogate()
    assert Alarm.MOTOR_STALL.value not in snapshot.alarms and snapshot.mode == "running"


def test_an_alarm_a_clinician_may_clear_is_cleared(running: tuple[VirtualPump, TherapyService]) -> None:
    vp, service = running
    vp.motor_fault(True)
    vp.motor_fault(False)
    done(service, ClearAlarm(Alarm.MOTOR_STALL))
    assert Alarm.MOTOR_STALL.value not in service.port.interrogate().alarms


class LyingPort(DirectPort):
    """A port to a pump that says it took a new prescription and does not keep it."""

    def send(self, command: pump.Command) -> Sent:
        """Accept a Program without giving it to the pump."""
        if isinstance(command, pump.Program):
            return Sent(command, SendOutcome.ACCEPTED)
        return super().send(command)


def test_verification_detects_a_pump_that_does_not_hold_the_planned_prescription(
    running: tuple[VirtualPump, TherapyService],
) -> None:
    vp, _ = running
    service = TherapyService(LyingPort(vp))
    execution = service.execute(service.plan(Titrate(1_200_000), PHYSICIAN), PHYSICIAN, confirmed=True)
    assert execution.status is ExecutionStatus.NOT_VERIFIED
    assert [m.key for m in execution.verification.mismatches] == ["basal.every_day.00:00"]
