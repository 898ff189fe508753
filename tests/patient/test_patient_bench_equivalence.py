"""The speed benchmark times the product's patient on the runner's own inputs: no special fast path."""

from __future__ import annotations

from benchmarks import patient_speed
from thecal.patient import VirtualPatient
from thecal.pump.model import load_model
from thecal.units import MS_PER_DAY, MS_PER_MIN, NG_PER_MG


def test_the_benchmark_replays_the_runners_calls_and_gets_the_runs_very_observations() -> None:
    recorded = patient_speed.record(sample_min=3, days=1)

    copy = recorded.start.fork()
    replayed = patient_speed.observations_of(patient_speed.replay(recorded, copy))

    assert type(copy) is VirtualPatient
    assert replayed == recorded.observations  # every field of every observation, exactly
    times = [o.at_ms for o in replayed]
    assert times[0] == 3 * MS_PER_MIN and times[-1] == MS_PER_DAY and len(times) == 480
    assert copy.now_ms == MS_PER_DAY


def test_the_benchmarks_days_have_continuous_delivery_presses_and_oral_doses() -> None:
    recorded = patient_speed.record(sample_min=3)  # the benchmark's own days
    days = int(recorded.days)
    names = [name for name, _ in recorded.calls]
    given = sum(1 for name, args in recorded.calls if name == "press.pressed" and args[1] == "given")

    tip_mg = (
        sum(
            r.at_tip.drugs_ng.get("morphine", 0.0)
            for name, args in recorded.calls
            if name == "deliver"
            for r in args[0]
        )
        / NG_PER_MG
    )
    # 1.5 mg/day from the first day's programming on (the catheter fills first), plus 0.1 mg a dose given, within
    # the pump's labeled accuracy (each run's pump draws its own error within it).
    accuracy = float(load_model(patient_speed.scenario(days).model).accuracy)
    assert (days - 1) * 1.5 * (1 - accuracy) < tip_mg < (days * 1.5 + given * 0.1) * (1 + accuracy) + 0.1
    observed = sum(
        len(args[0]) if name in ("observe_many", "note_many") else name in ("observe", "note")
        for name, args in recorded.calls
    )
    assert observed == 480 * days
    assert names.count("take_oral") == 2 * days + 1  # 08:00 and 20:00 from the start at 08:00 to the end at 08:00
    assert given >= 1
