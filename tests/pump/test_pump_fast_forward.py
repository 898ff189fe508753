"""Exact fast-forward: a year jumped, stepped stroke by stroke and in random steps gives the same pump.

The pump is a 40 mL model on a flexible week (five steps on weekdays, four
different ones at the weekend) with a periodic bolus every 8 h, patient
presses at seeded random times (some of them refused), refills (two of them to
a new concentration, with a bridge that carries the old solution at the old
flows across flexible steps for days), an MRI motor stall, a stop and resume
and a clock change, all at fixed times, identical in every run. The only
thing that differs between runs is how time is cut.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from thecal.drugs import pump_formulary
from thecal.pump.core import (
    Alarm,
    ClearAlarm,
    Delivery,
    DemandLimits,
    DoseSchedule,
    DoseStep,
    Fill,
    Firmware,
    Logged,
    MotorRecovered,
    MotorStalled,
    PeriodicBolusPlan,
    Program,
    RequestDemandBolus,
    ResumeTherapy,
    Role,
    SetCatheter,
    SetClock,
    SetDemandLimits,
    SetPeriodicBolus,
    StopTherapy,
    ToneSounded,
)
from thecal.pump.core.integers import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN
from thecal.pump.core.nvm import round_trip
from thecal.pump.model import load_model

MODEL = load_model("programmable-40")
FORMULARY = pump_formulary()
MORPHINE = (("morphine", 10_000_000),)
MORPHINE_8 = (("morphine", 8_000_000),)  # a weaker solution: every flow a quarter higher
CATHETER_NL = 200_000  # with the pump's 0.22 mL, a dead volume of 0.42 mL: days of bridge at these flows
START_WALL_MS = 1_767_310_200_000  # Thursday 2026-01-01 23:30:00 UTC: the first step change is 30 min away
YEAR_MS = 365 * MS_PER_DAY

# Doses in ng/day of morphine; at 10 mg/mL each step's flow is a tenth of its dose in nL/day (110 000 nL/day...).
WEEKDAY = (
    DoseStep(0, 1_100_000),
    DoseStep(6 * MS_PER_HOUR + 45 * MS_PER_MIN, 1_833_330),
    DoseStep(12 * MS_PER_HOUR, 1_500_010),
    DoseStep(17 * MS_PER_HOUR + 30 * MS_PER_MIN + 7, 2_010_000),
    DoseStep(22 * MS_PER_HOUR, 960_000),
)
WEEKEND = (
    DoseStep(0, 999_990),
    DoseStep(9 * MS_PER_HOUR, 1_600_000),
    DoseStep(14 * MS_PER_HOUR + 1, 1_205_000),
    DoseStep(21 * MS_PER_HOUR, 700_000),
)
DOSES = DoseSchedule((WEEKDAY,) * 5 + (WEEKEND,) * 2)
PERIODIC = PeriodicBolusPlan(250_000, 20 * MS_PER_MIN, 8 * MS_PER_HOUR, START_WALL_MS + 2 * MS_PER_HOUR + 17_000)
DEMAND = DemandLimits(150_000, 15 * MS_PER_MIN, 3 * MS_PER_HOUR, 4)
# Refill days chosen so the reservoir gets low (alarm and hourly tones) before the third refill but never empty.
# The first refill is to 8 mg/mL and the second back to 10 mg/mL, each with a bridge.
REFILLS = ((84, MORPHINE_8), (168, MORPHINE), (330, MORPHINE))


def _timeline() -> list[tuple[int, object]]:
    """The commands from outside, at fixed pump times, the same for every run."""
    rng = random.Random(8637)
    events: list[tuple[int, object]] = []
    for day in range(365):
        for _ in range(rng.choice((0, 1, 2, 3, 5))):
            events.append((day * MS_PER_DAY + rng.randrange(MS_PER_DAY), RequestDemandBolus()))
    for day, contents in REFILLS:
        events.append((day * MS_PER_DAY + 10 * MS_PER_HOUR, Fill(40_000_000, contents, 1_000_000, bridge=True)))
    mri = 200 * MS_PER_DAY + 3 * MS_PER_HOUR + 12_345
    events += [
        (mri, MotorStalled("MRI")),
        (mri + 50 * MS_PER_MIN, MotorRecovered()),
        (mri + 2 * MS_PER_HOUR, ClearAlarm(Alarm.MOTOR_STALL, Role.CLINICIAN)),
        (230 * MS_PER_DAY + 1, StopTherapy()),
        (232 * MS_PER_DAY + 7, ResumeTherapy()),
        (250 * MS_PER_DAY, SetClock(START_WALL_MS + 250 * MS_PER_DAY + MS_PER_HOUR)),
    ]
    return sorted(events, key=lambda e: e[0])


Stepper = Callable[[Firmware, int, Callable[[list], None]], None]


Run = tuple[list[int], list[object], dict, bytes, list[Delivery]]


def _run(step_to: Stepper, power_cycle_every: int = 0) -> Run:
    """Run the year; return every stroke time, every other action and outcome, the final state, log head and motor work.

    How the motor work is cut into deliveries depends on how time is cut; everything else must not.
    """
    fw = Firmware(MODEL, FORMULARY, wall_ms=START_WALL_MS)
    strokes: list[int] = []
    events: list[object] = []
    deliveries: list[Delivery] = []

    def take(actions: list) -> None:
        for a in actions:
            if isinstance(a, Delivery):
                strokes.extend(a.stroke_times_ms())
                deliveries.append(a)
            else:
                events.append(a)

    setup = (
        SetCatheter(CATHETER_NL),
        Fill(40_000_000, MORPHINE),
        Program(DOSES),
        SetPeriodicBolus(PERIODIC),
        SetDemandLimits(DEMAND),
    )
    for command in setup:
        assert fw.handle(command).accepted
    for i, (at, command) in enumerate(_timeline()):
        step_to(fw, at, take)
        if power_cycle_every and i % power_cycle_every == 0:
            state = round_trip(fw.state)
            fw = Firmware(MODEL, FORMULARY, state)
        out = fw.handle(command)  # type: ignore[arg-type]
        events.append((type(command).__name__, out.accepted, out.refusal, out.info))
        take(list(out.actions))
    step_to(fw, YEAR_MS, take)
    return strokes, events, fw.state.to_data(), fw.state.log.head(), deliveries


def _jump(fw: Firmware, to_ms: int, take: Callable[[list], None]) -> None:
    take(fw.advance(to_ms))


def _stroke_by_stroke(fw: Firmware, to_ms: int, take: Callable[[list], None]) -> None:
    while fw.state.now_ms < to_ms:
        t = fw.next_stroke_ms()
        take(fw.advance(to_ms if t is None else min(t, to_ms)))


def _random_steps(seed: int) -> Stepper:
    rng = random.Random(seed)
    # Mostly short cuts (many per stroke), now and then a long jump.
    sizes = (1_000, 10_000, MS_PER_MIN, 10 * MS_PER_MIN, 2 * MS_PER_HOUR) * 10 + (3 * MS_PER_DAY,)

    def step_to(fw: Firmware, to_ms: int, take: Callable[[list], None]) -> None:
        while fw.state.now_ms < to_ms:
            dt = rng.randint(1, rng.choice(sizes))
            take(fw.advance(min(to_ms, fw.state.now_ms + dt)))

    return step_to


def test_a_year_jumped_equals_the_year_stroke_by_stroke_and_in_random_steps() -> None:
    """Jumping from event to event, stepping stroke by stroke and random steps give bit-identical years."""
    jumped = _run(_jump)
    stepped = _run(_stroke_by_stroke)
    randomly = _run(_random_steps(20260101))
    strokes, events, final, head, deliveries = jumped
    # The year really exercised the pump: hundreds of thousands of strokes, refusals, alarms and tones.
    assert len(strokes) > 300_000
    assert strokes == sorted(set(strokes))
    refusals = {e[2].code for e in events if isinstance(e, tuple) and not e[1]}
    assert {"locked_out", "daily_maximum", "bolus_running"} <= refusals
    alarms = {e.entry.get("alarm") for e in events if isinstance(e, Logged) and e.entry.kind == "alarm"}
    assert alarms == {"low_reservoir", "motor_stall"}
    assert sum(isinstance(e, ToneSounded) for e in events) > 20
    assert final["reservoir_nl"] > 0 and final["log"]["next_seq"] > MODEL.event_log_entries  # the log wrapped
    _bridges_carried_the_old_flows(events, deliveries)
    for other in (stepped, randomly):
        assert other[0] == strokes
        assert other[1] == events
        assert other[2] == final
        assert other[3] == head


def _bridges_carried_the_old_flows(events: list[object], deliveries: list[Delivery]) -> None:
    """Both bridges ran for days across flexible steps at the old solution's flows, then the new flows began."""
    marks = [
        (e.entry.kind, e.entry.at_ms)
        for e in events
        if isinstance(e, Logged) and e.entry.kind in ("bolus_start", "bolus_end") and e.entry.get("kind") == "bridge"
    ]
    assert [kind for kind, _ in marks] == ["bolus_start", "bolus_end"] * 2
    flows_10 = {step.flow_nl_per_day for day in DOSES.flows(10_000_000).days for step in day}
    flows_8 = {step.flow_nl_per_day for day in DOSES.flows(8_000_000).days for step in day}
    assert not flows_10 & flows_8
    for (_, start), (_, end), old, new in ((*marks[0:2], flows_10, flows_8), (*marks[2:4], flows_8, flows_10)):
        assert end - start > MS_PER_DAY  # a whole day of steps (and more) passed under the bridge
        during = {d.rate_nl_per_day for d in deliveries if start <= d.start_ms < end}
        after = {d.rate_nl_per_day for d in deliveries if end <= d.start_ms < end + 2 * MS_PER_DAY}
        assert len(during & old) >= 4 and not during & new
        assert len(after & new) >= 4 and not after & old


def test_a_year_with_restarts_from_memory_is_the_same_year() -> None:
    """Restarting from the non-volatile image before every 20th outside command changes nothing at all."""
    assert _run(_jump, power_cycle_every=20) == _run(_jump)


def test_one_advance_over_a_whole_year_equals_the_year_stroke_by_stroke() -> None:
    """With no outside event at all, one advance(365 days) and stroke-by-stroke stepping agree bit for bit."""
    # A lower flow (about 0.1 mL/day with the periodic bolus) so that 40 mL last the year without a refill.
    weekday = (
        DoseStep(0, 600_000),
        DoseStep(6 * MS_PER_HOUR + 45 * MS_PER_MIN, 916_670),
        DoseStep(12 * MS_PER_HOUR, 750_010),
        DoseStep(17 * MS_PER_HOUR + 30 * MS_PER_MIN + 7, 1_005_000),
        DoseStep(22 * MS_PER_HOUR, 480_000),
    )
    weekend = (DoseStep(0, 500_010), DoseStep(9 * MS_PER_HOUR, 800_000), DoseStep(14 * MS_PER_HOUR + 1, 602_500))
    quiet = DoseSchedule((weekday,) * 5 + (weekend,) * 2)
    plan = PeriodicBolusPlan(100_000, 20 * MS_PER_MIN, 8 * MS_PER_HOUR, START_WALL_MS + 2 * MS_PER_HOUR + 17_000)

    def year(step_to: Stepper) -> tuple[list[int], list[object], dict]:
        fw = Firmware(MODEL, FORMULARY, wall_ms=START_WALL_MS)
        for command in (Fill(40_000_000, MORPHINE), Program(quiet), SetPeriodicBolus(plan)):
            assert fw.handle(command).accepted
        strokes: list[int] = []
        events: list[object] = []

        def take(actions: list) -> None:
            for a in actions:
                if isinstance(a, Delivery):
                    strokes.extend(a.stroke_times_ms())
                else:
                    events.append(a)

        step_to(fw, YEAR_MS, take)
        return strokes, events, fw.state.to_data()

    one_call = year(_jump)
    assert len(one_call[0]) > 100_000 and 0 < one_call[2]["reservoir_nl"] < 20_000_000
    assert sum(isinstance(e, Logged) and e.entry.kind == "bolus_start" for e in one_call[1]) == 3 * 365
    assert year(_stroke_by_stroke) == one_call
