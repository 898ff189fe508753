"""The flow arithmetic: rates, the next moment anything is due, and the motor's run up to it, exact in integers.

The accumulator `state.phase` counts nL·ms/day; a stroke is owed each time it
passes one stroke unit (`stroke_nl` × ms per day). The flow is constant
between two basal steps, so a stretch between them is one multiplication and
one division. `next_due` is the earliest moment at which something other than
a basal step or the bolus's end can change, known from the clock alone. A run
with no motor and no threshold within is one piece, from the table's flow
integrals through a `Cursor` (the firmware's loop does the rest of it);
`walk_until` walks the week's table of step boundaries instead, putting out
the motor's work when there is a motor, and stops sooner only at the stroke
that crosses a reservoir threshold or completes the bridge, or the moment the
battery crosses its next threshold. Each of these is a function of absolute
time and of state that changes only where the run stops, which is what makes
fast-forward exact (see firmware.py).

What flows in each mode (none, the bolus alone, the minimum rate, the
schedule) is the mode table's to say (modes.py); these functions only do the
arithmetic for it.
"""

from __future__ import annotations

from bisect import bisect_right
from enum import Enum

from thecal.pump.core.actions import Action, Delivery
from thecal.pump.core.alarms import Alarm
from thecal.pump.core.figures import PumpFigures
from thecal.pump.core.integers import MS_PER_DAY, ceil_div
from thecal.pump.core.schedule import MS_PER_WEEK, WeekSchedule, time_of_week_ms
from thecal.pump.core.state import ActiveBolus, Bridge, PumpState

# No threshold of the flow integral ahead: larger than any integral a pump can run up.
_NO_LIMIT = 1 << 126
# No moment ahead: later than any pump time.
NEVER = 1 << 126
# Looked up on its enum, a member costs a call; the motor asks at every stretch.
_LOW_RESERVOIR = Alarm.LOW_RESERVOIR


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


def bolus_flow(bolus: ActiveBolus) -> int:
    """The bolus's own flow now, in nL/day: its rate, and in its last millisecond only what is left of it.

    The rate is rounded up (the volume over the duration), so a whole last millisecond at that rate
    would give a little more than the volume; the bolus ends exactly at its volume instead.
    """
    left = bolus.volume_nl * MS_PER_DAY - bolus.done
    rate = bolus.rate_nl_per_day
    return rate if left >= rate else left


def rates(
    model: PumpFigures, state: PumpState, schedule: WeekSchedule | None, basal: Basal, with_bolus: bool
) -> tuple[int, int]:
    """The basal and bolus flows now, in nL/day, for a mode that runs `basal` and (or not) the bolus."""
    b = state.bolus
    bolus = bolus_flow(b) if with_bolus and b is not None else 0
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


def next_due(model: PumpFigures, state: PumpState) -> int:
    """The earliest moment, other than a bolus's end, that the clock alone brings: the periodic bolus is due, an
    alarm tone, end of service after ERI; `NEVER` when none lies ahead."""
    s = state
    due = NEVER
    periodic = s.periodic_next_wall_ms
    if periodic is not None:
        due = periodic - s.wall_offset_ms
    tone = s.next_tone_ms
    if tone is not None and tone < due:
        due = tone
    eri = s.eri_at_ms
    if eri is not None and not s.end_of_service and eri + model.end_of_service_after_eri_ms < due:
        due = eri + model.end_of_service_after_eri_ms
    if due <= s.now_ms:
        # Every condition due at `now` was acted on before this call, so time must move.
        raise RuntimeError(f"firmware boundary at {due} ms is not after now ({s.now_ms} ms)")
    return due


def integral_limit(model: PumpFigures, state: PumpState) -> int:
    """The flow integral from now (nL·ms/day) at which the next threshold is reached: the stroke that leaves less
    than one stroke in the reservoir or crosses the low-reservoir threshold, or the end of the bridge."""
    s = state
    stroke = model.stroke_nl
    unit = stroke * MS_PER_DAY
    limit = (s.reservoir_nl // stroke) * unit - s.phase
    if s.label and Alarm.LOW_RESERVOIR not in s.alarms:
        over = s.reservoir_nl - s.low_reservoir_alarm_nl
        if over > 0:
            low = -(-over // stroke) * unit - s.phase
            if low < limit:
                limit = low
    bridge = s.bridge
    if bridge is not None and bridge.total - bridge.done < limit:
        limit = bridge.total - bridge.done
    return limit


def battery_target(model: PumpFigures, state: PumpState) -> int | None:
    """The battery charge at which the next battery threshold is reached (ERI, then empty), or None at the end."""
    if state.end_of_service:
        return None
    m = model
    return m.battery_capacity_pc - m.eri_reserve_pc if state.eri_at_ms is None else m.battery_capacity_pc


def _battery_crossing(model: PumpFigures, phase: int, rate: int, headroom: int, dt: int) -> int:
    """The first time from a segment's start, in (0, dt], at which the charge used reaches `headroom`."""
    unit = model.stroke_nl * MS_PER_DAY
    current = model.baseline_current_na
    charge = model.stroke_charge_pc
    low, high = 0, dt  # used(low) < headroom <= used(high)
    while high - low > 1:
        mid = (low + high) // 2
        if current * mid + (phase + rate * mid) // unit * charge >= headroom:
            high = mid
        else:
            low = mid
    return high


class Cursor:
    """A memo of the last place looked up in a schedule's table (`WeekSchedule.locate`): the flow integral up to
    it, the flow there and the end of its step.

    A run without a motor starts where the last one ended, so it looks up only its own end, and nothing at all
    while it stays within one step. What is kept is a function of the schedule and the wall-clock time alone, so
    it is right whatever happened since; it is only used for that same schedule and time.
    """

    __slots__ = ("flow", "schedule", "step_end_wall_ms", "value", "wall_ms")

    def __init__(self) -> None:
        self.schedule: WeekSchedule | None = None
        self.wall_ms = self.value = self.flow = self.step_end_wall_ms = 0

    def integral(self, schedule: WeekSchedule, from_wall_ms: int, to_wall_ms: int) -> int:
        """`schedule.integral(from_wall_ms, to_wall_ms)`; the memo then holds `to_wall_ms`."""
        if self.schedule is schedule and self.wall_ms == from_wall_ms:
            value = self.value
            end = self.step_end_wall_ms
        else:
            value, self.flow, end = schedule.locate(from_wall_ms)
            self.schedule = schedule
            self.step_end_wall_ms = end
        self.wall_ms = to_wall_ms
        if to_wall_ms <= end:  # within one step: the flow is the same all the way
            integral = self.flow * (to_wall_ms - from_wall_ms)
            self.value = value + integral
            return integral
        self.value, self.flow, self.step_end_wall_ms = schedule.locate(to_wall_ms)
        return self.value - value


def walk_until(
    model: PumpFigures,
    state: PumpState,
    schedule: WeekSchedule | None,
    basal: int | None,
    bolus: ActiveBolus | None,
    due: int,
    motor: list[Action] | None,
) -> None:
    """Run the motor from now, step by step, until `due` or until the first threshold of flow or battery is
    reached before it, and with a bolus until the end of its full-rate part or its last millisecond.

    The basal follows `schedule` when `basal` is None, else it is the constant `basal`; `bolus`, when given, adds
    its flow (`bolus_flow`). With `motor`, each stretch at a constant flow is put out there as a `Delivery`, cut
    at the schedule's steps while therapy runs and at the bolus's last millisecond.
    """
    s = state
    bolus_rate = 0
    if bolus is not None:
        # The walk runs one constant bolus flow: the full rate up to its last millisecond, then what is left.
        bolus_rate = bolus_flow(bolus)
        left = bolus.volume_nl * MS_PER_DAY - bolus.done
        full_until = s.now_ms + (left // bolus_rate if left >= bolus.rate_nl_per_day else 1) if bolus_rate else due
        if full_until < due:
            due = full_until
    _walk(model, s, schedule, basal, bolus_rate, due, motor)


def _walk(
    model: PumpFigures,
    state: PumpState,
    schedule: WeekSchedule | None,
    basal: int | None,
    bolus_rate: int,
    due: int,
    motor: list[Action] | None,
) -> None:
    """`walk_until` at one bolus flow: a cursor over the week's boundaries, stopping at the first threshold."""
    s = state
    m = model
    stroke = m.stroke_nl
    unit = stroke * MS_PER_DAY
    current = m.baseline_current_na
    charge = m.stroke_charge_pc
    now = s.now_ms
    phase = s.phase
    limit = integral_limit(m, s)
    target = battery_target(m, s)
    headroom = _NO_LIMIT if target is None else target - s.battery_used_pc
    strokes = elapsed = integral = 0

    if schedule is not None and not s.stopped:
        starts, flows = schedule.boundaries()
        count = len(starts)
        tow = time_of_week_ms(s.wall_ms)
        i = bisect_right(starts, tow) - 1
        week = now - tow  # the pump time of this week's Monday 00:00 on the wall clock
        nxt = week + (starts[i + 1] if i + 1 < count else MS_PER_WEEK)
        rate = (flows[i] if basal is None else basal) + bolus_rate
    else:
        starts = flows = ()
        count = i = week = 0
        nxt = due
        rate = (basal or 0) + bolus_rate

    while True:
        end = nxt if nxt < due else due
        dt = end - now
        flow = rate * dt
        stop = end == due
        if rate and flow >= limit:
            dt = ceil_div(limit, rate)
            end = now + dt
            flow = rate * dt
            stop = True
        start_phase = phase
        done, phase = divmod(phase + flow, unit)
        used = current * dt + done * charge
        if used >= headroom:
            dt = _battery_crossing(m, start_phase, rate, headroom, dt)
            end = now + dt
            flow = rate * dt
            done, phase = divmod(start_phase + flow, unit)
            used = current * dt + done * charge
            stop = True
        headroom -= used
        limit -= flow
        strokes += done
        elapsed += dt
        integral += flow
        if motor is not None and rate:
            motor.append(Delivery(now, end, rate, done, stroke, start_phase))
        now = end
        if stop:
            break
        i += 1
        if i == count:
            i = 0
            week += MS_PER_WEEK
        nxt = week + (starts[i + 1] if i + 1 < count else MS_PER_WEEK)
        if basal is None:
            rate = flows[i] + bolus_rate

    s.now_ms = now
    s.phase = phase
    s.strokes_total += strokes
    s.reservoir_nl -= strokes * stroke
    s.battery_used_pc += current * elapsed + strokes * charge
    if bolus_rate and s.bolus is not None:
        s.bolus.done += bolus_rate * elapsed
    if s.bridge is not None:
        s.bridge.done += integral
