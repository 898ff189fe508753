"""The scenario runner: a timeline played out on a virtual pump through the therapy layer.

Every clinical entry of the timeline (fill, refill, prime, program, bolus,
PTM settings, presses, stop, resume, alarms) becomes a therapy intent that the
`TherapyService` plans and sends over a `DirectPort`, exactly as the command
line does over telemetry: the same limits, the same words. The bench entries
(MRI, faults) act on the virtual hardware directly.

A plan refused for a limit is a mistake in the scenario file: the run stops
with an `InputError` naming the timeline entry, the field, the value, the
limit and what to do, and nothing is written. What depends on the pump's
state as it runs — a refill flagged by the reconciliation, a bolus while
another runs, a press during the lockout — is an outcome, recorded in the
result like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from thecal.drugs import Fill as DrugFill
from thecal.drugs import pump_formulary
from thecal.drugs.verdict import Finding, StaffRole
from thecal.errors import InputError
from thecal.pump.core import Alarm, Outcome, ReportFault
from thecal.pump.core import Fill as FillCommand
from thecal.pump.core.refusals import RefusalCode
from thecal.pump.core.schedule import DoseSchedule, DoseStep
from thecal.pump.device import DeliveryRecord, VirtualPump
from thecal.pump.hardware.catheter import CatheterFault
from thecal.pump.model import load_model
from thecal.sim.patient_link import PatientLink, PressAnswer
from thecal.sim.record import Recorder, SimulationResult
from thecal.sim.scenario import Amount, Event, FlexStep, Rate, Scenario, timeline_time
from thecal.therapy import (
    Actor,
    ClearAlarm,
    ClinicianBolus,
    DemandPress,
    DirectPort,
    Execution,
    FirstFill,
    Implant,
    Intent,
    LowReservoirAlarm,
    PatientFacts,
    PeriodicBolus,
    PeriodicBolusOff,
    Plan,
    Prescribe,
    PrimingBolus,
    PtmOff,
    PtmSettings,
    PumpSnapshot,
    Refill,
    ResumeTherapy,
    StopTherapy,
    TherapyService,
)
from thecal.units import NL_PER_ML

# Refusals that come from the pump's state as the run goes on, not from a mistake in the file.
RUNTIME_CODES = frozenset(
    {
        RefusalCode.BOLUS_RUNNING,
        RefusalCode.MOTOR_STALL,
        RefusalCode.STILL_STALLED,
        RefusalCode.STOPPED,
        RefusalCode.ALREADY_STOPPED,
        RefusalCode.NOT_STOPPED,
        RefusalCode.END_OF_SERVICE,
        RefusalCode.FAULT,
        RefusalCode.RESERVOIR,
        RefusalCode.NOT_ACTIVE,
        RefusalCode.NOT_CLEARABLE,
        RefusalCode.NO_BOLUS,
        "refill_discrepancy",  # the therapy layer's reconciliation flag (therapy/handlers/fills.py)
    }
)
PATIENT = Actor("patient", StaffRole.PATIENT)


@dataclass
class Syringe:
    """What the next fill really holds and where it goes: a concentration mix-up or a pocket fill."""

    contents: tuple[tuple[str, int], ...] | None = None
    aspirated_nl: float | None = None
    pocket_fill: bool = False

    def fill(self, pump: VirtualPump, command: FillCommand) -> Outcome:
        """Aspirate, inject and tell the firmware; the firmware is told what the label says."""
        _, outcome = pump.refill(
            command, injected_contents=self.contents, aspirated_nl=self.aspirated_nl, pocket_fill=self.pocket_fill
        )
        return outcome


@dataclass(frozen=True)
class Step:
    """One thing to do at a time, made from a timeline event."""

    at_ms: int
    event: Event
    act: Callable[[ScenarioRun, Event], None]


@dataclass
class ScenarioRun:
    """A scenario being played out: the pump, the therapy service, the syringe and the record."""

    scenario: Scenario
    pump: VirtualPump
    service: TherapyService
    syringe: Syringe
    recorder: Recorder
    clinician: Actor = field(default_factory=lambda: Actor("scenario clinician", StaffRole.PHYSICIAN))
    patient: PatientLink | None = None

    def snapshot(self) -> PumpSnapshot:
        """The pump as the programmer reads it now."""
        return self.service.port.interrogate()

    def therapy(self, event: Event, intent: Intent, actor: Actor | None = None) -> tuple[Plan, Execution | None]:
        """Plan an intent, refuse the file if a limit stops it, else send it and record what happened."""
        who = actor or self.clinician
        plan = self.service.plan(intent, who)
        self.recorder.warnings(event, self.pump.now_ms, plan)
        if not plan.allowed:
            blocking = [f for f in plan.findings if f.blocking]
            mistakes = [f for f in blocking if f.code not in RUNTIME_CODES]
            if mistakes and not isinstance(intent, DemandPress):
                raise _input_error(event, mistakes[0])
            self.recorder.stopped(event, self.pump.now_ms, blocking[0])
            return plan, None
        execution = self.service.execute(plan, who, confirmed=True)
        if execution.refusal is not None:
            self.recorder.stopped(event, self.pump.now_ms, execution.refusal)
        return plan, execution


def _input_error(event: Event, finding: Finding) -> InputError:
    return finding.input_error(where=event.where, how_to_pass='with override_reason = "…"')


# ------------------------------------------------------------------ entries to intents


def lead_drug(run: ScenarioRun, event: Event) -> tuple[str, int]:
    """The fill's lead drug and its concentration, in which an entry's doses are programmed."""
    label = run.snapshot().label
    if not label:
        raise InputError(
            event.where, event.params["_at_text"], "doses a pump with no drug in it", "fill the pump first"
        )
    named = event.params.get("drug")
    drug, concentration = label[0]
    if named is not None and str(named).lower() != drug:
        raise InputError(
            f"{event.where}.drug",
            named,
            f"is not the lead drug of the fill ({drug}): doses are programmed in the lead drug",
            f'name "{drug}" or leave drug out',
        )
    return drug, concentration


def _dose_per_day(rate: Rate, concentration: int) -> int:
    if rate.dose_ng_per_day is not None:
        return rate.dose_ng_per_day
    assert rate.flow_nl_per_day is not None  # the scenario reader guarantees one of the two
    # A flow typed as a flow is the dose it carries at the label's concentration, rounded down.
    return rate.flow_nl_per_day * concentration // NL_PER_ML


def _mass(amount: Amount, concentration: int) -> int:
    if amount.mass_ng is not None:
        return amount.mass_ng
    assert amount.volume_nl is not None
    return amount.volume_nl * concentration // NL_PER_ML


def dose_schedule(steps: tuple[FlexStep, ...], concentration: int, event: Event) -> DoseSchedule:
    """A scenario's flex steps as the week of doses the therapy layer prescribes."""
    days: list[list[DoseStep]] = [[] for _ in range(7)]
    for step in steps:
        for d in step.days:
            days[d].append(DoseStep(step.start_ms, _dose_per_day(step.rate, concentration)))
    for d, day in enumerate(days):
        day.sort(key=lambda s: s.start_ms)
        if not day or day[0].start_ms != 0:
            raise InputError(
                f"{event.where}.steps", d, "leaves the start of a day without a rate", 'give each day a step at "00:00"'
            )
    try:
        return DoseSchedule(tuple(tuple(day) for day in days))
    except ValueError as exc:
        raise InputError(f"{event.where}.steps", None, str(exc), "fix the step times") from None


def _fill(run: ScenarioRun, e: Event) -> None:
    intent = FirstFill(
        e.params["volume_nl"],
        DrugFill.of(*e.params["contents"]),
        e.params.get("low_reservoir_alarm_nl"),
        override_reason=e.params.get("override_reason"),
    )
    run.therapy(e, intent)


def _refill(run: ScenarioRun, e: Event) -> None:
    injected = e.params["contents"]
    told = injected
    if "programmed_concentration_ng_per_ml" in e.params:
        told = ((injected[0][0], e.params["programmed_concentration_ng_per_ml"]),)
    # The nurse aspirates what the reservoir really holds, unless the scenario says how much came back.
    aspirated = e.params.get("aspirated_nl", round(run.pump.reservoir.volume_nl))
    run.syringe.contents = injected
    run.syringe.aspirated_nl = aspirated
    run.syringe.pocket_fill = e.params["pocket_fill"]
    new_prescription = None
    if "steps" in e.params:
        new_prescription = dose_schedule(e.params["steps"], told[0][1], e)
    intent = Refill(
        e.params["volume_nl"],
        DrugFill.of(*told),
        aspirated,
        bridge=e.params["bridge"],
        new_prescription=new_prescription,
        low_reservoir_alarm_nl=e.params.get("low_reservoir_alarm_nl"),
        discrepancy_acknowledged=e.params["discrepancy_acknowledged"],
        override_reason=e.params.get("override_reason"),
    )
    expected = run.snapshot().reservoir_nl
    try:
        plan, execution = run.therapy(e, intent)
    finally:
        run.syringe.contents, run.syringe.aspirated_nl, run.syringe.pocket_fill = None, None, False
    run.recorder.refill(e, run.pump.now_ms, expected, aspirated, plan, execution)


def _prime(run: ScenarioRun, e: Event) -> None:
    run.therapy(e, PrimingBolus(e.params.get("volume_nl"), e.params.get("duration_ms")))


def _program(run: ScenarioRun, e: Event) -> None:
    _, concentration = lead_drug(run, e)
    doses = dose_schedule(e.params["steps"], concentration, e)
    run.therapy(e, Prescribe(doses, override_reason=e.params.get("override_reason")))


def _bolus(run: ScenarioRun, e: Event) -> None:
    _, concentration = lead_drug(run, e)
    dose = _mass(e.params["amount"], concentration)
    run.therapy(e, ClinicianBolus(dose, e.params["duration_ms"], override_reason=e.params.get("override_reason")))


def _periodic_bolus(run: ScenarioRun, e: Event) -> None:
    if e.params["off"]:
        run.therapy(e, PeriodicBolusOff())
        return
    _, concentration = lead_drug(run, e)
    intent = PeriodicBolus(
        _mass(e.params["amount"], concentration),
        e.params["duration_ms"],
        e.params["every_ms"],
        e.params["first_ms"],
        override_reason=e.params.get("override_reason"),
    )
    run.therapy(e, intent)


def _demand_settings(run: ScenarioRun, e: Event) -> None:
    if e.params["off"]:
        run.therapy(e, PtmOff())
        return
    _, concentration = lead_drug(run, e)
    intent = PtmSettings(
        _mass(e.params["amount"], concentration),
        e.params["duration_ms"],
        e.params["lockout_ms"],
        e.params["max_per_day"],
        override_reason=e.params.get("override_reason"),
    )
    run.therapy(e, intent)


def _ptm_press(run: ScenarioRun, e: Event) -> None:
    _press(run, e)


def _press(run: ScenarioRun, e: Event) -> PressAnswer:
    # The dose a press gives is the pump's demand dose of its lead drug, as it holds them before the press: read
    # from the simulated pump itself, as the recorder reads what it delivers (a handset's view does not show it).
    state = run.pump.firmware.state
    before = state.demand_limits, state.label
    plan, execution = run.therapy(e, DemandPress(), PATIENT)
    demand, label = before
    if execution is not None and execution.refusal is None and demand is not None and label:
        run.recorder.dose_given(label[0].drug, demand.dose_ng)
        return PressAnswer("given")
    blocking = [f for f in plan.findings if f.blocking]
    refusal = execution.refusal if execution is not None else None
    code = (refusal or blocking[0]).code if (refusal or blocking) else "unknown"
    run.recorder.press_refused(code)
    return press_answer(run, code)


def press_answer(run: ScenarioRun, code: str) -> PressAnswer:
    """What the handset tells the patient after a refused press: a lockout until a time, the daily maximum, or no."""
    view = run.service.port.patient_view()
    until = view.demand_not_now_until_wall_ms or view.demand_next_allowed_wall_ms
    until_ms = None if until is None else until - view.wall_ms + run.pump.now_ms
    if code == RefusalCode.DAILY_MAXIMUM:
        return PressAnswer("daily_max", until_ms)
    if code == RefusalCode.LOCKED_OUT:
        return PressAnswer("locked_out", until_ms)
    return PressAnswer("refused", until_ms)


def patient_tick(run: ScenarioRun, e: Event) -> None:
    """Advance the run's virtual patient to now; a press it decides on goes through the therapy layer."""
    assert run.patient is not None  # ticks are made only for a run with a patient
    run.patient.tick(run.pump.now_ms, lambda: _press(run, e))


def _simple(intent: Callable[[Event], Intent]) -> Callable[[ScenarioRun, Event], None]:
    def act(run: ScenarioRun, e: Event) -> None:
        run.therapy(e, intent(e))

    return act


def _clear_alarm(e: Event) -> Intent:
    try:
        return ClearAlarm(Alarm(e.params["alarm"]))
    except ValueError:
        raise InputError(
            f"{e.where}.alarm", e.params["alarm"], "is not an alarm", f"use one of: {', '.join(a for a in Alarm)}"
        ) from None


_THERAPY: dict[str, Callable[[ScenarioRun, Event], None]] = {
    "fill": _fill,
    "refill": _refill,
    "prime": _prime,
    "program": _program,
    "bolus": _bolus,
    "periodic_bolus": _periodic_bolus,
    "demand_settings": _demand_settings,
    "ptm_press": _ptm_press,
    "stop": _simple(lambda e: StopTherapy()),
    "resume": _simple(lambda e: ResumeTherapy()),
    "clear_alarm": _simple(_clear_alarm),
    "low_reservoir_alarm": _simple(lambda e: LowReservoirAlarm(e.params["threshold_nl"])),
}


# ------------------------------------------------------------------------ the bench


def _bench_steps(e: Event) -> list[Step]:
    if e.action == "mri":
        delay = e.params["recovery_delay_ms"]
        return [
            Step(e.at_ms, e, lambda r, _: r.pump.magnetic_field(True)),
            Step(
                e.at_ms + e.params["duration_ms"],
                e,
                lambda r, _: r.pump.magnetic_field(False, recovery_delay_ms=delay),
            ),
        ]
    on, off = _FAULT_SWITCHES[e.params["kind"]](e.params.get("fraction", 0.0))
    steps = [Step(e.at_ms, e, lambda r, _: on(r))]
    if "duration_ms" in e.params and off is not None:
        steps.append(Step(e.at_ms + e.params["duration_ms"], e, lambda r, _: off(r)))
    return steps


def _catheter_switch(fault: CatheterFault) -> Callable[[float], tuple[Callable[[ScenarioRun], Any], Any]]:
    def make(fraction: float) -> tuple[Callable[[ScenarioRun], Any], Callable[[ScenarioRun], Any]]:
        return (
            lambda r: r.pump.catheter_fault(fault, fraction),
            lambda r: r.pump.catheter_fault(CatheterFault.NONE),
        )

    return make


def _over_infusion(fraction: float) -> tuple[Callable[[ScenarioRun], Any], Callable[[ScenarioRun], Any]]:
    def on(r: ScenarioRun) -> None:
        r.pump.motor.over_infusion = fraction

    def off(r: ScenarioRun) -> None:
        r.pump.motor.over_infusion = 0.0

    return on, off


def _pump_fault(r: ScenarioRun) -> None:
    r.pump.command(ReportFault("injected"))


_FAULT_SWITCHES: dict[str, Callable[[float], tuple[Callable[[ScenarioRun], Any], Any]]] = {
    "occlusion": _catheter_switch(CatheterFault.OCCLUSION),
    "leak": _catheter_switch(CatheterFault.LEAK),
    "disconnection": _catheter_switch(CatheterFault.DISCONNECTION),
    "motor_stall": lambda _: (lambda r: r.pump.motor_fault(True), lambda r: r.pump.motor_fault(False)),
    "over_infusion": _over_infusion,
    "pump_fault": lambda _: (_pump_fault, None),
}


def steps_of(scenario: Scenario) -> list[Step]:
    """Every step of the scenario in time order."""
    steps: list[Step] = []
    for event in scenario.timeline:
        if event.action in ("mri", "fault"):
            steps += _bench_steps(event)
            continue
        act = _THERAPY[event.action]
        if event.action == "ptm_press" and "every_ms" in event.params:
            last = min(event.params["until_ms"], scenario.duration_ms)
            steps += [Step(t, event, act) for t in range(event.at_ms, last + 1, event.params["every_ms"])]
            continue
        steps.append(Step(event.at_ms, event, act))
    return sorted(steps, key=lambda s: (s.at_ms, s.event.index))


def run(scenario: Scenario, patient: PatientLink | None = None) -> SimulationResult:
    """Play a scenario out through the therapy layer and return what happened (to the patient too, if one is given).

    With a `patient`, what reaches the catheter tip goes into its body, it takes its oral regimen, it is observed
    every `patient.observe_ms` and presses the handset by its press rule; the record gains a "patient" section.
    """
    model = load_model(scenario.model)
    recorder = Recorder(scenario, model)
    on_delivery = recorder.delivery if patient is None else _both(recorder.delivery, patient.delivery)
    pump = VirtualPump(
        model,
        formulary=pump_formulary(),
        catheter_volume_nl=scenario.catheter_volume_nl,
        seed=scenario.seed,
        wall_ms=scenario.start_wall_ms,
        accuracy_error=scenario.accuracy_error,
        on_delivery=on_delivery,
    )
    recorder.attach(pump)
    syringe = Syringe()
    service = TherapyService(DirectPort(pump, refill=syringe.fill), PatientFacts(opioid_naive=scenario.opioid_naive))
    state = ScenarioRun(scenario, pump, service, syringe, recorder, patient=patient)
    if patient is not None:
        patient.start_clock(scenario.start_wall_ms)
    implant = Event(-1, 0, "implant", {"_at_text": "0 d", "note": "the catheter is implanted with the pump"})
    state.therapy(implant, Implant(scenario.catheter_volume_nl))
    if scenario.low_reservoir_alarm_nl is not None:
        state.therapy(
            Event(-1, 0, "low_reservoir_alarm", {"_at_text": "0 d"}), LowReservoirAlarm(scenario.low_reservoir_alarm_nl)
        )
    samples = iter(range(0, scenario.duration_ms + 1, scenario.sample_ms))
    next_sample = next(samples, None)
    steps = steps_of(scenario) if patient is None else _with_patient(steps_of(scenario), scenario, patient)
    for step in [*steps, None]:
        until = scenario.duration_ms if step is None else step.at_ms
        while next_sample is not None and next_sample <= until:
            pump.advance(next_sample)
            recorder.sample(pump)
            next_sample = next(samples, None)
        pump.advance(until)
        if step is not None:
            step.act(state, step.event)
    result = recorder.finish(pump)
    if patient is not None:
        result.data["patient"] = patient.to_json()
    return result


def _both(first: Callable[[DeliveryRecord], None], second: Callable[[DeliveryRecord], None]) -> Any:
    def deliver(record: DeliveryRecord) -> None:
        first(record)
        second(record)

    return deliver


def _with_patient(steps: list[Step], scenario: Scenario, patient: PatientLink) -> list[Step]:
    """The scenario's steps with the patient's observations merged in, each after the entries of its moment."""
    index = len(scenario.timeline)
    ticks = [
        Step(t, Event(index, t, "patient", {"_at_text": timeline_time(scenario.start_wall_ms, t)}), patient_tick)
        for t in patient.tick_times(scenario.duration_ms)
    ]
    return sorted([*steps, *ticks], key=lambda s: (s.at_ms, s.event.index))
