"""The reduction of a trial's outcomes: exact, and the same whatever order and chunks the patients arrive in."""

from __future__ import annotations

import itertools
import json
import math
import statistics
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.trials.trials_fake_journey import FakeOutcome

from thecal.trials.reduce import (
    MAX_MAGNITUDE,
    ReductionError,
    Sums,
    reduce_outcomes,
    t_quantile_975,
    wilson_interval,
)

values = st.one_of(
    st.none(),
    st.floats(min_value=-MAX_MAGNITUDE, max_value=MAX_MAGNITUDE, allow_nan=False, allow_subnormal=True),
)
flags = st.one_of(st.none(), st.booleans())
weekly_values = st.one_of(st.none(), st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))


@st.composite
def trials(draw: st.DrawFn) -> list[FakeOutcome]:
    """Patients of two arms, each with a numeric and a true/false endpoint and a weekly series of any length."""
    outcomes = []
    for arm in ("a", "b"):
        for index in range(draw(st.integers(0, 12))):
            weeks = draw(st.lists(weekly_values, max_size=6))
            outcomes.append(
                FakeOutcome(arm, index, {"x": draw(values), "ok": draw(flags)}, {"pain": tuple(weeks)}),
            )
    return outcomes


def _text(sums: Sums) -> str:
    return json.dumps(sums.summary(), sort_keys=True, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(trials(), st.randoms(use_true_random=False), st.integers(1, 6))
def test_any_arrival_order_and_chunking_gives_the_same_bytes(outcomes, random, n_chunks) -> None:
    in_order = _text(reduce_outcomes(outcomes))
    shuffled = list(outcomes)
    random.shuffle(shuffled)
    # Cut the shuffled patients into chunks reduced on their own, then merge the chunks in a shuffled order.
    cuts = sorted(random.randint(0, len(shuffled)) for _ in range(n_chunks - 1))
    chunks = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)]
    partials = [reduce_outcomes(chunk) for chunk in chunks]
    random.shuffle(partials)
    merged = Sums()
    for partial in partials:
        merged.merge(partial)
    assert _text(merged) == in_order


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=2, max_size=40))
def test_the_mean_is_the_exact_mean_rounded_once(xs) -> None:
    sums = reduce_outcomes(FakeOutcome("a", i, {"x": x}, {}) for i, x in enumerate(xs))
    summary = sums.summary()["a"]["endpoints"]["x"]
    exact = sum(Fraction(x) for x in xs) / len(xs)
    assert summary["mean"] == float(exact)
    variance = sum((Fraction(x) - exact) ** 2 for x in xs) / (len(xs) - 1)
    assert summary["sd"] == math.sqrt(float(variance))


def test_a_numeric_endpoint_has_its_t_interval_and_its_missing_count() -> None:
    xs = [3.0, 4.0, 5.0, 6.0, None]
    sums = reduce_outcomes(FakeOutcome("a", i, {"pain": x}, {}) for i, x in enumerate(xs))
    summary = sums.summary()["a"]["endpoints"]["pain"]
    sd = statistics.stdev([3.0, 4.0, 5.0, 6.0])
    half = 3.182446305284263 * sd / 2  # t(0.975, 3), from a table
    assert summary["n"] == 4 and summary["missing"] == 1 and summary["mean"] == 4.5
    assert summary["ci95"] == pytest.approx([4.5 - half, 4.5 + half], rel=1e-12)


def test_a_true_false_endpoint_has_its_proportion_and_wilson_interval() -> None:
    oks = [True] * 8 + [False] * 2 + [None] * 3
    sums = reduce_outcomes(FakeOutcome("a", i, {"ok": ok}, {}) for i, ok in enumerate(oks))
    summary = sums.summary()["a"]["endpoints"]["ok"]
    assert (summary["n"], summary["missing"], summary["true"], summary["proportion"]) == (10, 3, 8, 0.8)
    # Wilson (1927) for 8/10 at 95 %, as published tables give it: 0.490 to 0.943.
    assert summary["ci95"] == pytest.approx([0.4902, 0.9433], abs=1e-4)


def test_weekly_means_count_only_the_patients_observed_that_week() -> None:
    series = [(2.0, 4.0, None), (4.0, None), (6.0, 8.0, 10.0, 1.0)]
    sums = reduce_outcomes(FakeOutcome("a", i, {}, {"pain": s}) for i, s in enumerate(series))
    weekly = sums.summary()["a"]["weekly"]["pain"]
    assert weekly == {"n": [3, 2, 1, 1], "mean": [4.0, 6.0, 10.0, 1.0]}


def test_an_endpoint_nobody_reached_is_reported_as_unobserved() -> None:
    sums = reduce_outcomes(FakeOutcome("a", i, {"alive_month6": None}, {}) for i in range(3))
    assert sums.summary()["a"]["endpoints"]["alive_month6"] == {"kind": "unobserved", "n": 0, "missing": 3}


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ([1.0, True], "true/false where other patients have a number"),
        ([True, 2.0], "a number where other patients have true/false"),
        ([float("nan")], "within"),
        ([float("inf")], "within"),
        (["3"], "an endpoint is a number, true/false or None"),
    ],
)
def test_an_outcome_the_reduction_cannot_take_is_refused_by_name(values, problem) -> None:
    with pytest.raises(ReductionError, match=problem) as refused:
        reduce_outcomes(FakeOutcome("cmm", i, {"pain_week4": v}, {}) for i, v in enumerate(values))
    assert "arm 'cmm'" in str(refused.value) and "pain_week4" in str(refused.value)


def test_chunks_whose_endpoint_kinds_differ_are_refused_when_merged() -> None:
    numbers = reduce_outcomes([FakeOutcome("a", 0, {"x": 1.0}, {})])
    flags_only = reduce_outcomes([FakeOutcome("a", 1, {"x": True}, {})])
    with pytest.raises(ReductionError):
        numbers.merge(flags_only)


@pytest.mark.parametrize(
    ("df", "published"),
    # Student's t, 97.5th percentile, as R's qt(0.975, df) gives it (NIST/SEMATECH table 1.3.6.7.2 to 3 decimals).
    [(1, 12.7062047362), (2, 4.3026527297), (5, 2.5705818356), (10, 2.2281388520), (30, 2.0422724563),
     (100, 1.9839715185), (1000, 1.9623390808)],
)  # fmt: skip
def test_the_t_quantile_matches_published_tables(df, published) -> None:
    assert t_quantile_975(df) == pytest.approx(published, abs=1e-9)


def test_the_two_ways_of_the_t_quantile_agree_where_one_hands_over_to_the_other() -> None:
    from thecal.trials.reduce import T_SERIES_MAX_DF, Z_975, _t_cornish_fisher

    assert _t_cornish_fisher(T_SERIES_MAX_DF, Z_975) == pytest.approx(t_quantile_975(T_SERIES_MAX_DF), abs=1e-12)


def test_the_t_quantile_falls_towards_the_normal_one() -> None:
    quantiles = [t_quantile_975(df) for df in [*range(1, 60), *range(60, 1400, 37)]]
    assert all(a > b for a, b in itertools.pairwise(quantiles))
    assert quantiles[-1] > 1.959963984540054


def test_the_wilson_interval_stays_within_zero_and_one() -> None:
    assert wilson_interval(0, 5) == (0.0, pytest.approx(0.4345, abs=1e-4))
    assert wilson_interval(5, 5) == (pytest.approx(0.5655, abs=1e-4), 1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
