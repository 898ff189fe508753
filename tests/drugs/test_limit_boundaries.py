"""Every limit of every drug, at limit − ε, at the limit and at limit + ε, for both tiers.

The cases are built from the data files: adding a drug or a limit adds its
tests. ε is one base unit (1 ng, 1 ng/day, 1 ms, one bolus), the finest step
the pump counts in. For a maximum, the limit itself passes and limit + ε does
not; for a minimum, the limit passes and limit − ε does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from thecal.drugs import (
    Direction,
    Drug,
    Limit,
    Override,
    Tier,
    Verdict,
    check_concentration,
    check_daily_dose,
    check_demand_bolus,
    check_refill_interval,
    check_start_dose,
    check_titration_step,
    check_trial_bolus,
    drug_names,
    get_drug,
)
from thecal.drugs.model import LIMIT_SPECS
from thecal.errors import InputError
from thecal.units import BP_PER_ONE, MS_PER_DAY

OVERRIDE = Override("physician", "patient reviewed in clinic, benefit outweighs risk")
BASE_DOSE = 10_000_000  # 10 mg/day: above every drug's lowest starting dose, a multiple of 10 000


def _value_step_up(bp_limit: int, delta: int) -> int:
    """The new dose whose rise is the limit's percentage of the base dose, moved by delta ng/day."""
    return BASE_DOSE + bp_limit * BASE_DOSE // BP_PER_ONE + delta


@dataclass(frozen=True)
class Case:
    """One limit of one drug, with the check that applies it and how a value is moved by ε."""

    drug: str
    limit: str

    def __str__(self) -> str:
        return f"{self.drug}-{self.limit}"


# How each kind of limit is applied. A value v is the quantity the limit measures.
# Percentage limits are driven through the dose they describe, so ε is 1 ng/day.
def _apply(key: str, drug: Drug, value: int, override: Override | None) -> Verdict:
    if key == "max_daily_dose":
        return check_daily_dose(drug, value, override=override)
    if key == "max_daily_dose_opioid_naive":
        return check_daily_dose(drug, value, opioid_naive=True, override=override)
    if key == "max_start_dose":
        return check_start_dose(drug, value, override=override)
    if key == "max_concentration":
        return check_concentration(drug, value, override=override)
    if key == "max_step_up":
        return check_titration_step(drug, BASE_DOSE, value, override=override)
    if key == "max_step_up_amount":
        return check_titration_step(drug, BASE_DOSE, BASE_DOSE + value, override=override)
    if key == "min_step_interval":
        return check_titration_step(drug, BASE_DOSE, BASE_DOSE + 1, since_last_increase_ms=value, override=override)
    if key == "max_step_down":
        return check_titration_step(drug, BASE_DOSE, value, override=override)
    if key == "max_trial_bolus":
        return check_trial_bolus(drug, value, override=override)
    if key == "max_demand_bolus":
        return check_demand_bolus(
            drug, bolus_ng=value, max_per_day=1, lockout_ms=MS_PER_DAY, continuous_ng_per_day=0, override=override
        )
    if key == "max_demand_per_day":
        return check_demand_bolus(
            drug, bolus_ng=1, max_per_day=value, lockout_ms=MS_PER_DAY, continuous_ng_per_day=0, override=override
        )
    if key == "min_demand_lockout":
        return check_demand_bolus(
            drug, bolus_ng=1, max_per_day=1, lockout_ms=value, continuous_ng_per_day=0, override=override
        )
    if key == "max_refill_interval":
        return check_refill_interval(drug, value, override=override)
    if key == "max_first_refill_interval":
        return check_refill_interval(drug, value, first_fill=True, override=override)
    if key == "max_refill_interval_undiluted":
        return check_refill_interval(drug, value, undiluted=True, override=override)
    raise AssertionError(f"no check applies limit {key}")


def _subject(key: str, bound: int, delta: int) -> int | None:
    """The checked value for a limit bound moved by delta base units, or None when it cannot exist."""
    if key == "max_step_up":
        return _value_step_up(bound, delta)
    if key == "max_step_down":
        value = BASE_DOSE - bound * BASE_DOSE // BP_PER_ONE - delta
        return value if value >= 0 else None
    value = bound + delta
    return value if value >= 0 else None


CASES = [Case(name, key) for name in drug_names() for key in get_drug(name).limits]


def test_every_kind_of_limit_is_exercised_by_some_drug() -> None:
    """Each kind of limit the model knows appears in at least one data file, so the cases below cover it."""
    assert {case.limit for case in CASES} == set(LIMIT_SPECS)


def _findings(limit: Limit, verdict: Verdict) -> list:
    return [f for f in verdict.findings if f.field == limit.spec.field]


def _beyond(limit: Limit) -> int:
    """The direction that leaves the allowed side: +1 past a maximum, −1 past a minimum."""
    return 1 if limit.spec.direction is Direction.MAX else -1


@pytest.mark.parametrize("case", CASES, ids=str)
def test_hard_limit_at_minus_epsilon_at_and_plus_epsilon(case: Case) -> None:
    drug = get_drug(case.drug)
    limit = drug.limits[case.limit]
    out = _beyond(limit)
    for delta, refused in ((-out, False), (0, False), (out, True)):
        value = _subject(case.limit, limit.hard, delta)
        if value is None:
            continue
        verdict = _apply(case.limit, drug, value, OVERRIDE)
        hard = [f for f in _findings(limit, verdict) if f.tier is Tier.HARD]
        assert bool(hard) is refused, (case, delta, verdict)
        if refused:
            # Nothing passes a hard limit, not even a physician's override.
            assert not verdict.allowed
            assert hard[0].source == limit.hard_source


@pytest.mark.parametrize("case", CASES, ids=str)
def test_soft_limit_at_minus_epsilon_at_and_plus_epsilon(case: Case) -> None:
    drug = get_drug(case.drug)
    limit = drug.limits[case.limit]
    out = _beyond(limit)
    for delta in (-out, 0, out):
        value = _subject(case.limit, limit.soft, delta)
        if value is None:
            continue
        verdict = _apply(case.limit, drug, value, None)
        found = _findings(limit, verdict)
        if delta != out:
            assert found == [], (case, delta, found)
            continue
        if limit.soft == limit.hard:
            assert [f.tier for f in found] == [Tier.HARD]
            continue
        assert [f.tier for f in found] == [Tier.SOFT], (case, found)
        assert found[0].source == limit.soft_source
        assert not verdict.allowed
        passed = _apply(case.limit, drug, value, OVERRIDE)
        soft = _findings(limit, passed)
        assert [f.overridden for f in soft] == [True]
        assert passed.override == OVERRIDE


def _past_hard(case: Case) -> int | None:
    limit = get_drug(case.drug).limits[case.limit]
    return _subject(case.limit, limit.hard, _beyond(limit))


# A decrease of more than 100 % does not exist, so those limits have no value beyond them.
REFUSABLE = [case for case in CASES if _past_hard(case) is not None]


@pytest.mark.parametrize("case", REFUSABLE, ids=str)
def test_finding_words_name_field_value_limit_and_action(case: Case) -> None:
    drug = get_drug(case.drug)
    limit = drug.limits[case.limit]
    value = _past_hard(case)
    assert value is not None
    (finding,) = [f for f in _findings(limit, _apply(case.limit, drug, value, None)) if f.tier is Tier.HARD]
    assert drug.quantity_text(limit.spec.measure, limit.hard) in finding.limit
    assert drug.name in finding.message
    assert limit.why in finding.message
    assert finding.action
    with pytest.raises(InputError) as raised:
        _apply(case.limit, drug, value, None).raise_if_refused()
    text = str(raised.value)
    assert limit.spec.field in text and "what to do" in text and "limit:" in text


@pytest.mark.parametrize("name", drug_names())
def test_soft_tier_never_looser_than_hard_tier(name: str) -> None:
    for limit in get_drug(name).limits.values():
        if limit.spec.direction is Direction.MAX:
            assert limit.soft <= limit.hard
        else:
            assert limit.soft >= limit.hard


def test_one_step_past_a_limit_never_reads_as_the_limit_itself() -> None:
    """Rounded for display, 72 h less 1 ms or a 25 % rise plus 1 ng must not read as "72 h" or "25 %"."""
    from thecal.drugs import check_titration_step, get_drug

    morphine = get_drug("morphine")
    early = check_titration_step(morphine, 1_000_000, 1_100_000, since_last_increase_ms=72 * 3_600_000 - 1)
    (interval,) = [f for f in early.findings if f.code == "min_step_interval"]
    assert interval.value == "71 h 59 min 59.999 s"
    rise = check_titration_step(morphine, 4_000_000, 5_000_001, since_last_increase_ms=100 * 3_600_000)
    (step,) = [f for f in rise.findings if f.code == "max_step_up"]
    assert step.value.startswith("25.000025 %")
