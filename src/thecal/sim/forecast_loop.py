"""A scenario's run that can stop at any moment, be copied, and go on: what a what-if forecast forks.

`thecal.sim.runner.run` plays a whole scenario in one call. A forecast needs
the same run in pieces: play the scenario with its patient up to a moment,
copy everything (pump, therapy service, record, patient), and go on from
there along two futures. `World` holds the runner's own pieces (a
`ScenarioRun`, its steps from `steps_of`, the patient's observations as the
runner's `patient_tick` steps through a `PatientLink`) and plays them in the
runner's order, so a world played to the end is the runner's run.

`World.fork()` copies the whole world at this moment; the patient is copied
by `VirtualPatient.fork`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from thecal.drugs import pump_formulary
from thecal.patient import Observation
from thecal.pump.device import DeliveryRecord, VirtualPump
from thecal.pump.model import load_model
from thecal.sim.patient_link import PatientLink
from thecal.sim.record import Recorder
from thecal.sim.runner import ScenarioRun, Step, Syringe, patient_tick, steps_of
from thecal.sim.scenario import Event, Scenario, timeline_time
from thecal.therapy import DirectPort, Implant, LowReservoirAlarm, PatientFacts, TherapyService


@dataclass
class Sample:
    """What one observation of the patient saw, with the pump beside it."""

    observation: Observation
    tip_ng: dict[str, float]  # cumulative drug that reached the catheter tip, per drug
    reservoir_calculated_nl: int
    low_reservoir_alarm_nl: int

    @property
    def at_ms(self) -> int:
        """When (pump ms)."""
        return self.observation.at_ms


@dataclass
class World:
    """One scenario's pump, therapy service and record, with one patient at the end of the catheter."""

    run: ScenarioRun
    link: PatientLink
    tip_ng: dict[str, float] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    next_tick_ms: int = 0
    next_sample_ms: int | None = 0  # the record's next sample, as the runner takes them; None after the run's end

    @classmethod
    def start(cls, scenario: Scenario, link: PatientLink) -> World:
        """The pump implanted as the scenario says, the patient linked to it, at time 0 (as the runner starts)."""
        model = load_model(scenario.model)
        recorder = Recorder(scenario, model)
        pump = VirtualPump(
            model,
            formulary=pump_formulary(),
            catheter_volume_nl=scenario.catheter_volume_nl,
            seed=scenario.seed,
            wall_ms=scenario.start_wall_ms,
            accuracy_error=scenario.accuracy_error,
        )
        recorder.attach(pump)
        syringe = Syringe()
        service = TherapyService(
            DirectPort(pump, refill=syringe.fill), PatientFacts(opioid_naive=scenario.opioid_naive)
        )
        run = ScenarioRun(scenario, pump, service, syringe, recorder, patient=link)
        link.start_clock(scenario.start_wall_ms)
        world = cls(run, link, steps=steps_of(scenario), next_tick_ms=link.observe_ms)
        pump.on_delivery = world.delivery
        implant = Event(-1, 0, "implant", {"_at_text": "0 d", "note": "the catheter is implanted with the pump"})
        run.therapy(implant, Implant(scenario.catheter_volume_nl))
        if scenario.low_reservoir_alarm_nl is not None:
            event = Event(-1, 0, "low_reservoir_alarm", {"_at_text": "0 d"})
            run.therapy(event, LowReservoirAlarm(scenario.low_reservoir_alarm_nl))
        return world

    @property
    def pump(self) -> VirtualPump:
        """The virtual pump."""
        return self.run.pump

    def delivery(self, record: DeliveryRecord) -> None:
        """The pump's delivery hook: into the record, into the patient, and counted at the tip."""
        self.run.recorder.delivery(record)
        for drug, ng in record.at_tip.drugs_ng.items():
            self.tip_ng[drug] = self.tip_ng.get(drug, 0.0) + ng
        self.link.delivery(record)

    def drop_timeline_from(self, at_ms: int) -> None:
        """Forget the scenario's own entries from `at_ms` on: a forecast plays its own future."""
        self.steps = [s for s in self.steps if s.at_ms < at_ms]

    def play(self, to_ms: int) -> list[Sample]:
        """Play the timeline, the record's samples and the patient's observations up to `to_ms`, in the runner's
        order: at one moment, the record's sample, then the timeline's entries, then the patient."""
        pumps: list[tuple[dict[str, float], int, int]] = []
        scenario = self.run.scenario
        tick_index = len(scenario.timeline)
        while True:
            entry_ms = self.steps[0].at_ms if self.steps else None
            at = min(t for t in (self.next_sample_ms, entry_ms, self.next_tick_ms) if t is not None)
            if at > to_ms:
                break
            self.pump.advance(at)
            if self.next_sample_ms == at:
                self.run.recorder.sample(self.pump)
                self.next_sample_ms = (
                    at + scenario.sample_ms if at + scenario.sample_ms <= scenario.duration_ms else None
                )
            elif entry_ms == at:
                step = self.steps.pop(0)
                step.act(self.run, step.event)
            else:
                text = timeline_time(scenario.start_wall_ms, at)
                patient_tick(self.run, Event(tick_index, at, "patient", {"_at_text": text}))
                pumps.append(self._pump_side())
                self.next_tick_ms += self.link.observe_ms
        self.pump.advance(to_ms)
        # The link works out the observations it keeps waiting all together: here, once the moment is reached.
        self.link.flush()
        seen = self.link.observations
        return [Sample(o, *p) for o, p in zip(seen[len(seen) - len(pumps) :], pumps, strict=True)]

    def _pump_side(self) -> tuple[dict[str, float], int, int]:
        state = self.pump.firmware.state
        return dict(self.tip_ng), state.reservoir_nl, state.low_reservoir_alarm_nl

    def fork(self) -> World:
        """An independent copy of the whole world at this moment: pump, therapy service, record and patient."""
        twin = copy.deepcopy(self)  # the link forks its patient and keeps its history (`PatientLink.__deepcopy__`)
        twin.pump.on_delivery = twin.delivery
        return twin
