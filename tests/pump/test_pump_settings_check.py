"""Settings the pump could never give are refused when they are made, and the handset is told what the pump says.

The pump's bolus flow is 1 mL/h (24 mL/day) for everything the motor runs at
once. A demand dose or periodic bolus whose volume over its duration does not
fit on top of the highest basal flow would be refused at every press, or skipped
at every start; so the setting, or the change of basal or solution that makes it
so, is refused with the shortest duration that works. The status answers a press
now as the pump would: not while a bolus runs, with when it ends.
"""

from __future__ import annotations

from thecal.pump.core import (
    ClinicianBolus,
    DemandLimits,
    DoseSchedule,
    Fill,
    Firmware,
    Formulary,
    MotorStalled,
    PeriodicBolusPlan,
    Program,
    RequestDemandBolus,
    SetClock,
    SetDemandLimits,
    SetPeriodicBolus,
)
from thecal.pump.core.integers import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN, ceil_div, format_duration
from thecal.pump.model import PumpModel

MG = 1_000_000
CEILING = 24_000_000  # nL/day: 1 mL/h


def _morphine(model20: PumpModel, formulary: Formulary, mg_per_ml: int, dose_ng_per_day: int | None) -> Firmware:
    fw = Firmware(model20, formulary)
    assert fw.handle(Fill(20_000_000, (("morphine", mg_per_ml * MG),))).accepted
    if dose_ng_per_day is not None:
        assert fw.handle(Program(DoseSchedule.continuous(dose_ng_per_day))).accepted
    return fw


def test_demand_settings_too_fast_for_the_pump_are_refused_with_the_shortest_duration_that_works(
    model20: PumpModel, formulary: Formulary
) -> None:
    """0.5 mg of 10 mg/mL (0.05 mL) over 1 min is 72 mL/day; on 0.15 mL/day of basal it needs 3 min 1.133 s."""
    fw = _morphine(model20, formulary, 10, 1_500_000)
    before = fw.state.to_data()
    out = fw.handle(SetDemandLimits(DemandLimits(MG // 2, MS_PER_MIN, 2 * MS_PER_HOUR, 6)))
    assert not out.accepted and out.refusal.code == "bolus_too_fast" and out.refusal.field == "demand.duration"
    shortest = ceil_div(50_000 * MS_PER_DAY, CEILING - 150_000)
    assert shortest == 181_133
    assert f"give it over at least {format_duration(shortest)}" in out.refusal.message
    after = fw.state.to_data()
    before.pop("log"), after.pop("log")
    assert after == before
    assert not fw.handle(SetDemandLimits(DemandLimits(MG // 2, shortest - 1, 2 * MS_PER_HOUR, 6))).accepted
    assert fw.handle(SetDemandLimits(DemandLimits(MG // 2, shortest, 2 * MS_PER_HOUR, 6))).accepted
    assert fw.handle(RequestDemandBolus()).accepted  # what the pump takes as a setting, it gives at a press


def test_a_higher_basal_that_leaves_no_room_for_the_demand_dose_is_refused(
    model20: PumpModel, formulary: Formulary
) -> None:
    """0.05 mL over 3 min is exactly 24 mL/day: it fits with nothing programmed, and no basal fits under it."""
    fw = _morphine(model20, formulary, 10, None)
    assert fw.handle(SetDemandLimits(DemandLimits(MG // 2, 3 * MS_PER_MIN, 2 * MS_PER_HOUR, 6))).accepted
    out = fw.handle(Program(DoseSchedule.continuous(1_500_000)))
    assert not out.accepted and out.refusal.code == "bolus_too_fast" and out.refusal.field == "demand.duration"
    assert fw.status()["prescription"] is None


def test_a_weaker_refill_that_makes_the_periodic_bolus_too_fast_is_refused_not_skipped_for_ever(
    model20: PumpModel, formulary: Formulary
) -> None:
    """1 mg over 5 min: 0.05 mL of 20 mg/mL (14.4 mL/day) fits, 0.1 mL of 10 mg/mL (28.8 mL/day) does not."""
    fw = _morphine(model20, formulary, 20, None)
    plan = PeriodicBolusPlan(MG, 5 * MS_PER_MIN, 8 * MS_PER_HOUR, 0)
    assert fw.handle(SetPeriodicBolus(plan)).accepted
    out = fw.handle(Fill(20_000_000, (("morphine", 10 * MG),), bridge=True))
    assert not out.accepted and out.refusal.code == "bolus_too_fast" and out.refusal.field == "periodic.duration"
    assert f"at least {format_duration(ceil_div(100_000 * MS_PER_DAY, CEILING))}" in out.refusal.message
    assert fw.status()["label"] == [{"drug": "morphine", "concentration_ng_per_ml": 20 * MG}]
    # Given over 10 min it fits after the refill too; the refill is then taken.
    assert fw.handle(SetPeriodicBolus(PeriodicBolusPlan(MG, 10 * MS_PER_MIN, 8 * MS_PER_HOUR, 0))).accepted
    assert fw.handle(Fill(20_000_000, (("morphine", 10 * MG),), bridge=True)).accepted


def test_the_status_says_a_dose_is_not_possible_while_a_bolus_runs_and_until_when(
    model20: PumpModel, formulary: Formulary
) -> None:
    """A clinician bolus over 1 h: the handset's window says not now, a bolus is running until its end."""
    fw = _morphine(model20, formulary, 10, 1_500_000)
    wall0 = 1_767_225_600_000
    fw.handle(SetClock(wall0))
    assert fw.handle(SetDemandLimits(DemandLimits(MG // 10, 10 * MS_PER_MIN, 2 * MS_PER_HOUR, 6))).accepted
    assert fw.status()["demand_not_now"] is None
    assert fw.status()["demand_next_allowed_wall_ms"] == wall0
    ends = int(fw.handle(ClinicianBolus(MG // 2, MS_PER_HOUR)).info["ends_ms"])
    fw.advance(20 * MS_PER_MIN)
    status = fw.status()
    wall_end = ends + fw.state.wall_offset_ms
    assert status["demand_not_now"] == {"code": "bolus_running", "until_wall_ms": wall_end}
    assert status["demand_next_allowed_wall_ms"] == wall_end and status["demand_left_24h"] == 6
    out = fw.handle(RequestDemandBolus())
    assert (out.refusal.code, out.refusal.until_ms) == ("bolus_running", ends)
    fw.advance(ends)
    assert fw.status()["demand_not_now"] is None
    assert fw.handle(RequestDemandBolus()).accepted


def test_the_status_gives_the_pumps_own_reason_when_no_time_is_known(model20: PumpModel, formulary: Formulary) -> None:
    """A stalled motor: no dose now, and the pump cannot say until when."""
    fw = _morphine(model20, formulary, 10, 1_500_000)
    assert fw.handle(SetDemandLimits(DemandLimits(MG // 10, 10 * MS_PER_MIN, 2 * MS_PER_HOUR, 6))).accepted
    fw.handle(MotorStalled("magnetic field"))
    assert fw.status()["demand_not_now"] == {"code": "motor_stall", "until_wall_ms": None}
    assert fw.handle(RequestDemandBolus()).refusal.code == "motor_stall"
    assert fw.handle(SetDemandLimits(None)).accepted
    assert fw.status()["demand_not_now"] == {"code": "motor_stall", "until_wall_ms": None}
