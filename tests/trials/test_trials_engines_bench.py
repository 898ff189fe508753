"""The trial benchmark runs and measures what it claims; its figures are not judged here."""

from __future__ import annotations

import math

import pytest

from benchmarks import trials


def test_the_trial_benchmark_measures_every_engine_and_its_cost_per_task(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trials, "REPETITIONS", 1)
    monkeypatch.setattr(trials, "PATIENTS_PER_ARM", 1)
    monkeypatch.setattr(trials, "TASKS", 8)

    figures = trials.run()

    assert figures["patients"] == 2 and figures["horizon_days"] == 183
    for name in ("serial", "workers_1", "workers_2"):
        assert 0 < figures[f"{name}_patients_per_s"] < math.inf
        assert 0 < figures[f"{name}_patient_days_per_cpu_s"] < math.inf
    assert 0 < figures["speedup_2_over_1"] < math.inf
    assert 0 < figures["processes_ms_per_task"] < math.inf and 0 < figures["dask_ms_per_task"] < math.inf


def test_the_empty_patient_is_a_whole_outcome_of_the_patient_it_was_asked_for() -> None:
    outcome = trials.empty_patient(None, "cmm", 3)  # type: ignore[arg-type]
    assert (outcome.arm, outcome.index, dict(outcome.endpoints), dict(outcome.weekly)) == ("cmm", 3, {}, {})
