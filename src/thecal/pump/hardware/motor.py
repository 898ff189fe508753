"""The peristaltic motor: moves a little more or less than commanded, and can stall."""

from __future__ import annotations

import random
from dataclasses import dataclass

# Field data for this pump class: mean +1 % at 6 months (Wesemann 2014); the
# labeled accuracy is +/-14.5 % (TGA notice 2014). The spread is an assumption.
FIELD_MEAN_ERROR = 0.01
FIELD_ERROR_SD = 0.04


def draw_accuracy_error(rng: random.Random, labeled_accuracy: float) -> float:
    """A pump's own flow error, drawn from field data and kept inside the labeled accuracy."""
    error = rng.gauss(FIELD_MEAN_ERROR, FIELD_ERROR_SD)
    return max(-labeled_accuracy, min(labeled_accuracy, error))


@dataclass
class Motor:
    """A motor with its own accuracy error and the fault switches a test bench would have."""

    accuracy_error: float = 0.0
    over_infusion: float = 0.0
    stalled_by_field: bool = False
    stalled_by_fault: bool = False

    @property
    def stalled(self) -> bool:
        """True while the rotor cannot turn."""
        return self.stalled_by_field or self.stalled_by_fault

    def volume_moved_nl(self, commanded_nl: int) -> float:
        """The volume the rotor really moves for a commanded volume."""
        if self.stalled:
            return 0.0
        return commanded_nl * (1.0 + self.accuracy_error) * (1.0 + self.over_infusion)
