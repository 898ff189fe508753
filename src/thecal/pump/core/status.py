"""What an interrogation shows: the pump's state as plain integers, with stable keys, ready for JSON.

Doses are shown as doses (ng, ng/day), volumes and flows as volumes (nL,
nL/day), times as pump time or wall time (ms) as the key says. The mode and
the flows come from the mode table and the flow arithmetic the firmware runs
on; the patient's demand window from the same function the firmware refuses a
press with, and the answer to a press now is the firmware's own (a running
bolus, a stalled motor: every reason it would refuse). The record of settings
replaced and clinician boluses given in the last 24 h, which the daily limit
counts, is shown so that a programmer predicts the pump's verdict. The
patient's handset gets its own part alone (`patient_status_view`), the same
values. Nothing here changes the state.
"""

from __future__ import annotations

from thecal.pump.core.actions import Refusal
from thecal.pump.core.demand import demand_window
from thecal.pump.core.figures import PumpFigures
from thecal.pump.core.flow import basal_schedule, dead_volume_nl, rates
from thecal.pump.core.hard_limits import recent
from thecal.pump.core.modes import MODES, PumpMode, facts, mode_of
from thecal.pump.core.schedule import WeekSchedule
from thecal.pump.core.state import Bridge, PumpState


def demand_view(s: PumpState, press: Refusal | None) -> tuple[int | None, int | None]:
    """The patient's window: the wall time the next demand dose is possible, and how many are left in 24 h.

    The next dose waits for the lockout, the daily maximum and a running bolus (`press` is the pump's answer to
    a press now). Both are None while demand doses are off.
    """
    if s.demand_limits is None:
        return None, None
    window = demand_window(s.demand_limits, s.demand_history_ms, s.now_ms)
    next_allowed = window.next_allowed_ms
    if press is not None and press.until_ms is not None:
        next_allowed = max(next_allowed, press.until_ms)
    return next_allowed + s.wall_offset_ms, window.left_24h


def press_view(s: PumpState, press: Refusal | None) -> dict[str, object] | None:
    """Why a press now would give no dose, and until when (wall time) if the pump knows; None when it would."""
    if press is None:
        return None
    until = None if press.until_ms is None else press.until_ms + s.wall_offset_ms
    return {"code": press.code, "until_wall_ms": until}


def bridge_view(bridge: Bridge | None) -> dict[str, object] | None:
    """The bridge under way: what is left to push, the old solution, and the old prescription pushing it."""
    if bridge is None:
        return None
    return {
        "remaining_nl": bridge.remaining_nl,
        "label": [{"drug": e.drug, "concentration_ng_per_ml": e.concentration_ng_per_ml} for e in bridge.label],
        "prescription": None if bridge.doses is None else bridge.doses.to_data(),
    }


def status_view(
    model: PumpFigures, s: PumpState, flows: WeekSchedule | None, press: Refusal | None
) -> dict[str, object]:
    """The status of a pump in this state, with `flows` its derived basal flows and `press` its answer to a
    press now: base units, stable keys."""
    mode = mode_of(facts(model.stroke_nl, s, flows))
    rule = MODES[mode]
    basal, bolus = rates(model, s, basal_schedule(s, flows), rule.basal, rule.with_bolus)
    demand = s.demand_limits
    periodic = s.periodic
    next_allowed, left = demand_view(s, press)
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
        "dead_volume_nl": dead_volume_nl(model, s),
        "dose_raised_wall_ms": s.dose_raised_wall_ms,
        "demand_next_allowed_wall_ms": next_allowed,
        "demand_left_24h": left,
        "demand_not_now": press_view(s, press),
        "recent_exposures": [r.to_data() for r in recent(s.replaced, s.now_ms)],
        "bridge": bridge_view(s.bridge),
        "mode": mode.value,
        "basal_flow_nl_per_day": basal,
        "bolus_flow_nl_per_day": bolus,
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
        "telemetry_rejections_unlogged": s.telemetry_rejections.unlogged,
        "demand_refusals_unlogged": s.demand_refusals.unlogged,
    }


def patient_status_view(
    model: PumpFigures, s: PumpState, flows: WeekSchedule | None, press: Refusal | None
) -> dict[str, object]:
    """The patient's part of `status_view`, made without the rest: the same values, with whether therapy is
    stopped (the mode is the minimum rate) and whether demand doses are on in place of the mode and the
    settings. A handset shows this, and the therapy layer reads it as the patient's view."""
    next_allowed, left = demand_view(s, press)
    return {
        "wall_ms": s.wall_ms,
        "alarms": sorted(a.value for a in s.alarms),
        "therapy_stopped": mode_of(facts(model.stroke_nl, s, flows)) is PumpMode.MINIMUM_RATE,
        "demand_enabled": s.demand_limits is not None,
        "demand_next_allowed_wall_ms": next_allowed,
        "demand_left_24h": left,
        "demand_not_now": press_view(s, press),
    }
