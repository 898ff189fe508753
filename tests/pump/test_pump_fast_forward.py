"""Exact fast-forward: a year jumped, stepped stroke by stroke and in random steps gives the same pump.

The pump is a 40 mL model on a flexible week (five steps on weekdays, four
different ones at the weekend) with a periodic bolus every 8 h, patient
presses at seeded random times (some of them refused), refills, an MRI motor
stall, a stop and resume and a clock change, all at fixed times, identical in
every run. The only thing that differs between runs is how time is cut.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from thecal.pump.core import (
    Alarm,
    ClearAlarm,
    Delivery,
    DemandLimits,
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
    SetClock,
    SetDemandLimits,
    SetPeriodicBolus,
    Step,
    StopTherapy,
    ToneSounded,
    WeekSchedule,
)
from thecal.pump.core.nvm import decode_image, encode_image
from thecal.pump.model import load_model
from thecal.units import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN

MODEL = load_model("programmable-40")
MORPHINE = (("morphine", 10_000_000),)
START_WALL_MS = 1_767_310_200_000  # Thursday 2026-01-01 23:30:00 UTC: the first step change is 30 min away
YEAR_MS = 365 * MS_PER_DAY

WEEKDAY = (
    Step(0, 110_000),
    Step(6 * MS_PER_HOUR + 45 * MS_PER_MIN, 183_333),
    Step(12 * MS_PER_HOUR, 150_001),
    Step(17 * MS_PER_HOUR + 30 * MS_PER_MIN + 7, 201_000),
    Step(22 * MS_PER_HOUR, 96_000),
)
WEEKEND = (
    Step(0, 99_999),
    Step(9 * MS_PER_HOUR, 160_000),
    Step(14 * MS_PER_HOUR + 1, 120_500),
    Step(21 * MS_PER_HOUR, 70_000),
)
SCHEDULE = WeekSchedule((WEEKDAY,) * 5 + (WEEKEND,) * 2)
PERIODIC = PeriodicBolusPlan(25_000, 20 * MS_PER_MIN, 8 * MS_PER_HOUR, START_WALL_MS + 2 * MS_PER_HOUR + 17_000)
DEMAND = DemandLimits(15_000, 15 * MS_PER_MIN, 3 * MS_PER_HOUR, 4)
# Refill days chosen so the reservoir gets low (alarm and hourly tones) before the third refill but never empty.
REFILL_DAYS = (84, 168, 330)


def _timeline() -> list[tuple[int, object]]:
    """The commands from outside, at fixed pump times, the same for every run."""
    rng = random.Random(8637)
    events: list[tuple[int, object]] = []
    for day in range(365):
        for _ in range(rng.choice((0, 1, 2, 3, 5))):
            events.append((day * MS_PER_DAY + rng.randrange(MS_PER_DAY), RequestDemandBolus()))
    for day in REFILL_DAYS:
        events.append((day * MS_PER_DAY + 10 * MS_PER_HOUR, Fill(40_000_000, MORPHINE, aspirated_nl=1_000_000)))
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


def _run(step_to: Stepper, power_cycle_every: int = 0) -> tuple[list[int], list[object], dict, bytes]:
    """Run the year; return every stroke time, every other action and outcome, the final state and log head."""
    fw = Firmware(MODEL, wall_ms=START_WALL_MS)
    strokes: list[int] = []
    events: list[object] = []

    def take(actions: list) -> None:
        for a in actions:
            if isinstance(a, Delivery):
                strokes.extend(a.stroke_times_ms())
            else:
                events.append(a)

    for command in (Fill(40_000_000, MORPHINE), Program(SCHEDULE), SetPeriodicBolus(PERIODIC), SetDemandLimits(DEMAND)):
        assert fw.handle(command).accepted
    for i, (at, command) in enumerate(_timeline()):
        step_to(fw, at, take)
        if power_cycle_every and i % power_cycle_every == 0:
            _, state = decode_image(encode_image(fw.state, 1))
            fw = Firmware(MODEL, state)
        out = fw.handle(command)  # type: ignore[arg-type]
        events.append((type(command).__name__, out.accepted, out.refusal, out.info))
        take(list(out.actions))
    step_to(fw, YEAR_MS, take)
    return strokes, events, fw.state.to_data(), fw.state.log.head()


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
    strokes, events, final, head = jumped
    # The year really exercised the pump: hundreds of thousands of strokes, refusals, alarms and tones.
    assert len(strokes) > 300_000
    assert strokes == sorted(set(strokes))
    refusals = {e[2].code for e in events if isinstance(e, tuple) and not e[1]}
    assert {"locked_out", "daily_maximum", "bolus_running"} <= refusals
    alarms = {e.entry.get("alarm") for e in events if isinstance(e, Logged) and e.entry.kind == "alarm"}
    assert alarms == {"low_reservoir", "motor_stall"}
    assert sum(isinstance(e, ToneSounded) for e in events) > 20
    assert final["reservoir_nl"] > 0 and final["log"]["next_seq"] > MODEL.event_log_entries  # the log wrapped
    for other in (stepped, randomly):
        assert other[0] == strokes
        assert other[1] == events
        assert other[2] == final
        assert other[3] == head


def test_a_year_with_restarts_from_memory_is_the_same_year() -> None:
    """Restarting from the non-volatile image before every 20th outside command changes nothing at all."""
    assert _run(_jump, power_cycle_every=20) == _run(_jump)


def test_one_advance_over_a_whole_year_equals_the_year_stroke_by_stroke() -> None:
    """With no outside event at all, one advance(365 days) and stroke-by-stroke stepping agree bit for bit."""
    # A lower flow (about 0.1 mL/day with the periodic bolus) so that 40 mL last the year without a refill.
    weekday = (
        Step(0, 60_000),
        Step(6 * MS_PER_HOUR + 45 * MS_PER_MIN, 91_667),
        Step(12 * MS_PER_HOUR, 75_001),
        Step(17 * MS_PER_HOUR + 30 * MS_PER_MIN + 7, 100_500),
        Step(22 * MS_PER_HOUR, 48_000),
    )
    weekend = (Step(0, 50_001), Step(9 * MS_PER_HOUR, 80_000), Step(14 * MS_PER_HOUR + 1, 60_250))
    quiet = WeekSchedule((weekday,) * 5 + (weekend,) * 2)
    plan = PeriodicBolusPlan(10_000, 20 * MS_PER_MIN, 8 * MS_PER_HOUR, START_WALL_MS + 2 * MS_PER_HOUR + 17_000)

    def year(step_to: Stepper) -> tuple[list[int], list[object], dict]:
        fw = Firmware(MODEL, wall_ms=START_WALL_MS)
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
