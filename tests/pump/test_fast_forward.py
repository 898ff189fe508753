"""Exact fast-forward: one jump, stroke-by-stroke stepping and random steps give bit-for-bit the same pump."""

from __future__ import annotations

import random

from thecal.pump.core import (
    DemandLimits,
    Fill,
    Firmware,
    PeriodicBolusPlan,
    Program,
    RequestDemandBolus,
    SetDemandLimits,
    SetPeriodicBolus,
    Step,
    WeekSchedule,
)
from thecal.pump.core.actions import Delivery
from thecal.pump.model import load_model
from thecal.units import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN

START_WALL_MS = 1_767_600_000_000  # Monday 2026-01-05 08:00
DAYS = 365


def _pump() -> Firmware:
    fw = Firmware(load_model("programmable-40"), wall_ms=START_WALL_MS)
    weekday = (Step(0, 120_000), Step(7 * MS_PER_HOUR, 180_000), Step(13 * MS_PER_HOUR + 17 * MS_PER_MIN, 150_001))
    weekend = (Step(0, 99_999), Step(10 * MS_PER_HOUR, 140_000))
    fw.handle(Fill(40_000_000, (("morphine", 10_000_000),)))
    fw.handle(Program(WeekSchedule((weekday,) * 5 + (weekend,) * 2)))
    fw.handle(
        SetPeriodicBolus(PeriodicBolusPlan(7_000, 20 * MS_PER_MIN, 12 * MS_PER_HOUR, START_WALL_MS + MS_PER_HOUR))
    )
    fw.handle(SetDemandLimits(DemandLimits(10_000, 10 * MS_PER_MIN, 3 * MS_PER_HOUR, 4)))
    return fw


def _timeline() -> list[tuple[int, str]]:
    events = [(day * MS_PER_DAY + 5 * MS_PER_HOUR + 123, "press") for day in range(DAYS)]
    events += [(day * MS_PER_DAY + 5 * MS_PER_HOUR + 7 * MS_PER_MIN, "press") for day in range(0, DAYS, 3)]
    events += [(day * MS_PER_DAY, "refill") for day in range(100, DAYS, 100)]
    return sorted(events)


def _run(advance_to) -> tuple[list[int], dict, bytes]:  # type: ignore[no-untyped-def]
    fw = _pump()
    strokes: list[int] = []

    def go(to_ms: int) -> None:
        for action in advance_to(fw, to_ms):
            if isinstance(action, Delivery):
                strokes.extend(action.stroke_times_ms())

    for at, what in _timeline():
        go(at)
        fw.handle(RequestDemandBolus() if what == "press" else Fill(40_000_000, (("morphine", 10_000_000),)))
    go(DAYS * MS_PER_DAY)
    return strokes, fw.state.to_data(), fw.state.log.head()


def _jump(fw: Firmware, to_ms: int) -> list:
    return fw.advance(to_ms)


def _stroke_by_stroke(fw: Firmware, to_ms: int) -> list:
    out: list = []
    while fw.state.now_ms < to_ms:
        t = fw.next_stroke_ms()
        out.extend(fw.advance(to_ms if t is None else min(t, to_ms)))
    return out


_RNG = random.Random(2026)


def _random_steps(fw: Firmware, to_ms: int, rng: random.Random = _RNG) -> list:
    out: list = []
    while fw.state.now_ms < to_ms:
        out.extend(fw.advance(min(to_ms, fw.state.now_ms + rng.randint(1, 9 * MS_PER_HOUR))))
    return out


def test_a_year_fast_forwarded_equals_the_year_stepped_stroke_by_stroke_and_in_random_steps() -> None:
    """Every stroke time, the final state and the log head agree bit for bit across the three ways of running."""
    jump = _run(_jump)
    stepped = _run(_stroke_by_stroke)
    random_steps = _run(_random_steps)
    assert len(jump[0]) > 200_000
    assert jump[0] == stepped[0] == random_steps[0]
    assert jump[1] == stepped[1] == random_steps[1]
    assert jump[2] == stepped[2] == random_steps[2]
