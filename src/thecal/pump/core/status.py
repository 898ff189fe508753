"""What an interrogation shows: the pump's state as plain integers, with stable keys, ready for JSON.

Doses are shown as doses (ng, ng/day), volumes and flows as volumes (nL,
nL/day), times as pump time or wall time (ms) as the key says. The demand
window comes from the same function the firmware refuses a press with.
"""

from __future__ import annotations

from thecal.pump.core.demand import demand_window
from thecal.pump.core.figures import PumpFigures
from thecal.pump.core.state import PumpState


def status_view(
    model: PumpFigures,
    s: PumpState,
    *,
    mode: str,
    basal_nl_per_day: int,
    bolus_nl_per_day: int,
    dead_volume_nl: int,
) -> dict[str, object]:
    """The status of a pump in this state: a snapshot in base units, stable keys."""
    demand = s.demand_limits
    periodic = s.periodic
    next_allowed: int | None = None
    left: int | None = None
    if demand is not None:
        window = demand_window(demand, s.demand_history_ms, s.now_ms)
        next_allowed = window.next_allowed_ms + s.wall_offset_ms
        left = window.left_24h
    return {
        "model": model.name,
        "now_ms": s.now_ms,
        "wall_ms": s.wall_ms,
        "reservoir_nl": s.reservoir_nl,
        "reservoir_capacity_nl": model.reservoir_nl,
        "low_reservoir_alarm_nl": s.low_reservoir_alarm_nl,
        "label": [{"drug": e.drug, "concentration_ng_per_ml": e.concentration_ng_per_ml} for e in s.label],
        "prescription": s.prescription.to_data() if s.prescription is not None else None,
        "demand": None
        if demand is None
        else {
            "dose_ng": demand.dose_ng,
            "duration_ms": demand.duration_ms,
            "lockout_ms": demand.lockout_ms,
            "max_per_24h": demand.max_per_24h,
        },
        "periodic": None
        if periodic is None
        else {
            "dose_ng": periodic.dose_ng,
            "duration_ms": periodic.duration_ms,
            "interval_ms": periodic.interval_ms,
            "first_wall_ms": periodic.first_wall_ms,
        },
        "catheter_volume_nl": s.catheter_volume_nl,
        "dead_volume_nl": dead_volume_nl,
        "dose_raised_wall_ms": s.dose_raised_wall_ms,
        "demand_next_allowed_wall_ms": next_allowed,
        "demand_left_24h": left,
        "bridge": None if s.bridge is None else {"remaining_nl": s.bridge.remaining_nl},
        "mode": mode,
        "basal_flow_nl_per_day": basal_nl_per_day,
        "bolus_flow_nl_per_day": bolus_nl_per_day,
        "bolus": None
        if s.bolus is None
        else {
            "kind": s.bolus.kind.value,
            "volume_nl": s.bolus.volume_nl,
            "delivered_nl": s.bolus.delivered_nl,
        },
        "strokes_total": s.strokes_total,
        "delivered_nl_total": s.strokes_total * model.stroke_nl,
        "alarms": sorted(a.value for a in s.alarms),
        "battery_used_fraction": round(s.battery_used_pc / model.battery_capacity_pc, 6),
        "eri_at_ms": s.eri_at_ms,
        "fills_total": s.fills_total,
        "log_next_seq": s.log.next_seq,
        "telemetry_rejections_unlogged": s.rejections_unlogged,
    }
