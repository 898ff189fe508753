"""What the body is and says: one `Observation`, or an `ObservationSeries` of many (NumPy arrays per field)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thecal.patient.side_effects import ITEMS


@dataclass(frozen=True, slots=True)
class Observation:
    """What the body is and says at one moment."""

    at_ms: int
    alive: bool
    pain: float  # felt pain, 0-10, continuous
    pain_score: int  # what the patient reports, 0-10
    relief: float
    awake: bool
    severity: dict[str, float]
    grades: dict[str, int]
    toxicity: int
    csf_ng_per_ml: dict[str, float]  # at the tip level
    site_ng_per_ml: dict[str, float]  # at the segments of the pain
    plasma_ng_per_ml: dict[str, float]
    tolerance_fold: float


@dataclass(frozen=True, eq=False)
class ObservationSeries:
    """Observations at many times, one NumPy array per field (severity and grades: a row per item of ITEMS)."""

    at_ms: np.ndarray  # int64
    alive: np.ndarray  # bool
    pain: np.ndarray
    pain_score: np.ndarray  # int64, 0-10
    relief: np.ndarray
    awake: np.ndarray  # bool
    severity: np.ndarray  # (len(ITEMS), n)
    grades: np.ndarray  # (len(ITEMS), n), int64
    toxicity: np.ndarray  # int64
    csf_ng_per_ml: dict[str, np.ndarray]
    site_ng_per_ml: dict[str, np.ndarray]
    plasma_ng_per_ml: dict[str, np.ndarray]
    tolerance_fold: np.ndarray

    def __len__(self) -> int:
        return len(self.at_ms)

    def observations(self) -> list[Observation]:
        """Every observation of the series, in order, as `Observation`s."""
        # Each column becomes Python numbers once, and each observation's rows are zipped: indexing NumPy arrays
        # number by number costs more than everything else here.
        drugs = list(self.csf_ng_per_ml)

        def by_drug(columns: dict[str, np.ndarray]) -> list[dict[str, float]]:
            return [
                dict(zip(drugs, row, strict=True)) for row in zip(*(columns[d].tolist() for d in drugs), strict=True)
            ]

        n = len(self)
        severity = (
            [dict(zip(ITEMS, row, strict=True)) for row in zip(*self.severity.tolist(), strict=True)] if n else []
        )
        grades = [dict(zip(ITEMS, row, strict=True)) for row in zip(*self.grades.tolist(), strict=True)] if n else []
        columns = zip(
            self.at_ms.tolist(),
            self.alive.tolist(),
            self.pain.tolist(),
            self.pain_score.tolist(),
            self.relief.tolist(),
            self.awake.tolist(),
            severity,
            grades,
            self.toxicity.tolist(),
            by_drug(self.csf_ng_per_ml) if drugs else [{}] * n,
            by_drug(self.site_ng_per_ml) if drugs else [{}] * n,
            by_drug(self.plasma_ng_per_ml) if drugs else [{}] * n,
            self.tolerance_fold.tolist(),
            strict=True,
        )
        return [Observation(*fields) for fields in columns]
