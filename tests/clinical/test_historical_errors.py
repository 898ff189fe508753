"""The errors that have hurt patients, each refused or flagged, through the calculators a clinic uses."""

from __future__ import annotations

from datetime import date

import pytest

from thecal.clinical import flow_for_dose, plan_refill, reconcile_refill
from thecal.drugs import Fill, Override, Tier, check_titration_step, get_drug
from thecal.errors import InputError
from thecal.pump.model import load_model
from thecal.units import DOSE_RATE, MS_PER_DAY, NL_PER_ML, parse_typed_int

PUMP_20 = load_model("programmable-20")

REASON = Override("physician", "I have reviewed this and accept the risk")


def test_per_hour_entered_as_per_day_is_refused() -> None:
    # The prescription is 1 mg/day; the nurse types "1 mg/h", which is 24 mg/day: above the hard 20 mg/day.
    typed = parse_typed_int("1 mg/h", DOSE_RATE, "dose")
    result = flow_for_dose(Fill.parse("morphine 10 mg/mL"), typed, override=REASON, typed="1 mg/h", pump=PUMP_20)
    assert not result.verdict.allowed
    with pytest.raises(InputError) as raised:
        result.raise_if_refused()
    assert raised.value.value == "24 mg/day"
    # A smaller mix-up stays under the daily maximum (0.5 mg/h = 12 mg/day), but the change from the
    # current 0.5 mg/day is 24-fold and refused as a step, with the likely cause named.
    step = check_titration_step(get_drug("morphine"), 500_000, parse_typed_int("0.5 mg/h", DOSE_RATE, "dose"))
    assert not step.allowed
    assert any(f.tier is Tier.HARD and "per hour" in f.message for f in step.findings)


def test_40_ml_entered_for_a_20_ml_pump_is_refused() -> None:
    # The reservoir is 20 mL; entering 40 mL would push the alarm date twice as far and let the pump run dry.
    plan = plan_refill(
        fill=Fill.parse("morphine 10 mg/mL"),
        fill_volume_nl=40 * NL_PER_ML,
        flow_nl_per_day=NL_PER_ML // 2,
        refill_date=date(2025, 3, 1),
        pump=PUMP_20,
        override=REASON,
    )
    assert not plan.verdict.allowed
    (finding,) = plan.verdict.findings
    assert finding.tier is Tier.HARD and finding.field == "fill volume" and "20 mL" in finding.limit
    reconciled = reconcile_refill(
        volume_after_last_fill_nl=40 * NL_PER_ML,
        flow_nl_per_day=NL_PER_ML // 2,
        elapsed_ms=30 * MS_PER_DAY,
        aspirated_nl=5 * NL_PER_ML,
        override=REASON,
        pump=PUMP_20,
    )
    assert not reconciled.verdict.allowed


def test_concentration_mix_up_is_flagged() -> None:
    # 10 mg/mL is in the reservoir, 25 mg/mL was programmed: the vial check refuses the program.
    programmed = Fill.parse("morphine 25 mg/mL")
    verdict = programmed.check_against_vial(Fill.parse("morphine 10 mg/mL"))
    assert not verdict.allowed
    assert "0.4 times" in verdict.findings[0].message
    # And the flow worked out for 2 mg/day at 25 mg/mL (0.08 mL/day) would give only 0.8 mg/day of 10 mg/mL.
    flow = flow_for_dose(programmed, 2_000_000, override=REASON, pump=PUMP_20).flow_nl_per_day
    assert flow == 80_000
    assert Fill.parse("morphine 10 mg/mL").doses_at_flow(flow)[0][1] == 800_000


def test_pocket_fill_is_flagged_at_refill_reconciliation() -> None:
    # Last refill put 20 mL in the 20 mL pump (so the records say); 0.5 mL/day for 30 days leaves 5 mL.
    # Only 3.2 mL comes back: 1.8 mL missing, over the 1 mL flag. Part of the last fill went to the pocket.
    result = reconcile_refill(
        volume_after_last_fill_nl=20 * NL_PER_ML,
        flow_nl_per_day=NL_PER_ML // 2,
        elapsed_ms=30 * MS_PER_DAY,
        aspirated_nl=3_200_000,
        pump=PUMP_20,
    )
    assert result.status == "flagged"
    assert not result.verdict.allowed
    assert "pocket" in result.verdict.findings[0].message
