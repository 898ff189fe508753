"""Exact fast-forward over a pump's life: seven years jumped, in random steps and stroke by stroke are one run.

The workload is the issue's: a 40 mL pump on 13 steps a day that differ by
weekday, three demand doses and three periodic boluses a day (each at a rate
rounded up, so each ends in a last millisecond of its own), a refill every 120
days, for seven years, through the battery's elective replacement and its
hourly tones. Only how time is cut differs between runs. Jumped from event to
event and cut at random (mostly many cuts per stroke, now and then days) are
compared over all seven years. Stroke by stroke is compared over the same seven
years, stepping each stroke through the first 30 days, a refill, the elective
replacement and the last day, and jumping in between: stepping all 2.8 million
strokes takes longer than a test may, so `make bench` runs that version whole
(benchmarks/pump_core.py, `exactness`). The same seven years with no motor to
drive (`deliveries=False`, the path `make bench` times) are the same pump too.
"""

from __future__ import annotations

from functools import cache

from benchmarks.pump_core import (
    YEAR_MS,
    Fingerprint,
    _pump,
    _timeline,
    fingerprint,
    no_motor,
    one_jump,
    random_steps,
    stroke_by_stroke_within,
)

from thecal.pump.core import Logged, ToneSounded
from thecal.pump.core.integers import MS_PER_DAY

YEARS = 7
END_MS = YEARS * YEAR_MS


@cache
def _jumped() -> Fingerprint:
    return fingerprint(_pump(periodic=True), _timeline(YEARS), END_MS, one_jump)


def _kinds(run: Fingerprint) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in run.events:
        if isinstance(e, Logged):
            counts[e.entry.kind] = counts.get(e.entry.kind, 0) + 1
    return counts


def test_seven_years_jumped_and_in_random_steps_are_the_same_to_the_bit() -> None:
    """Every stroke's time, every log entry, tone and outcome, the final state and the log's head agree."""
    jumped = _jumped()
    # The years really exercised the pump: millions of strokes, a bolus start and end for every dose, 21
    # refills, the elective replacement with its tones, a log that wrapped many times.
    kinds = _kinds(jumped)
    assert jumped.strokes > 2_500_000
    assert kinds["bolus_start"] == kinds["bolus_end"] == 2 * 3 * YEARS * 365
    assert kinds["fill"] == (YEARS * 365 - 1) // 120  # the refills; the first fill came before the run
    assert kinds["alarm"] == 1 and sum(isinstance(e, ToneSounded) for e in jumped.events) > 1_000
    assert jumped.final["eri_at_ms"] is not None and jumped.final["log"]["next_seq"] > 30_000  # type: ignore[operator]
    assert fingerprint(_pump(periodic=True), _timeline(YEARS), END_MS, random_steps(20260105)) == jumped


def test_seven_years_stepped_stroke_by_stroke_where_it_matters_are_the_same_to_the_bit() -> None:
    """Stroke by stroke through the start, a refill, the elective replacement and the last day of seven years."""
    jumped = _jumped()
    eri = int(jumped.final["eri_at_ms"])  # type: ignore[call-overload]
    spans = (
        (0, 30 * MS_PER_DAY),
        (118 * MS_PER_DAY, 122 * MS_PER_DAY),
        (eri - 2 * MS_PER_DAY, eri + 3 * MS_PER_DAY),
        (END_MS - MS_PER_DAY, END_MS),
    )
    stepped = fingerprint(_pump(periodic=True), _timeline(YEARS), END_MS, stroke_by_stroke_within(spans))
    assert stepped == jumped


def test_seven_years_with_no_motor_to_drive_are_the_same_pump() -> None:
    """The fast path (`advance(..., deliveries=False)`, what `make bench` times): every log entry, tone and
    outcome, the final state with its strokes, and the log's head agree with the jumped run; only the deliveries
    are missing."""
    jumped = _jumped()
    fast = fingerprint(_pump(periodic=True), _timeline(YEARS), END_MS, no_motor)
    assert fast.strokes == 0 and fast.final["strokes_total"] == jumped.final["strokes_total"]
    assert (fast.events, fast.final, fast.head) == (jumped.events, jumped.final, jumped.head)
