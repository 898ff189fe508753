"""A whole series of observations at once gives what observing one at a time gives; the report's noise is counted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thecal.patient import Observation, PopulationSpec, VirtualPatient, sample_patient
from thecal.patient.pain import reported_score, reported_scores, standard_normal_at, standard_normal_many
from thecal.patient.side_effects import ITEMS
from thecal.units import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN

ROOT = Path(__file__).parents[2]

# One input to the body: (kind, at minute, drug, amount, length in minutes).
_input = st.tuples(
    st.sampled_from(["infusion", "bolus", "oral_ir", "oral_mr", "subcutaneous", "tip", "adjuvant"]),
    st.integers(0, 4 * 1440),
    st.sampled_from(["morphine", "hydromorphone", "ziconotide"]),
    st.floats(0.001, 5.0),
    st.integers(1, 3 * 1440),
)


def _patient(seed: int, cancer: bool) -> VirtualPatient:
    spec = PopulationSpec(
        indication="cancer" if cancer else "non_cancer",
        oral_mme_mg_per_day_median=120.0 if cancer else 0.0,
        prognosis_median_days=60.0 if cancer else None,
    )
    return sample_patient(spec, np.random.default_rng(seed))


def _give(patient: VirtualPatient, inputs: list[tuple[str, int, str, float, int]]) -> None:
    for kind, at_min, drug, amount, length in inputs:
        at = at_min * int(MS_PER_MIN)
        opioid = drug if drug != "ziconotide" else "morphine"
        if kind == "infusion":
            mg = amount / (100.0 if drug == "ziconotide" else 1.0)
            patient.intrathecal(at, at + length * int(MS_PER_MIN), drug, mg)
        elif kind == "bolus":
            patient.intrathecal(at, at, drug, amount / (100.0 if drug == "ziconotide" else 5.0))
        elif kind in ("oral_ir", "oral_mr"):
            patient.take_oral(at, opioid, amount * 20.0, "ir" if kind == "oral_ir" else "mr")
        elif kind == "subcutaneous":
            patient.take_subcutaneous(at, drug, amount)
        elif kind == "tip":
            patient.move_tip(at, amount * 4.0)
        else:
            patient.set_adjuvant(at, min(0.9, amount / 6.0))


def _columns(obs: list[Observation]) -> dict[str, np.ndarray]:
    cols = {
        "pain": np.array([o.pain for o in obs]),
        "relief": np.array([o.relief for o in obs]),
        "tolerance_fold": np.array([o.tolerance_fold for o in obs]),
    }
    for d in obs[0].csf_ng_per_ml:
        for name in ("csf_ng_per_ml", "site_ng_per_ml", "plasma_ng_per_ml"):
            cols[f"{name}:{d}"] = np.array([getattr(o, name)[d] for o in obs])
    for item in ITEMS:
        cols[f"severity:{item}"] = np.array([o.severity[item] for o in obs])
    return cols


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    """Within 1e-9 relative, or 1e-10 absolute (ng/mL, points of pain or severity, a fraction of relief).

    A quantity that has decayed to a millionth of what it was is a difference of large terms in either way of
    working it out; its last digits are rounding in both, so it is compared in its own units.
    """
    return bool(np.all(np.abs(a - b) <= 1e-9 * np.maximum(np.abs(a), np.abs(b)) + 1e-10))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    cancer=st.booleans(),
    inputs=st.lists(_input, max_size=8),
    gaps=st.lists(st.integers(0, 12 * 60), min_size=1, max_size=60),
)
def test_a_series_observes_what_one_at_a_time_observes(
    seed: int, cancer: bool, inputs: list[tuple[str, int, str, float, int]], gaps: list[int]
) -> None:
    one, many = _patient(seed, cancer), _patient(seed, cancer)
    _give(one, inputs)
    _give(many, inputs)
    times = list(np.cumsum(gaps) * int(MS_PER_MIN))

    alone = [one.advance(int(t)) for t in times]
    series = many.observe_many(times)
    together = series.observations()

    assert [o.at_ms for o in together] == [int(t) for t in times]
    assert [o.pain_score for o in together] == [o.pain_score for o in alone]
    assert [o.grades for o in together] == [o.grades for o in alone]
    assert [o.toxicity for o in together] == [o.toxicity for o in alone]
    assert [(o.alive, o.awake) for o in together] == [(o.alive, o.awake) for o in alone]
    a, b = _columns(alone), _columns(together)
    for name in a:
        assert _close(a[name], b[name]), name
    assert many.now_ms == one.now_ms and many.death_ms == one.death_ms
    assert _close(np.array(many._state()), np.array(one._state()))
    assert many._rates == pytest.approx(one._rates, rel=1e-9, abs=1e-12)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), inputs=st.lists(_input, max_size=6), cut=st.integers(1, 47))
def test_reading_part_of_a_series_on_a_copy_gives_that_part_to_the_last_bit(
    seed: int, inputs: list[tuple[str, int, str, float, int]], cut: int
) -> None:
    patient = _patient(seed, True)
    _give(patient, inputs)
    times = [h * MS_PER_HOUR + 7 * MS_PER_MIN for h in range(48)]

    part = patient.fork().observe_many(times[:cut]).observations()
    whole = patient.observe_many(times).observations()

    assert part == whole[:cut]  # every field exactly: a forecast's fork changes nothing in the run


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    inputs=st.lists(_input, max_size=6),
    kinds=st.lists(st.sampled_from(["alone", "stretch"]), min_size=1, max_size=8),
)
def test_moments_noted_alone_and_as_stretches_give_what_a_series_gives(
    seed: int, inputs: list[tuple[str, int, str, float, int]], kinds: list[str]
) -> None:
    noted, series = _patient(seed, True), _patient(seed, True)
    _give(noted, inputs)
    _give(series, inputs)
    times: list[int] = []
    asked: dict[int, int] = {}  # time -> the score the patient reported when noted alone
    for n, kind in enumerate(kinds):
        first = 6 * n * MS_PER_HOUR + MS_PER_HOUR
        if kind == "alone":
            asked[first] = noted.note(first)[0]
            times.append(first)
        else:
            stretch = [first + k * MS_PER_HOUR for k in range(6)]
            noted.note_many(stretch)
            times += stretch
    assert noted.notes_waiting == len(times)

    together = noted.noted().observations()
    expected = series.observe_many(times).observations()

    assert noted.notes_waiting == 0
    assert [o.at_ms for o in together] == times
    assert {o.at_ms: o.pain_score for o in together if o.at_ms in asked} == asked  # the answers, as given
    assert [o.pain_score for o in together] == [o.pain_score for o in expected]
    assert [(o.toxicity, o.alive, o.awake) for o in together] == [(o.toxicity, o.alive, o.awake) for o in expected]
    a, b = _columns(together), _columns(expected)
    for name in a:
        assert _close(a[name], b[name]), name
    assert noted.now_ms == series.now_ms and noted.death_ms == series.death_ms


def test_times_must_be_ascending_and_not_in_the_past() -> None:
    patient = _patient(1, False)
    patient.run_to(MS_PER_DAY)
    with pytest.raises(Exception, match="times_ms"):
        patient.observe_many([MS_PER_DAY - 1])
    with pytest.raises(Exception, match="ascending"):
        patient.observe_many([MS_PER_DAY + 2, MS_PER_DAY + 1])
    assert len(patient.observe_many([])) == 0


def test_the_report_noise_is_counted_from_seed_and_time_the_same_alone_and_in_bulk() -> None:
    times = np.arange(0, 5000 * MS_PER_MIN, MS_PER_MIN // 7, dtype=np.int64)
    key = 0x1234_5678_9ABC
    bulk = standard_normal_many(key, times)

    assert bulk.tolist() == [standard_normal_at(key, int(t)) for t in times]
    assert abs(float(bulk.mean())) < 0.05 and abs(float(bulk.std()) - 1.0) < 0.05  # a standard normal
    pain = np.linspace(-1.0, 11.0, 2000)
    patient = _patient(77, False)
    seed = patient.params.seed

    bulk_scores = reported_scores(pain, patient._noise_key, times[:2000], 0.7)

    alone = [reported_score(float(p), seed, int(t), 0.7) for p, t in zip(pain, times[:2000], strict=True)]
    assert bulk_scores.tolist() == alone
    assert bulk_scores.min() == 0 and bulk_scores.max() == 10  # kept within 0..10


def test_the_runners_waiting_observations_are_those_of_one_at_a_time() -> None:
    from benchmarks import patient_speed

    recorded = patient_speed.record(sample_min=3, days=1)
    names = [name for name, _ in recorded.calls]
    # Asleep or locked out: waits, then noted as a series of states; may press: noted at once; the rest of both
    # worked out later.
    assert "note_many" in names and "note" in names and "noted" in names

    patient = recorded.start.fork()
    alone: list[Observation] = []
    for name, args in recorded.calls:
        if name == "note_many":
            alone += [patient.advance(int(t)) for t in args[0]]
        elif name == "note":
            alone.append(patient.advance(int(args[0])))
        elif name in ("deliver", "take_oral", "run_to"):
            getattr(patient, name)(*args)
        elif name.startswith("press."):
            getattr(patient.press, name.removeprefix("press."))(*args)

    assert [o.pain_score for o in alone] == [o.pain_score for o in recorded.observations]
    assert [o.grades for o in alone] == [o.grades for o in recorded.observations]
    a, b = _columns(alone), _columns(recorded.observations)
    for name in a:
        assert _close(a[name], b[name]), name


def test_a_trial_journey_with_series_ends_as_one_observing_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from thecal.trials import journey
    from thecal.trials.protocol import load_protocol

    protocol = load_protocol(ROOT / "examples" / "trials" / "smith2002.toml")
    cases = [(arm.name, i) for arm in protocol.arms for i in range(3)]
    with_series = [journey.simulate_patient(protocol, arm, i) for arm, i in cases]
    quiet: Callable[[journey.Journey, int], bool] = lambda self, at_ms: False  # noqa: E731
    monkeypatch.setattr(journey.Journey, "_quiet", quiet)
    alone = [journey.simulate_patient(protocol, arm, i) for arm, i in cases]

    for x, y in zip(with_series, alone, strict=True):
        assert x.endpoints.keys() == y.endpoints.keys()
        for key, value in x.endpoints.items():
            other = y.endpoints[key]
            if isinstance(value, float) and isinstance(other, float):
                assert value == pytest.approx(other, rel=1e-9, abs=1e-12), key
            else:
                assert value == other, key
