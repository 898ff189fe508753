"""The firmware core driven by random commands and random time steps, checked against a reference.

The reference below follows the pump from the outside: it sees the commands
it sends and the actions the firmware returns, and keeps its own account of
the drug label, the prescription in doses and the flows it derives, the
bridge after a change of solution, the reservoir, the flow integral, the
battery charge, the running bolus, the alarms and the accepted demand doses.
Every `Delivery` is checked against what the flow should be at that moment
(basal from the programmed week, or from the old week while a bridge runs,
the minimum-rate flow when stopped, plus or instead of the running bolus,
zero when stalled, faulted, empty or at end of service); every event the
firmware owes (tone, periodic bolus, end of bolus or bridge, low reservoir,
ERI, end of service) must happen at the exact millisecond it falls due,
never before or after.

The reference keeps its own copy of the mode precedence and of the table of
legal commands (written out below, not imported), so that every refusal code
is predicted, and every periodic bolus due is predicted as given or skipped:
the first skip of a run is logged with its reason, the rest only counted, and
the resumption logged with the count. Refused demand presses are logged within
a daily budget and counted beyond it. It keeps its own account of the bridge
after any change of solution (with the old flows, or none when nothing was
programmed, when a prescription runs at the stronger solution's flows), of
demand doses counted until 24 h after they end, and of the one check of
settings every change passes (flows, and each periodic and demand bolus on
top of the highest basal flow); the status's answer to a press is predicted
with the press.

The machine's formulary is a test double whose daily and single-dose limits
never bind, so that any dose the pump can deliver is explored; the label
rules (known drug, concentration, partners, demand doses allowed) hold as in
the real one. The drug's hard limits are proved with the real formulary in
test_pump_hard_limits.py.
"""

from __future__ import annotations

import dataclasses
from functools import cache

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from thecal.pump.core import (
    Alarm,
    BolusKind,
    CancelBolus,
    ClearAlarm,
    ClinicianBolus,
    Delivery,
    DemandLimits,
    DoseSchedule,
    DoseStep,
    DrugRule,
    Fill,
    Firmware,
    Formulary,
    Logged,
    MotorRecovered,
    MotorStalled,
    PeriodicBolusPlan,
    PrimingBolus,
    Program,
    PumpMode,
    PumpState,
    RefusalCode,
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
    TelemetrySession,
    Tone,
    ToneSounded,
)
from thecal.pump.core.eventlog import LogEntry
from thecal.pump.core.firmware import DEMAND_REFUSALS_LOGGED_PER_DAY
from thecal.pump.core.integers import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN, NL_PER_ML
from thecal.pump.core.nvm import round_trip
from thecal.pump.model import PumpModel, load_model

_NEVER_BINDS = 10**12  # ng and ng/day: a kilogram


def _wide(drug: str, *, opioid: bool, max_concentration_ng_per_ml: int, demand: bool, partners: tuple) -> DrugRule:
    return DrugRule(
        drug, opioid, max_concentration_ng_per_ml, _NEVER_BINDS, _NEVER_BINDS, demand, _NEVER_BINDS, partners
    )


FORMULARY = Formulary(
    [
        _wide("morphine", opioid=True, max_concentration_ng_per_ml=50_000_000, demand=True, partners=("bupivacaine",)),
        _wide("bupivacaine", opioid=False, max_concentration_ng_per_ml=30_000_000, demand=True, partners=("morphine",)),
        _wide("hydromorphone", opioid=True, max_concentration_ng_per_ml=20_000_000, demand=True, partners=()),
        _wide("ziconotide", opioid=False, max_concentration_ng_per_ml=1_000_000, demand=False, partners=()),
    ]
)
MORPHINE = (("morphine", 10_000_000),)
# Every concentration is a whole number of mg/mL, so that a flow f derives from the dose f × mg/mL exactly.
CONTENTS = [
    MORPHINE,
    MORPHINE,
    MORPHINE,
    (("morphine", 20_000_000),),
    (("morphine", 5_000_000),),
    (("morphine", 10_000_000), ("bupivacaine", 5_000_000)),
    (("hydromorphone", 2_000_000),),
    (("ziconotide", 1_000_000),),
    (),
    (("morphine", 0),),
    (("morphine", 60_000_000),),
    (("heroin", 50_000_000),),
    (("morphine", 10_000_000), ("ziconotide", 1_000_000)),
    (("morphine", 10_000_000), ("hydromorphone", 2_000_000)),
    (("morphine", 10_000_000), ("morphine", 20_000_000)),
]
# DESIGN.md alarm table: these sound the two-tone critical alarm.
CRITICAL = {Alarm.EMPTY_RESERVOIR, Alarm.END_OF_SERVICE, Alarm.MOTOR_STALL, Alarm.PUMP_FAULT}
REPLACES_BASAL = {BolusKind.PRIMING, BolusKind.BRIDGE}

Days = tuple[tuple[tuple[int, int], ...], ...]

# The reference's own account of the modes in their precedence and of where commands are refused (docs/architecture.md).
PRECEDENCE = [
    "end_of_service",
    "fault",
    "stalled",
    "not_filled",
    "empty",
    "priming",
    "not_programmed",
    "minimum_rate",
    "bridge",
    "running",
]
NO_BOLUS = {
    "end_of_service": "end_of_service",
    "fault": "fault",
    "stalled": "motor_stall",
    "not_filled": "no_label",
    "empty": "reservoir",
    "minimum_rate": "stopped",
}
NO_PRESS = {mode: code for mode, code in NO_BOLUS.items() if mode != "not_filled"}
NO_SETTING = {"end_of_service": "end_of_service", "not_filled": "no_label"}
NO_STOP = {"minimum_rate": "already_stopped"}
NO_RESUME = {"not_programmed": "no_program", "bridge": "not_stopped", "running": "not_stopped"}


def _flows(doses: Days, concentration_ng_per_ml: int) -> Days:
    """The flows a week of doses derives at a concentration, each rounded down."""
    return tuple(tuple((s, d * NL_PER_ML // concentration_ng_per_ml) for s, d in day) for day in doses)


def _label_flaw(contents: tuple) -> str | None:
    """The code the firmware gives a fill's contents under the machine's formulary, or None."""
    seen = set()
    for drug, conc in contents:
        if drug not in FORMULARY:
            return "unknown_drug"
        if drug in seen:
            return "drug_twice"
        seen.add(drug)
        if conc > FORMULARY[drug].max_concentration_ng_per_ml:
            return "above_max_concentration"
    if sum(FORMULARY[d].opioid for d, _ in contents) > 1:
        return "two_opioids"
    for i, (a, _) in enumerate(contents):
        for b, _ in contents[i + 1 :]:
            if b not in FORMULARY[a].partners or a not in FORMULARY[b].partners:
                return "not_partners"
    return None


@cache
def _model(name: str) -> PumpModel:
    # A short event log: the machine also runs through dropping the oldest entries, and each
    # round trip through the non-volatile image stays cheap.
    return dataclasses.replace(load_model(name), event_log_entries=256)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# ----------------------------------------------------------------- schedule reference


def ref_flow(days: Days, wall_ms: int) -> int:
    """The programmed flow at a wall time, read straight from the day's steps."""
    day_number, time_of_day = divmod(wall_ms, MS_PER_DAY)
    weekday = (day_number + 3) % 7  # 1970-01-01 was a Thursday; Monday is day 0
    flow = days[weekday][0][1]
    for start, step_flow in days[weekday]:
        if start <= time_of_day:
            flow = step_flow
    return flow


def ref_flow_changes_at(days: Days, wall_ms: int) -> int | None:
    """The first wall time after `wall_ms` at which the programmed flow differs, or None if it never does."""
    flow = ref_flow(days, wall_ms)
    first_day = wall_ms // MS_PER_DAY
    for day_number in range(first_day, first_day + 8):
        for start, step_flow in days[(day_number + 3) % 7]:
            t = day_number * MS_PER_DAY + start
            if t > wall_ms and step_flow != flow:
                return t
    return None


# ----------------------------------------------------------------------- strategies

valid_flow = st.one_of(
    st.integers(48_000, 400_000),
    st.integers(48_000, 400_000),
    st.integers(48_000, 400_000),
    st.integers(400_000, 2_000_000),
    st.integers(2_000_000, 24_000_000),
    st.sampled_from([48_000, 24_000_000]),
)
step_start = st.one_of(st.integers(1, 47).map(lambda k: k * 30 * MS_PER_MIN), st.integers(1, MS_PER_DAY - 1))


@st.composite
def week_days(draw: st.DrawFn) -> Days:
    """A week of steps: often the same on weekdays, different at the weekend, sometimes out of limits."""

    def one_day(max_extra: int = 12) -> tuple[tuple[int, int], ...]:
        starts = sorted(draw(st.sets(step_start, max_size=max_extra)))
        return tuple((start, draw(valid_flow)) for start in [0, *starts])

    shape = draw(st.sampled_from(["continuous", "weekday_weekend", "every_day_differs"]))
    if shape == "continuous":
        days: list[tuple[tuple[int, int], ...]] = [((0, draw(valid_flow)),)] * 7
    elif shape == "weekday_weekend":
        weekday, weekend = one_day(), one_day()
        days = [weekday] * 5 + [weekend] * 2
    else:
        days = [one_day(4) for _ in range(7)]
    flaw = draw(st.sampled_from([None] * 6 + ["too_low", "too_high", "too_many_steps"]))
    if flaw is not None:
        index = draw(st.integers(0, 6))
        day = list(days[index])
        if flaw == "too_many_steps":
            day = [(k * MS_PER_HOUR, 100_000 + k) for k in range(14)]
        else:
            bad = draw(st.integers(0, 47_999) if flaw == "too_low" else st.integers(24_000_001, 48_000_000))
            position = draw(st.integers(0, len(day) - 1))
            day[position] = (day[position][0], bad)
        days[index] = tuple(day)
    return tuple(days)


bolus_volume = st.one_of(st.integers(-1, 300_000), st.integers(300_000, 3_000_000))
bolus_duration = st.one_of(st.integers(-1, 10 * MS_PER_MIN), st.integers(10 * MS_PER_MIN, 2 * MS_PER_DAY))
# A volume and a duration that a pump of 1 mL/h can mostly deliver: from the rate it implies.
feasible_bolus = st.tuples(st.integers(1, 300_000), st.integers(1_000, 24_000_000)).map(
    lambda vr: (vr[0], -(-vr[0] * MS_PER_DAY // vr[1]))
)
time_step = st.one_of(
    st.integers(1, 1_000),
    st.integers(1, MS_PER_HOUR),
    st.integers(1, 6 * MS_PER_HOUR),
    st.integers(1, 6 * MS_PER_HOUR),
    st.integers(1, 2 * MS_PER_DAY),
    st.integers(1, 2 * MS_PER_DAY),
    st.integers(1, 20 * MS_PER_DAY),
    st.integers(20 * MS_PER_DAY, 30 * MS_PER_DAY),
)


# -------------------------------------------------------------------------- machine


class FirmwareMachine(RuleBasedStateMachine):
    """Random commands and time steps; after each, the reference agrees and the invariants hold."""

    # ------------------------------------------------------------- set-up

    @initialize(
        name=st.sampled_from(["programmable-20", "programmable-40"]),
        wall=st.one_of(st.integers(0, 2_000_000_000_000), st.integers(-30 * MS_PER_DAY, 30 * MS_PER_DAY)),
        battery_left=st.one_of(
            st.none(),
            st.none(),
            st.none(),
            st.tuples(st.sampled_from(["to_eri", "to_empty"]), st.integers(1, 3 * MS_PER_DAY)),
        ),
        start_flow=st.one_of(st.none(), *[st.integers(48_000, 500_000)] * 4),
        start_volume=st.one_of(
            st.none(), st.none(), st.none(), st.integers(1_000_000, 2_200_000), st.integers(0, 300_000)
        ),
        start_lockout=st.sampled_from([0, MS_PER_HOUR, 4 * MS_PER_HOUR, 26 * MS_PER_HOUR]),
        start_max=st.sampled_from([1, 2, 6]),
        start_periodic=st.one_of(
            st.none(),
            st.tuples(
                st.integers(1, 50_000),
                st.integers(MS_PER_MIN, 30 * MS_PER_MIN),
                st.integers(30 * MS_PER_MIN, 12 * MS_PER_HOUR),
                st.integers(-MS_PER_DAY, MS_PER_DAY),
            ),
        ),
        start_catheter=st.sampled_from([None, None, 0, 150_000, 400_000]),
    )
    def power_on(
        self,
        name: str,
        wall: int,
        battery_left: tuple[str, int] | None,
        start_flow: int | None,
        start_volume: int | None,
        start_lockout: int,
        start_max: int,
        start_periodic: tuple[int, int, int, int] | None,
        start_catheter: int | None,
    ) -> None:
        m = _model(name)
        self.m = m
        self.unit = m.stroke_nl * MS_PER_DAY
        fw = Firmware(m, FORMULARY, wall_ms=wall)
        if battery_left is not None:
            # A pump restored from memory late in its battery life: ERI, or the end of the charge,
            # is a few days of baseline current ahead.
            until, ms = battery_left
            data = fw.state.to_data()
            target = m.battery_capacity_pc - (m.eri_reserve_pc if until == "to_eri" else 0)
            data["battery_used_pc"] = target - m.baseline_current_na * ms
            fw = Firmware(m, FORMULARY, PumpState.from_data(data))
        self.fw = fw
        # The reference's own account of the pump.
        self.now = 0
        self.offset = wall
        self.reservoir = 0
        self.filled = False
        self.threshold = m.low_reservoir_alarm_default_nl
        self.label: tuple[tuple[str, int], ...] = ()
        self.doses: Days | None = None  # the prescription, ng/day
        self.days: Days | None = None  # the flows it derives, nL/day
        self.bridge: list | None = None  # [old flows, total integral, done integral, old lead (drug, ng/mL)]
        self.catheter = 0
        self.expect_interrupt: str | None = None
        self.stopped = False
        self.stalled = False
        self.faulted = False
        self.alarms: dict[Alarm, int] = {}
        self.eos = False
        self.eri_at: int | None = None
        self.bolus: list | None = None  # [kind, volume_nl, rate_nl_per_day, done]
        self.plan: PeriodicBolusPlan | None = None
        self.periodic_next_wall: int | None = None
        self.limits: DemandLimits | None = None
        # (start, end, lockout_ms, max_per_24h) of accepted demand doses
        self.demands: list[tuple[int, int, int, int]] = []
        self.periodic_boluses: list[tuple[int, int]] = []  # (start, end) of periodic boluses given
        self.skipped = 0  # periodic boluses skipped in the present run
        self.refusal_budget = [0, 0, 0]  # refused presses: window start, logged in it, counted unlogged
        self.integral = 0
        self.strokes = 0
        self.battery = fw.state.battery_used_pc
        self.next_tone: int | None = None
        self.raised_at: int | None = None
        self.tone_owed = False
        self.command_duration: int | None = None
        self.command_volume: int | None = None
        self.seen_seq = fw.state.log.next_seq
        self.counters = self._counters()
        if start_catheter is not None:
            self.set_catheter(start_catheter)
        if start_flow is not None:
            # Most pumps under test are filled and running; the rules then take them anywhere.
            self.fill(start_volume, MORPHINE, None, None, False)
            self.program((((0, start_flow),),) * 7)
            self.demand_limits(DemandLimits(20_000, 10 * MS_PER_MIN, start_lockout, start_max))
            if start_periodic is not None:
                self.periodic(start_periodic)

    # ------------------------------------------------------ the reference

    def _mg_per_ml(self) -> int:
        """The lead drug's concentration in whole mg/mL (10 when there is no label)."""
        return self.label[0][1] // NL_PER_ML if self.label else 10

    def _dose_concentration(self, label: tuple | None = None, bridge: list | None = None) -> int | None:
        """The concentration a dose is measured out with: the stronger one while a bridge of the drug runs."""
        label = self.label if label is None else label
        bridge = self.bridge if bridge is None else bridge
        if not label:
            return None
        lead = label[0]
        if bridge is None:
            return lead[1]
        old = bridge[3]
        return None if old[0] != lead[0] else max(old[1], lead[1])

    def _volume(self, dose_ng: int) -> int | None:
        conc = self._dose_concentration()
        return None if conc is None else dose_ng * NL_PER_ML // conc

    def _flow_concentration(self, label: tuple, bridge: list | None) -> int:
        """The concentration a prescription's flows are measured with: the label's, or the stronger old one while
        a bridge without old flows of the same drug runs."""
        if bridge is not None and bridge[0] is None:
            return self._dose_concentration(label, bridge) or label[0][1]
        return label[0][1]

    def _settings_flaw(
        self,
        label: tuple,
        doses: Days | None,
        plan: PeriodicBolusPlan | None,
        limits: DemandLimits | None,
        bridge: list | None,
    ) -> str | None:
        """The code of the one check every change of settings passes (the drug's daily and single-dose limits
        never bind in this formulary), or None."""
        m = self.m
        if not label:
            return None
        if limits is not None and not all(FORMULARY[drug].demand_allowed for drug, _ in label):
            return "demand_not_allowed"
        conc = label[0][1]
        if doses is not None:
            flaw = _first_schedule_flaw(m, _flows(doses, conc))
            stronger = self._flow_concentration(label, bridge)
            if flaw is None and stronger != conc:
                flaw = _first_schedule_flaw(m, _flows(doses, stronger))
            if flaw is not None:
                return flaw
        weeks = [w for w in (_flows(doses, conc) if doses else None, bridge[0] if bridge else None) if w is not None]
        basal = max((f for w in weeks for d in w for _, f in d), default=0)
        measured = self._dose_concentration(label, bridge) or conc
        for dose, duration in [(b.dose_ng, b.duration_ms) for b in (plan, limits) if b is not None]:
            if dose * NL_PER_ML // measured <= 0:
                return "dose_too_small"
            if _ceil_div(dose * NL_PER_ML // conc * MS_PER_DAY, duration) > m.max_bolus_flow_nl_per_day - basal:
                return "bolus_too_fast"
        return None

    def _basal_days(self) -> Days | None:
        return self.bridge[0] if self.bridge is not None and self.bridge[0] is not None else self.days

    def _max_basal(self) -> int:
        weeks = [w for w in (self.days, self.bridge[0] if self.bridge else None) if w is not None]
        return max((f for w in weeks for d in w for _, f in d), default=0)

    def _dead(self) -> int:
        return self.m.internal_volume_nl + self.catheter

    def _modes(self) -> list[str]:
        """Every mode that holds now, in precedence order."""
        bridge, stopped, scheduled = self.bridge is not None, self.stopped, self._basal_days() is not None
        holds = {
            "end_of_service": self.eos,
            "fault": self.faulted,
            "stalled": self.stalled,
            "not_filled": not self.label,
            "empty": bool(self.label) and self.reservoir < self.m.stroke_nl,
            "priming": self.bolus is not None and self.bolus[0] in REPLACES_BASAL,
            "not_programmed": not scheduled,
            "minimum_rate": stopped,
            "bridge": bridge and not stopped,
            "running": scheduled and not stopped and not bridge,
        }
        return [mode for mode in PRECEDENCE if holds[mode]]

    def _refused_in(self, where: dict[str, str]) -> str | None:
        """The code of the first mode that holds in which a command is refused, or None."""
        return next((where[mode] for mode in self._modes() if mode in where), None)

    def _periodic_reason(self) -> str | None:
        """Why the periodic bolus due now is skipped, or None when it starts."""
        code = self._refused_in(NO_BOLUS)
        if code is not None:
            return code
        if len(self._periodic_recent()) >= _ceil_div(MS_PER_DAY, self.plan.interval_ms):
            return "daily_maximum"
        if self.periodic_boluses:
            # Both its start and its end at least one interval after the last bolus's.
            start, end = self.periodic_boluses[-1]
            if self.now < max(start + self.plan.interval_ms, end + self.plan.interval_ms - self.plan.duration_ms):
                return "daily_maximum"
        volume = self._volume(self.plan.dose_ng)
        if volume is None:
            return "bridge_running"
        return self._blocker(BolusKind.PERIODIC, volume, self.plan.duration_ms)[0]

    def _periodic_due_ms(self) -> int:
        """The pump time of the next periodic start."""
        return self.periodic_next_wall - self.offset

    def _silent_skips(self) -> None:
        """A periodic bolus due in a run of skips is counted, not logged: it must be one the reference skips."""
        while (
            self.skipped
            and self.plan is not None
            and self.periodic_next_wall is not None
            and self.periodic_next_wall - self.offset <= self.now
        ):
            assert self._periodic_reason() is not None, f"periodic bolus due at {self.now} ms neither given nor logged"
            self._periodic_fired(self.now)
            self.skipped += 1

    def _rate(self) -> int:
        """What the flow should be now, in nL/day."""
        m = self.m
        if self.eos or self.stalled or self.faulted or self.reservoir < m.stroke_nl:
            return 0
        b = self.bolus
        # A bolus runs at its rate, and in its last millisecond at what is left, to end exactly at its volume.
        bolus = 0 if b is None else min(b[2], b[1] * MS_PER_DAY - b[3])
        if b is not None and b[0] in REPLACES_BASAL:
            return bolus
        days = self._basal_days()
        if days is None:
            basal = 0
        elif self.stopped:
            basal = m.minimum_rate_mode_flow_nl_per_day
        else:
            basal = ref_flow(days, self.now + self.offset)
        return basal + bolus

    def _eri_target(self) -> int:
        return self.m.battery_capacity_pc - self.m.eri_reserve_pc

    def _end_of_service_due(self) -> bool:
        """The battery is exhausted, or 90 days have passed since ERI."""
        m = self.m
        return self.battery >= m.battery_capacity_pc or (
            self.eri_at is not None and self.now >= self.eri_at + m.end_of_service_after_eri_ms
        )

    def _dues(self) -> list[tuple[str, int]]:
        """Events the firmware owes at a known time."""
        dues = []
        if self.next_tone is not None:
            dues.append(("alarm tone", self.next_tone))
        if self.plan is not None and self.periodic_next_wall is not None:
            dues.append(("periodic bolus", self.periodic_next_wall - self.offset))
        if self.eri_at is not None and not self.eos:
            dues.append(("end of service after ERI", self.eri_at + self.m.end_of_service_after_eri_ms))
        return dues

    def _nothing_overdue(self) -> None:
        """Everything due at or before now has happened."""
        m = self.m
        self._silent_skips()
        for what, due in self._dues():
            assert due > self.now, f"{what} due at {due} ms did not happen (now {self.now} ms)"
        assert not self.tone_owed, f"an alarm raised at {self.now} ms sounded no tone"
        b = self.bolus
        assert b is None or b[3] < b[1] * MS_PER_DAY, f"bolus complete but still running at {self.now} ms"
        g = self.bridge
        assert g is None or g[2] < g[1], f"bridge complete but still running at {self.now} ms"
        assert b is None or not self.eos, "a bolus survived the end of service"
        if self.filled and self.reservoir <= self.threshold:
            assert Alarm.LOW_RESERVOIR in self.alarms, f"low reservoir not raised at {self.reservoir} nL"
        if self.filled and self.reservoir < m.stroke_nl:
            assert Alarm.EMPTY_RESERVOIR in self.alarms, "empty reservoir not raised"
        if self.eri_at is None:
            assert self.battery < self._eri_target(), "ERI reached but not raised"
        if not self.eos:
            assert self.battery < m.battery_capacity_pc, "battery exhausted but no end of service"

    def _pass_time(self, end: int, stroke_times: list[int]) -> None:
        """Move the reference clock to `end`; the battery and due events must not cross a threshold inside."""
        m = self.m
        start = self.now
        assert end > start
        for what, due in self._dues():
            assert not start < due < end, f"{what} due at {due} ms skipped between {start} and {end} ms"
        before = self.battery
        after = before + m.baseline_current_na * (end - start) + m.stroke_charge_pc * len(stroke_times)
        target = self._eri_target() if self.eri_at is None else m.battery_capacity_pc
        if not self.eos and before < target <= after:
            at_end_minus_1 = (
                before
                + m.baseline_current_na * (end - 1 - start)
                + m.stroke_charge_pc * sum(1 for t in stroke_times if t <= end - 1)
            )
            assert at_end_minus_1 < target, f"battery threshold crossed inside {start}..{end} ms"
        self.battery = after
        self.now = end

    def _move(self, t: int) -> None:
        """Time passes with no Delivery: the flow must be zero meanwhile."""
        assert t >= self.now, f"an action at {t} ms came after {self.now} ms"
        if t == self.now:
            return
        self._nothing_overdue()
        rate = self._rate()
        assert rate == 0, f"no delivery from {self.now} to {t} ms though the flow should be {rate} nL/day"
        # A skipped periodic bolus in a run leaves no trace: step to each such due on the way.
        while self.skipped and self.periodic_next_wall is not None and self.now < self._periodic_due_ms() < t:
            self._pass_time(self._periodic_due_ms(), [])
            self._nothing_overdue()
        self._pass_time(t, [])

    def _delivery(self, d: Delivery) -> None:
        m = self.m
        self._move(d.start_ms)
        self._nothing_overdue()
        expected = self._rate()
        assert expected > 0, f"delivery at {d.start_ms} ms though nothing should flow"
        assert d.rate_nl_per_day == expected, f"rate {d.rate_nl_per_day} nL/day at {d.start_ms} ms, expected {expected}"
        assert d.rate_nl_per_day <= m.max_bolus_flow_nl_per_day, "flow above the pump's bolus ceiling"
        assert d.end_ms > d.start_ms and d.stroke_nl == m.stroke_nl
        dt = d.end_ms - d.start_ms
        assert d.phase_start == self.integral % self.unit, "stroke phase does not match the flow integral"
        assert d.strokes == (d.phase_start + d.rate_nl_per_day * dt) // self.unit
        times = d.stroke_times_ms()
        assert times == sorted(set(times)) and all(d.start_ms < t <= d.end_ms for t in times)
        # The basal flow is constant over the whole delivery.
        b = self.bolus
        days = self._basal_days()
        if days is not None and not self.stopped and (b is None or b[0] not in REPLACES_BASAL):
            change = ref_flow_changes_at(days, d.start_ms + self.offset)
            assert change is None or d.end_ms + self.offset <= change, "delivery runs across a schedule step"
        # A bridge ends at the first millisecond the dead volume has been pushed, by whatever flow.
        g = self.bridge
        if g is not None:
            g[2] += d.rate_nl_per_day * dt
            if g[2] >= g[1]:
                assert g[2] - d.rate_nl_per_day < g[1], "bridge completed before the end of its delivery"
        # A bolus ends at the first millisecond its volume is complete, never past it.
        if b is not None:
            total = b[1] * MS_PER_DAY
            flow = min(b[2], total - b[3])
            b[3] += flow * dt
            assert b[3] <= total, "a bolus gave more than its volume"
            if flow < b[2]:
                assert dt == 1, "a bolus ran more than its last millisecond at what was left of it"
        # The reservoir: never a stroke it does not hold; low and empty alarms at the crossing stroke.
        before = self.reservoir
        assert d.strokes <= before // m.stroke_nl, "more strokes than the reservoir holds"
        after = before - d.strokes * m.stroke_nl
        if after < m.stroke_nl:
            assert times[-1] == d.end_ms, "delivery continues after the reservoir emptied"
        if self.filled and Alarm.LOW_RESERVOIR not in self.alarms and before > self.threshold >= after:
            assert d.strokes == _ceil_div(before - self.threshold, m.stroke_nl)
            assert times[-1] == d.end_ms, "delivery continues past the low-reservoir stroke"
        self.reservoir = after
        self.integral += d.rate_nl_per_day * dt
        self.strokes += d.strokes
        self._pass_time(d.end_ms, times)

    def _periodic_recent(self) -> list[int]:
        return [t for t, _ in self.periodic_boluses if t > self.now - MS_PER_DAY]

    def _periodic_fired(self, at_ms: int) -> None:
        assert self.plan is not None and self.periodic_next_wall is not None, "periodic bolus without a plan"
        assert at_ms + self.offset == self.periodic_next_wall, "periodic bolus at the wrong time"
        self.periodic_next_wall += self.plan.interval_ms

    def _entry(self, e: LogEntry) -> None:
        m = self.m
        assert e.at_ms == self.now
        kind = e.kind
        if kind == "bolus_start" and e.get("kind") == BolusKind.BRIDGE:
            assert self.bridge is not None and self.bridge[2] == 0, "a bridge started without a fill that needs one"
            assert e.get("volume_nl") * MS_PER_DAY == self.bridge[1]
        elif kind == "bolus_end" and e.get("kind") == BolusKind.BRIDGE:
            assert self.bridge is not None and self.bridge[2] >= self.bridge[1], "bridge ended before its volume"
            self.bridge = None
            # A prescription made during a bridge without old flows now runs at the label's concentration.
            self.days = _flows(self.doses, self.label[0][1]) if self.doses is not None and self.label else None
        elif kind == "bolus_start":
            assert self.bolus is None, "two boluses at once"
            bolus_kind = BolusKind(e.get("kind"))
            volume = e.get("volume_nl")
            if self.command_duration is not None:
                duration = self.command_duration
                assert volume == self.command_volume, f"bolus of {volume} nL, expected {self.command_volume} nL"
            elif bolus_kind is BolusKind.PERIODIC and self.plan is not None:
                duration = self.plan.duration_ms
                assert volume == self._volume(self.plan.dose_ng), "periodic bolus volume is not its dose"
            else:
                raise AssertionError(f"a {bolus_kind} bolus started on its own at {e.at_ms} ms")
            if bolus_kind is BolusKind.PERIODIC and self.command_duration is None:
                assert self.skipped == 0, "periodic boluses resumed without saying how many were skipped"
                assert self._periodic_reason() is None, f"periodic bolus given though {self._periodic_reason()}"
                self._periodic_fired(e.at_ms)
                assert len(self._periodic_recent()) < _ceil_div(MS_PER_DAY, self.plan.interval_ms), "too many in 24 h"
                self.periodic_boluses.append((e.at_ms, e.get("ends_ms")))
            rate = e.get("rate_nl_per_day")
            assert rate == _ceil_div(volume * MS_PER_DAY, duration)
            self.bolus = [bolus_kind, volume, rate, 0]
        elif kind == "periodic_bolus_skipped":
            assert self.skipped == 0, "a second skip of one run was logged"
            assert e.get("reason") == self._periodic_reason(), "periodic bolus skipped for the wrong reason"
            self._periodic_fired(e.at_ms)
            self.skipped = 1
        elif kind == "periodic_bolus_resumed":
            assert self.skipped and e.get("skipped") == self.skipped, (e, self.skipped)
            assert self.periodic_next_wall - self.offset == e.at_ms, "resumed other than at a periodic start"
            self.skipped = 0
        elif kind == "periodic_bolus_off" or (kind == "settings_dropped" and "periodic" in str(e.get("settings"))):
            key = "skipped" if kind == "periodic_bolus_off" else "periodic_skipped"
            assert e.get(key, 0) == self.skipped, "a run of skipped periodic boluses ended uncounted"
            self.skipped = 0
        elif kind == "bolus_end":
            b = self.bolus
            assert b is not None and b[3] >= b[1] * MS_PER_DAY, "bolus ended before its volume was complete"
            self.bolus = None
        elif kind == "bolus_interrupted":
            assert self.bolus is not None
            why = str(e.get("why"))
            allowed = {
                "cancelled": True,
                "therapy stopped": self.stopped,
                "motor stall": self.stalled,
                "reservoir empty": self.reservoir < m.stroke_nl,
                "end of service": self._end_of_service_due(),
                "the fill changed the drug": self.expect_interrupt == why,
                "the fill changed the concentration": self.expect_interrupt == why,
            }
            assert allowed.get(why, why.startswith("fault ") and self.faulted), f"bolus interrupted: {why}"
            self.bolus = None
        elif kind == "alarm":
            alarm = Alarm(e.get("alarm"))
            assert alarm not in self.alarms
            assert e.get("critical") == int(alarm in CRITICAL)
            if alarm is Alarm.LOW_RESERVOIR:
                assert self.filled and self.reservoir <= self.threshold, "low reservoir raised too early"
            elif alarm is Alarm.EMPTY_RESERVOIR:
                assert self.filled and self.reservoir < m.stroke_nl, "empty raised too early"
            elif alarm is Alarm.ELECTIVE_REPLACEMENT:
                assert self.battery >= self._eri_target(), "ERI raised too early"
                self.eri_at = e.at_ms
            elif alarm is Alarm.END_OF_SERVICE:
                assert self._end_of_service_due(), "end of service too early"
                self.eos = True
                self.periodic_next_wall = None
            elif alarm is Alarm.MOTOR_STALL:
                assert self.stalled
            elif alarm is Alarm.PUMP_FAULT:
                assert self.faulted
            self.alarms[alarm] = e.at_ms
            self.raised_at = e.at_ms
            self.tone_owed = True
        elif kind == "alarm_cleared":
            alarm = Alarm(e.get("alarm"))
            by = e.get("by")
            assert alarm in self.alarms
            ok = {
                Alarm.LOW_RESERVOIR: by == "refill" and self.reservoir > self.threshold,
                Alarm.EMPTY_RESERVOIR: by == "refill" and self.reservoir >= m.stroke_nl,
                Alarm.MOTOR_STALL: by == "clinician" and not self.stalled,
                Alarm.PUMP_FAULT: by == "clinician",
            }
            assert ok.get(alarm, False), f"{alarm} cleared by {by}"
            del self.alarms[alarm]
            if not self.alarms:
                self.next_tone = None

    def _tone(self, t: ToneSounded) -> None:
        assert t.at_ms == self.now
        assert self.raised_at == t.at_ms or t.at_ms == self.next_tone, f"tone at {t.at_ms} ms out of turn"
        assert list(t.alarms) == sorted(self.alarms), "the tone does not name the active alarms"
        critical = any(a in CRITICAL for a in self.alarms)
        assert t.tone is (Tone.TWO_TONE if critical else Tone.SINGLE), "the most severe alarm must set the tone"
        m = self.m
        self.next_tone = t.at_ms + (m.critical_tone_interval_ms if critical else m.noncritical_tone_interval_ms)
        self.tone_owed = False

    def _walk(self, actions: tuple | list, until: int) -> None:
        """Replay what the firmware reported, in order, up to `until`."""
        for a in actions:
            if isinstance(a, Delivery):
                self._delivery(a)
            elif isinstance(a, Logged):
                self._move(a.entry.at_ms)
                self._entry(a.entry)
            else:
                assert isinstance(a, ToneSounded)
                self._move(a.at_ms)
                self._tone(a)
        self._move(until)
        self._nothing_overdue()
        self.command_duration = None
        self.command_volume = None

    # ---------------------------------------------------------- commands

    def _send(self, command, refusal: str | None, apply=None, until_ms: int | None = None):
        """Send a command whose outcome the reference predicts: accepted (None) or refused with this code."""
        fw = self.fw
        before = fw.state.to_data() if refusal is not None else {}
        out = fw.handle(command)
        code = None if out.accepted else out.refusal.code
        assert code == refusal, f"{command!r}: expected {refusal or 'accepted'}, got {code} ({out.refusal})"
        if not out.accepted:
            self._check_refusal(command, out, before)
            if until_ms is not None:
                assert out.refusal.until_ms == until_ms
            self.command_duration = None
            self.command_volume = None
            return out
        assert fw.state.now_ms == self.now, "a command moved time"
        if apply is not None:
            apply()
        self._walk(out.actions, self.now)
        return out

    def _press_refusal_logged(self) -> tuple[bool, int]:
        """Whether a refused press is logged within the day's budget, and the count of unlogged ones it carries."""
        budget = self.refusal_budget
        if budget[1] == 0 or self.now - budget[0] >= MS_PER_DAY:
            budget[0], budget[1] = self.now, 0
        if budget[1] >= DEMAND_REFUSALS_LOGGED_PER_DAY:
            budget[2] += 1
            return False, 0
        budget[1] += 1
        carried, budget[2] = budget[2], 0
        return True, carried

    def _check_refusal(self, command, out, before: dict) -> None:
        """A refused command changes nothing but appending its own 'refused' log entry (within its budget)."""
        r = out.refusal
        assert r is not None and r.code and r.message
        assert type(r.code) is str and r.code in set(RefusalCode), f"refusal code {r.code!r} is not a RefusalCode"
        after = self.fw.state.to_data()
        log_before, log_after = before.pop("log"), after.pop("log")
        budgets_before, budgets_after = before.pop("rejections"), after.pop("rejections")
        assert after == before, f"refused {command!r} changed the state"
        assert budgets_after["telemetry"] == budgets_before["telemetry"]
        logged, carried = True, 0
        if isinstance(command, RequestDemandBolus):
            logged, carried = self._press_refusal_logged()
            assert budgets_after["demand"] == self.refusal_budget
        else:
            assert budgets_after["demand"] == budgets_before["demand"]
        if not logged:
            assert log_after == log_before and out.actions == (), "a refused press beyond the budget was logged"
            return
        assert log_after["next_seq"] == log_before["next_seq"] + 1
        kept_before, kept_after = log_before["entries"], log_after["entries"]
        assert kept_after[:-1] == kept_before[len(kept_before) + 1 - len(kept_after) :]
        last = LogEntry.from_data(kept_after[-1])
        assert last.kind == "refused" and last.get("code") == r.code
        assert last.get("command") == type(command).__name__
        assert last.get("unlogged_before", 0) == carried
        assert out.actions == (Logged(last),)

    def _blocker(self, kind: BolusKind, volume: int, duration: int) -> tuple[str | None, int | None]:
        """Why a bolus should be refused now in a mode that allows boluses (code and until), or (None, None)."""
        m = self.m
        if volume <= 0 or duration <= 0:
            return "bad_bolus", None
        if self.bolus is not None:
            _, vol, rate, done = self.bolus
            return "bolus_running", self.now + _ceil_div(vol * MS_PER_DAY - done, rate)
        if volume > self.reservoir:
            return "reservoir", None
        rate = _ceil_div(volume * MS_PER_DAY, duration)
        basal = 0 if kind in REPLACES_BASAL else self._max_basal()
        if rate > m.max_bolus_flow_nl_per_day - basal:
            return "bolus_too_fast", None
        return None, None

    @rule(
        volume=st.one_of(
            st.none(), st.none(), st.integers(0, 40_000_001), st.sampled_from([0, 100, 250, 2_000_000, 20_000_000])
        ),
        contents=st.sampled_from(CONTENTS),
        aspirated=st.one_of(st.none(), st.integers(0, 20_000_000)),
        threshold=st.one_of(st.none(), st.integers(0, 6_000_000)),
        bridge=st.booleans(),
    )
    def fill(
        self, volume: int | None, contents: tuple, aspirated: int | None, threshold: int | None, bridge: bool
    ) -> None:
        m = self.m
        if volume is None:
            volume = m.reservoir_nl
        new_threshold = self.threshold if threshold is None else threshold
        old = self.label
        drug_changed = bool(old) and (not contents or old[0][0] != contents[0][0])
        strength_changed = bool(old) and bool(contents) and not drug_changed and old[0][1] != contents[0][1]
        change = drug_changed or strength_changed
        programmed = self.doses is not None
        stronger_old = bool(contents) and (drug_changed or (strength_changed and contents[0][1] < old[0][1]))
        # After any earlier fill the tubing holds the old solution: a bridge with the old flows, or none.
        new_bridge = self.bridge
        if bridge and contents and change:
            new_bridge = [self.days if programmed else None, self._dead() * MS_PER_DAY, 0, old[0]]
        kept = (None, None, None) if drug_changed else (self.doses, self.plan, self.limits)
        code: str | None = None
        if volume > m.reservoir_nl:
            code = "over_capacity"
        elif volume > 0 and not contents:
            code = "no_contents"
        elif any(c <= 0 for _, c in contents):
            code = "bad_concentration"
        elif not m.low_reservoir_alarm_min_nl <= new_threshold <= m.low_reservoir_alarm_max_nl:
            code = "alarm_threshold"
        elif (flaw := _label_flaw(contents)) is not None:
            code = flaw
        elif contents and change and self.bridge is not None:
            code = "bridge_running"
        elif stronger_old and not bridge:
            code = "bridge_needed"
        else:
            code = self._settings_flaw(contents, *kept, new_bridge)

        def apply() -> None:
            if change and self.bolus is not None:
                self.expect_interrupt = (
                    "the fill changed the drug" if drug_changed else "the fill changed the concentration"
                )
            self.bridge = new_bridge
            self.label = contents
            if drug_changed:
                self.doses = None
                self.plan = None
                self.periodic_next_wall = None
                self.limits = None
            self.days = None
            if self.doses is not None and contents:
                self.days = _flows(self.doses, self._flow_concentration(contents, self.bridge))
            self.reservoir = volume
            self.filled = bool(contents)
            self.threshold = new_threshold

        self._send(Fill(volume, contents, aspirated, threshold, bridge), code, apply)
        self.expect_interrupt = None

    @rule(mg_per_ml=st.sampled_from([5, 10, 20]), dt=st.integers(1, 6 * MS_PER_DAY))
    def refill_with_a_bridge(self, mg_per_ml: int, dt: int) -> None:
        """A refill of morphine at another strength with a bridge, and time for the bridge to run or end."""
        self.fill(None, (("morphine", mg_per_ml * NL_PER_ML),), None, None, True)
        self.advance(dt)

    @rule(volume=st.one_of(st.integers(0, 800_000), st.sampled_from([-1, 0, 20_000_000, 20_000_001, 40_000_001])))
    def set_catheter(self, volume: int) -> None:
        ok = 0 <= volume <= self.m.reservoir_nl

        def apply() -> None:
            self.catheter = volume

        self._send(SetCatheter(volume), None if ok else "bad_catheter_volume", apply)

    @rule(threshold=st.integers(0, 6_000_000))
    def set_low_reservoir_alarm(self, threshold: int) -> None:
        m = self.m
        ok = m.low_reservoir_alarm_min_nl <= threshold <= m.low_reservoir_alarm_max_nl

        def apply() -> None:
            self.threshold = threshold

        self._send(SetLowReservoirAlarm(threshold), None if ok else "alarm_threshold", apply)

    @rule(days=week_days())
    def program(self, days: Days) -> None:
        """Program the doses that derive these flows at the label's concentration (a whole number of mg/mL)."""
        mg = self._mg_per_ml()
        doses = tuple(tuple((s, f * mg) for s, f in day) for day in days)
        code = self._refused_in(NO_SETTING)
        if code is not None:
            pass
        elif self.bolus is not None and self.bolus[0] not in REPLACES_BASAL:
            code = "bolus_running"
        else:
            code = self._settings_flaw(self.label, doses, self.plan, self.limits, self.bridge)

        def apply() -> None:
            self.doses = doses
            conc = self._flow_concentration(self.label, self.bridge)
            self.days = _flows(doses, conc)
            assert self.days == days or conc != self.label[0][1]
            self.stopped = False

        schedule = DoseSchedule(tuple(tuple(DoseStep(s, d) for s, d in day) for day in doses))
        self._send(Program(schedule), code, apply)

    @rule(
        kind=st.sampled_from([BolusKind.CLINICIAN, BolusKind.CLINICIAN, BolusKind.PRIMING, BolusKind.PRIMING]),
        dose=st.one_of(st.none(), st.tuples(bolus_volume, bolus_duration), feasible_bolus, feasible_bolus),
    )
    def bolus(self, kind: BolusKind, dose: tuple[int, int] | None) -> None:
        """A clinician bolus of the dose this volume holds at the label's concentration, or a priming bolus."""
        if dose is None:
            self.cancel_bolus()
            return
        volume, duration = dose
        until: int | None = None
        expected: int | None = None
        in_mode = self._refused_in(NO_BOLUS)
        if kind is BolusKind.PRIMING:
            command: object = PrimingBolus(volume, duration)
            expected = volume
            if in_mode is not None:
                code: str | None = in_mode
            elif volume > self._dead():
                code = "above_dead_volume"
            else:
                code, until = self._blocker(kind, volume, duration)
        else:
            dose_ng = volume * self._mg_per_ml()
            command = ClinicianBolus(dose_ng, duration)
            if in_mode is not None:
                code = in_mode
            elif dose_ng <= 0 or duration <= 0:
                code = "bad_bolus"
            else:
                expected = self._volume(dose_ng)
                if expected is None:
                    code = "bridge_running"
                elif expected <= 0:
                    code = "dose_too_small"
                else:
                    code, until = self._blocker(kind, expected, duration)
        self.command_duration = duration
        self.command_volume = expected
        out = self._send(command, code, until_ms=until)
        if out.accepted:
            assert expected is not None
            rate = _ceil_div(expected * MS_PER_DAY, duration)
            assert out.info["ends_ms"] == self.now + _ceil_div(expected * MS_PER_DAY, rate)

    def cancel_bolus(self) -> None:
        self._send(CancelBolus(), None if self.bolus is not None else "no_bolus")

    @rule(
        plan=st.one_of(
            st.none(),
            st.tuples(
                st.integers(-1, 200_000),
                st.integers(0, 6 * MS_PER_HOUR),
                # Intervals of milliseconds would start millions of boluses a day and stall the run, not test it.
                st.one_of(
                    st.just(0), st.integers(MS_PER_MIN, 2 * MS_PER_HOUR), st.integers(MS_PER_HOUR, 3 * MS_PER_DAY)
                ),
                st.integers(-3 * MS_PER_DAY, 3 * MS_PER_DAY),
            ),
            st.tuples(
                st.integers(1, 100_000),
                st.integers(MS_PER_MIN, MS_PER_HOUR),
                st.integers(MS_PER_HOUR, 2 * MS_PER_DAY),
                st.integers(-MS_PER_DAY, MS_PER_DAY),
            ),
        )
    )
    def periodic(self, plan: tuple[int, int, int, int] | None) -> None:
        wall = self.now + self.offset
        if plan is None:

            def off() -> None:
                self.plan = None
                self.periodic_next_wall = None

            self._send(SetPeriodicBolus(None), None, off)
            return
        volume, duration, interval, first_from_now = plan
        new_plan = PeriodicBolusPlan(volume * self._mg_per_ml(), duration, interval, wall + first_from_now)
        code: str | None = self._refused_in(NO_SETTING)
        if code is not None:
            pass
        elif interval < duration:
            code = "periodic_overlap"
        elif new_plan.dose_ng <= 0 or duration <= 0:
            code = "bad_bolus"
        else:
            code = self._settings_flaw(self.label, self.doses, new_plan, self.limits, self.bridge)

        def on() -> None:
            self.plan = new_plan
            nxt = new_plan.first_wall_ms
            if nxt < wall:
                nxt += _ceil_div(wall - nxt, interval) * interval
            self.periodic_next_wall = nxt

        self._send(SetPeriodicBolus(new_plan), code, on)

    @rule(
        limits=st.one_of(
            st.none(),
            st.builds(
                DemandLimits,
                st.integers(0, 200_000),
                st.integers(0, 2 * MS_PER_HOUR),
                st.integers(-1, 30 * MS_PER_HOUR),
                st.integers(0, 8),
            ),
            st.builds(
                DemandLimits,
                st.integers(1, 200_000),
                st.integers(5 * MS_PER_MIN, MS_PER_HOUR),
                st.integers(0, 4 * MS_PER_HOUR),
                st.integers(1, 8),
            ),
            st.builds(
                DemandLimits,
                st.integers(1, 200_000),
                st.integers(5 * MS_PER_MIN, MS_PER_HOUR),
                st.integers(20 * MS_PER_HOUR, 40 * MS_PER_HOUR),
                st.integers(1, 8),
            ),
        )
    )
    def demand_limits(self, limits: DemandLimits | None) -> None:
        """Demand settings whose dose is what the drawn volume holds at the label's concentration."""
        if limits is not None:
            limits = DemandLimits(
                limits.dose_ng * self._mg_per_ml(), limits.duration_ms, limits.lockout_ms, limits.max_per_24h
            )
        code: str | None = None
        if limits is None or (code := self._refused_in(NO_SETTING)) is not None:
            pass
        elif not (limits.max_per_24h >= 1 and limits.lockout_ms >= 0 and limits.dose_ng > 0 and limits.duration_ms > 0):
            code = "bad_demand_limits"
        else:
            code = self._settings_flaw(self.label, self.doses, self.plan, limits, self.bridge)

        def apply() -> None:
            self.limits = limits

        self._send(SetDemandLimits(limits), code, apply)

    @rule()
    def demand_request(self) -> None:
        limits = self.limits
        now = self.now
        code: str | None = None
        until: int | None = None
        status = self.fw.status()
        if limits is None:
            code = self._refused_in(NO_PRESS) or "demand_off"
            assert status["demand_next_allowed_wall_ms"] is None and status["demand_left_24h"] is None
        else:
            # A dose counts while any of it is delivered in the 24 h up to now: until 24 h after its end.
            recent_ends = [end for _, end, _, _ in self.demands if end > now - MS_PER_DAY]
            # The lockout holds from the last dose's start, and between the ends of the last dose and this one.
            lockout_end = now
            if self.demands:
                start, end, _, _ = self.demands[-1]
                lockout_end = max(start + limits.lockout_ms, end + limits.lockout_ms - limits.duration_ms)
            locked = lockout_end > now
            full = len(recent_ends) >= limits.max_per_24h
            allowed_at = max(
                now,
                lockout_end if locked else now,
                recent_ends[-limits.max_per_24h] + MS_PER_DAY if full else now,
            )
            bolus_end = None
            if self.bolus is not None:
                _, vol, rate, done = self.bolus
                bolus_end = now + _ceil_div(vol * MS_PER_DAY - done, rate)
            if (in_mode := self._refused_in(NO_PRESS)) is not None:
                code = in_mode
            elif bolus_end is not None and bolus_end > allowed_at:
                code, until = "bolus_running", bolus_end
            elif locked:
                code, until = "locked_out", allowed_at
            elif full:
                code, until = "daily_maximum", allowed_at
            else:
                volume = self._volume(limits.dose_ng)
                if volume is None:
                    code = "bridge_running"
                else:
                    code, until = self._blocker(BolusKind.DEMAND, volume, limits.duration_ms)
                self.command_volume = volume
            self.command_duration = limits.duration_ms
            # The patient's view and the pump's decision come from one computation: the window, and a running
            # bolus that holds the next dose back until it ends.
            next_allowed = allowed_at if until is None else max(allowed_at, until)
            assert status["demand_next_allowed_wall_ms"] == next_allowed + self.offset
            assert status["demand_left_24h"] == max(0, limits.max_per_24h - len(recent_ends))
        # The status answers a press now as the pump then does: why not, and until when.
        until_wall = None if until is None else until + self.offset
        expected = None if code is None else {"code": code, "until_wall_ms": until_wall}
        assert status["demand_not_now"] == expected, (status["demand_not_now"], expected)
        fw = self.fw
        before = fw.state.to_data() if code is not None else {}
        out = fw.handle(RequestDemandBolus())
        if out.accepted:
            assert limits is not None
            # The physician's limits hold for every dose the patient gets.
            for t, end, _, _ in self.demands:
                assert now - t >= limits.lockout_ms, f"demand dose at {now} ms within the lockout after {t} ms"
                assert now + limits.duration_ms - end >= limits.lockout_ms, "a dose ends within the lockout"
            in_window = [t for t, end, _, _ in self.demands if end > now - MS_PER_DAY]
            assert len(in_window) + 1 <= limits.max_per_24h, f"more than {limits.max_per_24h} doses in 24 h"
            self.demands.append((now, int(out.info["ends_ms"]), limits.lockout_ms, limits.max_per_24h))
            assert out.info["used_in_24h"] == len(in_window) + 1
        assert (None if out.accepted else out.refusal.code) == code, (code, out.refusal)
        if out.accepted:
            self._walk(out.actions, self.now)
        else:
            self._check_refusal(RequestDemandBolus(), out, before)
            if until is not None:
                assert out.refusal.until_ms == until
            self.command_duration = None
            self.command_volume = None

    @rule(action=st.sampled_from(["stop", "resume", "resume"]))
    def therapy(self, action: str) -> None:
        if action == "stop":

            def stop() -> None:
                self.stopped = True

            self._send(StopTherapy(), self._refused_in(NO_STOP), stop)
            assert self.bolus is None, "a bolus survived stopping therapy"
            return
        code = self._refused_in(NO_RESUME)

        def resume() -> None:
            self.stopped = False

        self._send(ResumeTherapy(), code, resume)

    @rule(
        event=st.sampled_from(["stall", "recover", "recover", "fault", "telemetry", "clock"]),
        detail=st.sampled_from(["MRI", "E01"]),
        shift=st.integers(-10 * MS_PER_DAY, 10 * MS_PER_DAY),
    )
    def device(self, event: str, detail: str, shift: int) -> None:
        if event == "telemetry":
            self.telemetry()
        elif event == "clock":
            self.set_clock(shift)
        elif event == "stall":

            def apply() -> None:
                self.stalled = True

            self._send(MotorStalled(detail), None, apply)
            assert self.bolus is None or self.bolus[0] in REPLACES_BASAL, "an added bolus survived a stall"
        elif event == "recover":

            def apply() -> None:
                self.stalled = False

            self._send(MotorRecovered(), None, apply)
        else:

            def apply() -> None:
                self.faulted = True

            self._send(ReportFault(detail), None, apply)
            assert self.bolus is None, "a bolus survived a fault"

    @rule(pick=st.integers(0, 30), role=st.sampled_from([Role.CLINICIAN, Role.CLINICIAN, Role.PTM, Role.PUMP]))
    def clear_alarm(self, pick: int, role: Role) -> None:
        active = sorted(self.alarms)
        alarm = active[pick % len(active)] if active and pick < 24 else list(Alarm)[pick % len(Alarm)]
        clinician_clearable = alarm in (Alarm.MOTOR_STALL, Alarm.PUMP_FAULT)
        if alarm not in self.alarms:
            code = "not_active"
        elif role is not Role.CLINICIAN or not clinician_clearable:
            code = "not_clearable"
        elif alarm is Alarm.MOTOR_STALL and self.stalled:
            code = "still_stalled"
        else:
            code = None

        def apply() -> None:
            if alarm is Alarm.PUMP_FAULT:
                self.faulted = False

        self._send(ClearAlarm(alarm, role), code, apply)

    def telemetry(self) -> None:
        def apply() -> None:
            self.battery += self.m.telemetry_session_charge_pc

        self._send(TelemetrySession(), None, apply)

    def set_clock(self, shift: int) -> None:
        wall = self.now + self.offset + shift

        def apply() -> None:
            self.offset = wall - self.now
            if self.plan is not None and self.periodic_next_wall is not None:
                nxt = self.plan.first_wall_ms
                if nxt < wall:
                    nxt += _ceil_div(wall - nxt, self.plan.interval_ms) * self.plan.interval_ms
                self.periodic_next_wall = nxt

        self._send(SetClock(wall), None, apply)

    @rule()
    def power_cycle(self) -> None:
        """The pump restarts from its non-volatile image and carries on."""
        state = round_trip(self.fw.state)
        self.fw = Firmware(self.m, FORMULARY, state)

    @rule(dt=time_step)
    def advance(self, dt: int) -> None:
        to = self.now + dt
        actions = self.fw.advance(to)
        assert self.fw.state.now_ms == to
        self._walk(actions, to)

    @rule(dt=st.integers(1, MS_PER_HOUR))
    def advance_a_little(self, dt: int) -> None:
        self.advance(dt)

    @rule(dt=st.integers(MS_PER_HOUR, 5 * MS_PER_DAY))
    def advance_a_lot(self, dt: int) -> None:
        self.advance(dt)

    @rule(dt=st.one_of(st.integers(1, 6 * MS_PER_HOUR), st.integers(6 * MS_PER_HOUR, 36 * MS_PER_HOUR)))
    def press_after(self, dt: int) -> None:
        """The patient presses again a little later."""
        self.advance(dt)
        self.demand_request()

    @rule(anchor=st.sampled_from(["lockout", "day", "first_in_day"]), jitter=st.integers(-1, 1))
    def press_at_a_limit(self, anchor: str, jitter: int) -> None:
        """The patient presses again right at a limit: the end of the lockout or 24 h after a dose ended."""
        if self.limits is not None and self.demands:
            if anchor == "lockout":
                t = self.demands[-1][0] + self.limits.lockout_ms + jitter
            elif anchor == "day":
                t = self.demands[-1][1] + MS_PER_DAY + jitter
            else:
                recent = [end for _, end, _, _ in self.demands if end > self.now - MS_PER_DAY]
                t = (recent[0] if recent else self.now) + MS_PER_DAY + jitter
            if t > self.now:
                self.advance(t - self.now)
        self.demand_request()

    # -------------------------------------------------------- invariants

    def _counters(self) -> tuple[int, ...]:
        s = self.fw.state
        return (s.now_ms, s.strokes_total, s.fills_total, s.log.next_seq, s.battery_used_pc)

    @invariant()
    def reservoir_within_capacity(self) -> None:
        s = self.fw.state
        assert 0 <= s.reservoir_nl <= self.m.reservoir_nl

    @invariant()
    def reference_agrees(self) -> None:
        s = self.fw.state
        assert s.now_ms == self.now
        status = self.fw.status()
        assert self.fw.mode() == status["mode"] == self._modes()[0]
        assert isinstance(self.fw.mode(), PumpMode)
        assert s.periodic_skipped == self.skipped
        assert status["demand_refusals_unlogged"] == self.refusal_budget[2]
        assert s.reservoir_nl == self.reservoir
        assert s.strokes_total == self.strokes
        assert s.battery_used_pc == self.battery
        assert s.alarms == self.alarms
        assert s.eri_at_ms == self.eri_at and s.end_of_service == self.eos
        assert tuple((e.drug, e.concentration_ng_per_ml) for e in s.label) == self.label
        assert (None if s.prescription is None else s.prescription.to_data()) == (
            None if self.doses is None else [[list(step) for step in day] for day in self.doses]
        )
        assert (s.bridge is None) == (self.bridge is None)
        if s.bridge is not None:
            assert (s.bridge.total, s.bridge.done) == (self.bridge[1], self.bridge[2])
        assert s.periodic == self.plan and s.demand_limits == self.limits
        assert (s.bolus is None) == (self.bolus is None)
        if s.bolus is not None:
            assert (s.bolus.kind, s.bolus.volume_nl, s.bolus.rate_nl_per_day, s.bolus.done) == tuple(self.bolus)

    @invariant()
    def delivered_volume_is_the_flow_integral(self) -> None:
        s = self.fw.state
        # Delivered strokes lag the integral of the flow by less than one stroke.
        assert 0 <= self.integral - s.strokes_total * self.unit < self.unit
        assert self.integral - s.strokes_total * self.unit == s.phase

    @invariant()
    def demand_doses_within_limits(self) -> None:
        for i, (t, _, lockout, most) in enumerate(self.demands):
            # Every dose of which some is delivered in the 24 h up to this one's start counts.
            window = [u for u, end, _, _ in self.demands[: i + 1] if end > t - MS_PER_DAY]
            assert len(window) <= most
            if i:
                assert t - self.demands[i - 1][0] >= lockout

    @invariant()
    def log_chain_verifies_and_grows(self) -> None:
        log = self.fw.state.log
        assert log.verify()
        seqs = [e.seq for e in log]
        assert seqs == list(range(log.next_seq - len(seqs), log.next_seq))
        assert log.next_seq >= self.seen_seq
        self.seen_seq = log.next_seq

    @invariant()
    def state_round_trips_through_nvm(self) -> None:
        s = self.fw.state
        restored = round_trip(s)
        assert restored.to_data() == s.to_data()

    @invariant()
    def counters_never_go_back(self) -> None:
        now = self._counters()
        assert all(a <= b for a, b in zip(self.counters, now, strict=True)), (self.counters, now)
        self.counters = now


def _first_schedule_flaw(m: PumpModel, days: Days) -> str | None:
    for day in days:
        if len(day) > m.max_steps_per_day:
            return "too_many_steps"
        for _, f in day:
            if f < m.min_programmable_flow_nl_per_day:
                return "below_minimum_flow"
            if f > m.max_continuous_flow_nl_per_day:
                return "above_maximum_flow"
    return None


FirmwareMachine.TestCase.settings = settings(
    max_examples=130,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestFirmwareMachine = FirmwareMachine.TestCase
TestFirmwareMachine.__doc__ = "Random commands and time steps never break the firmware's invariants."
