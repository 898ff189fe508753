"""The physiology the calibration rests on: the spinal EC50, the non-opioid response, survival by toxicity."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from thecal.patient import PopulationSpec, VirtualPatient
from thecal.patient.pain import potency
from thecal.patient.patient import MAX_NON_OPIOID_RELIEF, population_params, sample_params

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def test_csf_morphine_12_h_after_a_half_milligram_bolus_is_about_the_spinal_ec50(
    typical: Callable[..., VirtualPatient],
) -> None:
    # Nordberg 1984: analgesia ends about 12 h after 0.25-0.5 mg; the level then is the EC50 (590 ng/mL).
    # By hand: V = CL t1/2 / ln2 = 3.1 uL/kg/min x 70 kg x 185 min / ln2 = 57.9 mL; 0.5 mg / 57.9 mL = 8,634 ng/mL;
    # x 2^(-720 / 185) = 0.0673 -> 581 ng/mL, 0.98 EC50.
    patient = typical(ec50_factor=1.0)  # the typical patient's EC50
    assert potency().ec50_spinal_ng_per_ml == 590.0
    patient.intrathecal(0, 0, "morphine", 0.5)
    seen = patient.advance(12 * HOUR_MS)
    v = 3.1e-3 * 70 * 185 / math.log(2)
    expected = 0.5e6 / v * 2 ** (-720 / 185)
    assert seen.csf_ng_per_ml["morphine"] == pytest.approx(expected, rel=1e-9)
    assert seen.csf_ng_per_ml["morphine"] / patient.ec50_sp == pytest.approx(0.985, abs=0.01)


def test_a_half_milligram_bolus_relieves_an_opioid_naive_patient_by_half_within_hours(
    typical: Callable[..., VirtualPatient],
) -> None:
    """A typical opioid-naive patient passes a 50 % screening rule after 0.5 mg intrathecally (Hamza 2012: 58/61)."""
    patient = typical(opioid_max_relief=0.8, ec50_factor=1.0)
    before = patient.advance(0).relief
    patient.intrathecal(0, 0, "morphine", 0.5)
    reliefs = [patient.advance(h * HOUR_MS).relief for h in range(1, 7)]
    assert before == 0.0
    assert sum(reliefs) / len(reliefs) >= 0.5
    assert patient.advance(24 * HOUR_MS).relief < max(reliefs)  # and it wears off


def test_each_patient_gets_their_own_share_of_the_non_opioid_relief(typical: Callable[..., VirtualPatient]) -> None:
    """relief = fraction x the patient's response, at most 90 %."""
    for response, expected in ((0.0, 0.0), (0.5, 0.2), (1.0, 0.4), (3.0, MAX_NON_OPIOID_RELIEF)):
        patient = typical(non_opioid_response=response)
        patient.set_adjuvant(0, 0.4)
        patient.advance(HOUR_MS)
        assert patient.adjuvant_relief == pytest.approx(expected)


def test_the_non_opioid_response_varies_between_patients_as_the_parameter_file_says() -> None:
    figure = population_params()["body.non_opioid_response"]
    rng = np.random.default_rng(11)
    spec = PopulationSpec(indication="cancer", oral_mme_mg_per_day_median=200)
    draws = [sample_params(spec, rng).non_opioid_response for _ in range(400)]
    assert min(draws) >= 0.0
    assert np.mean(draws) == pytest.approx(figure.value, abs=0.15)
    assert np.std(draws) == pytest.approx(figure.sd, abs=0.15)


def test_a_population_may_state_its_own_opioid_emax() -> None:
    rng = np.random.default_rng(5)
    spec = PopulationSpec(indication="cancer", opioid_max_relief_mean=0.3, opioid_max_relief_sd=0.0)
    assert {sample_params(spec, rng).opioid_max_relief for _ in range(5)} == {0.3}


def test_death_hazard_is_weibull_times_the_toxicity_excess_over_the_reference(
    typical: Callable[..., VirtualPatient],
) -> None:
    """Cumulative hazard = ((t/scale)^k) exp(beta (tox - ref)), scale = median / ln2^(1/k) (by hand)."""
    body = population_params()
    k, beta, ref = (body.value(f"body.{n}") for n in ("survival_shape", "toxicity_hazard", "toxicity_reference"))
    patient = typical(indication="cancer", survival_median_days=100.0, survival_draw=math.inf)
    tox = patient.observe().toxicity
    patient.advance(30 * DAY_MS)  # no drug: the toxicity is the illness's own, constant
    assert patient.observe().toxicity == tox
    scale = 100.0 / math.log(2) ** (1 / k)
    assert patient.cumulative_hazard == pytest.approx((30 / scale) ** k * math.exp(beta * (tox - ref)), rel=1e-9)
    assert beta > 0 and patient.death_ms is None
