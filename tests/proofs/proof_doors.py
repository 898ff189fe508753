"""The doors through which a clinician programs a pump, each asked the same question the same way.

A door plays a timeline's setup (everything before the last entry, each
step allowed, with a physician's reason where a soft limit needs one), then
tries the last entry twice: without a written reason, and with a physician's
reason. What comes back is an `Answer`: the verdict and the words.

* allowed: the entry goes through without a reason, and the pump takes it;
* soft: refused without a reason, done with a physician's reason;
* hard: refused even with a physician's reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from proof_timeline import CATHETER_NL, MODEL, START_WALL_MS, Entry, Timeline, intent, scenario_text

from thecal.drugs import Tier, pump_formulary
from thecal.drugs.limits import PUMP_FIRMWARE
from thecal.errors import InputError
from thecal.pump.device import VirtualPump
from thecal.pump.model import load_model
from thecal.sim.runner import run as run_scenario
from thecal.sim.scenario import parse_scenario
from thecal.therapy import (
    Actor,
    DirectPort,
    ExecutionStatus,
    Implant,
    PatientFacts,
    Plan,
    StaffRole,
    TherapyService,
)

ALLOWED = "allowed"
SOFT = "soft"
HARD = "hard"
PHYSICIAN = Actor("Dr Rivera", StaffRole.PHYSICIAN)


@dataclass(frozen=True)
class Answer:
    """What a door said about the last entry: the verdict, and the words of the limit that stopped it."""

    verdict: str
    words: str | None = None  # the finding's message; None when allowed


def verdict_of(refused_plain: bool, refused_with_reason: bool, door: str) -> str:
    """The verdict from the two tries; a reason that makes things worse is a fault of the door."""
    if refused_with_reason and not refused_plain:
        raise AssertionError(f"{door}: allowed without a reason but refused with one")
    if refused_with_reason:
        return HARD
    return SOFT if refused_plain else ALLOWED


# ---------------------------------------------------------------------- the therapy API


class TherapyDoor:
    """The therapy API: a `TherapyService` over a `DirectPort` to a virtual pump, as a program would use it."""

    name = "therapy API"

    def __init__(self, timeline: Timeline):
        self.timeline = timeline

    def pump(self) -> tuple[VirtualPump, TherapyService]:
        """A new implanted pump with its service, as the scenario runner builds one."""
        pump = VirtualPump(
            load_model(MODEL),
            formulary=pump_formulary(),
            catheter_volume_nl=CATHETER_NL,
            wall_ms=START_WALL_MS,
            accuracy_error=0.0,
        )
        service = TherapyService(DirectPort(pump), PatientFacts(opioid_naive=self.timeline.opioid_naive))
        self.send(service, Implant(CATHETER_NL), "implant")
        return pump, service

    def send(self, service: TherapyService, what: object, where: str) -> None:
        """Plan and send one intent of the setup; it must be allowed and done."""
        plan = service.plan(what, PHYSICIAN)  # type: ignore[arg-type]
        assert plan.allowed, f"setup {where} refused: {[f.message for f in plan.findings if f.blocking]}"
        execution = service.execute(plan, PHYSICIAN, confirmed=True)
        assert execution.status is ExecutionStatus.DONE, f"setup {where}: {execution.status} {execution.message}"

    def setup(self) -> tuple[VirtualPump, TherapyService]:
        """A pump that went through every entry but the last."""
        pump, service = self.pump()
        for i, entry in enumerate(self.timeline.entries[:-1]):
            pump.advance(entry.at_ms)
            self.send(service, intent(entry, service.port.interrogate()), f"entry {i} ({entry.action})")
        pump.advance(self.timeline.entries[-1].at_ms)
        return pump, service

    def plans(self) -> tuple[Plan, Plan]:
        """The last entry planned without and with a physician's written reason."""
        _, service = self.setup()
        last = self.timeline.entries[-1]
        snapshot = service.port.interrogate()
        return (
            service.plan(intent(last.with_override(False), snapshot), PHYSICIAN),
            service.plan(intent(last.with_override(True), snapshot), PHYSICIAN),
        )

    def answer(self) -> Answer:
        """The verdict on the last entry, and the words of the one limit that stopped it."""
        plain, reasoned = self.plans()
        verdict = verdict_of(not plain.allowed, not reasoned.allowed, self.name)
        blocking = [f for f in plain.findings if f.blocking]
        # A case asks about one limit: besides it, only the pump's own refusal of the same value may be
        # predicted (the pump holds the hard tier too), so the words of the limit are never ambiguous.
        others = [f.code for f in blocking[1:] if f.source != PUMP_FIRMWARE or f.tier is not Tier.HARD]
        assert not others, f"{self.name}: more than one limit met: {[f.code for f in blocking]}"
        if verdict == ALLOWED:
            self.execute(with_reason=False)
            return Answer(ALLOWED)
        finding = blocking[0]
        assert [f.message for f in reasoned.findings if f.blocking][:1] == (
            [finding.message] if verdict == HARD else []
        ), f"{self.name}: a physician's reason changed the words of a hard limit, or did not pass a soft one"
        assert finding.tier is (Tier.HARD if verdict == HARD else Tier.SOFT), f"{self.name}: tier {finding.tier}"
        if verdict == SOFT:
            self.execute(with_reason=True)
        return Answer(verdict, finding.message)

    def execute(self, *, with_reason: bool) -> None:
        """Send the allowed last entry: the pump itself must take it (its hard limits agree)."""
        _, service = self.setup()
        last = self.timeline.entries[-1].with_override(with_reason)
        plan = service.plan(intent(last, service.port.interrogate()), PHYSICIAN)
        execution = service.execute(plan, PHYSICIAN, confirmed=True)
        assert execution.status is ExecutionStatus.DONE, f"{self.name}: the pump did not take it: {execution.message}"


# ------------------------------------------------------------------------ the scenario


class ScenarioDoor:
    """A scenario file run by the scenario runner: a limit met is an error naming the entry."""

    name = "scenario file"

    def __init__(self, timeline: Timeline):
        self.timeline = timeline

    def run(self, with_reason: bool) -> InputError | None:
        """Run the file with the last entry as given; the error it stopped with, or None."""
        entries = (*self.timeline.entries[:-1], self.timeline.entries[-1].with_override(with_reason))
        text = scenario_text(Timeline(entries, self.timeline.opioid_naive, self.timeline.name))
        try:
            result = run_scenario(parse_scenario(text))
        except InputError as error:
            where = f"timeline[{len(entries) - 1}] ({entries[-1].action})"
            assert error.field.startswith(where), f"{self.name}: stopped at {error.field}, not at the last entry"
            return error
        refusals = result.to_json_data()["refusals"]
        assert not refusals, f"{self.name}: the pump refused what was planned: {refusals}"
        return None

    def answer(self) -> Answer:
        """The verdict on the last entry, and the words of the error."""
        plain = self.run(with_reason=False)
        reasoned = self.run(with_reason=True)
        if reasoned is not None and reasoned.field.endswith(".override_reason"):
            reasoned = plain  # the format takes no reason on this entry: with one, it is as without
        verdict = verdict_of(plain is not None, reasoned is not None, self.name)
        if plain is None:
            return Answer(ALLOWED)
        soft_words = "a physician may pass this soft limit" in plain.action
        assert reasoned is None or reasoned.problem == plain.problem, f"{self.name}: a reason changed the words"
        assert soft_words == (verdict == SOFT), f"{self.name}: the action does not say whether a reason passes it"
        return Answer(verdict, plain.problem)


def last_entry(timeline: Timeline) -> Entry:
    """The entry a door is asked about."""
    return timeline.entries[-1]
