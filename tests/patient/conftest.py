"""Shared fixtures for the virtual patient's tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from thecal.patient import PopulationSpec, VirtualPatient
from thecal.patient.patient import sample_params
from thecal.patient.pk import drug_pk


@pytest.fixture
def typical() -> Callable[..., VirtualPatient]:
    """A maker of non-cancer, opioid-naive patients with the typical kinetics of a 70 kg adult, tip at the pain."""

    def make(**changes: object) -> VirtualPatient:
        params = sample_params(PopulationSpec(indication="non_cancer", entry_pain_sd=0.0), np.random.default_rng(0))
        values = dict(params.__dict__)
        values.update(
            {"weight_kg": 70.0, "tip_to_pain_cm": 0.0, "pk": {d: drug_pk(d, 70.0) for d in params.pk}, **changes}
        )
        return VirtualPatient(type(params)(**values))

    return make
