"""A settled pump: what the firmware's loop notes when every due condition has been acted on, and keeps.

At the end of every command and at every threshold the firmware acts on every
condition due, and notes what the motor runs until something changes: the
facts of the mode and what the mode table says it runs, the next moment the
clock brings, and the thresholds of the reservoir and the battery as absolute
figures (`Firmware._settle`). `advance` and `handle` read those notes while the
pump stays settled, and a command that only starts a bolus adding to the basal
(a press, a clinician bolus) keeps them. These proofs hold the notes to the
state at every step of random lives, and the shortcut to the general rule.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thecal.drugs import pump_formulary
from thecal.pump.core import (
    CancelBolus,
    ClinicianBolus,
    Command,
    DemandLimits,
    DoseSchedule,
    DoseStep,
    Fill,
    Firmware,
    MotorRecovered,
    MotorStalled,
    PeriodicBolusPlan,
    PrimingBolus,
    Program,
    Refusal,
    RequestDemandBolus,
    ResumeTherapy,
    SetClock,
    SetDemandLimits,
    SetLowReservoirAlarm,
    SetPeriodicBolus,
    StopTherapy,
)
from thecal.pump.core import firmware as firmware_module
from thecal.pump.core.demand import demand_window, recent_doses
from thecal.pump.core.figures import Figures, PumpFigures
from thecal.pump.core.integers import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN
from thecal.pump.model import load_model

MODEL = load_model("programmable-20")
FORMULARY = pump_formulary()
START_WALL_MS = 1_767_600_000_000  # Monday 2026-01-05 08:00 UTC
MORPHINE_10 = (("morphine", 10_000_000),)
WEEK = DoseSchedule(
    tuple(
        (DoseStep(0, 900_000 + 10_000 * day), DoseStep(7 * MS_PER_HOUR + day * 61_013, 2_400_000 - 20_000 * day))
        for day in range(7)
    )
)

Life = tuple[Firmware, list[tuple[int, Command]], int]


def _life(seed: int) -> Life:
    """A small pump with demand doses and a periodic bolus, its battery near elective replacement, and a random
    life of mostly presses and clinician boluses among what else people do to it."""
    rng = random.Random(seed)
    fw = Firmware(MODEL, FORMULARY, wall_ms=START_WALL_MS)
    for command in (
        Fill(rng.choice((2_000_000, 20_000_000)), MORPHINE_10),
        Program(WEEK),
        SetDemandLimits(DemandLimits(100_000, 11 * MS_PER_MIN + 13_000, rng.choice((0, MS_PER_HOUR)), 6)),
        SetPeriodicBolus(PeriodicBolusPlan(100_000, 13 * MS_PER_MIN + 7, 6 * MS_PER_HOUR, START_WALL_MS + 1_234)),
    ):
        assert fw.handle(command).accepted
    margin = MODEL.baseline_current_na * rng.randrange(MS_PER_DAY, 20 * MS_PER_DAY)
    fw.state.battery_used_pc = MODEL.battery_capacity_pc - MODEL.eri_reserve_pc - margin
    end = rng.randrange(20, 60) * MS_PER_DAY
    menu: list[Command] = [RequestDemandBolus()] * 6 + [
        ClinicianBolus(rng.choice((50_000, 200_000)), rng.choice((7 * MS_PER_MIN + 13, MS_PER_HOUR))),
        ClinicianBolus(100_000, 20 * MS_PER_MIN),
        PrimingBolus(30_000, 20 * MS_PER_MIN + 1),
        CancelBolus(),
        Fill(rng.choice((1_500_000, 20_000_000)), MORPHINE_10),
        SetLowReservoirAlarm(rng.choice((1_000_000, 4_000_000))),
        StopTherapy(),
        ResumeTherapy(),
        MotorStalled("MRI"),
        MotorRecovered(),
        SetClock(START_WALL_MS + rng.randrange(-MS_PER_DAY, 60 * MS_PER_DAY)),
    ]
    timeline = sorted(((rng.randrange(end), rng.choice(menu)) for _ in range(rng.randrange(60, 200))), key=_at)
    return fw, timeline, end


def _at(event: tuple[int, Command]) -> int:
    return event[0]


def _notes(fw: Firmware) -> tuple[object, ...]:
    """What the firmware noted when it last settled."""
    return (
        fw._settled_at,
        fw._facts_key,
        fw._schedule,
        fw._basal,
        fw._with_bolus,
        fw._due,
        fw._stroke_limit,
        fw._battery_limit,
    )


def _run(life: Life, *, deliveries: bool, check: Callable[[Firmware], None] | None = None) -> tuple[object, ...]:
    """Everything a life did: every action and outcome, the final state and the log's head."""
    fw, timeline, end = life
    seen: list[object] = []

    def advance(to_ms: int) -> None:
        seen.extend(fw.advance(to_ms, deliveries=deliveries))
        if check is not None:
            check(fw)

    for at, command in timeline:
        advance(at)
        out = fw.handle(command)
        seen.append((type(command).__name__, out.accepted, out.refusal, out.info, out.actions))
        if check is not None:
            check(fw)
    advance(end)
    return tuple(seen), fw.state.to_data(), fw.state.log.head()


def _notes_hold(fw: Firmware) -> None:
    """While the pump is settled, noting again now gives what was noted: nothing that changed since moved them."""
    if fw._settled_at != fw.state.now_ms:
        return
    noted = _notes(fw)
    fw._settle(fw.state.now_ms)
    assert _notes(fw) == noted


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_the_notes_of_a_settled_pump_hold_after_every_command_and_every_run(seed: int) -> None:
    """After every command and every jump, with and without a motor: the mode's facts and what it runs, the next
    due time and the thresholds the pump noted are the ones its state gives now."""
    _run(_life(seed), deliveries=False, check=_notes_hold)
    _run(_life(seed), deliveries=True, check=_notes_hold)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_a_bolus_that_adds_to_the_basal_leaves_the_pump_as_acting_on_every_condition_would(seed: int) -> None:
    """A press or a clinician bolus keeps the pump settled; acting on every condition after it instead, as after
    any other command, gives the same actions, outcomes, state and log, with a motor and without one."""
    for deliveries in (False, True):
        kept = _run(_life(seed), deliveries=deliveries)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(firmware_module, "_ADDS_A_BOLUS", frozenset())
            assert _run(_life(seed), deliveries=deliveries) == kept


def test_the_lives_press_and_give_clinician_boluses_on_a_settled_pump() -> None:
    """The lives above take the shortcut often, and a press is also refused in them (lockout, running bolus)."""
    accepted = refused = 0
    for seed in range(8):
        fw, timeline, _ = _life(seed)
        for at, command in timeline:
            fw.advance(at, deliveries=False)
            settled = fw._settled_at == fw.state.now_ms
            out = fw.handle(command)
            if type(command) in (RequestDemandBolus, ClinicianBolus) and settled:
                accepted += out.accepted
                refused += not out.accepted
                if out.accepted:
                    assert fw._settled_at == fw.state.now_ms
    assert accepted > 50 and refused > 10


def test_the_firmware_copies_every_figure_of_its_model() -> None:
    """`Figures` holds every figure the firmware may read (the protocol's), equal to the model's."""
    names = {name for name in vars(PumpFigures) if not name.startswith("_")}
    assert set(Figures.__slots__) == names
    figures = Figures(MODEL)
    assert all(getattr(figures, name) == getattr(MODEL, name) for name in names)


def test_the_doses_that_count_are_the_newest_ones_in_every_life() -> None:
    """Doses end in the order they started, so the ones still counting in 24 h are the newest: the window takes
    them off the end, and they are the ones a filter over the whole history keeps."""
    checked = 0
    for seed in range(8):
        fw, timeline, end = _life(seed)
        for at, command in [*timeline, (end, RequestDemandBolus())]:
            fw.advance(at, deliveries=False)
            history = fw.state.demand_history_ms
            ends = [dose_end for _, dose_end in history]
            assert ends == sorted(ends)
            for now in (at, at + MS_PER_HOUR, at + MS_PER_DAY):
                kept = tuple(dose for dose in history if dose[1] > now - MS_PER_DAY)
                assert recent_doses(history, now) == kept
                limits = fw.state.demand_limits
                if limits is not None:
                    assert demand_window(limits, history, now).recent == kept
                    checked += 1
            fw.handle(command)
    assert checked > 1000


class _Forgetful(Firmware):
    """The firmware, working a demand dose out again at every press instead of keeping it."""

    def _demand_dose(self, limits: DemandLimits) -> tuple[int | None, Refusal | None]:
        self._noted_dose = None
        return super()._demand_dose(limits)


def _dose_life(seed: int, firmware: type[Firmware]) -> Life:
    """Mostly presses, among what changes a demand dose: new demand limits, a new prescription (the basal a dose
    must fit on), fills at another concentration with a bridge (the solution a dose is measured with)."""
    rng = random.Random(seed)
    fw = firmware(MODEL, FORMULARY, wall_ms=START_WALL_MS)
    for command in (Fill(20_000_000, MORPHINE_10), Program(WEEK), SetDemandLimits(DemandLimits(*LIMITS[0]))):
        assert fw.handle(command).accepted
    end = rng.randrange(20, 40) * MS_PER_DAY
    menu: list[Command] = [RequestDemandBolus()] * 8 + [
        *(SetDemandLimits(DemandLimits(*limits)) for limits in LIMITS),
        Program(WEEK),
        Program(DoseSchedule.continuous(3_000_000)),
        Fill(20_000_000, (("morphine", 25_000_000),), bridge=True),
        Fill(20_000_000, MORPHINE_10, bridge=True),
        ClinicianBolus(200_000, MS_PER_HOUR),
    ]
    timeline = sorted(((rng.randrange(end), rng.choice(menu)) for _ in range(rng.randrange(80, 200))), key=_at)
    return fw, timeline, end


# Demand limits (dose ng, duration ms, lockout ms, doses a day): the benchmark's, a larger and a shorter dose.
LIMITS = (
    (100_000, 11 * MS_PER_MIN + 13_000, MS_PER_HOUR, 6),
    (250_000, 30 * MS_PER_MIN + 7, 2 * MS_PER_HOUR, 4),
    (50_000, 3 * MS_PER_MIN, 0, 12),
)


def _noted_dose_holds(fw: Firmware) -> None:
    """A demand dose the firmware keeps is the one the settings in force give now."""
    noted = fw._noted_dose
    limits = fw.state.demand_limits
    if noted is None or limits is None or noted[0] is not limits:
        return
    fw._noted_dose = None
    assert fw._demand_dose(limits) == noted[1]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_a_demand_dose_kept_between_presses_is_the_one_the_settings_give(seed: int) -> None:
    """The volume of a demand dose and the check of its flow on the basal are worked out at a press and kept:
    after every command and run they equal a fresh working-out, and a life run by a firmware that works them out
    at every press gives the same actions, outcomes, state and log."""
    kept = _run(_dose_life(seed, Firmware), deliveries=False, check=_noted_dose_holds)
    assert _run(_dose_life(seed, _Forgetful), deliveries=False) == kept


def test_the_dose_lives_change_the_solution_and_the_limits_between_presses() -> None:
    """The lives above give doses at both concentrations and under every set of limits."""
    given_at: set[tuple[int, int]] = set()
    for seed in range(6):
        fw, timeline, _ = _dose_life(seed, Firmware)
        for at, command in timeline:
            fw.advance(at, deliveries=False)
            if fw.handle(command).accepted and isinstance(command, RequestDemandBolus):
                limits = fw.state.demand_limits
                assert limits is not None
                given_at.add((fw.state.label[0].concentration_ng_per_ml, limits.dose_ng))
    assert given_at >= {(c, limits[0]) for c in (10_000_000, 25_000_000) for limits in LIMITS}
