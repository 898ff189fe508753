"""Side effects, the composite toxicity score and device events."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from thecal.patient import EventContext, VirtualPatient, refill_error, sample_events
from thecal.patient.events import MS_PER_YEAR, hazards
from thecal.patient.side_effects import Exposure, grades, severities, toxicity_score

DAY_MS = 86_400_000


def test_oral_opioids_constipate_more_than_the_same_relief_intrathecally() -> None:
    oral = severities(Exposure(systemic=1.0, gut=3.0), 1.0, 1.0, cancer=False)
    spinal = severities(Exposure(spinal=1.0), 1.0, 1.0, cancer=False)
    assert oral["constipation"] > spinal["constipation"]
    assert spinal["pruritus"] > 0


def test_ziconotide_effects_rise_with_dose_and_with_titration_speed() -> None:
    slow = severities(Exposure(ziconotide=1.0, ziconotide_adapted=1.0), 1.0, 1.0, cancer=False)
    fast = severities(Exposure(ziconotide=1.0, ziconotide_adapted=0.0), 1.0, 1.0, cancer=False)
    higher = severities(Exposure(ziconotide=2.0, ziconotide_adapted=2.0), 1.0, 1.0, cancer=False)
    for item in ("confusion", "dizziness", "ataxia", "memory", "psychiatric"):
        assert fast[item] > slow[item] and higher[item] > slow[item]


def test_toxicity_is_the_sum_of_the_grades() -> None:
    sev = severities(Exposure(systemic=2.0, gut=2.0), 1.0, 1.0, cancer=True)
    graded = grades(sev)
    assert toxicity_score(graded) == sum(graded.values())
    assert all(0 <= g <= 4 for g in graded.values())


def test_brainstem_exposure_after_an_intrathecal_bolus_is_delayed(typical: Callable[..., VirtualPatient]) -> None:
    patient = typical()
    patient.intrathecal(0, 0, "morphine", 1.0)
    brain = {h: (patient.advance(h * 3_600_000), patient.brain)[1] for h in (1, 4, 8, 24)}
    assert brain[4] > brain[1]
    assert brain[24] > 0


def test_events_are_seeded_and_follow_the_published_rates() -> None:
    context = EventContext(implant_ms=0, cancer=False)
    a = sample_events(np.random.default_rng(1), 0, int(5 * MS_PER_YEAR), context)
    b = sample_events(np.random.default_rng(1), 0, int(5 * MS_PER_YEAR), context)
    assert a == b
    h = hazards(context)
    assert h["catheter"] == -math.log(0.81) / 5  # Konrad 2016: > 81 % catheter survival at 5 years
    assert h["inflammatory_mass"] == 0.009  # Duarte 2010
    assert hazards(EventContext(yearly_dose_increase_mg_per_day=1.0))["inflammatory_mass"] == 0.018
    rng = np.random.default_rng(2)
    years = 4000.0
    catheter = [e for e in sample_events(rng, 0, int(years * MS_PER_YEAR), context) if e.what.startswith("catheter")]
    assert abs(len(catheter) / years - h["catheter"]) < 0.01
    kinds = {e.fault_kind for e in catheter}
    assert kinds <= {"occlusion", "leak", "disconnection", None}


def test_infections_come_only_in_the_first_months() -> None:
    rng = np.random.default_rng(3)
    context = EventContext(implant_ms=0)
    found = []
    for _ in range(2000):
        found += [e for e in sample_events(rng, 0, 400 * DAY_MS, context) if e.what == "infection"]
    assert found and all(e.at_ms < 90 * DAY_MS for e in found)
    assert 0.02 < len(found) / 2000 < 0.06  # about 3.9 % of patients


def test_pocket_fills_are_rare_and_seeded() -> None:
    rng = np.random.default_rng(4)
    errors = [refill_error(rng, 0) for _ in range(50_000)]
    assert sum(e is not None for e in errors) < 20
