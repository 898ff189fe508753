"""A plan a person confirms is one the pump takes: the plan predicts the pump's own verdict, through DirectPort.

The pump counts, beyond the settings it holds, the settings replaced and the
clinician boluses given in the last 24 h; it refuses settings whose boluses it
could never give, and a press while a bolus runs. Each plan below says so
before anything is sent, in the pump's words. Figures from the drug library
(hard tier): morphine at most 20 mg/day, 1 mg a bolus, 0.5 mg a demand dose.
"""

from __future__ import annotations

import pytest
from fakes import DAY, HOUR, MG, ML, PATIENT, PHYSICIAN, REASON, WALL_MS

from thecal.drugs import Fill, Tier, pump_formulary
from thecal.drugs.limits import PUMP_FIRMWARE
from thecal.pump.core.schedule import DoseSchedule
from thecal.pump.device import VirtualPump
from thecal.pump.model import load_model
from thecal.telemetry.commands import PTM_STATUS_FIELDS
from thecal.therapy import (
    Actor,
    ClinicianBolus,
    DemandPress,
    DirectPort,
    ExecutionStatus,
    FirstFill,
    Implant,
    Intent,
    Prescribe,
    PrimingBolus,
    PtmSettings,
    Refill,
    TherapyService,
)
from thecal.therapy.handlers.demand import press_findings
from thecal.therapy.snapshot import PatientView

MIN = 60_000


def done(service: TherapyService, intent: Intent, actor: Actor = PHYSICIAN) -> None:
    """Plan, confirm and execute one intent; it must be allowed and done."""
    plan = service.plan(intent, actor)
    assert plan.allowed, [f.message for f in plan.findings if f.blocking]
    execution = service.execute(plan, actor, confirmed=True)
    assert execution.status is ExecutionStatus.DONE, execution.message


def pump_with_morphine(mg_per_ml: int) -> tuple[VirtualPump, TherapyService]:
    """An implanted 20 mL pump, filled with morphine and primed, nothing programmed."""
    vp = VirtualPump(
        load_model("programmable-20"),
        formulary=pump_formulary(),
        catheter_volume_nl=100_000,
        wall_ms=WALL_MS,
        accuracy_error=0.0,
    )
    service = TherapyService(DirectPort(vp))
    done(service, Implant(100_000))
    done(service, FirstFill(20 * ML, Fill.single("morphine", mg_per_ml * MG), override_reason=REASON))
    done(service, PrimingBolus())
    vp.advance(vp.now_ms + HOUR)
    return vp, service


def blocking_codes(service: TherapyService, intent: Intent) -> dict[str, str]:
    """The blocking findings of a plan, code to source."""
    plan = service.plan(intent, PHYSICIAN)
    return {f.code: f.source for f in plan.findings if f.blocking}


def test_clinician_boluses_of_the_last_24_h_count_in_the_plan_as_in_the_pump() -> None:
    """18.9 mg/day and a 1 mg bolus: a second one within 24 h is refused by the plan, both the library's and
    the pump's daily limit, and nothing is sent."""
    vp, service = pump_with_morphine(20)
    done(service, Prescribe(DoseSchedule.continuous(10 * MG), override_reason=REASON))
    vp.advance(vp.now_ms + 25 * HOUR)
    done(service, Prescribe(DoseSchedule.continuous(18_900_000), override_reason=REASON))
    vp.advance(vp.now_ms + DAY)
    done(service, ClinicianBolus(MG, HOUR, override_reason=REASON))
    vp.advance(vp.now_ms + 2 * HOUR)
    plan = service.plan(ClinicianBolus(MG, HOUR, override_reason=REASON), PHYSICIAN)
    codes = {f.code: f for f in plan.findings if f.blocking}
    assert codes["max_daily_dose"].tier is Tier.HARD
    assert codes["above_max_daily_dose"].source == PUMP_FIRMWARE
    (worst,) = [w for w in plan.warnings if w.code == "worst_case_24h"]
    assert "1 mg of clinician boluses in the last 24 h" in worst.message and "20.9 mg" in worst.message
    execution = service.execute(plan, PHYSICIAN, confirmed=True)
    assert execution.status is ExecutionStatus.NOT_ALLOWED and execution.sent == ()
    vp.advance(vp.now_ms + DAY)
    done(service, ClinicianBolus(MG, HOUR, override_reason=REASON))


def test_settings_replaced_within_24_h_count_in_the_plan_as_in_the_pump() -> None:
    """20 mg/day lowered to 13.6 an hour ago: eight 0.5 mg demand doses fit the new dose, not the pump's 24 h."""
    vp, service = pump_with_morphine(20)
    done(service, Prescribe(DoseSchedule.continuous(10 * MG), override_reason=REASON))
    vp.advance(vp.now_ms + 25 * HOUR)
    done(service, Prescribe(DoseSchedule.continuous(20 * MG), override_reason=REASON))
    vp.advance(vp.now_ms + 2 * HOUR)
    done(service, Prescribe(DoseSchedule.continuous(13_600_000), override_reason=REASON))
    vp.advance(vp.now_ms + HOUR)
    assert [r.exposure.basal_ng_per_day for r in service.port.interrogate().recent_exposures] == [20 * MG]
    demand = PtmSettings(MG // 2, 30 * MIN, 3 * HOUR, 8, override_reason=REASON)
    assert blocking_codes(service, demand) == {"above_max_daily_dose": PUMP_FIRMWARE}
    # A day after the change the old dose no longer counts, and the same settings are taken.
    vp.advance(vp.now_ms + DAY)
    done(service, demand)


def test_demand_settings_the_pump_cannot_give_are_refused_by_the_plan_with_the_shortest_duration() -> None:
    """0.5 mg of 10 mg/mL over 1 min is 72 mL/day; the plan says how long it must take at least."""
    _, service = pump_with_morphine(10)
    done(service, Prescribe(DoseSchedule.continuous(1_500_000), override_reason=REASON))
    plan = service.plan(PtmSettings(MG // 2, MIN, 2 * HOUR, 6, override_reason=REASON), PHYSICIAN)
    (finding,) = [f for f in plan.findings if f.code == "bolus_too_fast"]
    assert finding.tier is Tier.HARD and "give it over at least 0 d 00:03:01.133" in finding.message
    done(service, PtmSettings(MG // 2, 181_133, 2 * HOUR, 6, override_reason=REASON))
    done(service, DemandPress(), PATIENT)


def test_a_refill_and_a_new_prescription_are_refused_together_when_the_pump_would_refuse_the_fill() -> None:
    """0.5 mg/day at 10 mg/mL, refilled with 25 mg/mL and a new 1.5 mg/day: the fill alone would leave the old
    dose below the pump's minimum flow at 25 mg/mL, so the plan refuses the whole, and nothing is half done."""
    vp, service = pump_with_morphine(10)
    done(service, Prescribe(DoseSchedule.continuous(MG // 2), override_reason=REASON))
    vp.advance(vp.now_ms + 2 * DAY)
    left = service.port.interrogate().reservoir_nl
    refill = Refill(
        18 * ML,
        Fill.single("morphine", 25 * MG),
        left,
        new_prescription=DoseSchedule.continuous(1_500_000),
        override_reason=REASON,
    )
    plan = service.plan(refill, PHYSICIAN)
    assert not plan.allowed
    assert any(f.code == "below_minimum_flow" and "25 mg/mL" in f.message for f in plan.findings)


def test_the_handset_says_not_now_while_a_bolus_runs_and_the_pump_agrees() -> None:
    """A clinician bolus over 1 h: a press is not possible until it ends, and the handset says so and when."""
    vp, service = pump_with_morphine(10)
    done(service, Prescribe(DoseSchedule.continuous(1_500_000), override_reason=REASON))
    done(service, PtmSettings(MG // 10, 10 * MIN, 2 * HOUR, 6, override_reason=REASON))
    done(service, ClinicianBolus(MG // 2, HOUR, override_reason=REASON))
    vp.advance(vp.now_ms + 20 * MIN)
    view = service.port.patient_view()
    assert view.demand_not_now_code == "bolus_running"
    assert view.demand_not_now_until_wall_ms == view.demand_next_allowed_wall_ms == view.wall_ms + 40 * MIN
    press = service.plan(DemandPress(), PATIENT)
    (finding,) = press.findings
    assert finding.code == "bolus_running" and finding.message.startswith("A bolus is running")
    assert not press.allowed
    vp.advance(vp.now_ms + 40 * MIN)
    done(service, DemandPress(), PATIENT)


@pytest.mark.parametrize("reduced", [False, True], ids=["clinician's status", "handset's status"])
def test_a_handset_without_the_pumps_answer_still_waits_for_the_bolus(reduced: bool) -> None:
    """The status as a PTM receives it over telemetry may lack the answer; the next-dose time still holds."""
    vp, service = pump_with_morphine(10)
    done(service, Prescribe(DoseSchedule.continuous(1_500_000), override_reason=REASON))
    done(service, PtmSettings(MG // 10, 10 * MIN, 2 * HOUR, 6, override_reason=REASON))
    done(service, ClinicianBolus(MG // 2, HOUR, override_reason=REASON))
    status = vp.firmware.status()
    if reduced:
        status = {k: v for k, v in status.items() if k in PTM_STATUS_FIELDS}
    view = PatientView.from_status(status)
    (finding,) = press_findings(view)
    assert finding.limit.startswith("not before")
    assert finding.code == ("locked_out" if reduced and "demand_not_now" not in status else "bolus_running")


def test_a_new_prescription_waits_for_a_running_bolus_as_the_pump_does() -> None:
    """The pump takes no new prescription under a bolus that adds to the basal: neither does the plan."""
    vp, service = pump_with_morphine(10)
    done(service, Prescribe(DoseSchedule.continuous(1_500_000), override_reason=REASON))
    done(service, PtmSettings(MG // 10, 30 * MIN, 2 * HOUR, 6, override_reason=REASON))
    vp.advance(vp.now_ms + DAY)
    done(service, DemandPress(), PATIENT)
    assert blocking_codes(service, Prescribe(DoseSchedule.continuous(2 * MG), override_reason=REASON)) == {
        "bolus_running": PUMP_FIRMWARE
    }
    vp.advance(vp.now_ms + 30 * MIN)
    done(service, Prescribe(DoseSchedule.continuous(2 * MG), override_reason=REASON))
