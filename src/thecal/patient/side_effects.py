"""Side effects graded 0-4 like the NCI Common Toxicity Criteria, and the composite toxicity score of Smith 2002.

For each item i (params/side_effects.toml):
    D_i = (w_sys e_sys + w_spinal e_sp + w_brain b + w_gut g) / fold^t_i  +  w_z e_z (1 + gain max(0, e_z - a_z))
    severity_i = min(4, background_i + 4 s D_i / (D_i + d50_i)),   grade_i = round(severity_i)
with the exposures in EC50 units (see thecal.patient.pain), `fold` the
tolerance fold (t_i = 1 for items that lose their driver with tolerance, else
0), `s` the patient's sensitivity and `a_z` the ziconotide level the patient
has adapted to (titration speed). Toxicity = the sum of the grades (Smith 2002:
the added grades of the treatment-related CTC scales).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from thecal.patient.params import load_params

ITEMS = (
    "sedation",
    "respiratory_depression",
    "nausea",
    "vomiting",
    "pruritus",
    "urinary_retention",
    "constipation",
    "confusion",
    "dizziness",
    "ataxia",
    "memory",
    "psychiatric",
)
DRIVERS = ("systemic", "spinal", "brainstem", "gut", "ziconotide")


@dataclass(frozen=True, slots=True)
class Item:
    """One graded side effect: its drivers' weights, half-maximal drive, tolerance and background grades."""

    name: str
    weights: tuple[float, float, float, float, float]  # in the order of DRIVERS
    d50: float
    tolerant: bool
    background_cancer: float
    background_non_cancer: float


@dataclass(frozen=True, slots=True)
class SideEffectModel:
    """All items and the shared figures."""

    items: tuple[Item, ...]
    titration_gain: float
    gut_reference_mg: float


@cache
def side_effect_model() -> SideEffectModel:
    """The checked model of params/side_effects.toml."""
    optional = {f"items.{i}.{d}": "1" for i in ITEMS for d in DRIVERS}
    optional |= {f"items.{i}.background_{x}": "CTC grade" for i in ITEMS for x in ("cancer", "non_cancer")}
    required = {f"items.{i}.{k}": "1" for i in ITEMS for k in ("d50", "tolerant")}
    required |= {
        "composite.definition": "1",
        "composite.ziconotide_titration_gain": "1",
        "composite.gut_reference": "mg",
    }
    p = load_params("side_effects", required, optional)
    items = tuple(
        Item(
            i,
            tuple(p.get(f"items.{i}.{d}", 0.0) for d in DRIVERS),  # type: ignore[arg-type]
            p.value(f"items.{i}.d50"),
            p.value(f"items.{i}.tolerant") > 0,
            p.get(f"items.{i}.background_cancer", 0.0),
            p.get(f"items.{i}.background_non_cancer", 0.0),
        )
        for i in ITEMS
    )
    return SideEffectModel(items, p.value("composite.ziconotide_titration_gain"), p.value("composite.gut_reference"))


@dataclass(frozen=True, slots=True)
class Exposure:
    """What drives side effects at one moment, in EC50 units (gut: per reference dose)."""

    systemic: float = 0.0
    spinal: float = 0.0
    brainstem: float = 0.0
    gut: float = 0.0
    ziconotide: float = 0.0
    ziconotide_adapted: float = 0.0


def severities(exposure: Exposure, fold: float, sensitivity: float, cancer: bool) -> dict[str, float]:
    """The severity 0-4 of every item."""
    model = side_effect_model()
    speed = max(0.0, exposure.ziconotide - exposure.ziconotide_adapted)
    zic = exposure.ziconotide * (1.0 + model.titration_gain * speed)
    opioid = (exposure.systemic, exposure.spinal, exposure.brainstem, exposure.gut)
    out: dict[str, float] = {}
    for item in model.items:
        w = item.weights
        drive = sum(wi * xi for wi, xi in zip(w[:4], opioid, strict=True))
        if item.tolerant:
            drive /= fold
        drive += w[4] * zic
        drug = 4.0 * sensitivity * drive / (drive + item.d50) if drive > 0 else 0.0
        base = item.background_cancer if cancer else item.background_non_cancer
        out[item.name] = min(4.0, base + drug)
    return out


def grades(severity: dict[str, float]) -> dict[str, int]:
    """The CTC grade (0-4) of every item."""
    return {name: int(min(4, max(0, round(s)))) for name, s in severity.items()}


def toxicity_score(graded: dict[str, int]) -> int:
    """The composite toxicity score: the sum of the grades (Smith 2002)."""
    return sum(graded.values())
