"""A scenario's virtual patient: the [virtual_patient] section turned into the patient a run is played with.

The section (`thecal.sim.scenario.VirtualPatientSpec`, docs/scenario.md) says
who the patient is in a few figures; this module gives, from it and the
scenario, everything the runner and the forecast need:

- `population(scenario, spec)`: the `PopulationSpec` of exactly this person
  (no spread in what the section states);
- `draw(population, seed)`: the `VirtualPatient`, drawn as the forecast draws
  its first patient, so `thecal simulate` and `thecal forecast` of one file and
  one seed play the same person;
- `oral_regimen(spec)`: the `OralRegimen` taken on beside the pump;
- `patient_link(scenario)`: the `PatientLink` that `thecal.sim.runner.run`
  takes.

A scenario without the section has a patient all the same when a forecast asks
for one: `spec_of` gives the defaults. The defaults that depend on other keys
live here and only here: the oral morphine before the pump (`prior_oral`) and
the cancer prognosis.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from thecal.patient import PopulationSpec, VirtualPatient, sample_patient
from thecal.sim.patient_link import OralRegimen, PatientLink
from thecal.sim.scenario import Scenario, VirtualPatientSpec
from thecal.units import MS_PER_DAY, NG_PER_MG

# Assumption: an opioid-tolerant patient comes to the pump on about 60 mg/day of oral morphine; an opioid-naive
# one on none. Used when neither the file nor the command line gives the dose.
TOLERANT_PRIOR_ORAL_MG_PER_DAY = 60.0
NAIVE_PRIOR_ORAL_MG_PER_DAY = 0.0
# Assumption: the median prognosis of a cancer patient given a pump when the file gives none (a year; Smith 2002's
# entry asked for at least three months).
DEFAULT_PROGNOSIS_DAYS = 365.0


def spec_of(scenario: Scenario) -> VirtualPatientSpec:
    """The scenario's [virtual_patient], or the defaults of an empty one when the file has no such section."""
    if scenario.virtual_patient is not None:
        return scenario.virtual_patient
    return VirtualPatientSpec(seed=scenario.seed)


def prior_oral_mg_per_day(spec: VirtualPatientSpec, scenario: Scenario) -> float:
    """Oral morphine before the pump: as written, else none for an opioid-naive patient and 60 mg/day otherwise."""
    if spec.prior_oral_ng_per_day is not None:
        return spec.prior_oral_ng_per_day / NG_PER_MG
    return NAIVE_PRIOR_ORAL_MG_PER_DAY if scenario.opioid_naive else TOLERANT_PRIOR_ORAL_MG_PER_DAY


def prognosis_days(spec: VirtualPatientSpec) -> float | None:
    """The median prognosis of a cancer patient, days; None for non-cancer pain (such a patient does not die)."""
    if spec.indication != "cancer":
        return None
    return DEFAULT_PROGNOSIS_DAYS if spec.prognosis_ms is None else spec.prognosis_ms / MS_PER_DAY


def population(scenario: Scenario, spec: VirtualPatientSpec | None = None) -> PopulationSpec:
    """The population of one: this person as the section (or `spec`) states them, without spread."""
    spec = spec_of(scenario) if spec is None else spec
    return PopulationSpec(
        indication="cancer" if spec.indication == "cancer" else "non_cancer",
        entry_pain_mean=spec.entry_pain,
        entry_pain_sd=0.0,  # the section describes this patient, not a population
        oral_mme_mg_per_day_median=prior_oral_mg_per_day(spec, scenario),
        oral_mme_cv=0.0,
        prognosis_median_days=prognosis_days(spec),
    )


def oral_regimen(spec: VirtualPatientSpec) -> OralRegimen:
    """The oral morphine taken beside the pump: modified release, two doses a day; none when the section gives none."""
    if spec.oral_ng_per_day is None:
        return OralRegimen()
    return OralRegimen("morphine", spec.oral_ng_per_day / NG_PER_MG, doses_per_day=2, release="mr")


def draw(spec: PopulationSpec, seed: int) -> VirtualPatient:
    """The patient of a population of one and a seed; the forecast's first draw of the same seed is this patient."""
    return sample_patient(spec, np.random.default_rng(np.random.SeedSequence([seed, 0])))


def patient_link(scenario: Scenario, spec: VirtualPatientSpec | None = None) -> PatientLink:
    """The patient, coupled for `thecal.sim.runner.run`: drawn, on its oral regimen, observed and pressing as stated."""
    spec = spec_of(scenario) if spec is None else spec
    patient = draw(population(scenario, spec), spec.seed)
    return PatientLink(patient, observe_ms=spec.observe_ms, oral=oral_regimen(spec), presses=spec.presses)


def overridden(
    spec: VirtualPatientSpec,
    *,
    indication: str | None = None,
    entry_pain: float | None = None,
    prior_oral_ng_per_day: int | None = None,
    oral_ng_per_day: int | None = None,
    observe_ms: int | None = None,
) -> VirtualPatientSpec:
    """The section with what a command line gives in its place; None keeps the section's value.

    A patient made non-cancer on the command line drops the section's prognosis, which applies to cancer only.
    """
    changes: dict[str, object] = {
        key: value
        for key, value in (
            ("indication", indication),
            ("entry_pain", entry_pain),
            ("prior_oral_ng_per_day", prior_oral_ng_per_day),
            ("oral_ng_per_day", oral_ng_per_day),
            ("observe_ms", observe_ms),
        )
        if value is not None
    }
    if changes.get("indication", spec.indication) != "cancer":
        changes["prognosis_ms"] = None
    return replace(spec, **changes)  # type: ignore[arg-type]


__all__ = [
    "DEFAULT_PROGNOSIS_DAYS",
    "NAIVE_PRIOR_ORAL_MG_PER_DAY",
    "TOLERANT_PRIOR_ORAL_MG_PER_DAY",
    "draw",
    "oral_regimen",
    "overridden",
    "patient_link",
    "population",
    "prior_oral_mg_per_day",
    "prognosis_days",
    "spec_of",
]
