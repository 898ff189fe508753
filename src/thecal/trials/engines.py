"""Engines that play a trial's patients out: in this process, in local processes, or on a Dask cluster.

A trial is a list of (arm, index) pairs; each patient is a pure function of
the protocol and its pair (`simulate_patient`, whose random streams come from
the protocol's seed, the arm and the index alone), so it does not matter where
or in what order a patient runs. The pairs are cut into chunks; a chunk runs
where the engine sends it (`run_chunk`), reduces its own patients to exact sums
there (thecal.trials.reduce) and sends back only those sums; the engine yields
each chunk's sums as soon as it has come back (`as_completed`), and the run
merges them. No engine gathers the patients' outcomes.

Chunk size. A task costs an engine some time of its own besides the work.
Measured on this project's 2-core machine with 2 workers and 1,000 tasks that
do nothing: about 0.15 ms a task for a local process pool (forkserver) and
about 3.3 ms a task for Dask's distributed scheduler (a LocalCluster of 2
worker processes, one thread each) — `TASK_COST_S`. benchmarks/trials.py
measures it again through the engine's whole path (a chunk of one empty
patient, its sums sent back and merged): 0.22 to 0.23 ms and 7 to 10 ms while
the machine's load average was 6 to 9, three to four times more work than cores.
A chunk is made long enough that this cost is at most 1 % of its work
(`OVERHEAD_SHARE`), from an estimate of what one patient costs
(`PATIENT_DAY_COST_S` × the protocol's horizon), and short enough that every
worker gets about `TASKS_PER_WORKER` chunks, so that a slow chunk does not
leave the others idle and the progress bar moves; never more than an even
share of the patients per worker, so that no worker is left without a chunk.

Processes start with forkserver where the platform has it (a clean server
process forks each worker: no threads or locks of the parent copied), else
spawn. Dask workers run one thread each: a patient is pure Python and holds the
GIL. A Dask cluster's workers must have thecal installed, at the same version.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import as_completed as futures_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from thecal.errors import InputError
from thecal.trials.reduce import Outcome, Sums

if TYPE_CHECKING:
    from thecal.trials.protocol import Protocol as TrialProtocol

ENGINES = ("serial", "processes", "dask")
DEFAULT_ENGINE = "processes"
# An engine's own cost per task, measured as the module's docstring says.
TASK_COST_S = {"serial": 0.0, "processes": 0.000_15, "dask": 0.003_3}
OVERHEAD_SHARE = 0.01  # a chunk lasts at least 100 times its engine's cost per task
TASKS_PER_WORKER = 4
# What one simulated patient-day costs on one core: benchmarks/trials.py measured 3,800 to 5,200 patient-days per
# CPU-second for Smith 2002 (the journey with its pump, plus the reduction).
PATIENT_DAY_COST_S = 0.000_2
# How long to wait for a Dask scheduler to answer, and for its first worker.
CONNECT_TIMEOUT_S = 10.0
WORKERS_TIMEOUT_S = 30.0
MAX_WORKERS = 1024

Task = Callable[["TrialProtocol", str, int], Outcome]


def default_task() -> Task:
    """The journey of one patient through the protocol (thecal.trials.journey.simulate_patient)."""
    from thecal.trials.journey import simulate_patient

    return simulate_patient


def cores() -> int:
    """The cores this process may run on: the default number of workers."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Chunk:
    """Some of a trial's patients, run as one task: (arm, index) pairs."""

    number: int
    patients: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Failure:
    """A patient whose simulation raised, as plain text that crosses any process boundary."""

    arm: str
    index: int
    error_type: str
    message: str
    traceback: str
    input_error: dict[str, object] | None  # an InputError's fields, to raise it again as one

    def error(self) -> Exception:
        """The error to raise where the trial was started."""
        where = f"arm {self.arm!r}, patient {self.index}"
        if self.input_error is not None:
            fields = self.input_error
            return InputError(
                f"{where}: {fields['field']}",
                fields["value"],
                str(fields["problem"]),
                str(fields["action"]),
                None if fields["limit"] is None else str(fields["limit"]),
            )
        failed = PatientFailed(f"{where}: {self.error_type}: {self.message}", self.traceback)
        # As concurrent.futures does: the worker's traceback shown as the cause (THECAL_TRACEBACK=1 prints it).
        failed.__cause__ = RemoteTraceback(self.traceback)
        return failed


class RemoteTraceback(Exception):
    """Where a patient's simulation failed in its worker: the traceback text, shown as the cause."""

    def __str__(self) -> str:
        return f"\n\n{self.args[0]}"


class PatientFailed(RuntimeError):
    """A patient's simulation raised an error that is not about the input: a defect, with where it happened."""

    def __init__(self, message: str, remote_traceback: str):
        super().__init__(message)
        self.remote_traceback = remote_traceback


@dataclass(frozen=True)
class ChunkResult:
    """What a chunk sends back: its patients' exact sums, how many, and the CPU time they took."""

    number: int
    sums: Sums
    patients: int
    cpu_seconds: float
    failure: Failure | None = None


def run_chunk(protocol: TrialProtocol, chunk: Chunk, task: Task) -> ChunkResult:
    """Simulate a chunk's patients and reduce them where they ran (this runs in a worker)."""
    started = time.process_time()
    sums = Sums()
    for arm, index in chunk.patients:
        try:
            outcome = task(protocol, arm, index)
            if (outcome.arm, outcome.index) != (arm, index):
                raise ValueError(f"the outcome of ({arm!r}, {index}) says it is ({outcome.arm!r}, {outcome.index})")
            sums.add(outcome)
        except Exception as error:
            failure = Failure(
                arm,
                index,
                type(error).__name__,
                str(error),
                traceback.format_exc(),
                error.to_dict() if isinstance(error, InputError) else None,
            )
            return ChunkResult(chunk.number, Sums(), 0, time.process_time() - started, failure)
    return ChunkResult(chunk.number, sums, len(chunk.patients), time.process_time() - started)


def trial_patients(protocol: TrialProtocol) -> list[tuple[str, int]]:
    """Every (arm, index) of a trial, the arms interleaved so that each chunk holds patients of every arm."""
    longest = max((arm.n_patients for arm in protocol.arms), default=0)
    return [(arm.name, index) for index in range(longest) for arm in protocol.arms if index < arm.n_patients]


def chunk_size(patients: int, workers: int, task_cost_s: float, patient_s: float) -> int:
    """Patients per chunk: long enough for the engine's cost per task, short enough to share the work out."""
    if patients <= 0:
        return 1
    share = max(1, patients // workers)  # rounded down: as many chunks as workers at least
    balanced = math.ceil(patients / (workers * TASKS_PER_WORKER))
    long_enough = math.ceil(task_cost_s / OVERHEAD_SHARE / patient_s) if patient_s > 0 else 1
    return max(1, min(share, max(balanced, long_enough)))


def plan_chunks(protocol: TrialProtocol, engine: Engine) -> tuple[int, list[Chunk]]:
    """The trial's patients in chunks sized for the engine and its workers: (patients per chunk, chunks)."""
    pairs = trial_patients(protocol)
    patient_s = PATIENT_DAY_COST_S * protocol.horizon_days
    size = chunk_size(len(pairs), engine.workers, TASK_COST_S[engine.name], patient_s)
    return size, make_chunks(pairs, size)


def make_chunks(pairs: Sequence[tuple[str, int]], size: int) -> list[Chunk]:
    """The pairs cut into chunks of `size` (the last may be shorter), numbered from 0."""
    return [
        Chunk(number, tuple(pairs[start : start + size])) for number, start in enumerate(range(0, len(pairs), size))
    ]


class Engine(Protocol):
    """Runs chunks and yields their results as they come back; a context manager that owns its workers."""

    name: str
    workers: int

    def __enter__(self) -> Engine: ...
    def __exit__(self, *exc: object) -> None: ...
    def run(self, protocol: TrialProtocol, chunks: Sequence[Chunk], task: Task) -> Iterator[ChunkResult]: ...


class SerialEngine:
    """Every chunk in this process, one after the other."""

    name = "serial"

    def __init__(self) -> None:
        self.workers = 1

    def __enter__(self) -> SerialEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def run(self, protocol: TrialProtocol, chunks: Sequence[Chunk], task: Task) -> Iterator[ChunkResult]:
        """Run each chunk in turn."""
        for chunk in chunks:
            yield run_chunk(protocol, chunk, task)


class ProcessEngine:
    """Chunks on a pool of local worker processes (concurrent.futures)."""

    name = "processes"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or cores()
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ProcessEngine:
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context(method))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def run(self, protocol: TrialProtocol, chunks: Sequence[Chunk], task: Task) -> Iterator[ChunkResult]:
        """Submit every chunk, then yield each result as it completes."""
        if self._pool is None:
            raise RuntimeError("the process engine runs only inside its `with` block")
        pool = self._pool
        # The futures are held by as_completed alone, which lets go of each one once it has been yielded.
        submitted: Iterator[Future[ChunkResult]] = (pool.submit(run_chunk, protocol, chunk, task) for chunk in chunks)
        for future in futures_completed(submitted):
            yield future.result()


class DaskEngine:
    """Chunks on a Dask cluster: a scheduler at an address, or a LocalCluster of worker processes on this machine."""

    name = "dask"

    def __init__(self, workers: int | None = None, scheduler: str | None = None) -> None:
        self.scheduler = scheduler
        self.workers = workers or (0 if scheduler else cores())
        self._wanted = workers
        self._stack = contextlib.ExitStack()
        self._client: Any = None

    def __enter__(self) -> DaskEngine:
        try:
            self._client = self._stack.enter_context(self._connect())
            if self.scheduler is not None:
                self.workers = self._wait_for_workers()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
        self._client = None

    def _connect(self) -> Any:
        from distributed import Client, LocalCluster

        if self.scheduler is None:
            cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self._stack.enter_context(cluster)
            return Client(cluster)
        action = (
            "give the address a running `dask scheduler` prints, like tcp://10.0.0.5:8786, or leave --scheduler out "
            "to run on this machine"
        )
        try:
            return Client(self.scheduler, timeout=CONNECT_TIMEOUT_S)
        except (ValueError, TypeError) as error:
            problem = f"is not an address a Dask scheduler listens at ({error})"
            raise InputError("--scheduler", self.scheduler, problem, action) from None
        except (OSError, TimeoutError) as error:
            problem = f"no Dask scheduler answered at this address within {CONNECT_TIMEOUT_S:g} s ({error})"
            raise InputError("--scheduler", self.scheduler, problem, action) from None

    def _wait_for_workers(self) -> int:
        wanted = self._wanted or 1
        try:
            self._client.wait_for_workers(wanted, timeout=WORKERS_TIMEOUT_S)
        except (TimeoutError, OSError):
            raise _no_workers(self.scheduler, wanted) from None
        return int(sum(self._client.nthreads().values()))

    def run(self, protocol: TrialProtocol, chunks: Sequence[Chunk], task: Task) -> Iterator[ChunkResult]:
        """Submit every chunk, then yield each result as it completes and let the cluster forget it."""
        from distributed import as_completed

        if self._client is None:
            raise RuntimeError("the dask engine runs only inside its `with` block")
        run_id = uuid.uuid4().hex
        futures = [
            self._client.submit(run_chunk, protocol, chunk, task, key=f"thecal-trial-{run_id}-{chunk.number}")
            for chunk in chunks
        ]
        completed = as_completed(futures)
        futures.clear()
        try:
            for future in completed:
                result: ChunkResult = future.result()
                future.release()
                yield result
        finally:
            # A chunk that failed, or Ctrl-C, stops the trial: the chunks still pending are cancelled.
            for future in list(completed.futures):
                future.cancel()


def _no_workers(scheduler: str | None, wanted: int) -> InputError:
    return InputError(
        "--scheduler",
        scheduler,
        f"the Dask scheduler answered but fewer than {wanted} worker(s) joined it within {WORKERS_TIMEOUT_S:g} s",
        "start workers with `dask worker ADDRESS` on machines that have thecal installed, or ask for fewer with "
        "--workers",
    )


def open_engine(name: str, workers: int | None = None, scheduler: str | None = None) -> Engine:
    """The engine of that name (not yet started: use it in a `with` block)."""
    if scheduler is not None and name != "dask":
        raise InputError(
            "--scheduler",
            scheduler,
            f"a scheduler address is for the dask engine, not {name!r}",
            "add --engine dask, or leave --scheduler out",
        )
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise InputError(
            "--workers",
            workers,
            "is not a number of workers this machine or cluster can run",
            f"give a whole number from 1 to {MAX_WORKERS}",
            f"1 to {MAX_WORKERS}",
        )
    if name == "serial":
        if workers not in (None, 1):
            raise InputError(
                "--workers",
                workers,
                "the serial engine runs one patient at a time, in this process",
                "leave --workers out, or add --engine processes",
            )
        return SerialEngine()
    if name == "processes":
        return ProcessEngine(workers)
    if name == "dask":
        return DaskEngine(workers, scheduler)
    raise InputError("--engine", name, "is not an engine thecal has", f"choose one of {', '.join(ENGINES)}")
