"""The scenario runner: turns a checked scenario into commands and drives a virtual pump through it.

Running has two stages. `plan` walks the timeline once, converting doses to
volumes with the concentration the clinician believes is in the pump, and
checks every value against the pump's and the drug's hard limits: if
anything is wrong it raises before a single command runs. `run` then drives
the virtual pump through the public doors only (the firmware's commands and
the hardware's fault switches) and records what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from thecal.drugs import PHYSICIAN, Override, check_daily_dose, get_drug
from thecal.errors import InputError
from thecal.pump.core import (
    Alarm,
    BolusKind,
    ClearAlarm,
    DemandLimits,
    Fill,
    Outcome,
    PeriodicBolusPlan,
    Program,
    ReportFault,
    RequestDemandBolus,
    ResumeTherapy,
    Role,
    SetDemandLimits,
    SetLowReservoirAlarm,
    SetPeriodicBolus,
    StartBolus,
    Step,
    StopTherapy,
    WeekSchedule,
)
from thecal.pump.core.actions import Refusal
from thecal.pump.core.limits import fill_refusal, schedule_refusal, threshold_refusal
from thecal.pump.device import VirtualPump
from thecal.pump.hardware.catheter import CatheterFault
from thecal.pump.model import PumpModel, load_model
from thecal.sim.record import Recorder, SimulationResult
from thecal.sim.scenario import Amount, Event, FlexStep, Rate, Scenario
from thecal.units import MS_PER_DAY, NL_PER_ML, format_dose_rate

Contents = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class PlannedStep:
    """One thing to do to the pump at a time, made from a timeline event."""

    at_ms: int
    event: Event
    apply: Callable[[Context], Outcome | None]


@dataclass
class Context:
    """What the steps act on while a scenario runs."""

    pump: VirtualPump
    recorder: Recorder
    dead_volume_nl: int


@dataclass
class _Belief:
    """What the clinician believes is in the pump and prescribed, as the timeline goes on."""

    contents: Contents = ()
    dose_steps: tuple[FlexStep, ...] | None = None
    drug: str | None = None
    ever_filled: bool = False


@dataclass
class Planner:
    """Turns a scenario into planned steps, refusing bad input on the way."""

    scenario: Scenario
    model: PumpModel
    steps: list[PlannedStep] = field(default_factory=list)
    belief: _Belief = field(default_factory=_Belief)

    @property
    def dead_volume_nl(self) -> int:
        """The pump's internal tubing plus the catheter lumen."""
        return self.model.internal_volume_nl + self.scenario.catheter_volume_nl

    def plan(self) -> list[PlannedStep]:
        """Every step of the scenario in time order."""
        if self.scenario.low_reservoir_alarm_nl is not None:
            _refuse_input(
                threshold_refusal(self.model, self.scenario.low_reservoir_alarm_nl), "pump.low_reservoir_alarm"
            )
        for event in self.scenario.timeline:
            getattr(self, f"_{event.action}")(event)
        return self.steps

    def _add(self, event: Event, apply: Callable[[Context], Outcome | None], at_ms: int | None = None) -> None:
        self.steps.append(PlannedStep(event.at_ms if at_ms is None else at_ms, event, apply))

    # -------------------------------------------------------------- reservoir

    def _fill(self, e: Event) -> None:
        contents = e.params["contents"]
        for drug, _ in contents:
            get_drug(drug)
        threshold = e.params.get("low_reservoir_alarm_nl", self.scenario.low_reservoir_alarm_nl)
        fill = Fill(e.params["volume_nl"], contents, None, threshold)
        _refuse_input(fill_refusal(self.model, fill), e.where)
        self.belief.contents = contents
        self.belief.ever_filled = True
        self._add(e, lambda c: c.pump.refill(fill, aspirated_nl=0)[1])

    def _refill(self, e: Event) -> None:
        if not self.belief.ever_filled:
            raise InputError(e.where, e.params["_at_text"], "refills a pump never filled", 'use action = "fill" first')
        injected: Contents = e.params["contents"]
        for drug, _ in injected:
            get_drug(drug)
        told = injected
        if "programmed_concentration_ng_per_ml" in e.params:
            told = ((injected[0][0], e.params["programmed_concentration_ng_per_ml"]),)
        threshold = e.params.get("low_reservoir_alarm_nl")
        fill = Fill(e.params["volume_nl"], told, None, threshold)
        _refuse_input(fill_refusal(self.model, fill), e.where)
        self.belief.contents = told
        bridge = e.params["bridge"]
        new_flows = None
        if bridge:
            if self.belief.dose_steps is None:
                raise InputError(
                    f"{e.where}.bridge",
                    True,
                    "a bridge bolus needs a therapy programmed as a dose",
                    "program a dose (not a flow) before this refill",
                )
            new_flows = self._schedule(self.belief.dose_steps, e, self.belief.drug)
        aspirated = e.params.get("aspirated_nl")
        pocket = e.params["pocket_fill"]

        def apply(c: Context) -> Outcome:
            old_flow = c.pump.firmware.status()["basal_flow_nl_per_day"]
            drawn, outcome = c.pump.refill(fill, injected_contents=injected, aspirated_nl=aspirated, pocket_fill=pocket)
            c.recorder.refill(c.pump, e, outcome, drawn)
            if new_flows is not None and outcome.accepted:
                c.recorder.outcome(e, c.pump.command(Program(new_flows)))
                if isinstance(old_flow, int) and old_flow > 0:
                    duration = -(-c.dead_volume_nl * MS_PER_DAY // old_flow)
                    return c.pump.command(StartBolus(BolusKind.BRIDGE, c.dead_volume_nl, duration))
            return outcome

        self._add(e, apply)

    def _prime(self, e: Event) -> None:
        volume = e.params.get("volume_nl", self.dead_volume_nl)
        fastest = -(-volume * MS_PER_DAY // self.model.max_bolus_flow_nl_per_day)
        duration = e.params.get("duration_ms", fastest)
        self._add(e, lambda c: c.pump.command(StartBolus(BolusKind.PRIMING, volume, duration)))

    def _low_reservoir_alarm(self, e: Event) -> None:
        threshold = e.params["threshold_nl"]
        _refuse_input(threshold_refusal(self.model, threshold), e.where)
        self._add(e, lambda c: c.pump.command(SetLowReservoirAlarm(threshold)))

    # ---------------------------------------------------------------- therapy

    def _drug_of(self, e: Event, named: str | None) -> tuple[str, int]:
        if not self.belief.contents:
            raise InputError(e.where, e.params["_at_text"], "doses a pump with no drug in it", "fill the pump first")
        if named is None:
            return self.belief.contents[0]
        for drug, conc in self.belief.contents:
            if drug == named.lower():
                return drug, conc
        raise InputError(f"{e.where}.drug", named, "is not in the pump", "name a drug of the last fill")

    def _schedule(self, steps: tuple[FlexStep, ...], e: Event, drug_name: str | None) -> WeekSchedule:
        drug, conc = self._drug_of(e, drug_name) if any(s.rate.dose_ng_per_day is not None for s in steps) else ("", 0)
        days: list[list[Step]] = [[] for _ in range(7)]
        for i, step in enumerate(steps):
            flow = self._flow(step.rate, e, f"{e.where}.steps[{i}]", drug, conc)
            for d in step.days:
                days[d].append(Step(step.start_ms, flow))
        for d, day in enumerate(days):
            day.sort(key=lambda s: s.start_ms)
            if not day or day[0].start_ms != 0:
                raise InputError(
                    f"{e.where}.steps", d, "leaves the start of a day without a rate", 'give each day a step at "00:00"'
                )
        try:
            schedule = WeekSchedule(tuple(tuple(day) for day in days))
        except ValueError as exc:
            raise InputError(f"{e.where}.steps", None, str(exc), "fix the step times") from None
        _refuse_input(schedule_refusal(self.model, schedule), e.where)
        return schedule

    def _flow(self, rate: Rate, e: Event, where: str, drug: str, conc: int) -> int:
        if rate.flow_nl_per_day is not None:
            return rate.flow_nl_per_day
        dose = rate.dose_ng_per_day
        assert dose is not None
        reason = e.params.get("override_reason")
        override = Override(PHYSICIAN, reason) if reason else None
        verdict = check_daily_dose(get_drug(drug), dose, opioid_naive=self.scenario.opioid_naive, override=override)
        blocking = [f for f in verdict.findings if f.blocking]
        if blocking:
            finding = blocking[0]
            raise InputError(f"{where}.dose", format_dose_rate(dose), finding.message, finding.action, finding.limit)
        # Rounded down, like the calculators: the pump never gives more than prescribed.
        return dose * NL_PER_ML // conc

    def _program(self, e: Event) -> None:
        steps: tuple[FlexStep, ...] = e.params["steps"]
        schedule = self._schedule(steps, e, e.params.get("drug"))
        doses = all(s.rate.dose_ng_per_day is not None for s in steps)
        self.belief.dose_steps = steps if doses else None
        self.belief.drug = e.params.get("drug")
        self._add(e, lambda c: c.pump.command(Program(schedule)))

    def _volume(self, amount: Amount, e: Event, named: str | None) -> int:
        if amount.volume_nl is not None:
            return amount.volume_nl
        _, conc = self._drug_of(e, named)
        assert amount.mass_ng is not None
        return amount.mass_ng * NL_PER_ML // conc

    def _bolus(self, e: Event) -> None:
        volume = self._volume(e.params["amount"], e, e.params.get("drug"))
        command = StartBolus(BolusKind.CLINICIAN, volume, e.params["duration_ms"])
        self._add(e, lambda c: c.pump.command(command))

    def _periodic_bolus(self, e: Event) -> None:
        if e.params["off"]:
            self._add(e, lambda c: c.pump.command(SetPeriodicBolus(None)))
            return
        volume = self._volume(e.params["amount"], e, e.params.get("drug"))
        first_of_day = e.params["first_ms"]
        duration, every = e.params["duration_ms"], e.params["every_ms"]

        def apply(c: Context) -> Outcome:
            wall = c.pump.firmware.state.wall_ms
            first = wall - wall % MS_PER_DAY + first_of_day
            return c.pump.command(SetPeriodicBolus(PeriodicBolusPlan(volume, duration, every, first)))

        self._add(e, apply)

    def _demand_settings(self, e: Event) -> None:
        volume = self._volume(e.params["amount"], e, e.params.get("drug"))
        limits = DemandLimits(volume, e.params["duration_ms"], e.params["lockout_ms"], e.params["max_per_day"])
        self._add(e, lambda c: c.pump.command(SetDemandLimits(limits)))

    def _ptm_press(self, e: Event) -> None:
        def press(c: Context) -> Outcome:
            outcome = c.pump.command(RequestDemandBolus())
            c.recorder.press(c.pump.now_ms, outcome)
            return outcome

        if "every_ms" not in e.params:
            self._add(e, press)
            return
        t = e.at_ms
        while t <= min(e.params["until_ms"], self.scenario.duration_ms):
            self._add(e, press, at_ms=t)
            t += e.params["every_ms"]

    def _stop(self, e: Event) -> None:
        self._add(e, lambda c: c.pump.command(StopTherapy()))

    def _resume(self, e: Event) -> None:
        self._add(e, lambda c: c.pump.command(ResumeTherapy()))

    def _clear_alarm(self, e: Event) -> None:
        try:
            alarm = Alarm(e.params["alarm"])
        except ValueError:
            raise InputError(
                f"{e.where}.alarm", e.params["alarm"], "is not an alarm", f"use one of: {', '.join(a for a in Alarm)}"
            ) from None
        self._add(e, lambda c: c.pump.command(ClearAlarm(alarm, Role.CLINICIAN)))

    # ------------------------------------------------------------ the bench

    def _mri(self, e: Event) -> None:
        delay = e.params["recovery_delay_ms"]
        self._add(e, lambda c: c.pump.magnetic_field(True))
        self._add(
            e, lambda c: c.pump.magnetic_field(False, recovery_delay_ms=delay), at_ms=e.at_ms + e.params["duration_ms"]
        )

    def _fault(self, e: Event) -> None:
        kind = e.params["kind"]
        on, off = _FAULT_SWITCHES[kind](e.params.get("fraction", 0.0))
        self._add(e, on)
        if "duration_ms" in e.params and off is not None:
            self._add(e, off, at_ms=e.at_ms + e.params["duration_ms"])


def _catheter_switch(
    fault: CatheterFault,
) -> Callable[[float], tuple[Callable[[Context], None], Callable[[Context], None]]]:
    def make(fraction: float) -> tuple[Callable[[Context], None], Callable[[Context], None]]:
        return (
            lambda c: c.pump.catheter_fault(fault, fraction),
            lambda c: c.pump.catheter_fault(CatheterFault.NONE),
        )

    return make


def _over_infusion(fraction: float) -> tuple[Callable[[Context], None], Callable[[Context], None]]:
    def on(c: Context) -> None:
        c.pump.motor.over_infusion = fraction

    def off(c: Context) -> None:
        c.pump.motor.over_infusion = 0.0

    return on, off


_FAULT_SWITCHES: dict[str, Callable[[float], tuple[Callable[[Context], Any], Callable[[Context], Any] | None]]] = {
    "occlusion": _catheter_switch(CatheterFault.OCCLUSION),
    "leak": _catheter_switch(CatheterFault.LEAK),
    "disconnection": _catheter_switch(CatheterFault.DISCONNECTION),
    "motor_stall": lambda _: (lambda c: c.pump.motor_fault(True), lambda c: c.pump.motor_fault(False)),
    "over_infusion": _over_infusion,
    "pump_fault": lambda _: (lambda c: c.pump.command(ReportFault("injected")), None),
}


def _refuse_input(refusal: Refusal | None, where: str) -> None:
    if refusal is None:
        return
    raise InputError(
        f"{where}: {refusal.field}" if refusal.field else where,
        refusal.value,
        refusal.message,
        "correct the value; the pump would refuse it",
        limit=refusal.limit or None,
    )


def run(scenario: Scenario) -> SimulationResult:
    """Plan, check and run a scenario; return what happened."""
    model = load_model(scenario.model)
    planner = Planner(scenario, model)
    steps = sorted(planner.plan(), key=lambda s: (s.at_ms, s.event.index))
    recorder = Recorder(scenario, model)
    pump = VirtualPump(
        model,
        catheter_volume_nl=scenario.catheter_volume_nl,
        seed=scenario.seed,
        wall_ms=scenario.start_wall_ms,
        accuracy_error=scenario.accuracy_error,
        on_delivery=recorder.delivery,
    )
    recorder.attach(pump)
    context = Context(pump, recorder, planner.dead_volume_nl)
    samples = iter(range(0, scenario.duration_ms + 1, scenario.sample_ms))
    next_sample = next(samples, None)
    for step in [*steps, None]:
        until = scenario.duration_ms if step is None else step.at_ms
        while next_sample is not None and next_sample <= until:
            pump.advance(next_sample)
            recorder.sample(pump)
            next_sample = next(samples, None)
        pump.advance(until)
        if step is not None:
            outcome = step.apply(context)
            if isinstance(outcome, Outcome):
                recorder.outcome(step.event, outcome)
    return recorder.finish(pump)
