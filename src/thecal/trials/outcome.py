"""What one virtual patient's journey gave: endpoints at the protocol's times and weekly series for plots.

Endpoint names (all in `PatientOutcome.endpoints`; None = not observed
because the patient had died or the measure does not apply):
- `pain_week{W}`, `worst_pain_week{W}`, `toxicity_week{W}`: the mean reported
  pain (0-10), the mean of each day's highest score, the mean composite
  toxicity (sum of CTC grades) over the 7 days ending at week W (week 0: the
  baseline days before any trial therapy);
- `pain_change_week{W}`, `toxicity_change_week{W}`: the change from week 0;
- `success_week{W}`: clinical success as Smith 2002 defined it (at least 20 %
  less pain, or equal pain with at least 20 % less toxicity);
- `pain_below4_week{W}`, `pain_ge7_week{W}`, `relief20_week{W}`, `relief50_week{W}`;
- `it_dose_mg_day_week{W}`, `oral_mg_day_week{W}`, `off_oral_week{W}`;
- `alive_month{M}`; `screened`, `screening_passed`, `implanted`,
  `discontinued_side_effects`, `discontinued_inefficacy`, `death_day`,
  `ptm_presses`, `ptm_doses`, `device_events`;
- `followed_days`: the days the journey simulated (to death, leaving the
  study, or the horizon).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

Value = float | bool | None


@dataclass(frozen=True)
class PatientOutcome:
    """One patient's endpoints and weekly series."""

    arm: str
    index: int
    endpoints: Mapping[str, Value]
    weekly: Mapping[str, tuple[float | None, ...]]

    def to_json(self) -> dict[str, object]:
        """The outcome as JSON-ready data (keys sorted by the encoder, floats rounded to 6 digits)."""
        return {
            "arm": self.arm,
            "index": self.index,
            "endpoints": {k: _round(v) for k, v in sorted(self.endpoints.items())},
            "weekly": {k: [_round(x) for x in v] for k, v in sorted(self.weekly.items())},
        }


def _round(value: Value) -> Value:
    if isinstance(value, float):
        return round(value, 6)
    return value


def success(pain_before: float, pain_after: float, tox_before: float, tox_after: float) -> bool:
    """Smith 2002 clinical success: pain down at least 20 %, or pain no worse and toxicity down at least 20 %."""
    if pain_before > 0 and pain_after <= 0.8 * pain_before:
        return True
    return pain_after <= pain_before and tox_before > 0 and tox_after <= 0.8 * tox_before
