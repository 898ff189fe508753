"""Priming and bridge boluses, worked by hand from catheter length, volume per cm and pump tubing."""

from __future__ import annotations

import pytest

from thecal.clinical import CatheterSegment, bridge_bolus, priming_bolus
from thecal.drugs import Fill, Tier
from thecal.errors import InputError
from thecal.pump.model import load_model

PUMP_20 = load_model("programmable-20")

CATHETER = (CatheterSegment(length_um=450_000, volume_nl_per_cm=2_200),)  # 45 cm × 2.2 µL/cm


def test_priming_after_implant() -> None:
    # 45 cm × 2.2 µL/cm = 99 µL; + 0.22 mL pump tubing = 0.319 mL.
    # At 1 mL/h (24 mL/day): 0.319 mL ÷ 24 mL/day × 86 400 000 ms = 1 148 400 ms = 19.14 min.
    result = priming_bolus(segments=CATHETER, fill=Fill.parse("morphine 20 mg/mL"), pump=PUMP_20)
    assert (result.catheter_volume_nl, result.pump_volume_nl, result.volume_nl) == (99_000, 220_000, 319_000)
    assert result.rate_nl_per_day == PUMP_20.max_bolus_flow_nl_per_day
    assert result.duration_ms == 1_148_400
    # Into a full catheter it would push 0.319 mL × 20 mg/mL = 6.38 mg morphine: 6.38 × the 1 mg hard trial bolus.
    assert result.drug_if_catheter_full[0].mass_ng == 6_380_000
    assert any("6.4 times" in note for note in result.reasoning.notes)
    assert result.verdict.allowed


def test_priming_after_catheter_revision_fills_the_catheter_only() -> None:
    result = priming_bolus(segments=CATHETER, after="revision", pump=PUMP_20)
    assert result.volume_nl == 99_000


def test_catheter_in_two_segments() -> None:
    # 10 cm × 7 µL/cm (pump segment) + 35 cm × 2.2 µL/cm (spinal segment) = 70 + 77 = 147 µL.
    segments = (CatheterSegment(100_000, 7_000), CatheterSegment(350_000, 2_200))
    assert priming_bolus(segments=segments, after="revision", pump=PUMP_20).volume_nl == 147_000


def test_priming_faster_than_the_pump_can_is_refused() -> None:
    result = priming_bolus(segments=CATHETER, rate_nl_per_day=48_000_000, pump=PUMP_20)
    assert [(f.field, f.tier) for f in result.verdict.findings] == [("bolus rate", Tier.HARD)]


def test_bridge_after_a_concentration_change() -> None:
    # Dead volume 0.319 mL. Old: 2 mg/day at 10 mg/mL = 0.2 mL/day; the bridge runs at 0.2 mL/day for
    # 0.319 ÷ 0.2 = 1.595 days = 137 808 000 ms, and the patient keeps 2 mg/day meanwhile.
    # New: 2.5 mg/day at 20 mg/mL = 0.125 mL/day. Without a bridge the old drug would run at 0.125 mL/day:
    # 0.125 × 10 = 1.25 mg/day for 0.319 ÷ 0.125 = 2.552 days.
    result = bridge_bolus(
        segments=CATHETER,
        old_fill=Fill.parse("morphine 10 mg/mL"),
        old_dose_ng_per_day=2_000_000,
        new_fill=Fill.parse("morphine 20 mg/mL"),
        new_dose_ng_per_day=2_500_000,
        pump=PUMP_20,
    )
    assert result.dead_volume_nl == 319_000
    assert (result.old_flow_nl_per_day, result.new_flow_nl_per_day) == (200_000, 125_000)
    assert result.duration_ms == 137_808_000
    assert result.doses_during_bridge[0].dose_ng_per_day == 2_000_000
    assert result.drug_during_bridge[0].mass_ng == 3_190_000  # 0.319 mL × 10 mg/mL
    assert result.doses_without_bridge[0].dose_ng_per_day == 1_250_000
    assert result.without_bridge_duration_ms == 220_492_800  # 2.552 days
    assert any("1.25 mg/day" in note and "2.5 mg/day" in note for note in result.reasoning.notes)
    assert result.verdict.allowed


def test_without_a_bridge_a_weaker_new_solution_would_overdose() -> None:
    # Old 20 mg/mL at 0.6 mL/day (12 mg/day); new 5 mg/mL for 12 mg/day needs 2.4 mL/day.
    # Without a bridge: 2.4 mL/day × 20 mg/mL = 48 mg/day of the old drug, above the hard 20 mg/day.
    result = bridge_bolus(
        segments=CATHETER,
        old_fill=Fill.parse("morphine 20 mg/mL"),
        old_dose_ng_per_day=12_000_000,
        new_fill=Fill.parse("morphine 5 mg/mL"),
        new_dose_ng_per_day=12_000_000,
        pump=PUMP_20,
    )
    assert result.doses_without_bridge[0].dose_ng_per_day == 48_000_000
    assert any("above its hard limit" in note for note in result.reasoning.notes)


def test_bridge_checks_the_new_prescription() -> None:
    result = bridge_bolus(
        segments=CATHETER,
        old_fill=Fill.parse("morphine 10 mg/mL"),
        old_dose_ng_per_day=2_000_000,
        new_fill=Fill.parse("morphine 10 mg/mL"),
        new_dose_ng_per_day=22_000_000,
        pump=PUMP_20,
    )
    assert not result.verdict.allowed
    assert "The concentrations did not change: no bridge is needed." in result.reasoning.notes


@pytest.mark.parametrize(
    "segments",
    [(), (CatheterSegment(0, 2_200),), (CatheterSegment(450_000, 0),)],
    ids=["none", "no-length", "no-volume"],
)
def test_catheter_must_be_described(segments) -> None:
    with pytest.raises(InputError):
        priming_bolus(segments=segments, pump=PUMP_20)
