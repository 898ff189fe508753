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

import numpy as np

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


@cache
def _rows(cancer: bool) -> tuple[tuple[str, float, float, float, float, bool, float, float, float], ...]:
    """Per item: name, the four opioid weights, tolerant, ziconotide weight, d50, background (read once)."""
    model = side_effect_model()
    out = []
    for i in model.items:
        background = i.background_cancer if cancer else i.background_non_cancer
        out.append((i.name, *i.weights[:4], i.tolerant, i.weights[4], i.d50, background))
    return tuple(out)


def severities(exposure: Exposure, fold: float, sensitivity: float, cancer: bool) -> dict[str, float]:
    """The severity 0-4 of every item."""
    speed = max(0.0, exposure.ziconotide - exposure.ziconotide_adapted)
    zic = exposure.ziconotide * (1.0 + side_effect_model().titration_gain * speed)
    x0, x1, x2, x3 = exposure.systemic, exposure.spinal, exposure.brainstem, exposure.gut
    out: dict[str, float] = {}
    for name, w0, w1, w2, w3, tolerant, wz, d50, base in _rows(cancer):
        drive = w0 * x0 + w1 * x1 + w2 * x2 + w3 * x3
        if tolerant:
            drive /= fold
        drive += wz * zic
        drug = 4.0 * sensitivity * drive / (drive + d50) if drive > 0 else 0.0
        out[name] = min(4.0, base + drug)
    return out


@cache
def _matrices(cancer: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The items as arrays: opioid weights (items x 4), tolerant, ziconotide weight, d50, background."""
    rows = _rows(cancer)
    return (
        np.array([r[1:5] for r in rows]),
        np.array([r[5] for r in rows], dtype=bool)[:, None],
        np.array([r[6] for r in rows])[:, None],
        np.array([r[7] for r in rows])[:, None],
        np.array([r[8] for r in rows])[:, None],
    )


def severities_many(exposure: tuple[np.ndarray, ...], fold: np.ndarray, sensitivity: float, cancer: bool) -> np.ndarray:
    """`severities` for a series: rows in the order of ITEMS, one column per time.

    `exposure` holds the arrays (systemic, spinal, brainstem, gut, ziconotide, ziconotide_adapted).
    """
    systemic, spinal, brainstem, gut, ziconotide, adapted = exposure
    zic = ziconotide * (1.0 + side_effect_model().titration_gain * np.maximum(0.0, ziconotide - adapted))
    weights, tolerant, w_zic, d50, base = _matrices(cancer)
    # Term by term as the one-at-a-time sum adds them (w0 x0 + w1 x1 + ...), not a matrix product.
    drive = weights[:, 0:1] * systemic + weights[:, 1:2] * spinal + weights[:, 2:3] * brainstem
    drive = drive + weights[:, 3:4] * gut
    drive = np.where(tolerant, drive / fold, drive) + w_zic * zic
    positive = drive > 0
    drug = np.where(positive, 4.0 * sensitivity * drive / np.where(positive, drive + d50, 1.0), 0.0)
    return np.minimum(4.0, base + drug)


def grades_many(severity: np.ndarray) -> np.ndarray:
    """`grades` for a series of severities (any shape), as integers."""
    return np.clip(np.rint(severity), 0, 4).astype(np.int64)


def grades(severity: dict[str, float]) -> dict[str, int]:
    """The CTC grade (0-4) of every item."""
    return {name: int(min(4, max(0, round(s)))) for name, s in severity.items()}


def toxicity_score(graded: dict[str, int]) -> int:
    """The composite toxicity score: the sum of the grades (Smith 2002)."""
    return sum(graded.values())
