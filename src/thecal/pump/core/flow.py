"""The flow arithmetic: rates, boundaries, strokes and the battery, exact in integers.

The accumulator `state.phase` counts nL·ms/day; a stroke is owed each time it
passes one stroke unit (`stroke_nl` × ms per day). Between two boundaries the
flow is constant, so a whole segment is one multiplication and one division
(`run`). `next_boundary` is the earliest moment anything can change; each
boundary is a function of absolute time and of state that changes only at
boundaries, which is what makes fast-forward exact (see firmware.py).

What flows in each mode (none, the bolus alone, the minimum rate, the
schedule) is the mode table's to say (modes.py); these functions only do the
arithmetic for it.
"""

from __future__ import annotations

from enum import Enum

from thecal.pump.core.actions import Delivery
from thecal.pump.core.alarms import Alarm
from thecal.pump.core.figures import PumpFigures
from thecal.pump.core.integers import MS_PER_DAY, ceil_div
from thecal.pump.core.schedule import WeekSchedule
from thecal.pump.core.state import Bridge, PumpState


class Basal(Enum):
    """Where the basal flow comes from in a mode."""

    NONE = "none"
    MINIMUM = "the minimum-rate flow"
    SCHEDULE = "the schedule"


def stroke_unit(model: PumpFigures) -> int:
    """One stroke of flow integral, in nL·ms/day."""
    return model.stroke_nl * MS_PER_DAY


def has_stroke_left(model: PumpFigures, state: PumpState) -> bool:
    """True while the reservoir holds at least one stroke."""
    return state.reservoir_nl >= model.stroke_nl


def basal_schedule(state: PumpState, flows: WeekSchedule | None) -> WeekSchedule | None:
    """The flows the basal follows: the bridge's old flows while it runs (when it has any), else the prescription's."""
    bridge = state.bridge
    return bridge.flows if bridge is not None and bridge.flows is not None else flows


def max_basal_flow(flows: WeekSchedule | None, bridge: Bridge | None) -> int:
    """The highest basal flow that may run under a bolus: the prescription's or the bridge's, in nL/day."""
    weeks = [w for w in (flows, bridge.flows if bridge is not None else None) if w is not None]
    return max((w.max_flow_nl_per_day() for w in weeks), default=0)


def dead_volume_nl(model: PumpFigures, state: PumpState) -> int:
    """The pump's internal tubing and the catheter together: what drug passes before it reaches the patient."""
    return model.internal_volume_nl + state.catheter_volume_nl


def rates(
    model: PumpFigures, state: PumpState, schedule: WeekSchedule | None, basal: Basal, with_bolus: bool
) -> tuple[int, int]:
    """The basal and bolus flows now, in nL/day, for a mode that runs `basal` and (or not) the bolus."""
    b = state.bolus
    bolus = b.rate_nl_per_day if with_bolus and b is not None else 0
    if basal is Basal.NONE:
        return 0, bolus
    if basal is Basal.MINIMUM:
        return model.minimum_rate_mode_flow_nl_per_day, bolus
    if schedule is None:
        raise RuntimeError("a mode that follows the schedule has no schedule; the mode table and the state disagree")
    return schedule.flow_at(state.wall_ms), bolus


def next_stroke_ms(model: PumpFigures, state: PumpState, rate: int) -> int | None:
    """When the next stroke completes at `rate`, or None while nothing flows."""
    if rate == 0:
        return None
    return state.now_ms + ceil_div(stroke_unit(model) - state.phase, rate)


def stroke_time(model: PumpFigures, state: PumpState, k: int, rate: int) -> int:
    """The time the k-th stroke from now completes at `rate` (> 0)."""
    return state.now_ms + ceil_div(k * stroke_unit(model) - state.phase, rate)


def next_boundary(
    model: PumpFigures,
    state: PumpState,
    schedule: WeekSchedule | None,
    rate: int,
    bolus_rate: int,
    to_ms: int,
) -> int:
    """The earliest moment after now, and not after `to_ms`, at which anything can change."""
    s = state
    m = model
    now = s.now_ms
    end = to_ms
    if schedule is not None and not s.stopped:
        end = min(end, schedule.next_change_ms(s.wall_ms) - s.wall_offset_ms)
    if s.bolus is not None and bolus_rate:
        end = min(end, now + ceil_div(s.bolus.total - s.bolus.done, bolus_rate))
    if s.bridge is not None and rate:
        end = min(end, now + ceil_div(s.bridge.total - s.bridge.done, rate))
    if s.periodic_next_wall_ms is not None:
        end = min(end, s.periodic_next_wall_ms - s.wall_offset_ms)
    if s.next_tone_ms is not None:
        end = min(end, s.next_tone_ms)
    if s.eri_at_ms is not None and not s.end_of_service:
        end = min(end, s.eri_at_ms + m.end_of_service_after_eri_ms)
    if rate:
        # The stroke that leaves less than one stroke in the reservoir, and the one that crosses the threshold.
        end = min(end, stroke_time(m, s, s.reservoir_nl // m.stroke_nl, rate))
        if Alarm.LOW_RESERVOIR not in s.alarms and s.label:
            over = s.reservoir_nl - s.low_reservoir_alarm_nl
            if over > 0:
                end = min(end, stroke_time(m, s, ceil_div(over, m.stroke_nl), rate))
    if not s.end_of_service:
        end = battery_crossing(m, s, rate, end)
    if end <= now:
        # Every condition due at `now` was acted on before this call, so time must move.
        raise RuntimeError(f"firmware boundary at {end} ms is not after now ({now} ms)")
    return end


def battery_used_at(model: PumpFigures, state: PumpState, t: int, rate: int) -> int:
    """The battery charge used by time `t` at a constant `rate`, in pC."""
    s = state
    strokes = (s.phase + rate * (t - s.now_ms)) // stroke_unit(model)
    return s.battery_used_pc + model.baseline_current_na * (t - s.now_ms) + strokes * model.stroke_charge_pc


def battery_crossing(model: PumpFigures, state: PumpState, rate: int, end: int) -> int:
    """The earliest time up to `end` at which the battery reaches its next threshold (ERI, then empty)."""
    m = model
    target = m.battery_capacity_pc - m.eri_reserve_pc if state.eri_at_ms is None else m.battery_capacity_pc
    if battery_used_at(m, state, end, rate) < target:
        return end
    low, high = state.now_ms, end  # used(low) < target <= used(high)
    while high - low > 1:
        mid = (low + high) // 2
        if battery_used_at(m, state, mid, rate) >= target:
            high = mid
        else:
            low = mid
    return high


def run(model: PumpFigures, state: PumpState, rate: int, bolus_rate: int, end: int) -> Delivery | None:
    """Run the motor at a constant flow until `end`; return the motor work, or None while nothing flows."""
    s = state
    m = model
    dt = end - s.now_ms
    strokes = 0
    delivery: Delivery | None = None
    if rate:
        phase_start = s.phase
        strokes, s.phase = divmod(phase_start + rate * dt, stroke_unit(m))
        if strokes:
            s.reservoir_nl -= strokes * m.stroke_nl
            s.strokes_total += strokes
        delivery = Delivery(s.now_ms, end, rate, strokes, m.stroke_nl, phase_start)
        if s.bridge is not None:
            s.bridge.done += rate * dt
    if bolus_rate and s.bolus is not None:
        s.bolus.done += bolus_rate * dt
    s.battery_used_pc += m.baseline_current_na * dt + strokes * m.stroke_charge_pc
    s.now_ms = end
    return delivery
