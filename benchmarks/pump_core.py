"""Firmware core speed: years of flexible dosing with three demand doses a day.

Measures simulated pump-years per second of the exact fast-forward, and its
speed-up over stepping the same firmware stroke by stroke, both in this run.
Stroke stepping is measured over the first year only (it is slow by nature)
and compared per simulated year; the two runs' first-year strokes are
checked to be identical, so the comparison is between equal results.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from thecal.drugs import pump_formulary
from thecal.pump.core import (
    DemandLimits,
    DoseSchedule,
    DoseStep,
    Fill,
    Firmware,
    Program,
    RequestDemandBolus,
    SetDemandLimits,
)
from thecal.pump.core.actions import Delivery
from thecal.pump.model import load_model
from thecal.units import MS_PER_DAY, MS_PER_HOUR

YEAR_MS = 365 * MS_PER_DAY
START_WALL_MS = 1_767_600_000_000  # 2026-01-05 08:00
DEMAND_TIMES_MS = (8 * MS_PER_HOUR, 14 * MS_PER_HOUR, 20 * MS_PER_HOUR)
REFILL_EVERY_DAYS = 150


def _pump() -> Firmware:
    fw = Firmware(load_model("programmable-40"), pump_formulary(), wall_ms=START_WALL_MS)
    # Morphine 10 mg/mL: 1.2 mg/day is 0.12 mL/day.
    weekday = (
        DoseStep(0, 1_200_000),
        DoseStep(7 * MS_PER_HOUR, 1_800_000),
        DoseStep(12 * MS_PER_HOUR, 1_500_000),
        DoseStep(18 * MS_PER_HOUR, 1_700_000),
        DoseStep(22 * MS_PER_HOUR, 1_200_000),
    )
    weekend = (DoseStep(0, 1_200_000), DoseStep(9 * MS_PER_HOUR, 1_500_000), DoseStep(22 * MS_PER_HOUR, 1_200_000))
    for command in (
        Fill(40_000_000, (("morphine", 10_000_000),)),
        Program(DoseSchedule((weekday,) * 5 + (weekend,) * 2)),
        SetDemandLimits(DemandLimits(100_000, 10 * 60_000, 4 * MS_PER_HOUR, 3)),
    ):
        if not fw.handle(command).accepted:
            raise SystemExit(f"the benchmark's pump refused {command}")
    return fw


def _timeline(years: int) -> list[tuple[int, str]]:
    """What people do: three presses a day and a refill every 150 days."""
    events = []
    for day in range(years * 365):
        for t in DEMAND_TIMES_MS:
            events.append((day * MS_PER_DAY + t, "press"))
        if day and day % REFILL_EVERY_DAYS == 0:
            events.append((day * MS_PER_DAY, "refill"))
    return sorted(events)


def _drive(fw: Firmware, years: int, advance: Callable[[Firmware, int], list]) -> int:
    strokes = 0
    for at, what in _timeline(years):
        strokes += sum(a.strokes for a in advance(fw, at) if isinstance(a, Delivery))
        if what == "press":
            fw.handle(RequestDemandBolus())
        else:
            fw.handle(Fill(40_000_000, (("morphine", 10_000_000),)))
    strokes += sum(a.strokes for a in advance(fw, years * YEAR_MS) if isinstance(a, Delivery))
    return strokes


def fast_forward(fw: Firmware, to_ms: int) -> list:
    """One jump."""
    return fw.advance(to_ms)


def stroke_by_stroke(fw: Firmware, to_ms: int) -> list:
    """One call per stroke."""
    out: list = []
    while fw.state.now_ms < to_ms:
        t = fw.next_stroke_ms()
        out.extend(fw.advance(to_ms if t is None else min(t, to_ms)))
    return out


def run() -> dict[str, float]:
    """Measure and return the figures."""
    t0 = time.perf_counter()
    fw7 = _pump()
    strokes7 = _drive(fw7, 7, fast_forward)
    ff_seconds = time.perf_counter() - t0

    ff1 = _pump()
    t0 = time.perf_counter()
    strokes_ff1 = _drive(ff1, 1, fast_forward)
    ff1_seconds = time.perf_counter() - t0

    step1 = _pump()
    t0 = time.perf_counter()
    strokes_step1 = _drive(step1, 1, stroke_by_stroke)
    step_seconds = time.perf_counter() - t0
    if strokes_step1 != strokes_ff1 or step1.state.to_data() != ff1.state.to_data():
        raise SystemExit("fast-forward and stroke stepping disagree: the benchmark compares unequal results")
    return {
        "years": 7,
        "strokes": strokes7,
        "fast_forward_seconds": ff_seconds,
        "pump_years_per_second": 7 / ff_seconds,
        "stepping_seconds_one_year": step_seconds,
        "speedup": step_seconds / ff1_seconds,
    }


def report() -> None:
    """Print the figures."""
    r = run()
    print("Firmware core: 7 years of flexible dosing, 3 demand doses a day, refills every 150 days")
    print(
        f"  fast-forward: {r['fast_forward_seconds']:.3f} s for 7 pump-years "
        f"({r['strokes']:,} strokes) = {r['pump_years_per_second']:.1f} pump-years/s"
    )
    print(f"  stroke by stroke, first year: {r['stepping_seconds_one_year']:.2f} s")
    print(f"  speed-up of fast-forward over stroke stepping (same year, identical strokes): {r['speedup']:.0f}x")
