"""The kinetics against hand-computed values: half-life, steady state, spread, oral bioavailability."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from thecal.patient import PopulationSpec, VirtualPatient, sample_patient
from thecal.patient.pk import ExpSum, chain, ka_from_tmax, source, spread_fraction
from thecal.pump.device import DeliveryRecord
from thecal.pump.hardware.fluid import Parcel

DAY_MS = 86_400_000
H_MS = 3_600_000


def test_exp_sum_chain_solves_a_two_compartment_chain_exactly() -> None:
    # dA/dt = -k1 A, A(0) = 1; dB/dt = k1 A - k2 B: B(t) = k1/(k2-k1) (e^-k1 t - e^-k2 t)
    k1, k2, t = 0.3, 0.05, 7.0
    b = chain(0.0, k1, source(1.0, 0.0, k1), k2)
    assert b.at(t) == pytest.approx(k1 / (k2 - k1) * (math.exp(-k1 * t) - math.exp(-k2 * t)), rel=1e-12)
    assert ExpSum(2.0, [(1.0, 0.5)]).integral(4.0) == pytest.approx(8.0 + (1 - math.exp(-2.0)) / 0.5)


def test_an_intrathecal_morphine_bolus_decays_with_the_published_half_life(
    typical: Callable[..., VirtualPatient],
) -> None:
    patient = typical()
    patient.intrathecal(0, 0, "morphine", 0.5)
    c0 = patient.advance(0).csf_ng_per_ml["morphine"]
    c_half = patient.advance(185 * 60_000).csf_ng_per_ml["morphine"]  # Nordberg 1984: 175-196 min
    assert c_half / c0 == pytest.approx(0.5, rel=1e-9)
    # Vd = CL t1/2 / ln 2 = 3.1 uL/kg/min x 70 kg x 185 min / ln 2 = 57.9 mL, so 0.5 mg gives 8.63 ug/mL at once
    assert c0 == pytest.approx(0.5e6 / (3.1e-3 * 70 * 185 / math.log(2)), rel=1e-9)


def test_ziconotide_csf_half_life_is_the_label_value(typical: Callable[..., VirtualPatient]) -> None:
    patient = typical()
    patient.intrathecal(0, 0, "ziconotide", 0.005)
    c0 = patient.advance(0).csf_ng_per_ml["ziconotide"]
    assert patient.advance(276 * 60_000).csf_ng_per_ml["ziconotide"] / c0 == pytest.approx(0.5, rel=1e-9)


def test_steady_state_equals_rate_over_clearance(typical: Callable[..., VirtualPatient]) -> None:
    patient = typical()
    patient.intrathecal(0, 30 * DAY_MS, "morphine", 30 * 1.0)  # 1 mg/day for 30 days
    seen = patient.advance(10 * DAY_MS)
    rate_ng_per_min = 1e6 / 1440
    assert seen.csf_ng_per_ml["morphine"] == pytest.approx(rate_ng_per_min / (3.1e-3 * 70), rel=1e-9)
    # Everything cleared from the CSF reaches plasma: C_p = rate / CL_plasma (Stuart-Harris 2000: 1584 mL/min).
    assert seen.plasma_ng_per_ml["morphine"] == pytest.approx(rate_ng_per_min / 1584, rel=1e-9)


def test_serum_morphine_becomes_detectable_only_at_several_mg_a_day(typical: Callable[..., VirtualPatient]) -> None:
    for mg_per_day, detectable in ((1.0, False), (8.0, True)):
        patient = typical()
        patient.intrathecal(0, 5 * DAY_MS, "morphine", 5 * mg_per_day)
        plasma = patient.advance(4 * DAY_MS).plasma_ng_per_ml["morphine"]
        assert (plasma > 1.0) is detectable  # 1 ng/mL: a usual assay limit


def test_a_tip_10_cm_away_gets_the_documented_fraction(typical: Callable[..., VirtualPatient]) -> None:
    # Kroin 1993: 43 % over 20 cm, so 0.43 ** 0.5 = 65.6 % at 10 cm.
    assert spread_fraction(10.0) == pytest.approx(math.sqrt(0.43), rel=1e-12)
    near, far = typical(), typical(tip_to_pain_cm=10.0)
    for p in (near, far):
        p.intrathecal(0, 10 * DAY_MS, "morphine", 10.0)
    a, b = near.advance(5 * DAY_MS), far.advance(5 * DAY_MS)
    assert b.site_ng_per_ml["morphine"] / a.site_ng_per_ml["morphine"] == pytest.approx(math.sqrt(0.43), rel=1e-9)
    assert b.relief < a.relief


def test_a_migrated_catheter_loses_effect(typical: Callable[..., VirtualPatient]) -> None:
    patient = typical()
    patient.intrathecal(0, 20 * DAY_MS, "morphine", 40.0)
    before = patient.advance(5 * DAY_MS).relief
    patient.move_tip(5 * DAY_MS, 25.0)
    assert patient.advance(6 * DAY_MS).relief < before


def test_oral_bioavailability_is_applied(typical: Callable[..., VirtualPatient]) -> None:
    # The area under the plasma curve of an oral dose is F dose / CL (Hoskin 1989: F = 23.9 % for the solution).
    patient = typical()
    patient.take_oral(0, "morphine", 30.0, "ir")
    patient.advance(0)
    area, step = 0.0, 60_000
    for t in range(step, 3 * DAY_MS + 1, step):
        c0 = patient.observe().plasma_ng_per_ml["morphine"]
        c1 = patient.advance(t).plasma_ng_per_ml["morphine"]
        area += (c0 + c1) / 2 * 1.0
    assert area == pytest.approx(0.239 * 30e6 / 1584, rel=1e-3)


def test_oral_peak_comes_at_the_published_time() -> None:
    k = 1584 / 276_000
    ka = ka_from_tmax(45.0, k)
    assert math.log(ka / k) / (ka - k) == pytest.approx(45.0, rel=1e-9)


def test_delivery_records_from_the_pump_feed_the_csf(typical: Callable[..., VirtualPatient]) -> None:
    patient = typical()
    tip = Parcel(1000.0, {"morphine": 100_000.0})  # 0.1 mg in 1 uL over one hour
    patient.deliver([DeliveryRecord(0, H_MS, 1000, tip, tip, Parcel())])
    seen = patient.advance(H_MS)
    v = 3.1e-3 * 70 * 185 / math.log(2)
    k = math.log(2) / 185
    expected = 100_000 / 60 / k * (1 - math.exp(-k * 60)) / v
    assert seen.csf_ng_per_ml["morphine"] == pytest.approx(expected, rel=1e-9)


def test_drug_lost_from_a_leaking_catheter_is_absorbed_systemically(typical: Callable[..., VirtualPatient]) -> None:
    patient = typical()
    lost = Parcel(1000.0, {"morphine": 1e6})
    patient.deliver([DeliveryRecord(0, 0, 1000, lost, Parcel(), lost)])
    seen = patient.advance(30 * 60_000)
    assert seen.csf_ng_per_ml["morphine"] == 0.0
    assert seen.plasma_ng_per_ml["morphine"] > 1.0


def test_the_same_seed_gives_the_same_patient_and_another_seed_another() -> None:
    spec = PopulationSpec(indication="cancer", oral_mme_mg_per_day_median=200, prognosis_median_days=120)
    a = sample_patient(spec, np.random.default_rng(42)).params
    b = sample_patient(spec, np.random.default_rng(42)).params
    c = sample_patient(spec, np.random.default_rng(43)).params
    assert a == b
    assert a != c
