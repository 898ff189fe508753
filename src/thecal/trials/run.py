"""Run a trial: a protocol's patients on an engine, reduced as they arrive, compared with the published figures.

`run_trial(protocol)` returns a `TrialResult` whose `to_json()` depends on the
protocol alone (its name, seed, arms and targets): the same seed gives the
same JSON, byte for byte, whichever engine ran it, on how many workers and in
how many chunks (docs/trials.md). How the run went (engine, workers, chunks,
times) is kept apart, in `TrialResult.run`, and is not part of that JSON.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from thecal.trials.engines import DEFAULT_ENGINE, Task, default_task, open_engine, plan_chunks
from thecal.trials.reduce import ArmSummary, EndpointSummary, Sums

if TYPE_CHECKING:
    from thecal.trials.protocol import Protocol

FORMAT = "thecal-trial/1"
Progress = Callable[[int, int], None]  # (patients done, patients in the trial)


@dataclass(frozen=True)
class TargetCheck:
    """A published figure beside the simulated one: is the simulation inside the tolerance?"""

    arm: str
    endpoint: str
    simulated: float | None  # the mean of a number, the proportion (0–1) of a true/false endpoint
    ci95: tuple[float, float] | None
    published: float
    tolerance: float
    source: str

    @property
    def difference(self) -> float | None:
        """Simulated minus published."""
        return None if self.simulated is None else self.simulated - self.published

    @property
    def inside(self) -> bool:
        """Whether the simulated value lies within the tolerance of the published one."""
        return self.difference is not None and abs(self.difference) <= self.tolerance

    def to_json(self) -> dict[str, object]:
        """The check as JSON-ready fields."""
        return {
            "arm": self.arm,
            "endpoint": self.endpoint,
            "simulated": self.simulated,
            "ci95": None if self.ci95 is None else list(self.ci95),
            "published": self.published,
            "tolerance": self.tolerance,
            "difference": self.difference,
            "inside": self.inside,
            "source": self.source,
        }


@dataclass(frozen=True)
class RunFacts:
    """How a run went: not part of the result, which is the same whatever these are."""

    engine: str
    workers: int
    chunks: int
    chunk_size: int
    patients: int
    patient_days: float  # the days the journeys simulated (`followed_days`), not the days planned
    wall_seconds: float
    cpu_seconds: float  # in the workers, simulating and reducing

    def to_json(self) -> dict[str, object]:
        """The facts as JSON-ready fields."""
        return {
            "engine": self.engine,
            "workers": self.workers,
            "chunks": self.chunks,
            "chunk_size": self.chunk_size,
            "patients": self.patients,
            "patient_days": self.patient_days,
            "wall_seconds": self.wall_seconds,
            "cpu_seconds": self.cpu_seconds,
        }


@dataclass(frozen=True)
class TrialResult:
    """A trial's outcome per arm, its comparison with the published figures, and how the run went."""

    protocol: str
    seed: int
    horizon_days: int
    arm_order: tuple[str, ...]  # as the protocol lists its arms
    arms: Mapping[str, ArmSummary]
    targets: tuple[TargetCheck, ...]
    run: RunFacts

    def to_json(self) -> dict[str, object]:
        """The result as JSON-ready data: the protocol's, never the run's (docs/trials.md)."""
        return {
            "format": FORMAT,
            "protocol": self.protocol,
            "seed": self.seed,
            "horizon_days": self.horizon_days,
            "arm_order": list(self.arm_order),
            "arms": {name: self.arms[name] for name in sorted(self.arms)},
            "targets": [target.to_json() for target in self.targets],
        }

    def to_json_text(self) -> str:
        """The JSON document: sorted keys, one space of indent, the same bytes for the same protocol and seed."""
        return json.dumps(self.to_json(), sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False)


def run_trial(
    protocol: Protocol,
    engine: str = DEFAULT_ENGINE,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    task: Task | None = None,
) -> TrialResult:
    """Play every patient of the protocol out on an engine and reduce them as they arrive."""
    task = task or default_task()
    started = time.perf_counter()
    sums = Sums()
    cpu_seconds = 0.0
    with open_engine(engine, workers, scheduler) as running:
        size, chunks = plan_chunks(protocol, running)
        patients = sum(len(chunk.patients) for chunk in chunks)
        waiting = {chunk.number for chunk in chunks}
        if progress is not None:
            progress(0, patients)
        for result in running.run(protocol, chunks, task):
            if result.failure is not None:
                raise result.failure.error()
            if result.number not in waiting:
                raise RuntimeError(f"chunk {result.number} came back twice or was never sent")
            waiting.discard(result.number)
            sums.merge(result.sums)
            cpu_seconds += result.cpu_seconds
            if progress is not None:
                progress(sums.patients(), patients)
        workers_used = running.workers
    if waiting:
        raise RuntimeError(f"chunks {sorted(waiting)} never came back")
    _check_counts(protocol, sums)
    arms = sums.summary()
    facts = RunFacts(
        engine=engine,
        workers=workers_used,
        chunks=len(chunks),
        chunk_size=size,
        patients=patients,
        patient_days=followed_days(protocol, arms),
        wall_seconds=time.perf_counter() - started,
        cpu_seconds=cpu_seconds,
    )
    return TrialResult(
        protocol=protocol.name,
        seed=protocol.seed,
        horizon_days=protocol.horizon_days,
        arm_order=tuple(arm.name for arm in protocol.arms),
        arms=arms,
        targets=tuple(compare(protocol, arms)),
        run=facts,
    )


def _check_counts(protocol: Protocol, sums: Sums) -> None:
    """Every arm got exactly its patients: a run that lost or doubled one must not report a table."""
    counted = {name: arm.patients for name, arm in sums.arms.items()}
    planned = {arm.name: arm.n_patients for arm in protocol.arms if arm.n_patients}
    if counted != planned:
        raise RuntimeError(f"the trial counted patients per arm {counted}, the protocol plans {planned}")


def compare(protocol: Protocol, arms: Mapping[str, ArmSummary]) -> list[TargetCheck]:
    """Each of the protocol's published targets beside the simulated value and its 95 % CI."""
    checks = []
    for target in protocol.targets:
        arm = arms.get(target.arm)
        simulated, ci95 = _value_of(None if arm is None else arm["endpoints"].get(target.endpoint))
        checks.append(
            TargetCheck(
                arm=target.arm,
                endpoint=target.endpoint,
                simulated=simulated,
                ci95=ci95,
                published=target.value,
                tolerance=target.tolerance,
                source=target.source,
            )
        )
    return checks


def _value_of(summary: EndpointSummary | None) -> tuple[float | None, tuple[float, float] | None]:
    """The simulated value of an endpoint: the mean of a number, the proportion of true/false, with the 95 % CI."""
    if summary is None or summary["kind"] == "unobserved":
        return None, None
    value = summary["mean"] if summary["kind"] == "number" else summary["proportion"]
    ci = summary["ci95"]
    return value, None if ci is None else (ci[0], ci[1])


def followed_days(protocol: Protocol, arms: dict[str, ArmSummary]) -> float:
    """Patient-days the journeys simulated; an arm whose journeys do not report `followed_days` counts its horizon."""
    total = 0.0
    for arm in protocol.arms:
        followed = arms[arm.name]["endpoints"].get("followed_days")
        if followed is not None and followed["kind"] == "number" and followed["mean"] is not None:
            total += followed["mean"] * followed["n"]
        else:
            total += arm.n_patients * protocol.horizon_days
    return total
