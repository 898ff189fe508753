"""The engines: the same trial gives the same bytes on every engine; chunks, failures and refusals."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from tests.trials.trials_fake_journey import FakeArm, FakeProtocol, failing_patient, fake_patient

from thecal.errors import InputError
from thecal.trials import engines
from thecal.trials.engines import (
    TASKS_PER_WORKER,
    Chunk,
    PatientFailed,
    RemoteTraceback,
    chunk_size,
    make_chunks,
    open_engine,
    run_chunk,
    trial_patients,
)
from thecal.trials.protocol import load_protocol, scaled
from thecal.trials.run import run_trial

SMITH = Path(__file__).parents[2] / "examples" / "trials" / "smith2002.toml"


@pytest.fixture(scope="module")
def small_smith():
    """Smith 2002 with 3 patients an arm: the real journey, in seconds."""
    return scaled(load_protocol(SMITH), 3)


def test_serial_processes_and_a_dask_cluster_give_the_same_bytes(small_smith) -> None:
    serial = run_trial(small_smith, "serial")
    processes = run_trial(small_smith, "processes", workers=2)
    dask = run_trial(small_smith, "dask", workers=2)  # a LocalCluster of 2 worker processes
    assert serial.to_json_text() == processes.to_json_text() == dask.to_json_text()
    # The engines really did run it apart: in different chunks, on 2 workers.
    assert (serial.run.workers, processes.run.workers, dask.run.workers) == (1, 2, 2)
    assert processes.run.chunks > 1 and processes.run.chunks != dask.run.chunks
    assert serial.arms["cmm"]["patients"] == serial.arms["idds+cmm"]["patients"] == 3


def test_a_different_seed_gives_a_different_document(small_smith) -> None:
    import dataclasses

    one = scaled(small_smith, 2)
    other = dataclasses.replace(one, seed=one.seed + 1)
    first, second = run_trial(one, "serial"), run_trial(other, "serial")
    assert first.to_json_text() != second.to_json_text()
    assert first.to_json()["seed"] != second.to_json()["seed"]
    # Not only the seed: the patients themselves differ.
    assert first.to_json()["arms"] != second.to_json()["arms"]


def test_a_process_pool_with_many_small_chunks_agrees_with_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    protocol = FakeProtocol(arms=(FakeArm("idds+cmm", 13), FakeArm("cmm", 11)))
    serial = run_trial(protocol, "serial", task=fake_patient)
    # One patient a chunk: 24 chunks, arriving in whatever order the two workers finish them.
    monkeypatch.setattr(engines, "TASKS_PER_WORKER", 12)
    monkeypatch.setitem(engines.TASK_COST_S, "processes", 0.0)
    seen: list[tuple[int, int]] = []
    pooled = run_trial(protocol, "processes", workers=2, task=fake_patient, progress=lambda d, t: seen.append((d, t)))
    assert pooled.run.chunks == 24
    assert pooled.to_json_text() == serial.to_json_text()
    # Progress: from 0, one report a chunk, never backwards, ending at every patient.
    assert seen[0] == (0, 24) and seen[-1] == (24, 24) and len(seen) == 25
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))


@pytest.mark.parametrize("engine", ["serial", "processes", "dask"])
def test_a_patient_whose_simulation_fails_stops_the_trial_and_is_named(engine: str) -> None:
    with pytest.raises(PatientFailed, match=r"arm 'cmm', patient 2: ZeroDivisionError: a defect") as failed:
        run_trial(FakeProtocol(), engine, workers=None if engine == "serial" else 2, task=failing_patient)
    assert "failing_patient" in failed.value.remote_traceback
    assert isinstance(failed.value.__cause__, RemoteTraceback)  # the worker's traceback, shown as the cause
    assert "ZeroDivisionError" in str(failed.value.__cause__)


def test_an_input_error_in_a_worker_comes_back_as_one() -> None:
    result = run_chunk(FakeProtocol(), Chunk(0, (("nobody", 0),)), _refusing_patient)
    assert result.failure is not None and result.patients == 0
    error = result.failure.error()
    assert isinstance(error, InputError)
    assert error.field == "arm 'nobody', patient 0: arm" and "not an arm" in error.problem


def _refusing_patient(protocol, arm, index):
    raise InputError("arm", arm, "is not an arm of this protocol", "use one of: idds+cmm, cmm")


def test_an_outcome_for_another_patient_than_asked_is_a_failure() -> None:
    result = run_chunk(FakeProtocol(), Chunk(0, (("cmm", 1),)), lambda p, arm, i: fake_patient(p, arm, i + 1))
    assert result.failure is not None and "says it is ('cmm', 2)" in result.failure.message


def test_every_patient_is_in_exactly_one_chunk_and_every_chunk_mixes_the_arms() -> None:
    protocol = FakeProtocol(arms=(FakeArm("a", 5), FakeArm("b", 3), FakeArm("c", 4)))
    pairs = trial_patients(protocol)
    chunks = make_chunks(pairs, 4)
    flat = [pair for chunk in chunks for pair in chunk.patients]
    assert sorted(flat) == sorted({(a.name, i) for a in protocol.arms for i in range(a.n_patients)})
    assert len(flat) == 12 and [c.number for c in chunks] == [0, 1, 2]
    assert {arm for arm, _ in chunks[0].patients} == {"a", "b", "c"}


@pytest.mark.parametrize("patients", [1, 7, 202, 10_000])
@pytest.mark.parametrize("workers", [1, 2, 64])
@pytest.mark.parametrize("engine", ["processes", "dask"])
def test_a_chunk_is_long_enough_for_its_engine_and_no_worker_is_left_without(patients, workers, engine) -> None:
    patient_s, cost_s = 0.05, engines.TASK_COST_S[engine]
    size = chunk_size(patients, workers, cost_s, patient_s)
    n_chunks = -(-patients // size)
    even_share = max(1, patients // workers)
    assert n_chunks >= min(patients, workers)  # every worker has a chunk
    assert n_chunks <= workers * TASKS_PER_WORKER  # no more than balance needs
    if size < even_share:  # unless a chunk is a worker's whole share, the engine's cost is at most 1 % of it
        assert cost_s <= engines.OVERHEAD_SHARE * size * patient_s


@pytest.mark.parametrize(
    ("engine", "workers", "scheduler", "field"),
    [
        ("processes", None, "tcp://127.0.0.1:8786", "--scheduler"),
        ("serial", 2, None, "--workers"),
        ("processes", 0, None, "--workers"),
        ("processes", 5000, None, "--workers"),
        ("threads", None, None, "--engine"),
    ],
)
def test_an_engine_that_cannot_be_had_is_refused_by_option(engine, workers, scheduler, field) -> None:
    with pytest.raises(InputError) as refused:
        open_engine(engine, workers, scheduler)
    assert refused.value.field == field and refused.value.action
