"""Planning every intent against hand-made snapshots: commands, findings, warnings and roles."""

from __future__ import annotations

import json

import pytest
from fakes import DAY, HOUR, MCG, MG, ML, NURSE, PATIENT, PHYSICIAN, REASON, WALL_MS, FakePort, status

from thecal.drugs import Fill, Tier
from thecal.drugs.limits import PUMP_FIRMWARE
from thecal.pump.core import commands as pump
from thecal.pump.core.alarms import Alarm
from thecal.pump.core.schedule import DoseSchedule, DoseStep
from thecal.therapy import (
    ClearAlarm,
    ClinicianBolus,
    DemandPress,
    FirstFill,
    Implant,
    LowReservoirAlarm,
    PatientFacts,
    PeriodicBolus,
    Plan,
    PostMriCheck,
    Prescribe,
    PrimingBolus,
    PtmOff,
    PtmSettings,
    Refill,
    ResumeTherapy,
    StopTherapy,
    TherapyService,
    Titrate,
)

MORPHINE_10 = (("morphine", 10 * MG),)
ONE_MG = DoseSchedule.continuous(1 * MG)
TWO_MG = DoseSchedule.continuous(2 * MG)  # 0.08 mL/day at 25 mg/mL, within the pump's flows


def plan(intent: object, actor: object = NURSE, patient: PatientFacts | None = None, **state: object) -> Plan:
    """A plan of `intent` by `actor` for a pump in the given state."""
    return TherapyService(FakePort(status(**state)), patient).plan(intent, actor)  # type: ignore[arg-type]


def codes(p: Plan) -> set[str]:
    """The codes of a plan's findings."""
    return {f.code for f in p.findings}


def row(p: Plan, key: str) -> tuple[str | None, str | None]:
    """The old and new words of one setting."""
    (change,) = [s for s in p.settings if s.key == key]
    return (change.old.text if change.old else None, change.new.text if change.new else None)


# --------------------------------------------------------------------- the label decides


def test_a_dose_intent_on_an_empty_pump_is_refused_rather_than_given_a_default_concentration() -> None:
    p = plan(Prescribe(ONE_MG), label=())
    assert not p.allowed
    assert "no_drug" in codes(p)
    # The command carries the dose; no volume was worked out from a concentration nobody typed.
    assert p.commands == (pump.Program(ONE_MG),)
    assert "no drug in the pump" in row(p, "basal.every_day.00:00")[1]


def test_the_same_dose_is_shown_as_the_volume_of_the_concentration_the_pump_holds() -> None:
    weak = plan(Prescribe(ONE_MG), label=(("morphine", 10 * MG),))
    strong = plan(Prescribe(ONE_MG), label=(("morphine", 25 * MG),))
    assert weak.commands == strong.commands == (pump.Program(ONE_MG),)
    assert row(weak, "basal.every_day.00:00")[1] == "1 mg/day (0.1 mL/day)"
    assert row(strong, "basal.every_day.00:00")[1] == "1 mg/day (0.04 mL/day)"


# ------------------------------------------------------------------------------ refill


def test_refill_from_10_to_25_mg_per_ml_keeps_the_demand_dose_and_shows_the_new_volumes() -> None:
    demand = pump.DemandLimits(100_000, 10 * 60_000, 3 * HOUR, 6)
    # 25 mg/mL is above the library's usual 20 mg/mL: a physician passes it with a reason.
    p = plan(
        Refill(18 * ML, Fill.single("morphine", 25 * MG), aspirated_nl=5 * ML, override_reason=REASON),
        PHYSICIAN,
        prescription=TWO_MG,
        demand=demand,
    )
    assert p.allowed, p.findings
    assert [f.code for f in p.findings] == ["max_concentration"] and p.findings[0].overridden
    # Doses stay doses: only the fill is sent, with a bridge, and the demand dose is not reprogrammed.
    assert p.commands == (pump.Fill(18 * ML, (("morphine", 25 * MG),), 5 * ML, None, True),)
    assert p.expected is not None and p.expected.demand == demand
    old, new = row(p, "demand")
    assert old is not None and new is not None
    assert old.startswith("0.1 mg of morphine (0.01 mL)") and new.startswith("0.1 mg of morphine (0.004 mL)")
    assert row(p, "basal.every_day.00:00") == ("2 mg/day (0.2 mL/day)", "2 mg/day (0.08 mL/day)")
    assert {s.key for s in p.changed} >= {"label", "demand", "basal.every_day.00:00"}
    assert "bridge" in {w.code for w in p.warnings}


def test_refill_without_a_bridge_after_a_change_of_concentration_warns() -> None:
    p = plan(Refill(18 * ML, Fill.single("morphine", 25 * MG), aspirated_nl=5 * ML, bridge=False), prescription=ONE_MG)
    (command,) = p.commands
    assert isinstance(command, pump.Fill) and command.bridge is False
    (warning,) = [w for w in p.warnings if w.code == "no_bridge"]
    assert "0.42 mL" in warning.message and "4.2 mg of morphine" in warning.message


def test_a_refill_that_changes_the_lead_drug_needs_a_new_prescription() -> None:
    refused = plan(
        Refill(18 * ML, Fill.single("hydromorphone", 2 * MG), aspirated_nl=5 * ML),
        prescription=ONE_MG,
        demand=pump.DemandLimits(100_000, 600_000, 3 * HOUR, 6),
    )
    assert not refused.allowed and "new_prescription_needed" in codes(refused)
    new = DoseSchedule.continuous(100_000)
    accepted = plan(
        Refill(18 * ML, Fill.single("hydromorphone", 2 * MG), aspirated_nl=5 * ML, new_prescription=new),
        prescription=ONE_MG,
        demand=pump.DemandLimits(100_000, 600_000, 3 * HOUR, 6),
    )
    # The pump drops the morphine settings when hydromorphone goes in; the new prescription follows the fill.
    assert [type(c) for c in accepted.commands] == [pump.Fill, pump.Program]
    assert accepted.expected is not None and accepted.expected.demand is None
    assert accepted.allowed, accepted.findings


def test_a_flagged_refill_discrepancy_stops_the_refill_until_acknowledged() -> None:
    intent = Refill(18 * ML, Fill.single("morphine", 10 * MG), aspirated_nl=2 * ML)
    stopped = plan(intent, prescription=ONE_MG, reservoir_nl=5 * ML)
    (finding,) = [f for f in stopped.findings if f.code == "refill_discrepancy"]
    assert finding.tier is Tier.HARD and "pocket" in finding.message
    assert not stopped.allowed
    # A physician's reason does not pass it: only acknowledging the discrepancy does.
    assert not plan(
        Refill(18 * ML, Fill.single("morphine", 10 * MG), aspirated_nl=2 * ML, override_reason=REASON),
        PHYSICIAN,
        prescription=ONE_MG,
        reservoir_nl=5 * ML,
    ).allowed
    acknowledged = plan(
        Refill(18 * ML, Fill.single("morphine", 10 * MG), aspirated_nl=2 * ML, discrepancy_acknowledged=True),
        prescription=ONE_MG,
        reservoir_nl=5 * ML,
    )
    assert acknowledged.allowed
    assert any(w.code == "discrepancy_acknowledged" and NURSE.name in w.message for w in acknowledged.warnings)


def test_a_within_threshold_refill_is_not_flagged() -> None:
    p = plan(Refill(18 * ML, Fill.single("morphine", 10 * MG), aspirated_nl=4_500_000), prescription=ONE_MG)
    assert "refill_discrepancy" not in codes(p) and p.allowed


def test_a_first_ziconotide_fill_is_due_for_refill_within_14_days() -> None:
    p = plan(FirstFill(20 * ML, Fill.single("ziconotide", 25 * MCG)), label=(), prescription=None)
    assert p.allowed, p.findings
    assert p.refill_due_wall_ms == WALL_MS + 14 * DAY
    (due,) = [w for w in p.warnings if w.code == "refill_due"]
    assert "14 days" in due.message and "ziconotide" in due.message


def test_a_fill_beyond_the_concentration_limit_or_the_reservoir_is_refused() -> None:
    strong = plan(FirstFill(10 * ML, Fill.single("morphine", 50 * MG)), label=())
    assert not strong.allowed and "max_concentration" in codes(strong)
    big = plan(FirstFill(40 * ML, Fill.single("morphine", 10 * MG)), label=())
    assert not big.allowed and "over_capacity" in codes(big)
    (over,) = [f for f in big.findings if f.code == "over_capacity"]
    assert over.source == "pump model programmable-20"


def test_a_first_fill_of_a_filled_pump_is_refused() -> None:
    assert "not_first_fill" in codes(plan(FirstFill(10 * ML, Fill.single("morphine", 10 * MG))))


# -------------------------------------------------------------------------- roles


def test_a_nurse_cannot_pass_a_soft_limit_even_with_a_reason() -> None:
    p = plan(
        Prescribe(DoseSchedule.continuous(16 * MG), override_reason=REASON),
        NURSE,
        prescription=DoseSchedule.continuous(15 * MG),
    )
    assert [f.tier for f in p.findings if f.code == "max_daily_dose"] == [Tier.SOFT]
    assert not p.allowed and p.override is None
    assert "physician" in p.override_note


def test_a_physician_passes_a_soft_limit_with_a_reason_and_the_plan_records_who_and_why() -> None:
    p = plan(
        Prescribe(DoseSchedule.continuous(16 * MG), override_reason=REASON),
        PHYSICIAN,
        prescription=DoseSchedule.continuous(15 * MG),
    )
    assert p.allowed
    assert p.override is not None and p.override.by == PHYSICIAN.name and p.override.reason == REASON
    audit = p.to_dict()["audit"]
    assert isinstance(audit, list) and audit and audit[0]["override"]["by"] == PHYSICIAN.name


def test_a_physician_with_a_short_reason_passes_nothing() -> None:
    p = plan(
        Prescribe(DoseSchedule.continuous(16 * MG), override_reason="ok"),
        PHYSICIAN,
        prescription=DoseSchedule.continuous(15 * MG),
    )
    assert not p.allowed and "too short" in p.override_note


@pytest.mark.parametrize("actor", [NURSE, PHYSICIAN])
def test_nobody_passes_a_hard_limit(actor: object) -> None:
    p = plan(
        Prescribe(DoseSchedule.continuous(30 * MG), override_reason=REASON),
        actor,
        prescription=DoseSchedule.continuous(19 * MG),
    )
    assert any(f.tier is Tier.HARD and f.code == "max_daily_dose" for f in p.findings)
    assert not p.allowed


def test_the_patient_only_presses_and_only_the_patient_presses() -> None:
    assert "role" in codes(plan(Prescribe(ONE_MG), PATIENT))
    assert "role" in codes(plan(DemandPress(), NURSE, demand=pump.DemandLimits(100_000, 600_000, HOUR, 6)))
    press = plan(DemandPress(), PATIENT, demand=pump.DemandLimits(100_000, 600_000, HOUR, 6))
    assert press.allowed and press.commands == (pump.RequestDemandBolus(),)


# ------------------------------------------------------------------ dose checks


def test_the_daily_limit_is_checked_on_the_worst_case_with_every_demand_dose_used() -> None:
    p = plan(PtmSettings(1 * MG, 600_000, 0, 24), PHYSICIAN, prescription=DoseSchedule.continuous(10 * MG))
    (daily,) = [f for f in p.findings if f.code == "max_daily_dose"]
    assert daily.tier is Tier.HARD and "24 demand doses making 24 mg" in daily.message
    (worst,) = [w for w in p.warnings if w.code == "worst_case_24h"]
    assert "34 mg of morphine" in worst.message
    # The pump's own verdict is predicted too, by the firmware's own check: its first refusal is the single dose.
    assert "above_max_demand_dose" in codes(p)
    # Within the single-dose limit, the pump's daily limit is what it refuses: 10 mg + 24 × 0.5 mg = 22 mg.
    p = plan(PtmSettings(MG // 2, 600_000, 0, 24), PHYSICIAN, prescription=DoseSchedule.continuous(10 * MG))
    (pump_daily,) = [f for f in p.findings if f.code == "above_max_daily_dose"]
    assert pump_daily.tier is Tier.HARD and pump_daily.source == PUMP_FIRMWARE


def test_demand_doses_of_ziconotide_and_for_an_opioid_naive_patient_are_refused() -> None:
    zico = plan(
        PtmSettings(1 * MCG, 600_000, HOUR, 4),
        PHYSICIAN,
        label=(("ziconotide", 25 * MCG),),
        prescription=DoseSchedule.continuous(2 * MCG),
    )
    assert not zico.allowed and any(f.field == "demand bolus" for f in zico.findings)
    naive = plan(
        PtmSettings(100_000, 600_000, 3 * HOUR, 4), PHYSICIAN, PatientFacts(opioid_naive=True), prescription=ONE_MG
    )
    assert not naive.allowed and any("opioid-naïve" in f.message for f in naive.findings)


def test_a_titration_step_counts_the_time_since_the_dose_was_last_raised() -> None:
    p = plan(
        Titrate(1_600 * MCG),
        PHYSICIAN,
        label=(("ziconotide", 25 * MCG),),
        prescription=DoseSchedule.continuous(1_200 * MCG),
        dose_raised_wall_ms=WALL_MS - 2 * HOUR,
    )
    (interval,) = [f for f in p.findings if f.code == "min_step_interval"]
    assert interval.tier is Tier.HARD and "2 h" in interval.value


def test_a_per_hour_slip_and_a_jump_beyond_the_clinic_factor_are_warned() -> None:
    p = plan(Titrate(12 * MG), PHYSICIAN, prescription=DoseSchedule.continuous(500_000))
    assert {"per_hour_slip", "daily_jump"} <= {w.code for w in p.warnings}
    small = plan(Titrate(600_000), PHYSICIAN, prescription=DoseSchedule.continuous(500_000))
    assert not {"per_hour_slip", "daily_jump"} & {w.code for w in small.warnings}


def test_titrating_a_flexible_prescription_scales_every_step() -> None:
    flexible = DoseSchedule.daily((DoseStep(0, 1 * MG), DoseStep(8 * HOUR, 2 * MG)))
    p = plan(Titrate(2_400_000), PHYSICIAN, prescription=flexible)
    (command,) = p.commands
    assert isinstance(command, pump.Program)
    assert command.doses == DoseSchedule.daily((DoseStep(0, 1_200_000), DoseStep(8 * HOUR, 2_400_000)))


def test_a_clinician_bolus_is_checked_against_the_trial_bolus_limit_and_the_next_24_h() -> None:
    p = plan(ClinicianBolus(2 * MG, HOUR), PHYSICIAN, prescription=ONE_MG)
    assert any(f.code == "max_trial_bolus" and f.tier is Tier.HARD for f in p.findings)
    worst = next(w for w in p.warnings if w.code == "worst_case_24h")
    assert "this bolus of 2 mg" in worst.message


def test_a_periodic_bolus_starts_today_at_its_time_of_day_and_counts_in_the_worst_case() -> None:
    p = plan(PeriodicBolus(200_000, HOUR, 6 * HOUR, 6 * HOUR), PHYSICIAN, prescription=ONE_MG)
    assert p.commands == (pump.SetPeriodicBolus(pump.PeriodicBolusPlan(200_000, HOUR, 6 * HOUR, WALL_MS + 6 * HOUR)),)
    assert "0.8 mg of periodic boluses" in next(w.message for w in p.warnings if w.code == "worst_case_24h")


def test_priming_defaults_to_the_dead_volume_at_the_fastest_flow() -> None:
    p = plan(PrimingBolus(), prescription=ONE_MG)
    # 0.42 mL at 1 mL/h (the model's bolus ceiling) takes 25.2 minutes.
    assert p.commands == (pump.PrimingBolus(420_000, 1_512_000),)
    too_much = plan(PrimingBolus(volume_nl=2 * ML), prescription=ONE_MG)
    assert "priming_volume" in codes(too_much) and not too_much.allowed


def test_stop_resume_alarms_and_threshold_follow_the_pump_state() -> None:
    assert "already_stopped" in codes(plan(StopTherapy(), mode="minimum_rate", prescription=ONE_MG))
    assert "not_stopped" in codes(plan(ResumeTherapy(), prescription=ONE_MG))
    assert "not_clearable" in codes(plan(ClearAlarm(Alarm.LOW_RESERVOIR), alarms=("low_reservoir",)))
    assert "not_active" in codes(plan(ClearAlarm(Alarm.MOTOR_STALL)))
    assert "alarm_threshold" in codes(plan(LowReservoirAlarm(10 * ML)))
    assert plan(LowReservoirAlarm(3 * ML)).allowed


def test_the_check_after_an_mri_clears_a_recovered_stall_and_refuses_while_stalled() -> None:
    recovered = plan(PostMriCheck(), prescription=ONE_MG, alarms=("motor_stall",))
    assert recovered.commands == (pump.ClearAlarm(Alarm.MOTOR_STALL, pump.Role.CLINICIAN),)
    assert recovered.expected_mode == "running" and recovered.allowed
    stalled = plan(PostMriCheck(), prescription=ONE_MG, alarms=("motor_stall",), mode="stalled")
    assert "still_stalled" in codes(stalled) and not stalled.allowed


def test_a_catheter_and_off_switches_plan_what_they_change() -> None:
    implant = plan(Implant(300_000), label=())
    assert implant.commands == (pump.SetCatheter(300_000),)
    assert row(implant, "catheter")[1] == "0.3 mL (dead volume 0.52 mL)"
    off = plan(PtmOff(), demand=pump.DemandLimits(100_000, 600_000, HOUR, 6), prescription=ONE_MG)
    assert off.commands == (pump.SetDemandLimits(None),) and row(off, "demand")[1] == "off"
    nothing = plan(PtmOff(), prescription=ONE_MG)
    assert nothing.commands == () and "nothing_to_send" in {w.code for w in nothing.warnings}


def test_a_plan_is_stable_json() -> None:
    intent = Refill(18 * ML, Fill.single("morphine", 25 * MG), aspirated_nl=5 * ML, override_reason=REASON)
    p = plan(intent, PHYSICIAN, prescription=TWO_MG)
    data = json.loads(json.dumps(p.to_dict()))
    assert data["intent"] == "Refill" and data["allowed"] is True
    assert data["commands"][0]["command"] == "Fill" and data["commands"][0]["bridge"] is True
    assert data["intent_fields"]["fill"] == [{"drug": "morphine", "concentration_ng_per_ml": 25 * MG}]
