"""With no motor to drive, the firmware is the same pump: `advance(..., deliveries=False)` changes only what it returns.

Without a motor, a run is taken in one piece from the schedule's table of flow
integrals, a bolus's full rate and last millisecond together, and the motor's
work is not cut into deliveries; with one, every stretch at a constant flow is
walked. The strokes, the log, the tones, the refusals and the state must be the
same either way, and however time is cut. Random lives of a small pump reach
every threshold the loop stops at: the low-reservoir alarm, the empty
reservoir, the end of a bridge, the battery's elective replacement and end of
service, a periodic bolus due, an alarm tone, a priming bolus in place of the
basal, a stalled motor, a stop at the minimum rate and a change of the clock.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from thecal.drugs import pump_formulary
from thecal.pump.core import (
    Alarm,
    CancelBolus,
    ClearAlarm,
    ClinicianBolus,
    Command,
    Delivery,
    DemandLimits,
    DoseSchedule,
    DoseStep,
    Fill,
    Firmware,
    Logged,
    MotorRecovered,
    MotorStalled,
    PeriodicBolusPlan,
    PrimingBolus,
    Program,
    RequestDemandBolus,
    ResumeTherapy,
    Role,
    SetCatheter,
    SetClock,
    SetDemandLimits,
    SetLowReservoirAlarm,
    SetPeriodicBolus,
    StopTherapy,
)
from thecal.pump.core.integers import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN
from thecal.pump.model import load_model

MODEL = load_model("programmable-20")
FORMULARY = pump_formulary()
START_WALL_MS = 1_767_600_000_000  # Monday 2026-01-05 08:00 UTC
MORPHINE_10 = (("morphine", 10_000_000),)
MORPHINE_15 = (("morphine", 15_000_000),)  # stronger: a bridge pushes the old solution first
MORPHINE_8 = (("morphine", 8_000_000),)  # weaker: refused without a bridge
WEEK = DoseSchedule(
    tuple(
        (DoseStep(0, 900_000 + 10_000 * day), DoseStep(7 * MS_PER_HOUR + day * 61_013, 2_400_000 - 20_000 * day))
        + ((DoseStep(19 * MS_PER_HOUR + 7, 1_300_000),) if day < 5 else ())
        for day in range(7)
    )
)

Cut = Callable[[Firmware, int], list[object]]


def _commands(rng: random.Random) -> list[Command]:
    """A menu of what people and the hardware do to a pump, some of it refused where it lands."""
    return [
        RequestDemandBolus(),
        RequestDemandBolus(),
        RequestDemandBolus(),
        ClinicianBolus(rng.choice((50_000, 200_000)), rng.choice((7 * MS_PER_MIN + 13, MS_PER_HOUR))),
        PrimingBolus(rng.choice((30_000, 120_000)), rng.choice((20 * MS_PER_MIN + 1, 2 * MS_PER_HOUR))),
        CancelBolus(),
        Fill(
            rng.choice((2_500_000, 6_000_000, 20_000_000)),
            rng.choice((MORPHINE_10, MORPHINE_15, MORPHINE_8)),
            bridge=True,
        ),
        Fill(rng.choice((1_200_000, 3_000_000)), MORPHINE_10),
        SetLowReservoirAlarm(rng.choice((1_000_000, 2_000_000, 4_000_000))),
        SetPeriodicBolus(PeriodicBolusPlan(100_000, 13 * MS_PER_MIN + 7, 6 * MS_PER_HOUR, START_WALL_MS + 1_234)),
        SetPeriodicBolus(None),
        StopTherapy(),
        ResumeTherapy(),
        MotorStalled("MRI"),
        MotorRecovered(),
        ClearAlarm(Alarm.MOTOR_STALL, Role.CLINICIAN),
        ClearAlarm(Alarm.LOW_RESERVOIR, Role.CLINICIAN),
        SetClock(START_WALL_MS + rng.randrange(-MS_PER_DAY, 400 * MS_PER_DAY)),
        Program(WEEK),
    ]


def _life(seed: int) -> tuple[Firmware, list[tuple[int, Command]], int]:
    """A pump set up as a clinic would, its battery near elective replacement, and a random life of commands."""
    rng = random.Random(seed)
    fw = Firmware(MODEL, FORMULARY, wall_ms=START_WALL_MS)
    for command in (
        SetCatheter(180_000),
        Fill(rng.choice((3_000_000, 20_000_000)), MORPHINE_10),
        Program(WEEK),
        SetDemandLimits(DemandLimits(100_000, 11 * MS_PER_MIN + 13_000, 3 * MS_PER_HOUR, 4)),
    ):
        assert fw.handle(command).accepted
    # Elective replacement a few days in, end of service (the model's time after it) within the life.
    margin = MODEL.baseline_current_na * rng.randrange(MS_PER_DAY, 30 * MS_PER_DAY)
    fw.state.battery_used_pc = MODEL.battery_capacity_pc - MODEL.eri_reserve_pc - margin
    end = rng.randrange(60, 200) * MS_PER_DAY
    timeline: list[tuple[int, Command]] = []
    for _ in range(rng.randrange(40, 120)):
        at, command = rng.randrange(end), rng.choice(_commands(rng))
        timeline.append((at, command))
        if isinstance(command, (ClinicianBolus, PrimingBolus)) and rng.random() < 0.5:
            timeline.append((at + rng.randrange(1, 30 * MS_PER_MIN), CancelBolus()))  # cut short, half the time
    return fw, sorted(timeline, key=lambda e: e[0]), end


def _run(fw: Firmware, timeline: list[tuple[int, Command]], end: int, cut: Cut) -> tuple[list[object], dict, bytes]:
    """Everything but the motor's work: every action and outcome, the final state and the log's head."""
    seen: list[object] = []
    for at, command in timeline:
        seen += [a for a in cut(fw, at) if not isinstance(a, Delivery)]
        out = fw.handle(command)
        seen.append((type(command).__name__, out.accepted, out.refusal, out.info, out.actions))
    seen += [a for a in cut(fw, end) if not isinstance(a, Delivery)]
    assert fw.state.log.verify()  # every entry, however its bytes were made, hashes as compact JSON defines
    return seen, fw.state.to_data(), fw.state.log.head()


def _with_motor(fw: Firmware, to_ms: int) -> list[object]:
    return list(fw.advance(to_ms))


def _without_motor(fw: Firmware, to_ms: int) -> list[object]:
    out = fw.advance(to_ms, deliveries=False)
    assert not any(isinstance(a, Delivery) for a in out)
    return list(out)


def _without_motor_in_random_steps(seed: int) -> Cut:
    rng = random.Random(seed)
    sizes = (1, 1_000, MS_PER_MIN, 10 * MS_PER_MIN, 3 * MS_PER_HOUR, 2 * MS_PER_DAY)

    def cut(fw: Firmware, to_ms: int) -> list[object]:
        out: list[object] = []
        while fw.state.now_ms < to_ms:
            out += fw.advance(min(to_ms, fw.state.now_ms + rng.randint(1, rng.choice(sizes))), deliveries=False)
        return out

    return cut


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_a_random_life_is_the_same_with_and_without_a_motor(seed: int) -> None:
    """Jumped with a motor, jumped without one and cut at random without one: the same actions and outcomes, the
    same final state (strokes, phase, reservoir, battery) and the same log."""
    with_motor = _run(*_life(seed), _with_motor)
    assert _run(*_life(seed), _without_motor) == with_motor
    assert _run(*_life(seed), _without_motor_in_random_steps(seed)) == with_motor


def test_random_lives_reach_every_threshold_the_loop_stops_at() -> None:
    """The lives above are not idle: among a few of them, every alarm but a fault, the end of every kind of
    bolus (a bridge's too), boluses cut short, a stop and a resume, a stall and a new clock happen, so the
    comparison covers every stop of the loop."""
    kinds: set[object] = set()
    for seed in range(12):
        seen, _, _ = _run(*_life(seed), _without_motor)
        for a in seen:
            for x in a[4] if isinstance(a, tuple) else (a,):
                if isinstance(x, Logged):
                    e = x.entry
                    kinds.add(str(e.get("alarm", e.kind if e.kind != "bolus_end" else f"bolus_end {e.get('kind')}")))
    assert {a.value for a in Alarm if a is not Alarm.PUMP_FAULT} <= kinds
    assert {f"bolus_end {kind}" for kind in ("demand", "periodic", "clinician", "priming", "bridge")} <= kinds
    assert {"bolus_interrupted", "therapy_stopped", "therapy_resumed", "clock_set", "motor_recovered"} <= kinds
