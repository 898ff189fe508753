"""The body's day follows the clock on the wall: a run that starts at 08:00 does not put the patient to bed at 16:00."""

from __future__ import annotations

import numpy as np
import pytest

from thecal.errors import InputError
from thecal.patient import PopulationSpec, VirtualPatient, sample_patient
from thecal.patient.pain import PressPolicy
from thecal.sim.patient_link import OralRegimen
from thecal.units import MS_PER_DAY, MS_PER_HOUR


def _patient(time_of_day_ms: int) -> VirtualPatient:
    patient = sample_patient(PopulationSpec(indication="non_cancer"), np.random.default_rng(4))
    patient.set_time_of_day(time_of_day_ms)
    return patient


def test_sleep_follows_the_wall_clock() -> None:
    """pain.toml: awake from 07:00 to 23:00. Time 0 at 08:00: 15 h later is 23:00, asleep; 23 h later is 07:00."""
    patient = _patient(8 * MS_PER_HOUR)
    assert patient.may_press(0)  # 08:00
    assert patient.may_press(14 * MS_PER_HOUR)  # 22:00
    assert not patient.may_press(15 * MS_PER_HOUR)  # 23:00
    assert not patient.may_press(22 * MS_PER_HOUR)  # 06:00
    assert patient.may_press(23 * MS_PER_HOUR)  # 07:00
    at_midnight = _patient(0)
    assert not at_midnight.may_press(0) and at_midnight.may_press(8 * MS_PER_HOUR)


def test_an_observation_says_awake_by_the_wall_clock_in_series_and_one_at_a_time() -> None:
    times = [h * MS_PER_HOUR for h in range(1, 25)]
    series = _patient(8 * MS_PER_HOUR).observe_many(times)
    one = _patient(8 * MS_PER_HOUR)
    alone = [one.advance(t).awake for t in times]
    assert series.awake.tolist() == alone
    # 09:00 ... 22:00 awake, 23:00 ... 06:00 asleep, 07:00 and 08:00 awake.
    assert alone == [True] * 14 + [False] * 8 + [True] * 2


def test_the_rhythm_of_pain_moves_with_the_clock() -> None:
    """With no drug, the pain is the drive: the same at the same hour of the day, whatever the time since the start."""
    early, late = _patient(8 * MS_PER_HOUR), _patient(20 * MS_PER_HOUR)
    assert early.params.breakthrough_per_day == 0 and early.params.progression_per_day == 0  # the drive is the rhythm
    at_21 = early.advance(13 * MS_PER_HOUR).pain  # 08:00 + 13 h
    assert late.advance(MS_PER_HOUR).pain == pytest.approx(at_21, rel=1e-12)  # 20:00 + 1 h
    assert late.advance(13 * MS_PER_HOUR).pain != pytest.approx(at_21, rel=1e-3)  # 09:00


def test_the_daily_maximum_waits_for_midnight_on_the_wall_clock() -> None:
    """Told "daily maximum" at 20:00 (12 h after an 08:00 start), the patient waits until midnight: 4 h, not 12 h."""
    rule = PressPolicy(threshold=5.0, min_gap_min=30.0, time_of_day_at_0_ms=8 * MS_PER_HOUR)
    rule.pressed(12 * MS_PER_HOUR, "daily_max")
    assert not rule.may_press(16 * MS_PER_HOUR - 1)
    assert rule.may_press(16 * MS_PER_HOUR)


def test_oral_doses_are_taken_at_their_hour_on_the_wall_clock() -> None:
    regimen = OralRegimen("morphine", 60.0, doses_per_day=2, first_hour=8.0)
    # The run starts at 10:00: the doses at 20:00 and 08:00 are 10 h and 22 h after the start.
    assert regimen.times_ms(-1, MS_PER_DAY, 10 * MS_PER_HOUR) == [10 * MS_PER_HOUR, 22 * MS_PER_HOUR]
    assert regimen.times_ms(-1, MS_PER_DAY) == [8 * MS_PER_HOUR, 20 * MS_PER_HOUR]


def test_a_time_of_day_outside_the_day_is_refused() -> None:
    patient = _patient(0)
    with pytest.raises(InputError, match="not a time of day"):
        patient.set_time_of_day(MS_PER_DAY)
