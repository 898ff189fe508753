"""The pump's firmware core: one pure state machine that owns every transition.

Theory of operation
-------------------
The core has no I/O, no wall clock and no randomness. Time moves only when
`advance(to_ms)` is called; commands act at the current time through
`handle(command)`. Both return what happened: motor work (`Delivery`), alarm
tones and event-log entries.

Flow is integrated exactly in integers. The accumulator `phase` counts
nL·ms/day; every time it passes one stroke (`stroke_nl` × ms per day) the
motor owes one stroke. Between two *boundaries* everything is constant —
the basal step, the bolus, the alarms — so the core jumps straight to the
next boundary and computes the strokes in between with one multiplication
and one division. A boundary is the earliest of: the end of the requested
advance, the next basal step, the end of a bolus, the next periodic bolus,
the next alarm tone, the stroke that crosses the low-reservoir threshold or
empties the reservoir, and the moment the battery crosses ERI or end of
service. Each of these is a function of absolute time and of state that only
changes at boundaries, so cutting a segment anywhere (for instance at every
stroke) yields bit-for-bit the same strokes as one jump: fast-forward is
exact, not an approximation.

Combining bolus and basal, the one rule: a priming or bridge bolus replaces
the basal flow while it runs; any other bolus adds its own constant flow to
the basal flow. A bolus is validated at start so that the sum never exceeds
the pump's bolus flow ceiling, and the schedule cannot be reprogrammed under
an additive bolus. One bolus runs at a time.

The reservoir volume is calculated from the strokes, never measured: an
over-infusing motor empties the real reservoir before the calculated one.
"""

from __future__ import annotations

from typing import NoReturn

from thecal.pump.core.actions import Action, Delivery, Logged, Outcome, Refusal, ToneSounded
from thecal.pump.core.alarms import RULES, Alarm, tone_for
from thecal.pump.core.commands import (
    BolusKind,
    CancelBolus,
    ClearAlarm,
    Command,
    Fill,
    MotorRecovered,
    MotorStalled,
    PeerChanged,
    PeriodicBolusPlan,
    Program,
    ReportFault,
    RequestDemandBolus,
    ResumeTherapy,
    Role,
    SetClock,
    SetDemandLimits,
    SetLowReservoirAlarm,
    SetPeriodicBolus,
    StartBolus,
    StopTherapy,
    TelemetryRejected,
    TelemetrySession,
)
from thecal.pump.core.eventlog import Detail, EventLog
from thecal.pump.core.limits import fill_refusal, schedule_refusal, threshold_refusal
from thecal.pump.core.state import ActiveBolus, PumpState
from thecal.pump.model import PumpModel
from thecal.units import (
    MS_PER_DAY,
    format_duration,
    format_flow,
    format_volume,
)

_NEVER = 1 << 62

# Anyone in radio range can send frames the pump refuses, without end. Logging every refusal would push the
# clinical history out of the bounded log, so at most this many are logged per pump day and the rest counted;
# the count goes into the next logged refusal and into the status.
REJECTIONS_LOGGED_PER_DAY = 24
_PEER_CHANGES = ("paired", "revoked")


class Refused(Exception):
    """Raised inside a handler to refuse a command; becomes an `Outcome` with the refusal."""

    def __init__(self, refusal: Refusal):
        super().__init__(refusal.message)
        self.refusal = refusal


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


class Firmware:
    """The pump's behaviour: events in, actions and log entries out."""

    def __init__(self, model: PumpModel, state: PumpState | None = None, *, wall_ms: int = 0):
        self.model = model
        self._unit = model.stroke_nl * MS_PER_DAY
        if state is None:
            state = PumpState(
                now_ms=0,
                wall_offset_ms=wall_ms,
                log=EventLog(model.event_log_entries),
                low_reservoir_alarm_nl=model.low_reservoir_alarm_default_nl,
            )
            state.log.append(0, "power_on", (("model", model.name),))
        self.state = state
        self._out: list[Action] = []

    # ------------------------------------------------------------------ time

    def advance(self, to_ms: int) -> list[Action]:
        """Run the pump until `to_ms` and return everything that happened."""
        s = self.state
        if to_ms < s.now_ms:
            raise ValueError(f"time cannot go back: now {s.now_ms} ms, asked {to_ms} ms")
        self._out = out = []
        self._fire_due()
        while s.now_ms < to_ms:
            basal, bolus = self._rates()
            rate = basal + bolus
            end = self._next_boundary(rate, bolus, to_ms)
            self._flow(rate, bolus, end)
            self._fire_due()
        return out

    def next_stroke_ms(self) -> int | None:
        """When the next stroke completes at the present flow, or None while nothing flows."""
        basal, bolus = self._rates()
        rate = basal + bolus
        if rate == 0:
            return None
        return self.state.now_ms + _ceil_div(self._unit - self.state.phase, rate)

    def _rates(self) -> tuple[int, int]:
        """The basal and bolus flows right now, in nL/day."""
        s = self.state
        if s.end_of_service or s.stalled or s.fault or not self._has_stroke_left():
            return 0, 0
        b = s.bolus
        if b is not None and b.kind.replaces_basal:
            return 0, b.rate_nl_per_day
        if s.schedule is None:
            basal = 0
        elif s.stopped:
            basal = self.model.minimum_rate_mode_flow_nl_per_day
        else:
            basal = s.schedule.flow_at(s.now_ms + s.wall_offset_ms)
        return basal, b.rate_nl_per_day if b is not None else 0

    def _has_stroke_left(self) -> bool:
        return self.state.reservoir_nl >= self.model.stroke_nl

    def _next_boundary(self, rate: int, bolus_rate: int, to_ms: int) -> int:
        s = self.state
        m = self.model
        now = s.now_ms
        end = to_ms
        if s.schedule is not None and not s.stopped:
            end = min(end, s.schedule.next_change_ms(now + s.wall_offset_ms) - s.wall_offset_ms)
        if s.bolus is not None and bolus_rate:
            end = min(end, now + _ceil_div(s.bolus.total - s.bolus.done, bolus_rate))
        if s.periodic_next_wall_ms is not None:
            end = min(end, s.periodic_next_wall_ms - s.wall_offset_ms)
        if s.next_tone_ms is not None:
            end = min(end, s.next_tone_ms)
        if s.eri_at_ms is not None and not s.end_of_service:
            end = min(end, s.eri_at_ms + m.end_of_service_after_eri_ms)
        if rate:
            end = min(end, self._stroke_time(self._strokes_until_empty(), rate))
            if Alarm.LOW_RESERVOIR not in s.alarms and s.contents:
                over = s.reservoir_nl - s.low_reservoir_alarm_nl
                if over > 0:
                    end = min(end, self._stroke_time(_ceil_div(over, m.stroke_nl), rate))
        if not s.end_of_service:
            end = self._battery_crossing(rate, end)
        # Every condition due at `now` was acted on before this call, so time always moves.
        assert end > now, "a boundary at or before now was not acted on"
        return end

    def _strokes_until_empty(self) -> int:
        """Strokes until less than one stroke is left in the reservoir."""
        return self.state.reservoir_nl // self.model.stroke_nl

    def _stroke_time(self, k: int, rate: int) -> int:
        """The time the k-th stroke from now completes at `rate`."""
        return self.state.now_ms + _ceil_div(k * self._unit - self.state.phase, rate)

    def _battery_used_at(self, t: int, rate: int) -> int:
        s = self.state
        strokes = (s.phase + rate * (t - s.now_ms)) // self._unit
        return (
            s.battery_used_pc + self.model.baseline_current_na * (t - s.now_ms) + strokes * self.model.stroke_charge_pc
        )

    def _battery_crossing(self, rate: int, end: int) -> int:
        """The earliest time up to `end` at which the battery reaches its next threshold."""
        s = self.state
        m = self.model
        target = m.battery_capacity_pc - m.eri_reserve_pc if s.eri_at_ms is None else m.battery_capacity_pc
        if self._battery_used_at(end, rate) < target:
            return end
        low, high = s.now_ms, end  # used(low) < target <= used(high)
        while high - low > 1:
            mid = (low + high) // 2
            if self._battery_used_at(mid, rate) >= target:
                high = mid
            else:
                low = mid
        return high

    def _flow(self, rate: int, bolus_rate: int, end: int) -> None:
        s = self.state
        m = self.model
        dt = end - s.now_ms
        strokes = 0
        if rate:
            phase_start = s.phase
            total = phase_start + rate * dt
            strokes, s.phase = divmod(total, self._unit)
            if strokes:
                s.reservoir_nl -= strokes * m.stroke_nl
                s.strokes_total += strokes
            self._out.append(Delivery(s.now_ms, end, rate, strokes, m.stroke_nl, phase_start))
        if bolus_rate and s.bolus is not None:
            s.bolus.done += bolus_rate * dt
        s.battery_used_pc += m.baseline_current_na * dt + strokes * m.stroke_charge_pc
        s.now_ms = end

    def _fire_due(self) -> None:
        """Act on every condition that holds at the current time."""
        s = self.state
        m = self.model
        now = s.now_ms
        if s.bolus is not None and s.bolus.done >= s.bolus.total:
            b = s.bolus
            s.bolus = None
            self._log("bolus_end", kind=b.kind.value, volume_nl=b.volume_nl)
        if s.contents:
            if s.reservoir_nl <= s.low_reservoir_alarm_nl:
                self._raise(Alarm.LOW_RESERVOIR, reservoir_nl=s.reservoir_nl)
            if not self._has_stroke_left() and Alarm.EMPTY_RESERVOIR not in s.alarms:
                self._end_bolus("reservoir empty")
                self._raise(Alarm.EMPTY_RESERVOIR, reservoir_nl=s.reservoir_nl)
        if s.eri_at_ms is None and s.battery_used_pc >= m.battery_capacity_pc - m.eri_reserve_pc:
            s.eri_at_ms = now
            self._raise(Alarm.ELECTIVE_REPLACEMENT, battery_used_pc=s.battery_used_pc)
        if not s.end_of_service and (
            s.battery_used_pc >= m.battery_capacity_pc
            or (s.eri_at_ms is not None and now >= s.eri_at_ms + m.end_of_service_after_eri_ms)
        ):
            s.end_of_service = True
            self._end_bolus("end of service")
            s.periodic_next_wall_ms = None
            self._raise(Alarm.END_OF_SERVICE, battery_used_pc=s.battery_used_pc)
        if s.periodic is not None and s.periodic_next_wall_ms is not None and s.wall_ms >= s.periodic_next_wall_ms:
            plan = s.periodic
            while s.periodic_next_wall_ms <= s.wall_ms:
                s.periodic_next_wall_ms += plan.interval_ms
            reason = self._bolus_blocker(BolusKind.PERIODIC, plan.volume_nl, plan.duration_ms)
            if reason is None:
                self._start_bolus(BolusKind.PERIODIC, plan.volume_nl, plan.duration_ms)
            else:
                self._log("periodic_bolus_skipped", reason=reason.code)
        if s.next_tone_ms is not None and now >= s.next_tone_ms:
            self._sound()

    # -------------------------------------------------------------- alarms

    def _raise(self, alarm: Alarm, **detail: int | str) -> None:
        s = self.state
        if alarm in s.alarms:
            return
        s.alarms[alarm] = s.now_ms
        self._log("alarm", alarm=alarm.value, critical=int(RULES[alarm].critical), **detail)
        # Sound now, once for all alarms raised in this instant: the tone check runs last in _fire_due.
        s.next_tone_ms = s.now_ms

    def _clear(self, alarm: Alarm, by: str) -> None:
        s = self.state
        if s.alarms.pop(alarm, None) is None:
            return
        self._log("alarm_cleared", alarm=alarm.value, by=by)
        if not s.alarms:
            s.next_tone_ms = None

    def _sound(self) -> None:
        s = self.state
        tone = tone_for(frozenset(s.alarms))
        if tone is None:
            s.next_tone_ms = None
            return
        self._out.append(ToneSounded(s.now_ms, tone, tuple(sorted(s.alarms))))
        critical = any(RULES[a].critical for a in s.alarms)
        interval = self.model.critical_tone_interval_ms if critical else self.model.noncritical_tone_interval_ms
        s.next_tone_ms = s.now_ms + interval

    # ------------------------------------------------------------- commands

    def handle(self, command: Command) -> Outcome:
        """Apply one command at the current time; refuse it, with a reason, if it is not safe."""
        self._out = []
        handler = _HANDLERS.get(type(command))
        if handler is None:
            raise TypeError(f"not a firmware command: {command!r}")
        try:
            info = handler(self, command) or {}
        except Refused as refused:
            r = refused.refusal
            self._log("refused", command=type(command).__name__, code=r.code, field=r.field, value=r.value)
            return Outcome(False, r, tuple(self._out))
        self._fire_due()
        return Outcome(True, None, tuple(self._out), info)

    def _log(self, event: str, /, **detail: int | str) -> None:
        d: Detail = tuple(detail.items())
        entry = self.state.log.append(self.state.now_ms, event, d)
        self._out.append(Logged(entry))

    def _fill(self, c: Fill) -> None:
        s = self.state
        _raise_if(fill_refusal(self.model, c))
        threshold = s.low_reservoir_alarm_nl if c.low_reservoir_alarm_nl is None else c.low_reservoir_alarm_nl
        expected = s.reservoir_nl
        s.reservoir_nl = c.volume_nl
        s.contents = c.contents
        s.low_reservoir_alarm_nl = threshold
        s.fills_total += 1
        detail: dict[str, int | str] = {"volume_nl": c.volume_nl, "expected_nl": expected}
        if c.aspirated_nl is not None:
            detail["aspirated_nl"] = c.aspirated_nl
        for drug, conc in c.contents:
            detail[f"{drug}_ng_per_ml"] = conc
        self._log("fill", **detail)
        if s.reservoir_nl > threshold:
            self._clear(Alarm.LOW_RESERVOIR, "refill")
        if self._has_stroke_left():
            self._clear(Alarm.EMPTY_RESERVOIR, "refill")

    def _set_threshold(self, c: SetLowReservoirAlarm) -> None:
        _raise_if(threshold_refusal(self.model, c.threshold_nl))
        s = self.state
        s.low_reservoir_alarm_nl = c.threshold_nl
        self._log("low_reservoir_alarm_set", threshold_nl=c.threshold_nl)
        if s.reservoir_nl > c.threshold_nl:
            self._clear(Alarm.LOW_RESERVOIR, "threshold")

    def _program(self, c: Program) -> None:
        s = self.state
        _raise_if(schedule_refusal(self.model, c.schedule))
        if s.bolus is not None and not s.bolus.kind.replaces_basal:
            _refuse(
                "bolus_running",
                "a bolus is running; wait for it to end or cancel it before reprogramming",
                "program",
                s.bolus.kind.value,
            )
        if s.end_of_service:
            _refuse("end_of_service", "the pump has reached end of service", "program", "")
        s.schedule = c.schedule
        s.stopped = False
        self._log(
            "program",
            min_flow_nl_per_day=c.schedule.min_flow_nl_per_day(),
            max_flow_nl_per_day=c.schedule.max_flow_nl_per_day(),
            steps=sum(len(d) for d in c.schedule.days),
        )

    def _bolus_blocker(self, kind: BolusKind, volume_nl: int, duration_ms: int) -> Refusal | None:
        """Why a bolus cannot start now, or None when it can."""
        s = self.state
        m = self.model
        if volume_nl <= 0 or duration_ms <= 0:
            return Refusal("bad_bolus", "a bolus needs a volume and a duration above zero", f"{kind}.volume")
        if s.end_of_service:
            return Refusal("end_of_service", "the pump has reached end of service")
        if s.fault:
            return Refusal("fault", f"the pump halted on a fault ({s.fault}); a clinician must clear it")
        if s.stalled:
            return Refusal("motor_stall", "the motor is stalled")
        if s.stopped:
            return Refusal("stopped", "therapy is stopped; resume it first")
        if s.bolus is not None:
            return Refusal(
                "bolus_running",
                f"a {s.bolus.kind.value} bolus is still running",
                until_ms=s.now_ms + _ceil_div(s.bolus.total - s.bolus.done, s.bolus.rate_nl_per_day),
            )
        if volume_nl > s.reservoir_nl:
            return Refusal(
                "reservoir",
                "the reservoir holds less than this bolus",
                f"{kind}.volume",
                format_volume(volume_nl),
                format_volume(s.reservoir_nl),
            )
        rate = _ceil_div(volume_nl * MS_PER_DAY, duration_ms)
        basal = 0 if kind.replaces_basal or s.schedule is None else s.schedule.max_flow_nl_per_day()
        ceiling = m.max_bolus_flow_nl_per_day - basal
        if rate > ceiling:
            fastest = _ceil_div(volume_nl * MS_PER_DAY, max(ceiling, 1))
            return Refusal(
                "bolus_too_fast",
                f"the bolus would need {format_flow(rate)} on top of the basal flow; give it at least "
                f"{format_duration(fastest)}",
                f"{kind}.duration",
                format_duration(duration_ms),
                format_flow(ceiling),
            )
        if not self._has_stroke_left():
            return Refusal("reservoir", "the reservoir is empty; refill it first")
        return None

    def _start_bolus(self, kind: BolusKind, volume_nl: int, duration_ms: int) -> int:
        s = self.state
        rate = _ceil_div(volume_nl * MS_PER_DAY, duration_ms)
        s.bolus = ActiveBolus(kind, volume_nl, rate, s.now_ms)
        end = s.now_ms + _ceil_div(volume_nl * MS_PER_DAY, rate)
        self._log("bolus_start", kind=kind.value, volume_nl=volume_nl, rate_nl_per_day=rate, ends_ms=end)
        return end

    def _end_bolus(self, why: str) -> None:
        s = self.state
        b = s.bolus
        if b is None:
            return
        s.bolus = None
        self._log(
            "bolus_interrupted",
            kind=b.kind.value,
            volume_nl=b.volume_nl,
            delivered_nl=b.delivered_nl,
            why=why,
        )

    def _bolus(self, c: StartBolus) -> dict[str, int | str]:
        if c.kind is BolusKind.DEMAND:
            _refuse("demand_via_ptm", "demand doses are requested by the patient within the physician's limits")
        blocker = self._bolus_blocker(c.kind, c.volume_nl, c.duration_ms)
        if blocker is not None:
            raise Refused(blocker)
        return {"ends_ms": self._start_bolus(c.kind, c.volume_nl, c.duration_ms)}

    def _cancel_bolus(self, c: CancelBolus) -> None:
        if self.state.bolus is None:
            _refuse("no_bolus", "no bolus is running")
        self._end_bolus("cancelled")

    def _periodic(self, c: SetPeriodicBolus) -> None:
        s = self.state
        plan = c.plan
        if plan is None:
            s.periodic = None
            s.periodic_next_wall_ms = None
            self._log("periodic_bolus_off")
            return
        if plan.interval_ms < plan.duration_ms:
            _refuse(
                "periodic_overlap",
                "each periodic bolus must end before the next one starts",
                "periodic.interval",
                format_duration(plan.interval_ms),
                f"at least {format_duration(plan.duration_ms)}",
            )
        rate = _ceil_div(plan.volume_nl * MS_PER_DAY, max(plan.duration_ms, 1))
        basal = s.schedule.max_flow_nl_per_day() if s.schedule else 0
        if plan.volume_nl <= 0 or rate > self.model.max_bolus_flow_nl_per_day - basal:
            _refuse(
                "bolus_too_fast",
                "the periodic bolus would exceed the pump's bolus flow on top of the basal flow",
                "periodic.duration",
                format_duration(plan.duration_ms),
                format_flow(self.model.max_bolus_flow_nl_per_day - basal),
            )
        s.periodic = plan
        nxt = s.periodic_next_wall_ms = _next_periodic_wall_ms(plan, s.wall_ms)
        self._log("periodic_bolus_on", volume_nl=plan.volume_nl, interval_ms=plan.interval_ms, next_wall_ms=nxt)

    def _demand_limits(self, c: SetDemandLimits) -> None:
        limits = c.limits
        if limits is None:
            self.state.demand_limits = None
            self._log("demand_off")
            return
        if limits.max_per_24h < 1 or limits.lockout_ms < 0 or limits.volume_nl <= 0 or limits.duration_ms <= 0:
            _refuse(
                "bad_demand_limits",
                "demand limits need a dose, a duration, a lockout of zero or more and at least one per 24 h",
                "demand",
                repr(limits),
            )
        self.state.demand_limits = limits
        self._log(
            "demand_on",
            volume_nl=limits.volume_nl,
            lockout_ms=limits.lockout_ms,
            max_per_24h=limits.max_per_24h,
        )

    def _demand(self, c: RequestDemandBolus) -> dict[str, int | str]:
        s = self.state
        limits = s.demand_limits
        if limits is None:
            _refuse("demand_off", "the physician has not enabled extra doses")
        now = s.now_ms
        recent = tuple(t for t in s.demand_history_ms if t > now - MS_PER_DAY)
        # The lockout counts from the last dose even when that lies outside the 24 h window.
        last = s.demand_history_ms[-1] if s.demand_history_ms else None
        if last is not None and now - last < limits.lockout_ms:
            until = last + limits.lockout_ms
            raise Refused(
                Refusal(
                    "locked_out",
                    "too soon after the last dose",
                    "demand",
                    "",
                    format_duration(limits.lockout_ms),
                    until,
                )
            )
        if len(recent) >= limits.max_per_24h:
            until = recent[-limits.max_per_24h] + MS_PER_DAY
            raise Refused(
                Refusal(
                    "daily_maximum",
                    "the most doses allowed in 24 hours have been taken",
                    "demand",
                    str(len(recent)),
                    str(limits.max_per_24h),
                    until,
                )
            )
        blocker = self._bolus_blocker(BolusKind.DEMAND, limits.volume_nl, limits.duration_ms)
        if blocker is not None:
            raise Refused(blocker)
        s.demand_history_ms = (*recent, now)
        end = self._start_bolus(BolusKind.DEMAND, limits.volume_nl, limits.duration_ms)
        return {"ends_ms": end, "used_in_24h": len(recent) + 1, "max_per_24h": limits.max_per_24h}

    def _stop(self, c: StopTherapy) -> None:
        if self.state.stopped:
            _refuse("already_stopped", "therapy is already stopped")
        if self.state.bolus is not None:
            self._end_bolus("therapy stopped")
        self.state.stopped = True
        self._log("therapy_stopped", flow_nl_per_day=self.model.minimum_rate_mode_flow_nl_per_day)

    def _resume(self, c: ResumeTherapy) -> None:
        s = self.state
        if not s.stopped:
            _refuse("not_stopped", "therapy is not stopped")
        if s.schedule is None:
            _refuse("no_program", "there is no therapy to resume; program one")
        s.stopped = False
        self._log("therapy_resumed")

    def _clear_alarm(self, c: ClearAlarm) -> None:
        s = self.state
        rule = RULES[c.alarm]
        if c.alarm not in s.alarms:
            _refuse("not_active", f"the {c.alarm.value} alarm is not active", "alarm", c.alarm.value)
        if c.role is not Role.CLINICIAN or not rule.clinician_may_clear:
            _refuse(
                "not_clearable",
                f"the {c.alarm.value} alarm ends only by {rule.cleared_by}",
                "alarm",
                c.alarm.value,
            )
        if c.alarm is Alarm.MOTOR_STALL and s.stalled:
            _refuse("still_stalled", "the motor is still stalled", "alarm", c.alarm.value)
        if c.alarm is Alarm.PUMP_FAULT:
            s.fault = ""
        self._clear(c.alarm, c.role.value)

    def _stalled(self, c: MotorStalled) -> None:
        s = self.state
        if s.stalled:
            return
        s.stalled = True
        b = s.bolus
        if b is not None and not b.kind.replaces_basal:
            self._end_bolus("motor stall")
        self._log("motor_stall", cause=c.cause)
        self._raise(Alarm.MOTOR_STALL, cause=c.cause)

    def _recovered(self, c: MotorRecovered) -> None:
        s = self.state
        if not s.stalled:
            return
        s.stalled = False
        self._log("motor_recovered")

    def _fault(self, c: ReportFault) -> None:
        s = self.state
        s.fault = c.code or "unspecified"  # an empty code must still halt delivery
        self._end_bolus(f"fault {c.code}")
        self._raise(Alarm.PUMP_FAULT, code=c.code)

    def _telemetry(self, c: TelemetrySession) -> None:
        self.state.battery_used_pc += self.model.telemetry_session_charge_pc

    def _rejected(self, c: TelemetryRejected) -> dict[str, object]:
        s = self.state
        if s.rejections_logged_in_window == 0 or s.now_ms - s.rejections_window_start_ms >= MS_PER_DAY:
            s.rejections_window_start_ms = s.now_ms
            s.rejections_logged_in_window = 0
        if s.rejections_logged_in_window >= REJECTIONS_LOGGED_PER_DAY:
            s.rejections_unlogged += 1
            return {"logged": False}
        s.rejections_logged_in_window += 1
        detail: dict[str, int | str] = {"code": c.code}
        detail.update((k, v) for k, v in (("key_id", c.key_id), ("role", c.role), ("command", c.command)) if v)
        if s.rejections_unlogged:
            detail["unlogged_before"] = s.rejections_unlogged
            s.rejections_unlogged = 0
        self._log("telemetry_rejected", **detail)
        return {"logged": True}

    def _peer_changed(self, c: PeerChanged) -> None:
        if c.change not in _PEER_CHANGES:
            raise ValueError(f"a peer change is one of {_PEER_CHANGES}, not {c.change!r}")
        detail = {k: v for k, v in (("key_id", c.key_id), ("role", c.role), ("by_key_id", c.by_key_id)) if v}
        self._log(f"key_{c.change}", **detail)

    def _clock(self, c: SetClock) -> None:
        s = self.state
        old = s.wall_ms
        s.wall_offset_ms = c.wall_ms - s.now_ms
        plan = s.periodic
        if plan is not None and s.periodic_next_wall_ms is not None:
            s.periodic_next_wall_ms = _next_periodic_wall_ms(plan, s.wall_ms)
        self._log("clock_set", old_wall_ms=old, new_wall_ms=c.wall_ms)

    # ---------------------------------------------------------------- status

    def status(self) -> dict[str, object]:
        """What an interrogation shows: a snapshot in base units, stable keys."""
        s = self.state
        m = self.model
        basal, bolus = self._rates()
        return {
            "model": m.name,
            "now_ms": s.now_ms,
            "wall_ms": s.wall_ms,
            "reservoir_nl": s.reservoir_nl,
            "reservoir_capacity_nl": m.reservoir_nl,
            "low_reservoir_alarm_nl": s.low_reservoir_alarm_nl,
            "contents": [{"drug": d, "concentration_ng_per_ml": c} for d, c in s.contents],
            "mode": self.mode(),
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
            "delivered_nl_total": s.strokes_total * m.stroke_nl,
            "alarms": sorted(a.value for a in s.alarms),
            "battery_used_fraction": round(s.battery_used_pc / m.battery_capacity_pc, 6),
            "eri_at_ms": s.eri_at_ms,
            "fills_total": s.fills_total,
            "log_next_seq": s.log.next_seq,
            "telemetry_rejections_unlogged": s.rejections_unlogged,
        }

    def mode(self) -> str:
        """One word for what the pump is doing."""
        s = self.state
        if s.end_of_service:
            return "end_of_service"
        if s.fault:
            return "fault"
        if s.stalled:
            return "stalled"
        if s.contents and not self._has_stroke_left():
            return "empty"
        if s.bolus is not None and s.bolus.kind.replaces_basal:
            return s.bolus.kind.value
        if s.schedule is None:
            return "not_programmed"
        return "minimum_rate" if s.stopped else "running"


def _next_periodic_wall_ms(plan: PeriodicBolusPlan, wall_ms: int) -> int:
    """The first start of the plan at or after `wall_ms`."""
    if plan.first_wall_ms >= wall_ms:
        return plan.first_wall_ms
    return plan.first_wall_ms + _ceil_div(wall_ms - plan.first_wall_ms, plan.interval_ms) * plan.interval_ms


def _raise_if(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise Refused(refusal)


def _refuse(code: str, message: str, field: str = "", value: str = "", limit: str = "") -> NoReturn:
    raise Refused(Refusal(code, message, field, value, limit))


_HANDLERS = {
    Fill: Firmware._fill,
    Program: Firmware._program,
    SetLowReservoirAlarm: Firmware._set_threshold,
    StartBolus: Firmware._bolus,
    CancelBolus: Firmware._cancel_bolus,
    SetPeriodicBolus: Firmware._periodic,
    SetDemandLimits: Firmware._demand_limits,
    RequestDemandBolus: Firmware._demand,
    StopTherapy: Firmware._stop,
    ResumeTherapy: Firmware._resume,
    ClearAlarm: Firmware._clear_alarm,
    MotorStalled: Firmware._stalled,
    MotorRecovered: Firmware._recovered,
    ReportFault: Firmware._fault,
    TelemetrySession: Firmware._telemetry,
    TelemetryRejected: Firmware._rejected,
    PeerChanged: Firmware._peer_changed,
    SetClock: Firmware._clock,
}
