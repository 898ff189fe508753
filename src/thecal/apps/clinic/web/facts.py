"""What one interrogation tells the clinic beyond the settings: days to the low-reservoir alarm and the replace-by date.

These are device arithmetic on the pump's own figures (its reservoir, its
battery budget, its model), never dose decisions. The summary of an
interrogation is kept in the audit trail, and the store keeps it too as the
implant's last interrogation, so the dashboard ranks patients by what their
pumps said last, without reaching any pump.
"""

from __future__ import annotations

from dataclasses import dataclass

from thecal.apps.clinic.store import INTERROGATION_ACTION
from thecal.therapy import PumpSnapshot
from thecal.therapy.settings import wall_text
from thecal.units import MS_PER_DAY

INTERROGATE_ACTION = INTERROGATION_ACTION  # the audit entry whose summary the store keeps as the last interrogation


@dataclass(frozen=True)
class ReplaceBy:
    """When the pump must be replaced: a wall time never past its end of service, and how it was found."""

    wall_ms: int
    basis: str  # "end_of_service" | "eri_reached" | "projected"
    eri_wall_ms: int | None = None  # when the elective replacement indicator was reached, if it was

    @property
    def reached(self) -> bool:
        """Whether the elective replacement indicator (or the end of service) has been reached."""
        return self.basis in ("eri_reached", "end_of_service")

    def warning(self) -> str:
        """In words, when the indicator is reached: since when, until when the pump runs, what to do; else ""."""
        if self.basis == "end_of_service":
            return "End of service: the battery is exhausted and the pump has stopped. Replace the pump at once."
        if self.basis != "eri_reached":
            return ""
        since = f" on {wall_text(self.eri_wall_ms)[:10]}" if self.eri_wall_ms is not None else ""
        return (
            f"The elective replacement indicator was reached{since}: the pump stops at its end of service on "
            f"{wall_text(self.wall_ms)[:10]}. Plan the replacement surgery before that date."
        )

    def text(self) -> str:
        """The replace-by date in words, with what it rests on."""
        day = wall_text(self.wall_ms)[:10]
        if self.basis == "end_of_service":
            return f"now: the battery reached end of service (replace at once; pump date {day})"
        if self.basis == "eri_reached":
            return f"{day} (elective replacement indicator reached; this is the end of service)"
        return f"{day} (projected from the battery used and the present flow)"


def replace_by(snapshot: PumpSnapshot) -> ReplaceBy:
    """The replace-by date: at end of service now, the end of service after the indicator, or the projected indicator.

    The projection spends what is left of the battery before its elective
    replacement reserve at the baseline current plus the strokes of the present
    flow; the indicator comes before the end of service, so the date is never
    beyond it, and it is always a date.
    """
    model = snapshot.model
    status = snapshot.status
    if snapshot.mode == "end_of_service" or "end_of_service" in snapshot.alarms:
        return ReplaceBy(snapshot.wall_ms, "end_of_service")
    eri = status.get("eri_at_ms")
    if type(eri) is int:
        offset = snapshot.wall_ms - snapshot.now_ms
        end = eri + model.end_of_service_after_eri_ms + offset
        return ReplaceBy(max(end, snapshot.wall_ms), "eri_reached", eri + offset)
    used_fraction = battery_used_fraction(snapshot) or 0.0
    left_pc = model.battery_capacity_pc * (1.0 - used_fraction) - model.eri_reserve_pc
    flow = snapshot.basal_flow_nl_per_day + snapshot.bolus_flow_nl_per_day
    strokes_per_ms = flow / model.stroke_nl / MS_PER_DAY if model.stroke_nl else 0.0
    rate_pc_per_ms = model.baseline_current_na + model.stroke_charge_pc * strokes_per_ms  # 1 nA for 1 ms is 1 pC
    span_ms = int(max(left_pc, 0.0) / rate_pc_per_ms) if rate_pc_per_ms > 0 else 0
    return ReplaceBy(snapshot.wall_ms + span_ms, "projected")


def battery_used_fraction(snapshot: PumpSnapshot) -> float | None:
    """How much of the battery is used (0 to 1), as the pump reports it (a fraction, or parts per million)."""
    ppm = snapshot.status.get("battery_used_ppm")
    if type(ppm) is int:
        return ppm / 1_000_000
    fraction = snapshot.status.get("battery_used_fraction")
    return float(fraction) if isinstance(fraction, int | float) else None


def days_to_low_reservoir(snapshot: PumpSnapshot) -> float | None:
    """Days until the reservoir falls to the low-reservoir alarm at the present flow; None without a flow."""
    flow = snapshot.basal_flow_nl_per_day
    if not snapshot.label or flow <= 0:
        return None
    left = snapshot.reservoir_nl - snapshot.low_reservoir_alarm_nl
    return max(left, 0) / flow


def summary(snapshot: PumpSnapshot) -> dict[str, object]:
    """What the dashboard needs from one interrogation, as plain JSON for the audit trail and the last interrogation."""
    prescription = snapshot.prescription
    days_low = days_to_low_reservoir(snapshot)
    due = replace_by(snapshot)
    return {
        "pump_wall_ms": snapshot.wall_ms,
        "mode": snapshot.mode,
        "alarms": list(snapshot.alarms),
        "reservoir_nl": snapshot.reservoir_nl,
        "low_reservoir_alarm_nl": snapshot.low_reservoir_alarm_nl,
        "days_to_low_reservoir": None if days_low is None else round(days_low, 1),
        "replace_by_wall_ms": due.wall_ms,
        "replace_by_basis": due.basis,
        "eri_wall_ms": due.eri_wall_ms,
        "days_to_replace_by": round((due.wall_ms - snapshot.wall_ms) / MS_PER_DAY, 1),
        "label": [[d, c] for d, c in snapshot.label],
        "max_dose_ng_per_day": None if prescription is None else prescription.max_dose_ng_per_day(),
    }
