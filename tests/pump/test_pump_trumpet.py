"""Dose error as a measured property: the trumpet curve of IEC 60601-2-24, applied to the software.

The standard measures an infusion pump's delivered volume over observation
windows of several lengths, slid along a run, against what was programmed.
Here the run is 30 days of 13 steps a day that differ by weekday, with three
demand doses and three periodic boluses a day, each at a rate rounded up to a
whole nL/day. Delivered is the strokes the firmware completed in a window;
programmed is worked out from the prescription and from each bolus's rate and
volume as the pump logged them. Every window of 1 min, 1 h, 1 day and 7 days is
covered exactly (benchmarks/pump_core.py says how), and none strays more than
one stroke: a pump that moves in strokes can do no better, and a bolus that ran
its rounded-up rate a whole last millisecond did worse.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from benchmarks.pump_core import (
    MORPHINE,
    WINDOWS_MS,
    _pump,
    _timeline,
    largest_window_error,
    programmed,
    record,
    week_of_13_steps,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from thecal.pump.core import Delivery, Fill, Firmware, Formulary, Logged, PrimingBolus
from thecal.pump.core.integers import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN
from thecal.pump.model import PumpModel

DAYS = 30


@pytest.fixture(scope="module")
def month() -> tuple[Firmware, np.ndarray, list[tuple[int, int, int]]]:
    """Thirty days of the workload: the pump, every stroke's time and the boluses it started."""
    fw = _pump(periodic=True)
    run = record(fw, _timeline(DAYS / 365), DAYS * MS_PER_DAY)
    assert run.interrupted == 0
    return fw, run.stroke_times, run.boluses


def test_no_window_strays_more_than_one_stroke_from_the_programme(month) -> None:
    """Over every window of 1 min, 1 h, 1 day and 7 days, |delivered − programmed| is at most one stroke."""
    fw, strokes, boluses = month
    assert len(boluses) == 6 * DAYS and len(strokes) > 25_000
    # Every bolus rate of this run is rounded up: none divides its volume × day by its duration.
    assert all(volume * MS_PER_DAY % rate for _, rate, volume in boluses)
    plan = programmed(week_of_13_steps(), MORPHINE[0][1], fw.state.wall_offset_ms, DAYS * MS_PER_DAY, boluses)
    errors = {w: largest_window_error(strokes, plan, fw.model.stroke_nl, w, DAYS * MS_PER_DAY) for w in WINDOWS_MS}
    assert all(error <= 1 for error in errors.values()), errors
    # The strokes lag the flow by up to a stroke, and the short windows see nearly all of it.
    assert errors[MS_PER_MIN] > Fraction(9, 10) and errors[MS_PER_HOUR] > Fraction(9, 10)


def test_the_method_sees_a_pump_that_strays(month) -> None:
    """The same strokes against a programme with one bolus fewer, or a basal 1 % lower, stray by far more."""
    fw, strokes, boluses = month
    wall, end = fw.state.wall_offset_ms, DAYS * MS_PER_DAY
    without_one = programmed(week_of_13_steps(), MORPHINE[0][1], wall, end, boluses[:40] + boluses[41:])
    assert largest_window_error(strokes, without_one, fw.model.stroke_nl, MS_PER_HOUR, end) > 50
    weaker = programmed(week_of_13_steps(), MORPHINE[0][1] * 101 // 100, wall, end, boluses)
    assert largest_window_error(strokes, weaker, fw.model.stroke_nl, 7 * MS_PER_DAY, end) > 20


@settings(max_examples=300, deadline=None)
@given(
    volume=st.integers(1, 200_000),
    duration=st.integers(1, 6 * MS_PER_HOUR),
    start=st.integers(0, 10_000),
)
def test_a_bolus_ends_exactly_at_its_volume_when_the_pump_said_it_would(
    model20: PumpModel, wide_formulary: Formulary, volume: int, duration: int, start: int
) -> None:
    """Whatever the volume and duration, a bolus gives exactly its volume, never more, and ends at the time it
    logged: it runs its rounded-up rate, and its last millisecond gives only what is left."""
    fw = Firmware(model20, wide_formulary)
    assert fw.handle(Fill(20_000_000, (("placebo", 1_000_000),))).accepted  # the wide formulary's drug
    fw.advance(start)
    started = fw.handle(PrimingBolus(volume, duration))
    if not started.accepted:
        return  # faster than the pump's bolus flow, or more than the tubing holds: refused, nothing to measure
    entry = next(a.entry for a in started.actions if isinstance(a, Logged) and a.entry.kind == "bolus_start")
    rate, ends = int(entry.get("rate_nl_per_day") or 0), int(started.info["ends_ms"])
    total = volume * MS_PER_DAY
    actions = fw.advance(ends)
    flows = [(d.start_ms, d.end_ms, d.rate_nl_per_day) for d in actions if isinstance(d, Delivery)]
    given_integral = sum((end - start) * r for start, end, r in flows)
    assert given_integral == total
    assert all(r <= rate for _, _, r in flows)
    assert flows[-1][1] == ends and (ends - start) * rate >= total > (ends - start - 1) * rate
    ended = [a.entry for a in actions if isinstance(a, Logged) and a.entry.kind == "bolus_end"]
    assert [e.at_ms for e in ended] == [ends] and fw.state.bolus is None
