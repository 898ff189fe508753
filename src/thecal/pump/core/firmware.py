"""The pump's firmware core: one pure state machine that owns every transition.

Theory of operation
-------------------
The core has no I/O, no wall clock and no randomness. Time moves only when
`advance(to_ms)` is called; commands act at the current time through
`handle(command)`. Both return what happened: motor work (`Delivery`), alarm
tones and event-log entries. Every transition is in this file. Beside it, each
with one job: the modes and the table of legal commands (`modes.py`), the flow
arithmetic that integrates the motor's work between transitions (`flow.py`),
the status view (`status.py`), the limits (`limits.py`, `hard_limits.py`), the
refusal codes (`refusals.py`) and the log's budget for refusals (`budget.py`).

Modes. A pump can be in several conditions at once (faulted and empty,
stopped and bridging); `modes.py` lists them in their one precedence, and the
mode is the first that holds. The mode says what the motor runs, and the
table there says which command is legal in which mode: `handle` looks a
command up in it before anything else, and a command illegal in a mode that
holds is refused with that table's code. Only then do the command's own
checks run: its arguments, the pump's limits, the drug's hard limits, one
bolus at a time. The periodic bolus, which starts on its own, goes through
the same table. There is one way to refuse: a handler raises `Refused`, and
`handle` logs the refusal and returns it; the state is left as it was.

Flow is integrated exactly in integers. The accumulator `phase` counts nL·ms/day;
every time it passes one stroke (`stroke_nl` × ms per day) the motor owes one
stroke. Between two *boundaries* everything is constant — the basal step, the
bolus, the bridge, the alarms — so the strokes in between are one
multiplication and one division. A boundary is the earliest of: the end of the
requested advance, the next basal step (of the bridge's old schedule while a
bridge runs), the end of a bolus's full-rate part and of its last millisecond,
the end of the bridge, the next periodic bolus, the next alarm tone, the stroke
that crosses the low-reservoir threshold or empties the reservoir, and the
moment the battery crosses ERI or end of service. Each of these is a function
of absolute time and of state that only changes at boundaries, so cutting a
segment anywhere (for instance at every stroke) yields bit-for-bit the same
strokes as one jump: fast-forward is exact, not an approximation.

The loop. The pump is *settled* at a time when every condition due then has
been acted on (`_fire_due`, which ends in `_settle`). Settling notes, in the
firmware's own attributes, everything a run needs until a command or a
condition changes it: the facts of the mode and what the mode table says the
motor runs, one *next due* time (the earliest moment the clock alone brings
other than the bolus's end: the periodic bolus, an alarm tone, end of service
after ERI; `next_due` in flow.py), and the thresholds of the reservoir and the
battery as absolute figures that a run without a threshold leaves true (the
stroke count at which the reservoir crosses the low-reservoir threshold or
holds less than a stroke, since the two move together; the battery charge of
its next threshold). `advance` asks nothing of the mode table while the pump
stays settled. Each stretch runs to the earliest of the next due time, the
bolus's end and the requested time. With no motor to drive
(`deliveries=False`) the stretch is written out in `advance`: one lookup in
the week's table of basal steps, built once per schedule with the flow
integral up to each step (none while it stays within a step: a `Cursor`
remembers where the last one ended), the bolus gives its rate times the time
but never more than is left of it, and only when the new stroke count or
charge reaches a noted threshold, or the bridge its end, does `walk_until`
walk the steps to find the exact stroke or millisecond; with a motor, the walk
runs every step and each stretch at a constant flow becomes a `Delivery`
(`VirtualPump` drives its motor with them). The strokes, the phase and the
battery follow from the flow integral alone, so both ways are the same to the
bit. Then what the stretch ended at is acted on: after a walk that reached a
noted threshold (the new stroke count, charge or bridge tells), `_fire_due`
looks at every condition; after a run or a walk that met none, only at what
the clock brings and the bolus's end (nothing else can hold); when the stretch
ended at the requested time before anything was due, or a motor's walk at the
end of a bolus's full-rate part, at nothing, and the pump stays settled. A
bolus that adds to the basal and ends alone ends where it is, and the run goes
on in the same mode. `handle` reads the noted facts while the pump is settled,
and after a command that only starts a bolus adding to the basal (a press, a
clinician bolus) the pump stays settled: such a bolus changes no fact, no
threshold and nothing the clock brings. A bolus runs at its rate, the volume
over the duration rounded up to whole nL/day, and its last millisecond gives
only what is left: it ends exactly at its volume, at the time `bolus_start`
logged.

A stretch makes no record: a `Delivery` only for a caller that drives a
motor. What is made per event is what the caller is given (the outcome, the
actions, the log entries) and the bolus itself. A press works out only what
changes from press to press (the lockout, the doses of the last 24 h, the one
bolus slot, the reservoir): the volume of a demand dose and the check of its
flow on top of the highest basal follow from the settings alone, and are kept
from the first press until the demand limits change or `_derive` (a new label,
prescription or bridge) forgets them (`_demand_dose`; a test holds them equal
to a fresh working-out).

Doses are kept as doses. The reservoir's drug label (filled from the pump's
formulary, with each drug's hard limits) gives the lead drug's concentration;
the prescription (ng/day), the periodic bolus and the demand dose (ng) become
volumes with it, rounded down so that never more than prescribed is given.
The basal flows are derived when the prescription, the label or the bridge
changes. A fill that keeps the lead drug at a new concentration re-derives
every dose-based setting at once; a fill that changes the lead drug drops
them, and the pump is not programmed until a new prescription arrives. Every
command that changes the label or a dose-based setting passes one check
(`settings_check.py`): the drug's hard limits (`hard_limits.py`), the pump's
flows, and the flow of a periodic or demand bolus on top of the basal, so that
no setting is taken that the pump would then refuse at every press or skip at
every start. The pump counts every demand dose (from its start until 24 h
after its end) and every periodic bolus of the last 24 h, whatever the
settings were when it was given: a press is refused, and a periodic bolus
skipped, when the present settings allow no more in 24 h. A clinician bolus
counts toward the daily limit until 24 h after it ends.

The bridge belongs to the fill. After a change of drug or concentration the
tubing and catheter (the dead volume) still hold the old solution, whether or
not anything was programmed; with `Fill(bridge=True)` the old flows keep
running, step by step as the old schedule had them, in place of the basal,
until the dead volume has been pushed by any flow, boluses included, and then
the new flows begin. With no old schedule, whatever flows pushes it, and a
prescription made meanwhile runs at flows measured with the stronger solution.
A fill that would leave the old, stronger solution to go at the new volumes (a
lower concentration, or another drug) is refused without a bridge
(`solutions.py`).

Combining bolus and basal, the one rule: a priming bolus replaces the basal
flow while it runs; any other bolus adds its own constant flow to the basal
flow. A bolus is validated at start so that the sum never exceeds the pump's
bolus flow ceiling, and the schedule cannot be reprogrammed under an additive
bolus. One bolus runs at a time. While a bridge runs, a dose becomes a volume
with the stronger of the two solutions, since the volume pushes the old one
out first.

The log is bounded, so nothing that can repeat without end may fill it. A
periodic bolus that cannot start logs the first skip of a run, with the
reason, counts the rest, and logs when periodic boluses resume (with the
count). Refused demand presses (a stuck button) and telemetry refusals are
logged on a budget of entries per pump day (`budget.py`); the rest are
counted, and the count goes into the next logged entry and the status. The
low-reservoir alarm ends only with a refill: changing the threshold never
clears it.

Each log entry's hash covers its canonical bytes (eventlog.py), which never
change: logs stored by any firmware verify and chain on. The entries written
at every bolus (its start and its end) have a fixed shape, whose bytes are a
template made once with the encoder's quoting; a test holds them equal. Such an
entry keeps its integers, and its detail is made from the shape only when
someone reads it.

The reservoir volume is calculated from the strokes, never measured: an
over-infusing motor empties the real reservoir before the calculated one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from thecal.pump.core.actions import Action, Logged, Outcome, Refusal, ToneSounded
from thecal.pump.core.alarms import RULES, Alarm, Tone, tone_for
from thecal.pump.core.budget import RefusalBudget
from thecal.pump.core.commands import (
    REPLACE_BASAL,
    AlarmToneTest,
    BolusKind,
    CancelBolus,
    ClearAlarm,
    ClinicianBolus,
    Command,
    DemandLimits,
    Fill,
    MotorRecovered,
    MotorStalled,
    PeerChanged,
    PeriodicBolusPlan,
    PrimingBolus,
    Program,
    ReportFault,
    RequestDemandBolus,
    ResumeTherapy,
    Role,
    SetCatheter,
    SetClock,
    SetDemandLimits,
    SetLowReservoirAlarm,
    SetPeriodicBolus,
    StopTherapy,
    TelemetryRejected,
    TelemetrySession,
)
from thecal.pump.core.demand import DemandWindow, demand_window, spaced_until
from thecal.pump.core.eventlog import Detail, EntryShape, EventLog
from thecal.pump.core.figures import Figures, PumpFigures
from thecal.pump.core.flow import (
    NEVER,
    Basal,
    Cursor,
    basal_schedule,
    dead_volume_nl,
    has_stroke_left,
    max_basal_flow,
    next_due,
    next_stroke_ms,
    rates,
    walk_until,
)
from thecal.pump.core.hard_limits import (
    Exposure,
    Replaced,
    demand_settings_refusal,
    label_refusal,
    make_label,
    one_off_exposures,
    periodic_boluses_per_24h,
    remember,
    remember_one_off,
)
from thecal.pump.core.integers import (
    MS_PER_DAY,
    NL_PER_ML,
    ceil_div,
    format_duration,
    format_mass,
    format_volume,
)
from thecal.pump.core.label import DrugLabel, Formulary
from thecal.pump.core.limits import bolus_flow_refusal, fill_refusal, threshold_refusal
from thecal.pump.core.modes import (
    MODES,
    OFF_WHEN_NONE,
    PERIODIC_DUE,
    FactsKey,
    PumpMode,
    act_of,
    facts,
    illegal,
    mode_of,
    rule_of,
)
from thecal.pump.core.refusals import RefusalCode
from thecal.pump.core.schedule import DoseSchedule, WeekSchedule
from thecal.pump.core.settings_check import (
    in_force,
    lead_of,
    measuring_concentration,
    one_off_refusal,
    setting_flows,
    settings_refusal,
    too_small_refusal,
)
from thecal.pump.core.solutions import Tubing, bridge_refusal, solution_change
from thecal.pump.core.state import ActiveBolus, Bridge, PumpState
from thecal.pump.core.status import patient_status_view, status_view

# Refusals that can come without end are logged on a budget (budget.py): at most this many per pump day.
REJECTIONS_LOGGED_PER_DAY = 24  # telemetry frames and commands refused before they reached the therapy
DEMAND_REFUSALS_LOGGED_PER_DAY = 24  # patient's presses the pump refused: a stuck button presses without end
_PEER_CHANGES = ("paired", "revoked")
# The entries of every bolus's start and end, written by the thousand: their bytes from a template (eventlog.py).
_BOLUS_START = {
    kind: EntryShape("bolus_start", (("kind", kind.value),), ("volume_nl", "rate_nl_per_day", "ends_ms"))
    for kind in BolusKind
}
_BOLUS_END = {kind: EntryShape("bolus_end", (("kind", kind.value),), ("volume_nl",)) for kind in BolusKind}
# Members the loop and every press use, as module constants: looked up on their enum, each costs a call.
_DEMAND = BolusKind.DEMAND
_SCHEDULE = Basal.SCHEDULE
_MINIMUM = Basal.MINIMUM
_LOW_RESERVOIR = Alarm.LOW_RESERVOIR
_EMPTY_RESERVOIR = Alarm.EMPTY_RESERVOIR


class _Keep:
    """Marks a setting that a commit leaves as it is."""


_KEEP = _Keep()


class Refused(Exception):
    """Raised inside a handler to refuse a command; becomes an `Outcome` with the refusal."""

    def __init__(self, refusal: Refusal):
        super().__init__(refusal.message)
        self.refusal = refusal


class Firmware:
    """The pump's behaviour: events in, actions and log entries out."""

    def __init__(
        self,
        model: PumpFigures,
        formulary: Formulary,
        state: PumpState | None = None,
        *,
        wall_ms: int = 0,
    ):
        self.model = model
        # The figures the motor and every command read, in slots (figures.py).
        self._m = Figures(model)
        self.formulary = formulary
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
        # The time at which every due condition was last acted on; a command or a new state may make more due.
        self._settled_at: int | None = None
        # The earliest moment the clock alone brings something other than the bolus's end (`next_due`), as of the
        # last time every due condition was acted on: nothing else changes it until a command or `_fire_due`.
        self._due = NEVER
        # What the motor runs while the pump stays settled, and where a run must stop (`_settle`).
        self._schedule: WeekSchedule | None = None
        self._basal: int | None = 0
        self._with_bolus = False
        self._stroke_limit = 0
        self._battery_limit = 0
        self._cursor = Cursor()
        # A demand dose as the settings give it (`_demand_dose`): the limits it was worked out for, and the dose.
        self._noted_dose: tuple[DemandLimits, tuple[int | None, Refusal | None]] | None = None
        self._derive()
        self._facts_key = self._facts()

    # ------------------------------------------------------------------ time

    def advance(self, to_ms: int, *, deliveries: bool = True) -> list[Action]:
        """Run the pump until `to_ms` and return everything that happened.

        The motor's work comes as `Delivery` actions, one per stretch at a constant flow; a caller that does not
        drive a motor passes `deliveries=False` and gets the tones and log entries alone (the state, the strokes
        and the log are the same either way).
        """
        s = self.state
        if to_ms < s.now_ms:
            raise ValueError(f"time cannot go back: now {s.now_ms} ms, asked {to_ms} ms")
        out: list[Action] = []
        self._out = out
        if self._settled_at != s.now_ms:
            self._fire_due()
        m = self._m
        unit = m.stroke_nl * MS_PER_DAY
        cursor = self._cursor
        # This loop runs at every event of a pump's life. What it needs of the settled pump, `_settle` noted in
        # the firmware's own attributes, and the run with no motor to drive is written out here, not called.
        while True:
            now = s.now_ms
            if now >= to_ms:
                return out
            b = s.bolus if self._with_bolus else None
            due = self._due
            if b is None:
                left = 0
                ends = NEVER
                through = False
            else:
                # The bolus has given its volume here: its full-rate part and its last millisecond (`bolus_flow`).
                left = b.volume_nl * MS_PER_DAY - b.done
                ends = now - (-left // b.rate_nl_per_day)
                # A bolus that adds to the basal leaves the mode as it was when it ends (the facts do not count
                # it): when it ends before anything else is due, a run with no motor goes on through its end.
                through = not deliveries and ends < due and b.kind not in REPLACE_BASAL
            stop = due if through or due <= ends else ends
            if stop <= now:
                # Every condition due at `now` was acted on before, so time must move.
                raise RuntimeError(f"firmware boundary at {stop} ms is not after now ({now} ms)")
            end = stop if stop < to_ms else to_ms
            schedule = self._schedule
            basal = self._basal
            if deliveries:
                # A motor to drive: the walk over the steps puts out each stretch at a constant flow.
                walk_until(m, s, schedule, basal, b, end, out)
                bridge = s.bridge
                if (
                    s.strokes_total >= self._stroke_limit
                    or s.battery_used_pc >= self._battery_limit
                    or (bridge is not None and bridge.done >= bridge.volume_nl * MS_PER_DAY)
                ):
                    # A threshold was reached (the walk stops at the first): act on every condition.
                    self._fire_due()
                elif s.now_ms == stop:
                    # No threshold: only what the clock brings, or the bolus's end, can be due.
                    self._fire_due(thresholds=False)
                elif s.now_ms == to_ms:
                    # The walk went to `to_ms` and nothing lay within: nothing new is due at the end.
                    self._settled_at = to_ms
                    return out
                # Else the walk stopped where the bolus's full-rate part ends, and nothing is due there.
                continue
            # No motor: the run in one piece. The schedule's flow integral comes from its table (through the
            # cursor), the bolus gives its rate times the time but never more than is left of it (its full-rate
            # part and last millisecond together), and strokes, phase and battery follow from the integral
            # alone: the same to the bit as the walk over the steps, which is left to find the exact stroke or
            # millisecond of a threshold when one lies within.
            dt = end - now
            if basal is None and schedule is not None:
                offset = s.wall_offset_ms
                flow = cursor.integral(schedule, now + offset, end + offset)
            else:
                flow = (basal or 0) * dt
            given = 0
            if b is not None:
                given = b.rate_nl_per_day * dt
                if given > left:
                    given = left
                flow += given
            if flow:
                strokes, phase = divmod(s.phase + flow, unit)
                total = s.strokes_total + strokes
                used = s.battery_used_pc + m.baseline_current_na * dt + strokes * m.stroke_charge_pc
                bridge = s.bridge
                # The thresholds as `_settle` noted them, and the end of the bridge.
                if (
                    total >= self._stroke_limit
                    or used >= self._battery_limit
                    or (bridge is not None and bridge.done + flow >= bridge.volume_nl * MS_PER_DAY)
                ):
                    walk_until(m, s, schedule, basal, b, end, None)
                    self._fire_due()
                    continue
                s.phase = phase
                s.strokes_total = total
                s.reservoir_nl -= strokes * m.stroke_nl
                if b is not None:
                    b.done += given
                if bridge is not None:
                    bridge.done += flow
            else:
                # Nothing flows: only the clock and the battery's baseline current move.
                used = s.battery_used_pc + m.baseline_current_na * dt
                if used >= self._battery_limit:
                    walk_until(m, s, schedule, basal, b, end, None)
                    self._fire_due()
                    continue
            s.now_ms = end
            s.battery_used_pc = used
            if through and b is not None and given == left:
                # Only the bolus's end lay within: it ends at its time, and the state is as if the run had stopped
                # there and gone on (the strokes, the phase and the battery follow from the flow integral alone).
                self._bolus_done(b, ends)
            if end < stop:
                # The run went to `to_ms`, and nothing the clock brings and no threshold lay within: nothing new
                # is due at the end.
                self._settled_at = end
                return out
            # No threshold lay within: only what the clock brings can be due.
            self._fire_due(thresholds=False)

    def next_stroke_ms(self) -> int | None:
        """When the next stroke completes at the present flow, or None while nothing flows."""
        basal, bolus = self.rates()
        return next_stroke_ms(self.model, self.state, basal + bolus)

    def _facts(self) -> FactsKey:
        return facts(self._m.stroke_nl, self.state, self._flows)

    def rates(self) -> tuple[int, int]:
        """The basal and bolus flows right now, in nL/day, as the mode runs them (what `status()` shows)."""
        rule = MODES[mode_of(self._facts())]
        schedule = basal_schedule(self.state, self._flows)
        return rates(self.model, self.state, schedule, rule.basal, rule.with_bolus)

    def _fire_due(self, *, thresholds: bool = True) -> None:
        """Act on every condition that holds at the current time, in this order (the log shows it).

        After a run in one piece that reached no threshold on its way (`advance`), from a time at which every
        condition had been acted on, none of the reservoir, the bridge or the battery can hold: `thresholds`
        False leaves them out, and only what the clock brings is looked at.
        """
        s = self.state
        m = self._m
        now = s.now_ms
        b = s.bolus
        if b is not None and b.done >= b.volume_nl * MS_PER_DAY:
            self._bolus_done(b, now)
        if thresholds:
            bridge = s.bridge
            if bridge is not None and bridge.done >= bridge.volume_nl * MS_PER_DAY:
                self._end_bridge()
            if s.label:
                alarms = s.alarms
                if s.reservoir_nl <= s.low_reservoir_alarm_nl and _LOW_RESERVOIR not in alarms:
                    self._raise(Alarm.LOW_RESERVOIR, reservoir_nl=s.reservoir_nl)
                if s.reservoir_nl < m.stroke_nl and _EMPTY_RESERVOIR not in alarms:
                    self._end_bolus("reservoir empty")
                    self._raise(Alarm.EMPTY_RESERVOIR, reservoir_nl=s.reservoir_nl)
            if s.eri_at_ms is None and s.battery_used_pc >= m.battery_capacity_pc - m.eri_reserve_pc:
                s.eri_at_ms = now
                self._raise(Alarm.ELECTIVE_REPLACEMENT, battery_used_pc=s.battery_used_pc)
        eri = s.eri_at_ms
        if not s.end_of_service and (
            (thresholds and s.battery_used_pc >= m.battery_capacity_pc)
            or (eri is not None and now >= eri + m.end_of_service_after_eri_ms)
        ):
            s.end_of_service = True
            self._end_bolus("end of service")
            s.periodic_next_wall_ms = None
            self._raise(Alarm.END_OF_SERVICE, battery_used_pc=s.battery_used_pc)
        periodic = s.periodic_next_wall_ms
        if periodic is not None and s.periodic is not None and now + s.wall_offset_ms >= periodic:
            self._periodic_due(s.periodic)
        if s.next_tone_ms is not None and now >= s.next_tone_ms:
            self._sound()
        self._settle(now)

    def _settle(self, now: int) -> None:
        """Every condition due at `now` has been acted on: note what the motor runs from here until a command or a
        condition changes it.

        The mode's rule (from the facts, which `handle` also reads while the pump stays settled), the basal it runs,
        the next moment the clock brings (`next_due`), and the thresholds a run must stop at, as absolute figures
        that a run without a threshold leaves true: the stroke count at which the reservoir reaches the
        low-reservoir threshold or holds less than a stroke (reservoir and stroke count move together), and the
        battery charge of its next threshold.
        """
        s = self.state
        m = self._m
        self._settled_at = now
        flows = self._flows
        key = facts(m.stroke_nl, s, flows)
        self._facts_key = key
        rule = rule_of(key)
        bridge = s.bridge
        schedule = bridge.flows if bridge is not None and bridge.flows is not None else flows
        if rule.basal is _SCHEDULE:
            if schedule is None:
                raise RuntimeError(
                    "a mode that follows the schedule has no schedule; the mode table and the state disagree"
                )
            self._basal = None
        else:
            self._basal = m.minimum_rate_mode_flow_nl_per_day if rule.basal is _MINIMUM else 0
        self._schedule = schedule
        self._with_bolus = rule.with_bolus
        self._due = next_due(m, s)
        # The stroke that leaves less than a stroke, or crosses the low-reservoir threshold (`integral_limit`).
        stroke = m.stroke_nl
        reservoir = s.reservoir_nl
        limit = s.strokes_total + reservoir // stroke
        low = s.low_reservoir_alarm_nl
        if reservoir > low and s.label and _LOW_RESERVOIR not in s.alarms:
            limit = min(limit, s.strokes_total - (-(reservoir - low) // stroke))
        self._stroke_limit = limit
        # The battery's next threshold (`battery_target`): ERI, then empty.
        self._battery_limit = (
            NEVER if s.end_of_service else m.battery_capacity_pc - (m.eri_reserve_pc if s.eri_at_ms is None else 0)
        )

    def _bolus_done(self, b: ActiveBolus, at_ms: int) -> None:
        """The running bolus `b` gave its volume at `at_ms` (now, or within a run that nothing else cut): it ends."""
        s = self.state
        s.bolus = None
        self._out.append(Logged(s.log.append_shaped(at_ms, _BOLUS_END[b.kind], (b.volume_nl,))))

    def _periodic_due(self, plan: PeriodicBolusPlan) -> None:
        """Start the periodic bolus that is due, or skip it; a run of skips is logged once, with its reason."""
        s = self.state
        next_wall = s.periodic_next_wall_ms
        if next_wall is None:
            return
        while next_wall <= s.wall_ms:
            next_wall += plan.interval_ms
        s.periodic_next_wall_ms = next_wall
        reason = self._periodic_blocker(plan)
        if reason is not None:
            if not s.periodic_skipped:
                self._log("periodic_bolus_skipped", reason=reason.code)
            s.periodic_skipped += 1
            return
        if s.periodic_skipped:
            self._log("periodic_bolus_resumed", skipped=s.periodic_skipped)
            s.periodic_skipped = 0
        volume = self._dose_volume_nl(plan.dose_ng)
        if volume is None:  # pragma: no cover - the blocker refuses while no volume can be measured out
            raise RuntimeError("a periodic bolus passed its checks without a volume")
        end = self._start_bolus(BolusKind.PERIODIC, volume, plan.duration_ms)
        kept = tuple(b for b in s.periodic_history_ms if b[0] > s.now_ms - MS_PER_DAY)
        s.periodic_history_ms = (*kept, (s.now_ms, end))

    def _periodic_blocker(self, plan: PeriodicBolusPlan) -> Refusal | None:
        """Why the periodic bolus due now cannot start, or None."""
        s = self.state
        found = illegal(PERIODIC_DUE, self._facts())
        if found is not None:
            return self._mode_refusal(*found)
        started = [b for b in s.periodic_history_ms if b[0] > s.now_ms - MS_PER_DAY]
        if len(started) >= periodic_boluses_per_24h(plan.interval_ms):
            # Only after a change of plan or clock: no 24 h gets more boluses than the plan allows.
            return _PERIODIC_DAILY_MAXIMUM
        spaced = spaced_until(s.periodic_history_ms, plan.interval_ms, plan.duration_ms)
        if spaced is not None and s.now_ms < spaced:
            # Only after a change of plan or clock: a shorter bolus right after a longer one would put more into
            # some 24 h than the plan allows.
            return _PERIODIC_TOO_CLOSE
        volume = self._dose_volume_nl(plan.dose_ng)
        if volume is None:
            return _BRIDGE_OF_OTHER_DRUG
        return self._bolus_blocker(BolusKind.PERIODIC, volume, plan.duration_ms)

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

    # ------------------------------------------------------ doses and volumes

    def _dose_volume_nl(self, dose_ng: int) -> int | None:
        """The volume that gives at most `dose_ng` of the lead drug now, or None while none can."""
        concentration = self._measuring
        return None if concentration is None else dose_ng * NL_PER_ML // concentration

    def _in_force(self) -> tuple[Exposure, ...]:
        s = self.state
        return in_force(s.label, s.prescription, s.periodic, s.demand_limits, s.bridge)

    def _settings_check(
        self,
        label: DrugLabel,
        prescription: DoseSchedule | None,
        periodic: PeriodicBolusPlan | None,
        demand: DemandLimits | None,
        bridge: Bridge | None,
    ) -> tuple[Replaced, ...]:
        """Refuse settings that pass a limit of a drug or of the pump (settings_check.py); return the record of
        what counts from the last 24 h once they are the pump's."""
        s = self.state
        replaced = remember(s.replaced, self._in_force(), s.now_ms)
        _raise_if(settings_refusal(self.model, label, prescription, periodic, demand, bridge, replaced, s.now_ms))
        return replaced

    def _commit(
        self,
        replaced: tuple[Replaced, ...],
        *,
        label: DrugLabel | None = None,
        prescription: DoseSchedule | _Keep | None = _KEEP,
        bridge: Bridge | _Keep | None = _KEEP,
    ) -> None:
        """Make checked settings the pump's own; derived flows follow the prescription, the label and the bridge."""
        s = self.state
        s.replaced = replaced
        if label is not None:
            s.label = label
        if not isinstance(prescription, _Keep):
            s.prescription = prescription
        if not isinstance(bridge, _Keep):
            s.bridge = bridge
        self._derive()

    def _derive(self) -> None:
        """What follows from the prescription, the label and the bridge: the basal flows, and the highest basal
        flow a bolus must fit on top of. Kept here because the motor and every bolus read them."""
        s = self.state
        self._flows = setting_flows(s.label, s.prescription, s.bridge)
        self._max_basal = max_basal_flow(self._flows, s.bridge)
        # What a dose of the lead drug is measured out with (`dose_volume_nl`): asked at every press.
        self._measuring = measuring_concentration(s.label, s.bridge)
        # A demand dose depends on both: worked out again at the next press.
        self._noted_dose = None

    # ------------------------------------------------------------- commands

    def handle(self, command: Command) -> Outcome:
        """Apply one command at the current time; refuse it, with a reason, if it is not legal or not safe."""
        s = self.state
        # While the pump stays settled, the facts of its mode are the ones `_settle` noted.
        settled = self._settled_at == s.now_ms
        out: list[Action] = []
        self._out = out
        self._settled_at = None
        kind = type(command)
        dispatch = _DISPATCH.get(kind)
        if dispatch is None:
            raise TypeError(f"not a firmware command: {command!r}")
        handler, act = dispatch
        try:
            found = illegal(act or act_of(command), self._facts_key if settled else self._facts())
            if found is not None:
                raise Refused(self._mode_refusal(*found))
            info = handler(self, command) or {}
        except Refused as refused:
            self._log_refusal(command, refused.refusal)
            return Outcome(False, refused.refusal, tuple(out))
        if settled and kind in _ADDS_A_BOLUS:
            # A bolus that adds to the basal changes no fact of the mode, no threshold and nothing the clock
            # brings, and it has given nothing yet: the pump stays settled as it was (a test holds this).
            self._settled_at = s.now_ms
        else:
            self._fire_due()
        return Outcome(True, None, tuple(out), info)

    def _mode_refusal(self, mode: PumpMode, code: RefusalCode) -> Refusal:
        """The refusal of a command that the table says is illegal in `mode`."""
        message = code.words
        if mode is PumpMode.FAULT:
            message = f"{message} (fault code {self.state.fault})"
        return Refusal(code, message, "mode", mode.value, MODES[mode].ends)

    def _log_refusal(self, command: Command, r: Refusal) -> None:
        """Log a refusal; refused demand presses only within their daily budget, the rest counted."""
        detail: dict[str, int | str] = {
            "command": type(command).__name__,
            "code": r.code,
            "field": r.field,
            "value": r.value,
        }
        if isinstance(command, RequestDemandBolus):
            budget = self.state.demand_refusals
            if not budget.admit(self.state.now_ms, DEMAND_REFUSALS_LOGGED_PER_DAY):
                return
            _add_unlogged(detail, budget)
        self._log("refused", **detail)

    def _log(self, event: str, /, **detail: int | str) -> None:
        d: Detail = tuple(detail.items())
        entry = self.state.log.append(self.state.now_ms, event, d)
        self._out.append(Logged(entry))

    def _fill(self, c: Fill) -> None:
        s = self.state
        _raise_if(fill_refusal(self.model, c))
        _raise_if(label_refusal(self.formulary, c.contents))
        label = make_label(self.formulary, c.contents)
        old = s.label
        bridging = None if s.bridge is None else s.bridge.remaining_nl
        tubing = Tubing(lead_of(old), bridging, dead_volume_nl(self.model, s))
        _raise_if(bridge_refusal(tubing, c))
        change = solution_change(tubing.lead, c.contents)
        bridge = s.bridge
        if c.bridge and label and change.changed:
            # Whatever was programmed: the tubing holds the old solution after any earlier fill.
            bridge = Bridge(old, s.prescription, dead_volume_nl(self.model, s), s.now_ms)
        if change.drug_changed:
            prescription, periodic, demand = None, None, None
        else:
            prescription, periodic, demand = s.prescription, s.periodic, s.demand_limits
        replaced = self._settings_check(label, prescription, periodic, demand, bridge)

        threshold = s.low_reservoir_alarm_nl if c.low_reservoir_alarm_nl is None else c.low_reservoir_alarm_nl
        expected = s.reservoir_nl
        if change.changed and s.bolus is not None:
            self._end_bolus(
                "the fill changed the drug" if change.drug_changed else "the fill changed the concentration"
            )
        dropped = [
            name
            for name, setting in (
                ("prescription", s.prescription),
                ("periodic", s.periodic),
                ("demand", s.demand_limits),
            )
            if setting is not None
        ]
        started_bridge = bridge is not None and bridge is not s.bridge
        self._commit(replaced, label=label, prescription=prescription, bridge=bridge)
        s.periodic, s.demand_limits = periodic, demand
        skipped = 0
        if periodic is None:
            s.periodic_next_wall_ms = None
            skipped, s.periodic_skipped = s.periodic_skipped, 0
        s.reservoir_nl = c.volume_nl
        s.low_reservoir_alarm_nl = threshold
        s.fills_total += 1
        detail: dict[str, int | str] = {"volume_nl": c.volume_nl, "expected_nl": expected}
        if c.aspirated_nl is not None:
            detail["aspirated_nl"] = c.aspirated_nl
        for drug, conc in c.contents:
            detail[f"{drug}_ng_per_ml"] = conc
        self._log("fill", **detail)
        if change.drug_changed and dropped:
            why = "another drug" if label else "reservoir emptied"
            extra = {"periodic_skipped": skipped} if skipped else {}
            self._log("settings_dropped", why=why, settings=", ".join(dropped), **extra)
        if started_bridge and bridge is not None:
            self._log("bolus_start", kind=BolusKind.BRIDGE.value, volume_nl=bridge.volume_nl)
        if s.reservoir_nl > threshold:
            self._clear(Alarm.LOW_RESERVOIR, "refill")
        if has_stroke_left(self.model, s):
            self._clear(Alarm.EMPTY_RESERVOIR, "refill")

    def _end_bridge(self) -> None:
        s = self.state
        bridge = s.bridge
        if bridge is None:
            return
        # The flows of a prescription made during a bridge with no old flows change with the solution they push.
        self._commit(remember(s.replaced, self._in_force(), s.now_ms), bridge=None)
        self._log("bolus_end", kind=BolusKind.BRIDGE.value, volume_nl=bridge.volume_nl)

    def _set_catheter(self, c: SetCatheter) -> None:
        if not 0 <= c.volume_nl <= self.model.reservoir_nl:
            _refuse(
                RefusalCode.BAD_CATHETER_VOLUME,
                "a catheter's volume is its length times its volume per length, from its labeling; check both",
                "catheter.volume",
                format_volume(c.volume_nl),
                f"0 to {format_volume(self.model.reservoir_nl)}",
            )
        self.state.catheter_volume_nl = c.volume_nl
        self._log("catheter_set", volume_nl=c.volume_nl, dead_volume_nl=dead_volume_nl(self.model, self.state))

    def _set_threshold(self, c: SetLowReservoirAlarm) -> None:
        _raise_if(threshold_refusal(self.model, c.threshold_nl))
        # A new threshold never clears an active low-reservoir alarm: the reservoir is as low as it was, and
        # only a refill (above the threshold then in force) ends the alarm.
        self.state.low_reservoir_alarm_nl = c.threshold_nl
        self._log("low_reservoir_alarm_set", threshold_nl=c.threshold_nl)

    def _program(self, c: Program) -> None:
        s = self.state
        if s.bolus is not None and not s.bolus.kind.replaces_basal:
            _refuse(
                RefusalCode.BOLUS_RUNNING,
                "a bolus is running; wait for it to end or cancel it before reprogramming",
                "program",
                s.bolus.kind.value,
            )
        replaced = self._settings_check(s.label, c.doses, s.periodic, s.demand_limits, s.bridge)
        before = s.prescription.max_dose_ng_per_day() if s.prescription is not None else 0
        self._commit(replaced, prescription=c.doses)
        if c.doses.max_dose_ng_per_day() > before:
            s.dose_raised_wall_ms = s.wall_ms
        s.stopped = False
        flows = self._flows
        if flows is None:  # pragma: no cover - a label and a prescription always derive flows
            raise RuntimeError("programmed without flows")
        self._log(
            "program",
            max_dose_ng_per_day=c.doses.max_dose_ng_per_day(),
            min_flow_nl_per_day=flows.min_flow_nl_per_day(),
            max_flow_nl_per_day=flows.max_flow_nl_per_day(),
            steps=sum(len(d) for d in c.doses.days),
        )

    def _bolus_blocker(self, kind: BolusKind, volume_nl: int, duration_ms: int) -> Refusal | None:
        """Why a bolus of this volume cannot start now in a mode that allows boluses, or None when it can."""
        blocked = self._slot_blocker(kind, volume_nl, duration_ms)
        if blocked is not None:
            return blocked
        basal = 0 if kind in REPLACE_BASAL else self._max_basal
        return bolus_flow_refusal(self._m, volume_nl, duration_ms, basal, kind)

    def _slot_blocker(self, kind: BolusKind, volume_nl: int, duration_ms: int) -> Refusal | None:
        """Why a bolus of this volume cannot start now for its size, the one bolus slot or the reservoir, or None;
        the flow is checked after these (`_bolus_blocker`)."""
        s = self.state
        if volume_nl <= 0 or duration_ms <= 0:
            return Refusal(RefusalCode.BAD_BOLUS, "a bolus needs a dose and a duration above zero", f"{kind}.volume")
        if s.bolus is not None:
            return Refusal(
                RefusalCode.BOLUS_RUNNING,
                f"a {s.bolus.kind.value} bolus is still running",
                until_ms=self._bolus_end_ms(),
            )
        if volume_nl > s.reservoir_nl:
            return Refusal(
                RefusalCode.RESERVOIR,
                "the reservoir holds less than this bolus",
                f"{kind}.volume",
                format_volume(volume_nl),
                format_volume(s.reservoir_nl),
            )
        return None

    def _bolus_end_ms(self) -> int | None:
        """When the running bolus ends at its rate, or None when none runs."""
        b = self.state.bolus
        return None if b is None else self.state.now_ms + ceil_div(b.total - b.done, b.rate_nl_per_day)

    def _start_bolus(self, kind: BolusKind, volume_nl: int, duration_ms: int) -> int:
        s = self.state
        now = s.now_ms
        total = volume_nl * MS_PER_DAY
        rate = -(-total // duration_ms)  # rounded up (ceil_div): the bolus never runs longer than asked
        s.bolus = ActiveBolus(kind, volume_nl, rate, now)
        end = now - (-total // rate)
        self._out.append(Logged(s.log.append_shaped(now, _BOLUS_START[kind], (volume_nl, rate, end))))
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

    def _clinician_bolus(self, c: ClinicianBolus) -> dict[str, int | str]:
        s = self.state
        if c.dose_ng <= 0 or c.duration_ms <= 0:
            _refuse(
                RefusalCode.BAD_BOLUS,
                "a bolus needs a dose and a duration above zero",
                "bolus.dose",
                format_mass(c.dose_ng),
            )
        # The bolus counts toward the daily limit for 24 h after it ends, on top of the settings in force.
        _raise_if(one_off_refusal(s.label, c.dose_ng, self._in_force(), s.replaced, s.now_ms))
        volume = self._dose_volume_nl(c.dose_ng)
        if volume is None:
            raise Refused(_BRIDGE_OF_OTHER_DRUG)
        _raise_if(too_small_refusal(s.label, s.bridge, c.dose_ng, "bolus"))
        _raise_if(self._bolus_blocker(BolusKind.CLINICIAN, volume, c.duration_ms))
        ends = self._start_bolus(BolusKind.CLINICIAN, volume, c.duration_ms)
        s.replaced = remember_one_off(s.replaced, one_off_exposures(s.label, c.dose_ng), ends, s.now_ms)
        return {"ends_ms": ends, "volume_nl": volume}

    def _priming_bolus(self, c: PrimingBolus) -> dict[str, int | str]:
        dead = dead_volume_nl(self.model, self.state)
        if c.volume_nl > dead:
            _refuse(
                RefusalCode.ABOVE_DEAD_VOLUME,
                f"a priming bolus fills the pump tubing and catheter, {format_volume(dead)} together; "
                "more would reach the patient as an overdose. Check the catheter volume set at implant",
                "priming.volume",
                format_volume(c.volume_nl),
                format_volume(dead),
            )
        _raise_if(self._bolus_blocker(BolusKind.PRIMING, c.volume_nl, c.duration_ms))
        return {"ends_ms": self._start_bolus(BolusKind.PRIMING, c.volume_nl, c.duration_ms)}

    def _cancel_bolus(self, c: CancelBolus) -> None:
        if self.state.bolus is None:
            _refuse(RefusalCode.NO_BOLUS, "no bolus is running")
        self._end_bolus("cancelled")

    def _periodic(self, c: SetPeriodicBolus) -> None:
        s = self.state
        plan = c.plan
        if plan is None:
            replaced = remember(s.replaced, self._in_force(), s.now_ms)
            self._commit(replaced)
            s.periodic = None
            s.periodic_next_wall_ms = None
            skipped, s.periodic_skipped = s.periodic_skipped, 0
            self._log("periodic_bolus_off", **({"skipped": skipped} if skipped else {}))
            return
        if plan.interval_ms < plan.duration_ms:
            _refuse(
                RefusalCode.PERIODIC_OVERLAP,
                "each periodic bolus must end before the next one starts",
                "periodic.interval",
                format_duration(plan.interval_ms),
                f"at least {format_duration(plan.duration_ms)}",
            )
        if plan.dose_ng <= 0 or plan.duration_ms <= 0:
            _refuse(
                RefusalCode.BAD_BOLUS,
                "a periodic bolus needs a dose and a duration above zero",
                "periodic.dose",
                format_mass(plan.dose_ng),
            )
        replaced = self._settings_check(s.label, s.prescription, plan, s.demand_limits, s.bridge)
        self._commit(replaced)
        s.periodic = plan
        nxt = s.periodic_next_wall_ms = _next_periodic_wall_ms(plan, s.wall_ms)
        self._log("periodic_bolus_on", dose_ng=plan.dose_ng, interval_ms=plan.interval_ms, next_wall_ms=nxt)

    def _demand_limits(self, c: SetDemandLimits) -> None:
        s = self.state
        limits = c.limits
        if limits is None:
            replaced = remember(s.replaced, self._in_force(), s.now_ms)
            self._commit(replaced)
            s.demand_limits = None
            self._log("demand_off")
            return
        _raise_if(demand_settings_refusal(limits))
        replaced = self._settings_check(s.label, s.prescription, s.periodic, limits, s.bridge)
        self._commit(replaced)
        s.demand_limits = limits
        self._log(
            "demand_on",
            dose_ng=limits.dose_ng,
            lockout_ms=limits.lockout_ms,
            max_per_24h=limits.max_per_24h,
        )

    def _demand(self, c: RequestDemandBolus) -> dict[str, int | str]:
        s = self.state
        limits = s.demand_limits
        window = None if limits is None else demand_window(limits, s.demand_history_ms, s.now_ms)
        refusal = self._press_refusal(window)
        if refusal is not None:
            raise Refused(refusal)
        volume = self._demand_dose(limits)[0] if limits is not None else None
        if limits is None or window is None or volume is None:  # pragma: no cover - _press_refusal refuses these
            raise RuntimeError("a demand dose passed its checks without settings or a volume")
        end = self._start_bolus(_DEMAND, volume, limits.duration_ms)
        s.demand_history_ms = (*window.recent, (s.now_ms, end))
        return {"ends_ms": end, "used_in_24h": window.used_24h + 1, "max_per_24h": limits.max_per_24h}

    def _press_refusal(self, window: DemandWindow | None) -> Refusal | None:
        """Why a press now gives no dose, once the mode allows presses (the status shows the same), or None;
        `window` is the demand window now, None when no demand settings are in force."""
        s = self.state
        limits = s.demand_limits
        if limits is None or window is None:
            return Refusal(RefusalCode.DEMAND_OFF, "the physician has not enabled extra doses")
        b = s.bolus
        if b is not None:
            running = s.now_ms + ceil_div(b.volume_nl * MS_PER_DAY - b.done, b.rate_nl_per_day)
            if running > window.next_allowed_ms:
                # The bolus holds the next dose back longest: say so, and until when.
                return Refusal(
                    RefusalCode.BOLUS_RUNNING,
                    f"a {b.kind.value} bolus is still running",
                    "demand",
                    until_ms=running,
                )
        if window.locked_until_ms is not None:
            return Refusal(
                RefusalCode.LOCKED_OUT,
                "too soon after the last dose",
                "demand",
                "",
                format_duration(limits.lockout_ms),
                window.next_allowed_ms,
            )
        if window.full_until_ms is not None:
            return Refusal(
                RefusalCode.DAILY_MAXIMUM,
                "the most doses allowed in 24 hours have been taken",
                "demand",
                str(window.used_24h),
                str(limits.max_per_24h),
                window.next_allowed_ms,
            )
        volume, too_fast = self._demand_dose(limits)
        if volume is None:
            return _BRIDGE_OF_OTHER_DRUG
        blocked = self._slot_blocker(_DEMAND, volume, limits.duration_ms)
        return too_fast if blocked is None else blocked

    def _demand_dose(self, limits: DemandLimits) -> tuple[int | None, Refusal | None]:
        """A demand dose under `limits` now: its volume (None while no dose can be measured out) and why its flow
        does not fit on top of the basal (None when it fits).

        Both follow from the settings alone (the limits, the solution a dose is measured with, the highest basal):
        they are worked out at the first press and kept until the limits change or `_derive` forgets them.
        """
        noted = self._noted_dose
        if noted is not None and noted[0] is limits:
            return noted[1]
        volume = self._dose_volume_nl(limits.dose_ng)
        too_fast = None
        if volume is not None and volume > 0 and limits.duration_ms > 0:
            too_fast = bolus_flow_refusal(self._m, volume, limits.duration_ms, self._max_basal, _DEMAND)
        self._noted_dose = (limits, (volume, too_fast))
        return volume, too_fast

    def _press_answer(self) -> Refusal | None:
        """What the pump would answer to a press now: the refusal (the mode's first), or None when it gives a dose."""
        found = illegal(act_of(RequestDemandBolus()), self._facts())
        if found is not None:
            return self._mode_refusal(*found)
        s = self.state
        limits = s.demand_limits
        return self._press_refusal(None if limits is None else demand_window(limits, s.demand_history_ms, s.now_ms))

    def _stop(self, c: StopTherapy) -> None:
        if self.state.bolus is not None:
            self._end_bolus("therapy stopped")
        self.state.stopped = True
        self._log("therapy_stopped", flow_nl_per_day=self.model.minimum_rate_mode_flow_nl_per_day)

    def _resume(self, c: ResumeTherapy) -> None:
        # The table refuses a resume unless therapy is stopped and there is a schedule to go back to.
        self.state.stopped = False
        self._log("therapy_resumed")

    def _clear_alarm(self, c: ClearAlarm) -> None:
        s = self.state
        rule = RULES[c.alarm]
        if c.alarm not in s.alarms:
            _refuse(RefusalCode.NOT_ACTIVE, f"the {c.alarm.value} alarm is not active", "alarm", c.alarm.value)
        if c.role is not Role.CLINICIAN or not rule.clinician_may_clear:
            _refuse(
                RefusalCode.NOT_CLEARABLE,
                f"the {c.alarm.value} alarm ends only by {rule.cleared_by}",
                "alarm",
                c.alarm.value,
            )
        if c.alarm is Alarm.MOTOR_STALL and s.stalled:
            _refuse(RefusalCode.STILL_STALLED, "the motor is still stalled", "alarm", c.alarm.value)
        if c.alarm is Alarm.PUMP_FAULT:
            s.fault = ""
        self._clear(c.alarm, c.role.value)

    def _alarm_tone_test(self, c: AlarmToneTest) -> dict[str, int | str]:
        # Each tone once, for no alarm: the repeat of real alarms (`next_tone_ms`) and every setting stay as they are.
        now = self.state.now_ms
        tones = (Tone.SINGLE, Tone.TWO_TONE)
        self._out.extend(ToneSounded(now, tone, ()) for tone in tones)
        played = ",".join(tone.value for tone in tones)
        self._log("alarm_tone_test", tones=played)
        return {"tones": played}

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

    def _rejected(self, c: TelemetryRejected) -> dict[str, int | str]:
        budget = self.state.telemetry_rejections
        if not budget.admit(self.state.now_ms, REJECTIONS_LOGGED_PER_DAY):
            return {"logged": False}
        detail: dict[str, int | str] = {"code": c.code}
        detail.update((k, v) for k, v in (("key_id", c.key_id), ("role", c.role), ("command", c.command)) if v)
        _add_unlogged(detail, budget)
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
        """What an interrogation shows: a snapshot in base units, stable keys, ready for JSON (status.py)."""
        return status_view(self.model, self.state, self._flows, self._press_answer())

    def patient_status(self) -> dict[str, object]:
        """What a patient's handset shows: the patient's part of `status()`, no more (status.py)."""
        return patient_status_view(self.model, self.state, self._flows, self._press_answer())

    def mode(self) -> PumpMode:
        """What the pump is doing: the first mode that holds (modes.py)."""
        return mode_of(self._facts())


_PERIODIC_DAILY_MAXIMUM = Refusal(
    RefusalCode.DAILY_MAXIMUM,
    "the periodic boluses of the last 24 h already reach what the periodic plan allows in a day",
    "periodic",
)

_PERIODIC_TOO_CLOSE = Refusal(
    RefusalCode.DAILY_MAXIMUM,
    "this periodic bolus would start or end less than one interval after the last one did (a longer bolus before "
    "it, or a new plan); it is skipped so that no 24 h gets more than the plan allows",
    "periodic",
)

_BRIDGE_OF_OTHER_DRUG = Refusal(
    RefusalCode.BRIDGE_RUNNING,
    "the tubing and catheter still hold the previous drug; no dose of the new one can be given until the "
    "bridge has pushed it through",
    "bridge",
)


def _next_periodic_wall_ms(plan: PeriodicBolusPlan, wall_ms: int) -> int:
    """The first start of the plan at or after `wall_ms`."""
    if plan.first_wall_ms >= wall_ms:
        return plan.first_wall_ms
    return plan.first_wall_ms + ceil_div(wall_ms - plan.first_wall_ms, plan.interval_ms) * plan.interval_ms


def _add_unlogged(detail: dict[str, int | str], budget: RefusalBudget) -> None:
    """Carry the count of refusals not logged since the last logged one into this entry."""
    unlogged = budget.take_unlogged()
    if unlogged:
        detail["unlogged_before"] = unlogged


def _raise_if(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise Refused(refusal)


def _refuse(code: RefusalCode, message: str, field: str = "", value: str = "", limit: str = "") -> NoReturn:
    raise Refused(Refusal(code, message, field, value, limit))


_Handler = Callable[[Firmware, Any], "dict[str, int | str] | None"]

_HANDLERS: dict[type, _Handler] = {
    Fill: Firmware._fill,
    SetCatheter: Firmware._set_catheter,
    Program: Firmware._program,
    SetLowReservoirAlarm: Firmware._set_threshold,
    ClinicianBolus: Firmware._clinician_bolus,
    PrimingBolus: Firmware._priming_bolus,
    CancelBolus: Firmware._cancel_bolus,
    SetPeriodicBolus: Firmware._periodic,
    SetDemandLimits: Firmware._demand_limits,
    RequestDemandBolus: Firmware._demand,
    StopTherapy: Firmware._stop,
    ResumeTherapy: Firmware._resume,
    ClearAlarm: Firmware._clear_alarm,
    AlarmToneTest: Firmware._alarm_tone_test,
    MotorStalled: Firmware._stalled,
    MotorRecovered: Firmware._recovered,
    ReportFault: Firmware._fault,
    TelemetrySession: Firmware._telemetry,
    TelemetryRejected: Firmware._rejected,
    PeerChanged: Firmware._peer_changed,
    SetClock: Firmware._clock,
}
# Each command's handler and its row of the mode table (`act_of`), by type; None where the row depends on the
# command's fields.
_DISPATCH: dict[type, tuple[_Handler, str | None]] = {
    kind: (handler, None if kind in OFF_WHEN_NONE else kind.__name__) for kind, handler in _HANDLERS.items()
}
# The commands that, when accepted, only start a bolus that adds to the basal (`handle`).
_ADDS_A_BOLUS = frozenset({RequestDemandBolus, ClinicianBolus})
