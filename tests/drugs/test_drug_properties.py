"""Properties: conversions round-trip, no input makes a hard limit pass, units never mix."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thecal.drugs import (
    Override,
    check_concentration,
    check_daily_dose,
    check_demand_bolus,
    check_titration_step,
    demand_presses_per_day,
    drug_names,
    get_drug,
)
from thecal.drugs.dosing import dose_ng_per_day, flow_nl_per_day, mass_ng, volume_nl
from thecal.errors import InputError
from thecal.units import (
    BP_PER_ONE,
    CONCENTRATION,
    DOSE_RATE,
    DURATION,
    FLOW,
    LENGTH,
    MASS,
    MS_PER_DAY,
    NL_PER_ML,
    VOLUME,
    VOLUME_PER_LENGTH,
    Kind,
    parse_typed,
)

drugs = st.sampled_from(drug_names()).map(get_drug)
overrides = st.one_of(
    st.none(),
    st.text(min_size=10, max_size=40)
    .filter(lambda t: len(t.strip()) >= 10)
    .map(lambda reason: Override("physician", reason)),
)
doses = st.integers(min_value=0, max_value=100_000_000)  # up to 100 mg/day
concentrations = st.integers(min_value=1, max_value=50_000_000)  # up to 50 mg/mL
flows = st.integers(min_value=0, max_value=50_000_000)  # up to 50 mL/day


@settings(max_examples=300)
@given(dose=doses, concentration=concentrations)
def test_dose_to_flow_to_dose_never_gives_more_and_loses_under_one_nanolitre(dose: int, concentration: int) -> None:
    flow = flow_nl_per_day(dose, concentration)
    back = dose_ng_per_day(flow, concentration)
    assert back <= dose
    # Rounding the flow down loses less than 1 nL/day, which carries less than concentration/1e6 ng.
    assert dose - back < Fraction(concentration, NL_PER_ML) + 1


@settings(max_examples=300)
@given(flow=flows, concentration=concentrations)
def test_flow_to_dose_to_flow_never_gives_less_flow(flow: int, concentration: int) -> None:
    dose = dose_ng_per_day(flow, concentration)
    again = flow_nl_per_day(dose, concentration)
    assert again >= flow
    assert again - flow <= Fraction(NL_PER_ML, concentration) + 1


@settings(max_examples=200)
@given(mass=st.integers(min_value=0, max_value=10_000_000), concentration=concentrations)
def test_volume_for_a_mass_never_holds_more_than_the_mass(mass: int, concentration: int) -> None:
    assert mass_ng(volume_nl(mass, concentration), concentration) <= mass


@settings(max_examples=300)
@given(drug=drugs, dose=doses, naive=st.booleans(), override=overrides)
def test_no_daily_dose_beyond_a_hard_limit_is_ever_allowed(drug, dose: int, naive: bool, override) -> None:
    verdict = check_daily_dose(drug, dose, opioid_naive=naive, override=override)
    if verdict.allowed:
        assert dose <= drug.max_daily_dose.hard
        if naive and drug.opioid:
            assert drug.allowed_opioid_naive
            assert dose <= drug.require_limit("max_daily_dose_opioid_naive").hard
        if override is None:
            assert dose <= drug.max_daily_dose.soft


@settings(max_examples=300)
@given(drug=drugs, concentration=concentrations, override=overrides)
def test_no_concentration_beyond_the_hard_limit_is_ever_allowed(drug, concentration: int, override) -> None:
    if check_concentration(drug, concentration, override=override).allowed:
        assert concentration <= drug.max_concentration.hard


@settings(max_examples=300)
@given(
    drug=drugs,
    current=st.integers(min_value=1, max_value=30_000_000),
    new=st.integers(min_value=0, max_value=60_000_000),
    since=st.one_of(st.none(), st.integers(min_value=0, max_value=10 * MS_PER_DAY)),
    override=overrides,
)
def test_no_titration_step_beyond_a_hard_limit_is_ever_allowed(drug, current, new, since, override) -> None:
    verdict = check_titration_step(drug, current, new, since_last_increase_ms=since, override=override)
    if not verdict.allowed:
        return
    assert new <= drug.max_daily_dose.hard
    # Rising to no more than the usual starting dose is checked as a start, not as a step.
    if new > max(current, drug.require_limit("max_start_dose").soft):
        if (percent := drug.limit("max_step_up")) is not None:
            assert Fraction((new - current) * BP_PER_ONE, current) <= percent.hard
        if (amount := drug.limit("max_step_up_amount")) is not None:
            assert new - current <= amount.hard
    if new > current and since is not None:
        assert since >= drug.require_limit("min_step_interval").hard


@settings(max_examples=300)
@given(
    drug=drugs,
    bolus=st.integers(min_value=0, max_value=2_000_000),
    per_day=st.integers(min_value=0, max_value=60),
    lockout=st.integers(min_value=1, max_value=MS_PER_DAY),
    continuous=st.integers(min_value=0, max_value=30_000_000),
    naive=st.booleans(),
    override=overrides,
)
def test_no_demand_setting_beyond_a_hard_limit_is_ever_allowed(
    drug, bolus, per_day, lockout, continuous, naive, override
) -> None:
    verdict = check_demand_bolus(
        drug,
        bolus_ng=bolus,
        max_per_day=per_day,
        lockout_ms=lockout,
        continuous_ng_per_day=continuous,
        opioid_naive=naive,
        override=override,
    )
    if not verdict.allowed:
        return
    assert drug.demand_bolus_allowed
    assert not (naive and drug.opioid)
    assert continuous + demand_presses_per_day(lockout, per_day) * bolus <= drug.max_daily_dose.hard
    assert bolus <= drug.require_limit("max_demand_bolus").hard
    assert per_day <= drug.require_limit("max_demand_per_day").hard
    assert lockout >= drug.require_limit("min_demand_lockout").hard


KIND_EXAMPLES: dict[str, tuple[Kind, list[str]]] = {
    "volume": (VOLUME, ["mL", "uL", "L", "nL"]),
    "mass": (MASS, ["mg", "mcg", "ug", "g", "ng"]),
    "duration": (DURATION, ["h", "min", "d", "s", "day"]),
    "flow": (FLOW, ["mL/day", "mL/h", "uL/h", "mL/d"]),
    "dose rate": (DOSE_RATE, ["mg/day", "mcg/day", "mg/h", "mcg/h", "ug/d"]),
    "concentration": (CONCENTRATION, ["mg/mL", "mcg/mL", "ug/mL", "mg/L"]),
    "length": (LENGTH, ["cm", "mm", "m"]),
    "volume per length": (VOLUME_PER_LENGTH, ["uL/cm", "mL/cm", "nL/mm"]),
}


@settings(max_examples=300)
@given(
    number=st.decimals(min_value=0, max_value=10_000, places=3, allow_nan=False, allow_infinity=False),
    written=st.sampled_from(sorted(KIND_EXAMPLES)),
    read_as=st.sampled_from(sorted(KIND_EXAMPLES)),
    data=st.data(),
)
def test_units_never_mix(number, written: str, read_as: str, data) -> None:
    unit = data.draw(st.sampled_from(KIND_EXAMPLES[written][1]))
    text = f"{number} {unit}"
    kind = KIND_EXAMPLES[read_as][0]
    if written == read_as:
        assert parse_typed(text, kind, "value") >= 0
    else:
        with pytest.raises(InputError):
            parse_typed(text, kind, "value")


@settings(max_examples=100)
@given(number=st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False, allow_infinity=False))
def test_a_bare_number_is_never_guessed(number) -> None:
    for kind, _ in KIND_EXAMPLES.values():
        with pytest.raises(InputError):
            parse_typed(f"{number}", kind, "value")
