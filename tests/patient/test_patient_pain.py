"""Pain, effect, tolerance, the report and the PTM press rule."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from thecal.patient import PopulationSpec, PressPolicy, VirtualPatient, sample_patient
from thecal.patient.pain import Breakthrough, reported_score

DAY_MS = 86_400_000

MIN_MS = 60_000


def test_the_effect_site_lags_plasma_by_the_published_equilibration_half_life(
    typical: Callable[..., VirtualPatient],
) -> None:
    # Plasma starts at u EC50s and decays with k; the effect site (ke0 = ln2 / 25 min, Ekblom 1993) follows
    # exactly e(t) = u ke0 / (ke0 - k) (e^-kt - e^-ke0 t).
    patient = typical()
    pk = patient.params.pk["morphine"]
    u = 1.0
    patient.drugs["morphine"].plasma_ng = u * patient.ec50_sys * pk.v_plasma_ml
    k, ke0 = pk.k_plasma, math.log(2) / 25
    patient.advance(25 * MIN_MS)
    expected = u * ke0 / (ke0 - k) * (math.exp(-k * 25) - math.exp(-ke0 * 25))
    assert patient.e_sys == pytest.approx(expected, rel=1e-9)
    assert patient.e_sys < u * math.exp(-k * 25)  # the effect site lags behind plasma


def test_tolerance_grows_under_constant_exposure_and_the_effect_wanes(typical: Callable[..., VirtualPatient]) -> None:
    patient = typical()
    patient.intrathecal(0, 20 * DAY_MS, "morphine", 20 * 0.5)  # 0.5 mg/day: about 2 spinal EC50s at steady state
    day1 = patient.advance(DAY_MS // 4)
    later = [patient.advance(d * DAY_MS) for d in (1, 3, 10)]
    folds = [day1.tolerance_fold] + [o.tolerance_fold for o in later]
    assert folds == sorted(folds) and folds[-1] > folds[0] * 1.5
    assert later[-1].relief < later[0].relief


def test_same_seed_gives_the_same_pain_series_whatever_the_sampling() -> None:
    spec = PopulationSpec(indication="cancer", oral_mme_mg_per_day_median=200, prognosis_median_days=200)
    a = sample_patient(spec, np.random.default_rng(7))
    b = sample_patient(spec, np.random.default_rng(7))
    times = list(range(0, 3 * DAY_MS, 3 * 3_600_000))
    series_a = [a.advance(t).pain_score for t in times]
    # The second patient is advanced in finer steps; the scores at the common times are the same.
    series_b = []
    for t in range(0, 3 * DAY_MS, 3_600_000):
        seen = b.advance(t)
        if t % (3 * 3_600_000) == 0:
            series_b.append(seen.pain_score)
    assert series_a == series_b
    assert all(isinstance(s, int) and 0 <= s <= 10 for s in series_a)


def test_reported_scores_are_whole_numbers_scattered_around_the_felt_pain() -> None:
    scores = [reported_score(5.3, 11, t, 0.7) for t in range(2000)]
    assert set(scores) <= set(range(11))
    assert abs(sum(scores) / len(scores) - 5.3) < 0.1
    assert reported_score(5.3, 11, 5, 0.7) == reported_score(5.3, 11, 5, 0.7)


def test_breakthrough_episodes_are_drawn_per_day_from_the_seed() -> None:
    def make() -> Breakthrough:
        return Breakthrough(5, 6.0, 30.0, 0.8, 3.0, 1.0)

    a, b = make(), make()
    assert a.day(3) == b.day(3)
    b.day(9)  # drawing another day first does not change day 3
    assert make().day(3) == b.day(3)
    total = sum(len(make().day(d)) for d in range(200))
    assert 900 < total < 1500  # Poisson with 6 a day


def test_entry_pain_is_what_the_population_states() -> None:
    spec = PopulationSpec(
        indication="non_cancer", entry_pain_mean=7.0, entry_pain_sd=0.0, oral_mme_mg_per_day_median=120
    )
    patient = sample_patient(spec, np.random.default_rng(3))
    # Averaged over the daily rhythm and without breakthrough, the felt pain at the start is the entry pain.
    patient.breakthrough.episodes_per_day = 0.0
    mean_factor = patient.rhythm.mean_factor()
    assert patient.params.pain_drive * mean_factor * (1 - patient.relief()) == pytest.approx(7.0, rel=1e-9)


def test_the_press_rule_presses_when_pain_is_high_and_learns_the_lockout() -> None:
    policy = PressPolicy(threshold=6, min_gap_min=20)
    assert not policy.wants(0, 5)
    assert policy.wants(0, 7)
    policy.pressed(0, "given")
    assert not policy.wants(10 * MIN_MS, 8)  # waits between presses
    policy.pressed(30 * MIN_MS, "locked_out", until_ms=120 * MIN_MS)  # the PTM says: locked until 2 h after the dose
    assert not policy.wants(60 * MIN_MS, 9)
    assert policy.wants(121 * MIN_MS, 9)
    policy.pressed(121 * MIN_MS, "given")
    assert not policy.wants(200 * MIN_MS, 9)  # it learned the 2 h lockout
    assert policy.wants(242 * MIN_MS, 9)
    policy.pressed(242 * MIN_MS, "daily_max")
    assert not policy.wants(23 * 60 * MIN_MS, 10)
    assert policy.wants(DAY_MS, 10)
    assert not policy.wants(DAY_MS, 10, awake=False)
