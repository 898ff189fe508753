"""Worked examples of the dose checks, computed by hand in the comments, and the override rules."""

from __future__ import annotations

import pytest

from thecal.drugs import (
    Override,
    Tier,
    Verdict,
    check_daily_dose,
    check_demand_bolus,
    check_fill_matches_program,
    check_refill_interval,
    check_start_dose,
    check_titration_step,
    check_trial_bolus,
    demand_presses_per_day,
    get_drug,
)
from thecal.errors import InputError
from thecal.units import DOSE_RATE, MS_PER_DAY, MS_PER_HOUR, parse_typed_int

MORPHINE = get_drug("morphine")
ZICONOTIDE = get_drug("ziconotide")
HYDROMORPHONE = get_drug("hydromorphone")
CLONIDINE = get_drug("clonidine")
REASON = Override("physician", "cancer pain, tolerant to 400 mg/day oral morphine")


def _tiers(verdict: Verdict) -> list[tuple[str, Tier]]:
    return [(f.field, f.tier) for f in verdict.findings]


def test_usual_morphine_dose_passes() -> None:
    assert check_daily_dose(MORPHINE, 1_500_000).findings == ()


def test_morphine_for_an_opioid_naive_patient() -> None:
    # Soft 0.5 mg/day (PACC 2017), hard 1 mg/day (Infumorph PI): 0.8 mg/day is soft, 1.2 mg/day hard.
    naive = "daily dose for an opioid-naïve patient"
    assert _tiers(check_daily_dose(MORPHINE, 800_000, opioid_naive=True)) == [(naive, Tier.SOFT)]
    assert _tiers(check_daily_dose(MORPHINE, 1_200_000, opioid_naive=True)) == [(naive, Tier.HARD)]
    # The same 1.2 mg/day is ordinary for an opioid-tolerant patient.
    assert check_daily_dose(MORPHINE, 1_200_000).findings == ()


def test_hydromorphone_is_refused_for_an_opioid_naive_patient_even_with_a_reason() -> None:
    verdict = check_daily_dose(HYDROMORPHONE, 10_000, opioid_naive=True, override=REASON)
    assert _tiers(verdict) == [("opioid-naïve patient", Tier.HARD)]
    assert not verdict.allowed


def test_per_hour_typed_as_per_day_is_refused() -> None:
    # Intended 0.5 mg/day; typed "0.5 mg/h" = 0.5 × 24 = 12 mg/day. The step from 0.5 to 12 mg/day is
    # a rise of 2300 %, far beyond the hard 100 %; the finding names the likely per-hour mix-up.
    typed = parse_typed_int("0.5 mg/h", DOSE_RATE, "dose")
    assert typed == 12_000_000
    verdict = check_titration_step(MORPHINE, 500_000, typed, override=REASON)
    assert not verdict.allowed
    (step,) = [f for f in verdict.findings if f.field == "dose increase"]
    assert step.tier is Tier.HARD
    assert "2300 %" in step.value
    assert "per hour" in step.message


def test_per_hour_typed_as_per_day_beyond_the_daily_maximum() -> None:
    # "1 mg/h" = 24 mg/day, above the hard 20 mg/day even as a starting figure.
    verdict = check_daily_dose(MORPHINE, parse_typed_int("1 mg/h", DOSE_RATE, "dose"), override=REASON)
    assert _tiers(verdict) == [("daily dose", Tier.HARD)]


def test_per_day_typed_as_per_hour_is_named_too() -> None:
    # 12 mg/day down to 0.5 mg/day is a 24-fold drop: a 95.8 % cut, beyond the soft 50 %.
    verdict = check_titration_step(MORPHINE, 12_000_000, 500_000)
    (step,) = verdict.findings
    assert step.field == "dose decrease" and step.tier is Tier.SOFT
    assert "per hour" in step.message


def test_ziconotide_titration_rules() -> None:
    # Soft step 1.2 mcg/day, hard 2.4 mcg/day (Prialt US PI); soft interval 56 h, hard 24 h.
    assert check_titration_step(ZICONOTIDE, 2_400, 3_600, since_last_increase_ms=56 * MS_PER_HOUR).allowed
    soft = check_titration_step(ZICONOTIDE, 2_400, 4_800, since_last_increase_ms=56 * MS_PER_HOUR)
    assert _tiers(soft) == [("dose increase", Tier.SOFT)]
    assert check_titration_step(
        ZICONOTIDE, 2_400, 4_800, since_last_increase_ms=56 * MS_PER_HOUR, override=REASON
    ).allowed
    hard = check_titration_step(ZICONOTIDE, 2_400, 4_801, override=REASON)
    assert _tiers(hard) == [("dose increase", Tier.HARD)]
    early = check_titration_step(ZICONOTIDE, 2_400, 3_600, since_last_increase_ms=48 * MS_PER_HOUR)
    assert _tiers(early) == [("time since the last increase", Tier.SOFT)]
    too_early = check_titration_step(ZICONOTIDE, 2_400, 3_600, since_last_increase_ms=23 * MS_PER_HOUR)
    assert _tiers(too_early) == [("time since the last increase", Tier.HARD)]


def test_a_titration_step_also_checks_the_new_dose() -> None:
    # 18 → 19.6 mcg/day is a 1.6 mcg/day step (soft) to a dose above 19.2 mcg/day (soft): both are found.
    verdict = check_titration_step(ZICONOTIDE, 18_000, 19_600)
    assert _tiers(verdict) == [("dose increase", Tier.SOFT), ("daily dose", Tier.SOFT)]


def test_start_of_therapy_is_checked_as_a_start() -> None:
    # From zero, a change is a start: ziconotide 2.4 mcg/day is above the soft start 1.2, within hard 2.4.
    verdict = check_titration_step(ZICONOTIDE, 0, 2_400)
    assert _tiers(verdict) == [("starting daily dose", Tier.SOFT)]
    assert check_start_dose(ZICONOTIDE, 1_200).allowed


def test_rising_to_the_usual_starting_dose_is_checked_as_a_start() -> None:
    # 0.1 → 0.5 mg/day is +400 %, but 0.5 mg/day is the usual starting dose (PACC 2017): no worse than
    # starting afresh at 0.5 mg/day, so the start limits apply. 0.1 → 0.6 mg/day is a +500 % step: hard.
    assert check_titration_step(MORPHINE, 100_000, 500_000).allowed
    assert ("dose increase", Tier.HARD) in _tiers(check_titration_step(MORPHINE, 100_000, 600_000))


def test_clonidine_must_come_down_slowly_until_the_lowest_starting_dose() -> None:
    # 400 → 280 mcg/day is a 30 % cut, beyond the soft 25 % (rebound high blood pressure).
    assert _tiers(check_titration_step(CLONIDINE, 400_000, 280_000)) == [("dose decrease", Tier.SOFT)]
    assert check_titration_step(CLONIDINE, 400_000, 300_000).allowed
    # At 20 mcg/day (the lowest PACC starting dose) it may stop in one step.
    assert check_titration_step(CLONIDINE, 20_000, 0).allowed


def test_ziconotide_may_stop_at_once() -> None:
    assert check_titration_step(ZICONOTIDE, 19_200, 0).allowed


def test_trial_bolus() -> None:
    # PACC 2017 morphine trial 0.1-0.5 mg (soft 0.5); Duramorph PI single dose up to 1 mg (hard).
    assert check_trial_bolus(MORPHINE, 200_000, opioid_naive=True).allowed
    assert _tiers(check_trial_bolus(MORPHINE, 700_000)) == [("trial bolus dose", Tier.SOFT)]
    assert _tiers(check_trial_bolus(MORPHINE, 1_000_001)) == [("trial bolus dose", Tier.HARD)]
    assert _tiers(check_trial_bolus(HYDROMORPHONE, 50_000, opioid_naive=True)) == [("opioid-naïve patient", Tier.HARD)]


def test_demand_presses_in_24_hours() -> None:
    # 2 h lockout: presses at 0, 2, ..., 24 h fit in a closed 24 h window: 24 ÷ 2 + 1 = 13.
    assert demand_presses_per_day(2 * MS_PER_HOUR, 24) == 13
    assert demand_presses_per_day(2 * MS_PER_HOUR, 6) == 6
    assert demand_presses_per_day(5 * MS_PER_HOUR, 24) == 5  # 24 ÷ 5 = 4, + 1
    assert demand_presses_per_day(MS_PER_DAY, 24) == 2


def test_demand_bolus_worst_case_counts_against_the_daily_maximum() -> None:
    # 14 mg/day + 6 × 0.2 mg = 15.2 mg/day: above the soft 15 mg/day.
    soft = check_demand_bolus(
        MORPHINE, bolus_ng=200_000, max_per_day=6, lockout_ms=2 * MS_PER_HOUR, continuous_ng_per_day=14_000_000
    )
    assert _tiers(soft) == [("daily dose", Tier.SOFT)]
    assert "worst case" in soft.findings[0].message
    # 19 mg/day + 6 × 0.2 mg = 20.2 mg/day: above the hard 20 mg/day, no reason passes it.
    hard = check_demand_bolus(
        MORPHINE,
        bolus_ng=200_000,
        max_per_day=6,
        lockout_ms=2 * MS_PER_HOUR,
        continuous_ng_per_day=19_000_000,
        override=REASON,
    )
    assert _tiers(hard) == [("daily dose", Tier.HARD)]
    assert not hard.allowed


def test_no_demand_bolus_for_ziconotide_or_an_opioid_naive_patient() -> None:
    settings = {"bolus_ng": 100, "max_per_day": 1, "lockout_ms": MS_PER_DAY, "continuous_ng_per_day": 1_200}
    assert _tiers(check_demand_bolus(ZICONOTIDE, override=REASON, **settings)) == [("demand bolus", Tier.HARD)]
    naive = check_demand_bolus(MORPHINE, opioid_naive=True, override=REASON, **settings)
    assert ("demand bolus", Tier.HARD) in _tiers(naive)
    assert not naive.allowed


def test_ziconotide_refill_intervals() -> None:
    # First fill of a new pump: 14 days; diluted 40 days; undiluted 84 days (Prialt US PI).
    day = MS_PER_DAY
    assert check_refill_interval(ZICONOTIDE, 14 * day, first_fill=True).allowed
    assert not check_refill_interval(ZICONOTIDE, 15 * day, first_fill=True, override=REASON).allowed
    assert not check_refill_interval(ZICONOTIDE, 41 * day).allowed
    assert check_refill_interval(ZICONOTIDE, 84 * day, undiluted=True).allowed
    assert check_refill_interval(MORPHINE, 180 * day).allowed


def test_concentration_mix_up_is_refused_both_ways() -> None:
    # Programmed 25 mg/mL, filled 10 mg/mL: the pump pushes 2.5× too little volume, 0.4× the dose.
    under = check_fill_matches_program(MORPHINE, 25_000_000, 10_000_000)
    (finding,) = under.findings
    assert finding.tier is Tier.HARD and "0.4 times" in finding.message and "underdose" in finding.message
    # Programmed 10 mg/mL, filled 25 mg/mL: 2.5× the dose.
    over = check_fill_matches_program(MORPHINE, 10_000_000, 25_000_000)
    assert "2.5 times" in over.findings[0].message and "overdose" in over.findings[0].message
    assert check_fill_matches_program(MORPHINE, 10_000_000, 10_000_000).allowed


def test_override_needs_a_physician_and_a_written_reason() -> None:
    with pytest.raises(InputError) as raised:
        Override("nurse", "the patient asked for more")
    assert raised.value.field == "override role"
    with pytest.raises(InputError):
        Override("physician", "ok")
    assert Override("Physician", "  documented in the notes  ").to_dict()["role"] == "physician"


def test_override_is_kept_for_the_audit_log() -> None:
    verdict = check_daily_dose(MORPHINE, 16_000_000, override=REASON)
    assert verdict.allowed
    (entry,) = verdict.audit()
    assert entry["override"] == REASON.to_dict()
    assert entry["finding"]["tier"] == "soft" and entry["finding"]["overridden"] is True
    assert check_daily_dose(MORPHINE, 16_000_000).audit() == []


def test_refusal_names_field_value_limit_and_action() -> None:
    with pytest.raises(InputError) as raised:
        check_daily_dose(MORPHINE, 21_000_000).raise_if_refused()
    error = raised.value
    assert error.field == "daily dose"
    assert error.value == "21 mg/day"
    assert error.limit == "20 mg/day (hard limit)"
    assert "20 mg/day or less" in error.action
    assert "breathing" in error.problem


def test_soft_refusal_says_a_physician_may_pass_it() -> None:
    with pytest.raises(InputError) as raised:
        check_daily_dose(MORPHINE, 16_000_000).raise_if_refused()
    assert "physician" in raised.value.action


def test_negative_values_are_bad_input() -> None:
    with pytest.raises(InputError):
        check_daily_dose(MORPHINE, -1)
    with pytest.raises(InputError):
        check_titration_step(MORPHINE, 1_000_000, 2_000_000, since_last_increase_ms=-1)


def test_stacked_verdicts_keep_every_finding() -> None:
    soft = check_daily_dose(MORPHINE, 16_000_000, override=REASON)
    hard = check_daily_dose(MORPHINE, 21_000_000)
    combined = soft.combine(hard)
    assert soft.allowed and not combined.allowed
    assert set(soft.findings) <= set(combined.findings) and set(hard.findings) <= set(combined.findings)
