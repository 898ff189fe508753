"""In-silico trials: throughput with 1 and 2 workers, and what each engine costs per task.

Throughput: Smith 2002 (examples/trials/smith2002.toml, 183 days) scaled to
`PATIENTS_PER_ARM` patients an arm, run by the processes engine with 1 and
with 2 workers in turns, `REPETITIONS` times; printed as medians: patients per
second of wall time (worker start-up included, as a user waits for it),
patient-days per CPU-second in the workers (the journey and the reduction),
and the speed-up of 2 workers over 1 (median of the pairs run side by side).
The serial engine runs the same trial in the same turns: the peer without
processes. The machine's load average before and after says how busy it was.

Cost per task: `TASKS` chunks of one patient whose journey does nothing (an
empty outcome), through the engine's whole path (the protocol and the chunk
pickled, the sums sent back and merged), on an engine already started: the
milliseconds a task costs the engine itself, median of `REPETITIONS`. These are
the figures thecal.trials.engines.TASK_COST_S holds; the patient-day cost is
the figure PATIENT_DAY_COST_S holds (serial, so no process is counted twice).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from thecal.trials.engines import DaskEngine, ProcessEngine, make_chunks, trial_patients
from thecal.trials.outcome import PatientOutcome
from thecal.trials.protocol import Protocol, load_protocol, scaled
from thecal.trials.reduce import Sums
from thecal.trials.run import run_trial

SMITH = Path(__file__).resolve().parents[1] / "examples" / "trials" / "smith2002.toml"
PATIENTS_PER_ARM = 20
REPETITIONS = 3
TASKS = 400


def empty_patient(protocol: Protocol, arm: str, index: int) -> PatientOutcome:
    """A journey that does nothing: what is left of a task is the engine's own cost."""
    return PatientOutcome(arm, index, {}, {})


def throughput() -> dict[str, float]:
    """Serial, 1 worker and 2 workers in turns: patients/s, patient-days per CPU-second, medians."""
    repetitions, patients_per_arm = REPETITIONS, PATIENTS_PER_ARM
    protocol = scaled(load_protocol(SMITH), patients_per_arm)
    runs: dict[str, list[tuple[float, float]]] = {"serial": [], "workers_1": [], "workers_2": []}
    reference = None
    for _ in range(repetitions):
        for name, engine, workers in (
            ("serial", "serial", None),
            ("workers_1", "processes", 1),
            ("workers_2", "processes", 2),
        ):
            result = run_trial(protocol, engine, workers)
            text = result.to_json_text()
            if reference is None:
                reference = text
            elif text != reference:
                raise AssertionError(f"{name} gave another result than the first run (was the code changed meanwhile?)")
            facts = result.run
            runs[name].append((facts.patients / facts.wall_seconds, facts.patient_days / facts.cpu_seconds))
    figures: dict[str, float] = {"patients": 2.0 * patients_per_arm, "horizon_days": float(protocol.horizon_days)}
    for name, values in runs.items():
        figures[f"{name}_patients_per_s"] = statistics.median(v[0] for v in values)
        figures[f"{name}_patient_days_per_cpu_s"] = statistics.median(v[1] for v in values)
    figures["speedup_2_over_1"] = statistics.median(
        two[0] / one[0] for one, two in zip(runs["workers_1"], runs["workers_2"], strict=True)
    )
    return figures


def task_costs() -> dict[str, float]:
    """Milliseconds an engine spends on a task of its own (2 workers, engine already started), medians."""
    repetitions, tasks = REPETITIONS, TASKS
    protocol = scaled(load_protocol(SMITH), tasks // 2)
    chunks = make_chunks(trial_patients(protocol), 1)
    figures = {}
    for name, engine in (("processes", ProcessEngine(2)), ("dask", DaskEngine(2))):
        with engine:
            list(engine.run(protocol, chunks[:4], empty_patient))  # workers started and warm
            times = []
            for _ in range(repetitions):
                sums = Sums()
                started = time.perf_counter()
                for result in engine.run(protocol, chunks, empty_patient):
                    sums.merge(result.sums)
                times.append((time.perf_counter() - started) / len(chunks))
                if sums.patients() != len(chunks):
                    raise AssertionError(f"{name}: {sums.patients()} of {len(chunks)} tasks came back")
        figures[f"{name}_ms_per_task"] = 1000 * statistics.median(times)
    return figures


def run() -> dict[str, float]:
    """Every figure of this benchmark."""
    before = os.getloadavg()[0]
    figures = throughput() | task_costs()
    figures["load_before"], figures["load_after"] = before, os.getloadavg()[0]
    return figures


def report() -> None:
    """Print the trial figures."""
    f = run()
    print(
        f"Trials: Smith 2002, {f['patients']:.0f} patients x {f['horizon_days']:.0f} days, medians of {REPETITIONS} "
        f"runs in turns (load average {f['load_before']:.1f} before, {f['load_after']:.1f} after)"
    )
    for name, label in (
        ("serial", "serial, in process"),
        ("workers_1", "processes, 1 worker"),
        ("workers_2", "processes, 2 workers"),
    ):
        print(
            f"  {label:<22} {f[f'{name}_patients_per_s']:7.2f} patients/s   "
            f"{f[f'{name}_patient_days_per_cpu_s']:9,.0f} patient-days per CPU-second"
        )
    print(f"  2 workers over 1: {f['speedup_2_over_1']:.2f}x (median of the pairs)")
    print(
        f"  engine cost per task (2 workers, {TASKS} empty tasks): processes {f['processes_ms_per_task']:.2f} ms, "
        f"dask {f['dask_ms_per_task']:.2f} ms"
    )
