"""Firmware core: its speed on years of flexible dosing, the start-up of the command line, and the dose error.

The workload (the issue's): a 40 mL pump on morphine 10 mg/mL with 13 steps a
day that differ by weekday, three demand doses a day, a refill every 120 days,
for 7 pump-years, fast-forwarded from event to event on one core. It prints
the CPU time of the firmware (median of several runs; the timeline of what
people do is made before the clock starts), pump-years per second, and the
speed-up over stepping the same firmware stroke by stroke: fast-forward and
stroke stepping run the same year in turns, so that a change of load hits
both, and the ratio is the median of the pairs. The two must end in the same
state with the same log, or nothing is printed. Beside them: the same workload
with the motor's work put out as `Delivery` records, as the virtual pump (and
so the scenario runner and the trials) runs the firmware, and the machine's
load, which slows every run.

Start-up: the whole process of `thecal --version` and of `thecal simulate
examples/demo.toml --json`, against `python -c pass`, each run in turns
several times (median), with the interpreter's bytecode cache as a user has it;
the simulation with its checked files kept (the usual case) and with an empty
cache (every file checked by its schema); and the modules each imports.

Dose error: the trumpet-curve method of IEC 60601-2-24 applied to the
software. Over 30 days of the 13-step week with demand and periodic boluses,
the largest |delivered − programmed| over every window of 1 min, 1 h, 1 day and
7 days, in strokes; and, for a grid of bolus volumes and durations, how many
boluses end exactly at their volume. Speed is measured here only, never in a
test; tests/pump uses the workload and the dose-error arithmetic below.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from thecal.drugs import pump_formulary
from thecal.pump.core import (
    Command,
    Delivery,
    DemandLimits,
    DoseSchedule,
    DoseStep,
    Fill,
    Firmware,
    Formulary,
    Logged,
    PeriodicBolusPlan,
    PrimingBolus,
    Program,
    RequestDemandBolus,
    SetDemandLimits,
    SetPeriodicBolus,
)
from thecal.pump.core.integers import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN, NL_PER_ML
from thecal.pump.model import PumpModel, load_model

YEAR_MS = 365 * MS_PER_DAY
YEARS = 7
START_WALL_MS = 1_767_600_000_000  # Monday 2026-01-05 08:00 UTC
MORPHINE = (("morphine", 10_000_000),)  # 10 mg/mL: a dose of d ng/day is a flow of d / 10 nL/day
REFILL = Fill(40_000_000, MORPHINE)
REFILL_EVERY_DAYS = 120
DEMAND_TIMES_MS = (8 * MS_PER_HOUR, 14 * MS_PER_HOUR, 20 * MS_PER_HOUR)
# 0.15 mg over 11 min 13 s: 15 000 nL at a rate that is not a whole number of nL/day, so it is rounded up.
DEMAND = DemandLimits(150_000, 11 * MS_PER_MIN + 13_000, 4 * MS_PER_HOUR, 4)
# 0.25 mg over 17 min 3 s every 8 h, also at a rounded-up rate.
PERIODIC_DOSE_NG = 250_000
PERIODIC_DURATION_MS = 17 * MS_PER_MIN + 3_000
WINDOWS_MS = (MS_PER_MIN, MS_PER_HOUR, MS_PER_DAY, 7 * MS_PER_DAY)
REPETITIONS = 5


def week_of_13_steps() -> DoseSchedule:
    """Thirteen steps a day, every weekday its own: the steps come 7 min 13 ms later and give 10 mcg/day more
    each day from Monday on, so that no two days share a boundary."""
    hours = (0, 2, 4, 6, 7, 8, 10, 12, 14, 16, 18, 20, 22)
    doses = (1_100_000, 1_250_000, 1_400_000, 1_900_000, 1_700_000, 1_550_000, 1_800_000)
    doses += (1_650_000, 1_500_000, 1_750_000, 1_600_000, 1_300_000, 1_150_000)
    return DoseSchedule(
        tuple(
            tuple(
                DoseStep(0 if h == 0 else h * MS_PER_HOUR + day * (7 * MS_PER_MIN + 13), dose + 10_000 * day)
                for h, dose in zip(hours, doses, strict=True)
            )
            for day in range(7)
        )
    )


def _pump(*, periodic: bool = False, model: PumpModel | None = None, formulary: Formulary | None = None) -> Firmware:
    """The workload's pump: filled, on the 13-step week, demand doses on (and, with `periodic`, a periodic bolus
    every 8 h from 2 h 17 s after the start)."""
    fw = Firmware(model or load_model("programmable-40"), formulary or pump_formulary(), wall_ms=START_WALL_MS)
    commands: list[Command] = [Fill(40_000_000, MORPHINE), Program(week_of_13_steps()), SetDemandLimits(DEMAND)]
    if periodic:
        first = START_WALL_MS + 2 * MS_PER_HOUR + 17_000
        plan = PeriodicBolusPlan(PERIODIC_DOSE_NG, PERIODIC_DURATION_MS, 8 * MS_PER_HOUR, first)
        commands.append(SetPeriodicBolus(plan))
    for command in commands:
        if not fw.handle(command).accepted:
            raise SystemExit(f"the benchmark's pump refused {command}")
    return fw


def _timeline(years: float) -> list[tuple[int, Command]]:
    """What people do: three presses a day and a refill every 120 days, at pump times."""
    events: list[tuple[int, Command]] = []
    for day in range(round(years * 365)):
        events += [(day * MS_PER_DAY + t, RequestDemandBolus()) for t in DEMAND_TIMES_MS]
        if day and day % REFILL_EVERY_DAYS == 0:
            events.append((day * MS_PER_DAY, REFILL))
    return sorted(events, key=lambda e: e[0])


Stepper = Callable[[Firmware, int], object]


def _drive(fw: Firmware, years: float, advance: Stepper, timeline: list[tuple[int, Command]] | None = None) -> int:
    """Run the timeline for `years` (made beforehand, or here) with `advance` taking the pump from event to event;
    return the strokes."""
    before = fw.state.strokes_total
    for at, command in _timeline(years) if timeline is None else timeline:
        advance(fw, at)
        fw.handle(command)
    advance(fw, round(years * YEAR_MS))
    return fw.state.strokes_total - before


def fast_forward(fw: Firmware, to_ms: int) -> None:
    """One jump, with no motor to drive."""
    fw.advance(to_ms, deliveries=False)


def with_motor(fw: Firmware, to_ms: int) -> None:
    """One jump, with the motor's work put out as `Delivery` records, as `VirtualPump` (and so the scenario
    runner and the trials) asks for it."""
    fw.advance(to_ms)


def stroke_by_stroke(fw: Firmware, to_ms: int) -> None:
    """One call per stroke."""
    while fw.state.now_ms < to_ms:
        t = fw.next_stroke_ms()
        fw.advance(to_ms if t is None else min(t, to_ms), deliveries=False)


def _cpu(run: Callable[[], object]) -> float:
    start = time.process_time()
    run()
    return time.process_time() - start


def firmware_figures(repetitions: int = REPETITIONS, years: int = YEARS) -> dict[str, float]:
    """CPU time of the workload fast-forwarded, and the speed-up over stroke stepping measured in turns."""
    model, formulary = load_model("programmable-40"), pump_formulary()
    # What people do is the input, made before the clock starts: the time measured is the firmware's.
    timeline, one_year = _timeline(years), _timeline(1)
    # Other work on the machine slows every run: its load is printed beside the figures.
    load_before = os.getloadavg()[0]
    seconds = []
    for _ in range(repetitions):
        fw = _pump(model=model, formulary=formulary)
        seconds.append(_cpu(lambda fw=fw: _drive(fw, years, fast_forward, timeline)))
    motor = []
    for _ in range(repetitions):
        driven = _pump(model=model, formulary=formulary)
        motor.append(_cpu(lambda fw=driven: _drive(fw, years, with_motor, timeline)))
    if driven.state.to_data() != fw.state.to_data():
        raise SystemExit("with and without a motor the firmware ends differently: the benchmark compares unequal runs")
    ratios, jumped, stepped = [], [], []
    for _ in range(repetitions):
        a, b = _pump(model=model, formulary=formulary), _pump(model=model, formulary=formulary)
        jumped.append(_cpu(lambda a=a: _drive(a, 1, fast_forward, one_year)))
        stepped.append(_cpu(lambda b=b: _drive(b, 1, stroke_by_stroke, one_year)))
        if a.state.to_data() != b.state.to_data():
            raise SystemExit("fast-forward and stroke stepping disagree: the benchmark compares unequal results")
        ratios.append(stepped[-1] / jumped[-1])
    fw = _pump(model=model, formulary=formulary)
    strokes = _drive(fw, years, fast_forward)
    median = statistics.median(seconds)
    return {
        "years": years,
        "strokes": strokes,
        "log_entries": fw.state.log.next_seq,
        "cpu_seconds": median,
        "cpu_seconds_min": min(seconds),
        "pump_years_per_second": years / median,
        "with_motor_cpu_seconds": statistics.median(motor),
        "one_year_fast_forward_seconds": statistics.median(jumped),
        "one_year_stroke_by_stroke_seconds": statistics.median(stepped),
        "speedup": statistics.median(ratios),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }


# ----------------------------------------------------------------------------------------------- start-up


def _wall(command: Sequence[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def startup_figures(repetitions: int = 2 * REPETITIONS + 1) -> dict[str, float]:
    """Wall time of whole processes, in turns, medians: the bare interpreter, `--version`, a short simulation."""
    root = Path(__file__).resolve().parents[1]
    thecal = shutil.which("thecal", path=str(Path(sys.executable).parent)) or "thecal"
    # As a user runs it: the interpreter keeps its compiled bytecode (a first run below writes it).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    commands = {
        "python_pass": [sys.executable, "-c", "pass"],
        "version": [thecal, "--version"],
        "simulate_demo": [thecal, "simulate", "examples/demo.toml", "--json"],
    }
    times: dict[str, list[float]] = {name: [] for name in [*commands, "simulate_demo_cold"]}
    for command in commands.values():
        _wall(command, env, root)
    with tempfile.TemporaryDirectory() as caches:
        for turn in range(repetitions):
            for name, command in commands.items():
                if name != "simulate_demo" or len(times[name]) < REPETITIONS:
                    times[name].append(_wall(command, env, root))
            if turn < REPETITIONS:  # the same command with an empty cache: every file checked by its schema
                cold = {**env, "XDG_CACHE_HOME": str(Path(caches, str(turn)))}
                times["simulate_demo_cold"].append(_wall(commands["simulate_demo"], cold, root))
    return {f"{name}_seconds": statistics.median(values) for name, values in times.items()}


def command_imports(*args: str) -> set[str]:
    """The modules the command line `thecal args` (by default `--version`) imports, as `python -X importtime` lists."""
    code = f"import sys; sys.argv = ['thecal', *{list(args or ['--version'])!r}]; from thecal.cli import main; main()"
    ran = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    return {
        line.split("|")[-1].strip()
        for line in ran.stderr.splitlines()
        if line.startswith("import time:") and not line.rstrip().endswith("package")
    }


# --------------------------------------------------------------------------------------------- dose error


@dataclass(frozen=True)
class Programmed:
    """The flow integral the pump was programmed to give from pump time 0, in nL·ms/day, at integer times.

    The basal: each step's flow from the prescription, over its time. A bolus: the rate and the volume the pump
    logged when it started, from its start on, until its volume is given.
    """

    basal_starts: np.ndarray  # pump times at which a basal step starts, the first at 0
    basal_flows: np.ndarray
    basal_before: np.ndarray  # the basal integral up to each start
    bolus_starts: np.ndarray
    bolus_rates: np.ndarray
    bolus_totals: np.ndarray  # volume × ms per day: the integral of the whole bolus
    bolus_before: np.ndarray  # the integral of all earlier boluses

    def at(self, t: np.ndarray) -> np.ndarray:
        """The programmed integral at each of the pump times `t`."""
        i = np.searchsorted(self.basal_starts, t, side="right") - 1
        basal = self.basal_before[i] + self.basal_flows[i] * (t - self.basal_starts[i])
        if not len(self.bolus_starts):
            return basal
        j = np.searchsorted(self.bolus_starts, t, side="right") - 1
        k = np.maximum(j, 0)
        running = np.minimum(self.bolus_rates[k] * (t - self.bolus_starts[k]), self.bolus_totals[k])
        return basal + np.where(j >= 0, self.bolus_before[k] + running, 0)

    def breaks(self) -> np.ndarray:
        """Where the programmed flow changes: step starts, bolus starts, and the millisecond each bolus ends in."""
        ends = self.bolus_starts + self.bolus_totals / np.maximum(self.bolus_rates, 1)
        return np.concatenate([self.basal_starts, self.bolus_starts, np.floor(ends), np.ceil(ends)]).astype(np.int64)


def programmed(
    doses: DoseSchedule, concentration_ng_per_ml: int, wall_offset_ms: int, end_ms: int, boluses: list[tuple[int, ...]]
) -> Programmed:
    """The programme of a pump that ran `doses` from pump time 0 to `end_ms` and gave `boluses` (start, rate,
    volume), worked out from the prescription itself."""
    starts: list[int] = []
    flows: list[int] = []
    first_day = (wall_offset_ms - 4 * MS_PER_DAY) // MS_PER_DAY  # days since the first Monday after the epoch
    for day in range(first_day, first_day + end_ms // MS_PER_DAY + 2):
        for step in doses.days[day % 7]:
            at = day * MS_PER_DAY + 4 * MS_PER_DAY + step.start_ms - wall_offset_ms
            starts.append(at)
            flows.append(step.dose_ng_per_day * NL_PER_ML // concentration_ng_per_ml)
    keep = [i for i, at in enumerate(starts) if i + 1 < len(starts) and starts[i + 1] > 0]
    starts = [max(starts[i], 0) for i in keep]
    flows = [flows[i] for i in keep]
    before = [0]
    for i in range(1, len(starts)):
        before.append(before[-1] + flows[i - 1] * (starts[i] - starts[i - 1]))
    totals = [volume * MS_PER_DAY for _, _, volume in boluses]
    return Programmed(
        np.array(starts, dtype=np.int64),
        np.array(flows, dtype=np.int64),
        np.array(before, dtype=np.int64),
        np.array([b[0] for b in boluses], dtype=np.int64),
        np.array([b[1] for b in boluses], dtype=np.int64),
        np.array(totals, dtype=np.int64),
        np.array([sum(totals[:i]) for i in range(len(totals))], dtype=np.int64),
    )


def largest_window_error(
    stroke_times: np.ndarray, plan: Programmed, stroke_nl: int, window_ms: int, end_ms: int
) -> Fraction:
    """The largest |delivered − programmed| over every window of `window_ms` within [0, end_ms], in strokes.

    Delivered in the window (a, a + w] is the strokes completed in it; programmed is the integral's increase.
    Between the moments where a stroke or a change of flow enters or leaves the window, the error is linear in
    a, so its extremes over all integer a are at those moments and one millisecond before them: every window is
    covered exactly, without sliding it over every millisecond.
    """
    unit = stroke_nl * MS_PER_DAY
    marks = np.concatenate([stroke_times, plan.breaks()])
    a = np.unique(np.concatenate([marks, marks - 1, marks - window_ms, marks - window_ms - 1, [0]]))
    a = a[(a >= 0) & (a <= end_ms - window_ms)]
    delivered = np.searchsorted(stroke_times, a + window_ms, side="right") - np.searchsorted(
        stroke_times, a, side="right"
    )
    error = delivered * unit - (plan.at(a + window_ms) - plan.at(a))
    return Fraction(int(np.abs(error).max()), unit)


@dataclass(frozen=True)
class Recorded:
    """What a pump did: every stroke's time, the boluses it started (start, rate, volume), the ones it cut short."""

    stroke_times: np.ndarray
    boluses: list[tuple[int, int, int]]
    interrupted: int


def record(fw: Firmware, timeline: list[tuple[int, Command]], end_ms: int) -> Recorded:
    """Run `fw` through `timeline` to `end_ms` in jumps from event to event, and record what the motor did."""
    strokes: list[int] = []
    boluses: list[tuple[int, int, int]] = []
    interrupted = 0

    def take(actions: Sequence[object]) -> None:
        nonlocal interrupted
        for a in actions:
            if isinstance(a, Delivery):
                strokes.extend(a.stroke_times_ms())
            elif isinstance(a, Logged) and a.entry.kind == "bolus_start" and a.entry.get("rate_nl_per_day"):
                rate, volume = a.entry.get("rate_nl_per_day"), a.entry.get("volume_nl")
                boluses.append((a.entry.at_ms, int(rate or 0), int(volume or 0)))
            elif isinstance(a, Logged) and a.entry.kind == "bolus_interrupted":
                interrupted += 1

    for at, command in timeline:
        take(fw.advance(at))
        take(fw.handle(command).actions)
    take(fw.advance(end_ms))
    return Recorded(np.array(strokes, dtype=np.int64), boluses, interrupted)


def trumpet(days: int = 30) -> dict[int, Fraction]:
    """The largest |delivered − programmed| for each window, over `days` of the 13-step week with demand and
    periodic boluses."""
    fw = _pump(periodic=True)
    end = days * MS_PER_DAY
    run = record(fw, _timeline(days / 365), end)
    if run.interrupted:
        raise SystemExit("a bolus was cut short: the programme below does not describe this run")
    plan = programmed(week_of_13_steps(), MORPHINE[0][1], fw.state.wall_offset_ms, end, run.boluses)
    return {w: largest_window_error(run.stroke_times, plan, fw.model.stroke_nl, w, end) for w in WINDOWS_MS}


def bolus_endings(volumes_nl: Sequence[int], durations_ms: Sequence[int]) -> dict[str, int]:
    """For every pair of volume and duration, a priming bolus alone: does it give exactly its volume, more, or
    less, by the end the pump logged?"""
    model, formulary = load_model("programmable-40"), pump_formulary()
    counts = {"pairs": 0, "exact": 0, "more": 0, "less": 0}
    for volume in volumes_nl:
        for duration in durations_ms:
            fw = Firmware(model, formulary)
            fw.handle(Fill(20_000_000, MORPHINE))
            started = fw.handle(PrimingBolus(volume, duration))
            if not started.accepted:
                continue
            fw.advance(int(started.info["ends_ms"]))
            given = fw.state.strokes_total * model.stroke_nl * MS_PER_DAY + fw.state.phase
            counts["pairs"] += 1
            key = "exact" if given == volume * MS_PER_DAY else "more" if given > volume * MS_PER_DAY else "less"
            counts[key] += 1
    return counts


# ---------------------------------------------------------------------------------------------- exactness


@dataclass
class Fingerprint:
    """Everything a run did, to compare runs bit for bit: every stroke's time (as a digest and a count), every
    other action and every command's outcome, the final state and the log's head."""

    strokes: int
    stroke_digest: str
    events: list[object]
    final: dict[str, object]
    head: bytes


Cutter = Callable[[Firmware, int, Callable[[Sequence[object]], None]], None]


def one_jump(fw: Firmware, to_ms: int, take: Callable[[Sequence[object]], None]) -> None:
    """Straight to the next event."""
    take(fw.advance(to_ms))


def no_motor(fw: Firmware, to_ms: int, take: Callable[[Sequence[object]], None]) -> None:
    """Straight to the next event, with no motor to drive: no deliveries, the rest the same."""
    take(fw.advance(to_ms, deliveries=False))


def each_stroke(fw: Firmware, to_ms: int, take: Callable[[Sequence[object]], None]) -> None:
    """One call per stroke."""
    while fw.state.now_ms < to_ms:
        t = fw.next_stroke_ms()
        take(fw.advance(to_ms if t is None else min(t, to_ms)))


def random_steps(seed: int) -> Cutter:
    """Mostly short cuts (many per stroke), now and then a jump of days."""
    rng = random.Random(seed)
    sizes = (1_000, 10_000, MS_PER_MIN, 10 * MS_PER_MIN, 2 * MS_PER_HOUR) * 10 + (3 * MS_PER_DAY,)

    def cut(fw: Firmware, to_ms: int, take: Callable[[Sequence[object]], None]) -> None:
        while fw.state.now_ms < to_ms:
            take(fw.advance(min(to_ms, fw.state.now_ms + rng.randint(1, rng.choice(sizes)))))

    return cut


def stroke_by_stroke_within(spans: Sequence[tuple[int, int]]) -> Cutter:
    """Stroke by stroke within the given spans of pump time, one jump outside them."""

    def cut(fw: Firmware, to_ms: int, take: Callable[[Sequence[object]], None]) -> None:
        for start, end in spans:
            if fw.state.now_ms < start:
                one_jump(fw, min(start, to_ms), take)
            if start <= fw.state.now_ms < end:
                each_stroke(fw, min(end, to_ms), take)
        one_jump(fw, to_ms, take)

    return cut


def fingerprint(fw: Firmware, timeline: list[tuple[int, Command]], end_ms: int, cut: Cutter) -> Fingerprint:
    """Run `fw` through `timeline` to `end_ms`, time cut by `cut`, and take the run's fingerprint."""
    digest = hashlib.sha256()
    strokes = 0
    events: list[object] = []

    def take(actions: Sequence[object]) -> None:
        nonlocal strokes
        for a in actions:
            if isinstance(a, Delivery):
                times = a.stroke_times_ms()
                strokes += len(times)
                digest.update(array("q", times).tobytes())
            else:
                events.append(a)

    for at, command in timeline:
        cut(fw, at, take)
        out = fw.handle(command)
        events.append((type(command).__name__, out.accepted, out.refusal, out.info))
        take(out.actions)
    cut(fw, end_ms, take)
    return Fingerprint(strokes, digest.hexdigest(), events, fw.state.to_data(), fw.state.log.head())


def exactness(years: int = YEARS) -> dict[str, float]:
    """The three-way proof in full: `years` of the 13-step week with demand and periodic boluses, jumped, stroke
    by stroke and in random steps; the seconds each took, and 1.0 when all three are the same to the bit."""
    timeline, end = _timeline(years), years * YEAR_MS
    seconds, prints = {}, []
    for name, cut in (("one_jump", one_jump), ("stroke_by_stroke", each_stroke), ("random", random_steps(7))):
        fw = _pump(periodic=True)
        start = time.process_time()
        prints.append(fingerprint(fw, timeline, end, cut))
        seconds[f"{name}_seconds"] = time.process_time() - start
    return {**seconds, "strokes": prints[0].strokes, "identical": float(all(p == prints[0] for p in prints))}


# ----------------------------------------------------------------------------------------------- report


def _window_name(ms: int) -> str:
    return {MS_PER_MIN: "1 min", MS_PER_HOUR: "1 h", MS_PER_DAY: "1 day", 7 * MS_PER_DAY: "7 days"}[ms]


def report() -> None:
    """Print the figures."""
    r = firmware_figures()
    print(
        f"Firmware core: {r['years']} pump-years of 13 steps a day (differing by weekday), 3 demand doses a day, "
        f"a refill every {REFILL_EVERY_DAYS} days, fast-forward, one core"
    )
    print(
        f"  CPU time: {r['cpu_seconds']:.3f} s (median of {REPETITIONS}; best {r['cpu_seconds_min']:.3f} s), "
        f"{r['strokes']:,} strokes, {r['log_entries']:,} log entries = {r['pump_years_per_second']:.1f} pump-years/s"
    )
    print(
        f"  speed-up over stroke stepping, one year each in turns, median of {REPETITIONS} pairs: "
        f"{r['speedup']:.0f}x ({r['one_year_fast_forward_seconds']:.3f} s against "
        f"{r['one_year_stroke_by_stroke_seconds']:.2f} s; same state and log)"
    )
    print(
        f"  the same with the motor's work put out as Delivery records (as VirtualPump, the scenario runner and "
        f"the trials run it): {r['with_motor_cpu_seconds']:.3f} s CPU (median of {REPETITIONS})"
    )
    print(f"  machine load (1-min average) before and after: {r['load_before']:.2f}, {r['load_after']:.2f}")
    x = exactness()
    print(
        f"  exactness, {YEARS} pump-years with demand and periodic boluses, {x['strokes']:,} strokes: one jump "
        f"{x['one_jump_seconds']:.1f} s, stroke by stroke {x['stroke_by_stroke_seconds']:.1f} s, random steps "
        f"{x['random_seconds']:.1f} s: {'bit-identical' if x['identical'] else 'DIFFERENT'}"
    )
    s = startup_figures()
    print("Start-up, whole process, wall time, median of runs in turns")
    print(f"  python -c pass                              {s['python_pass_seconds']:.3f} s")
    print(f"  thecal --version                            {s['version_seconds']:.3f} s")
    print(f"  thecal simulate examples/demo.toml --json   {s['simulate_demo_seconds']:.3f} s")
    print(f"    the same, its checked files not yet kept  {s['simulate_demo_cold_seconds']:.3f} s (empty cache)")
    for args in (("--version",), ("simulate", "examples/demo.toml", "--json")):
        imported, name = command_imports(*args), " ".join(args)
        heavy = sorted(lib for lib in ("pint", "pydantic", "numpy", "matplotlib", "cryptography") if lib in imported)
        print(
            f"  thecal {name} imports {sum(n.startswith('thecal') for n in imported)} thecal modules, "
            f"{len(imported)} in all; of the heavy libraries: {', '.join(heavy) or 'none'}"
        )
    print("Dose error (trumpet curve, IEC 60601-2-24 method): 30 days of 13 steps with demand and periodic boluses")
    print("  window    largest |delivered - programmed|")
    for window, error in trumpet().items():
        print(f"  {_window_name(window):<8}  {float(error):.6f} stroke")
    volumes = range(1_000, 200_001, 4_975)
    durations = [MS_PER_MIN * m + s for m in (1, 7, 13, 30, 59, 120) for s in (0, 1, 333, 7_001)]
    e = bolus_endings(volumes, durations)
    print(
        f"  bolus endings: {e['exact']} of {e['pairs']} volume/duration pairs end exactly at their volume "
        f"({e['more']} give more, {e['less']} less)"
    )
