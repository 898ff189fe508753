"""A stand-in for the journey of one patient, with the same signature: fast, deterministic, picklable.

The engines and the reduction are tested with it where the real journey would only make a test slower; the
proof that engines agree runs the real journey too (test_trials_engines.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FakeArm:
    name: str
    n_patients: int


@dataclass(frozen=True)
class FakeTarget:
    arm: str
    endpoint: str
    value: float
    tolerance: float
    source: str


@dataclass(frozen=True)
class FakeProtocol:
    name: str = "fake"
    seed: int = 1
    horizon_days: int = 28
    arms: tuple[FakeArm, ...] = (FakeArm("idds+cmm", 7), FakeArm("cmm", 5))
    targets: tuple[FakeTarget, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class FakeOutcome:
    arm: str
    index: int
    endpoints: Mapping[str, float | bool | None]
    weekly: Mapping[str, tuple[float | None, ...]]


def fake_patient(protocol: FakeProtocol, arm: str, index: int) -> FakeOutcome:
    """A patient drawn from (seed, arm number, index) alone, with numbers, true/false and missing values."""
    arm_number = [a.name for a in protocol.arms].index(arm)
    rng = np.random.default_rng(np.random.SeedSequence((protocol.seed, arm_number, index)))
    pain = float(rng.normal(4.0 + arm_number, 1.5))
    died = bool(rng.random() < 0.2)
    weeks = protocol.horizon_days // 7
    series = tuple(None if died and week >= weeks // 2 else float(rng.normal(5.0, 1.0)) for week in range(weeks))
    return FakeOutcome(
        arm,
        index,
        {"pain_week4": None if died else pain, "success_week4": None if died else pain < 4.0, "alive": not died},
        {"pain": series, "alive": tuple(0.0 if v is None else 1.0 for v in series)},
    )


def failing_patient(protocol: FakeProtocol, arm: str, index: int) -> FakeOutcome:
    """A journey with a defect at the third patient of the last arm."""
    if arm == protocol.arms[-1].name and index == 2:
        raise ZeroDivisionError("a defect deep in the journey")
    return fake_patient(protocol, arm, index)
