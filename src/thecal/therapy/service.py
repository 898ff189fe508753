"""The therapy service: every door plans and sends through it, under one rulebook.

`plan(intent, actor)` interrogates the pump first (the drug and its
concentration always come from the label the pump holds), runs the intent's
handler and then the checks every change of dose shares, and returns a plan
for a person to read. `execute(plan, actor, confirmed)` sends only a confirmed,
allowed plan, in order, to a pump that still holds what the plan was made
from; it stops at the first refusal or unknown outcome, then interrogates
again and verifies that the pump holds what was planned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from thecal.drugs.formulary import pump_formulary
from thecal.drugs.verdict import Finding, Tier, Verdict
from thecal.pump.core.commands import RequestDemandBolus
from thecal.pump.core.label import Formulary
from thecal.therapy.checks import dose_checks
from thecal.therapy.context import ClinicSettings, Context, PatientFacts
from thecal.therapy.handlers import HANDLERS
from thecal.therapy.handlers.demand import press_findings
from thecal.therapy.intents import DemandPress, Intent
from thecal.therapy.plan import Plan, PlanWarning
from thecal.therapy.ports import LogRecord, PumpPort, SendOutcome, Sent
from thecal.therapy.roles import Actor, override_for, role_finding
from thecal.therapy.settings import SettingChange, TherapySettings, side_by_side
from thecal.therapy.snapshot import PumpSnapshot


class ExecutionStatus(StrEnum):
    """How an execution ended."""

    DONE = "done"  # every command accepted, and the pump holds what was planned
    NOT_CONFIRMED = "not_confirmed"
    NOT_ALLOWED = "not_allowed"  # a blocking finding: nothing was sent
    NOT_PERMITTED = "not_permitted"  # this person may not send this plan
    STALE = "stale"  # the pump changed since the plan was made: nothing was sent
    REFUSED = "refused"  # the pump refused a command; the ones before it were done
    UNKNOWN = "unknown"  # a command's outcome is unknown; a dose counts as delivered
    NOT_VERIFIED = "not_verified"  # every command accepted, but the pump does not hold what was planned


@dataclass(frozen=True)
class Verification:
    """What a fresh interrogation found against the plan: the settings that differ, old being the plan's."""

    checked: bool
    mismatches: tuple[SettingChange, ...] = ()
    mode_expected: str | None = None
    mode_found: str | None = None
    event_expected: str | None = None  # an event-log entry the plan's commands must have written
    events: tuple[LogRecord, ...] = ()  # the entries of that kind the pump logged since the plan was sent
    snapshot: PumpSnapshot | None = field(default=None, compare=False, repr=False)  # the fresh interrogation

    @property
    def ok(self) -> bool:
        """True when the pump holds every planned setting (and mode), and logged the event the plan expects."""
        logged = self.event_expected is None or bool(self.events)
        return not self.mismatches and self.mode_expected in (None, self.mode_found) and logged

    def to_dict(self) -> dict[str, object]:
        """The verification as stable JSON-ready fields."""
        return {
            "checked": self.checked,
            "ok": self.ok,
            "mismatches": [
                {"key": m.key, "name": m.name, "planned": _text(m.old), "found": _text(m.new)} for m in self.mismatches
            ],
            "mode_expected": self.mode_expected,
            "mode_found": self.mode_found,
            "event_expected": self.event_expected,
            "events": [e.to_dict() for e in self.events],
        }


@dataclass(frozen=True)
class Execution:
    """What executing a plan did: each command's outcome, and the verification afterwards."""

    plan: Plan
    executed_by: Actor
    status: ExecutionStatus
    sent: tuple[Sent, ...] = ()
    verification: Verification = field(default_factory=lambda: Verification(False))
    message: str = ""

    @property
    def refusal(self) -> Finding | None:
        """The pump's refusal that stopped the execution, in the shape every door shows."""
        for sent in self.sent:
            if sent.outcome is SendOutcome.REFUSED:
                return sent.finding
        return None

    def to_dict(self) -> dict[str, object]:
        """The execution as stable JSON-ready fields."""
        return {
            "status": self.status.value,
            "message": self.message,
            "executed_by": {"name": self.executed_by.name, "role": self.executed_by.role.value},
            "sent": [s.to_dict() for s in self.sent],
            "verification": self.verification.to_dict(),
            "plan": self.plan.to_dict(),
        }


class TherapyService:
    """Plans and sends every clinical intent for one pump, the same way whatever the door."""

    def __init__(
        self,
        port: PumpPort,
        patient: PatientFacts | None = None,
        clinic: ClinicSettings | None = None,
        formulary: Formulary | None = None,
    ):
        self.port = port
        self.patient = patient or PatientFacts()
        self.clinic = clinic or ClinicSettings()
        self.formulary = pump_formulary() if formulary is None else formulary

    # --------------------------------------------------------------------- plan

    def plan(self, intent: Intent, actor: Actor) -> Plan:
        """What this intent would do to the pump now, with every limit and warning, for a person to confirm."""
        if isinstance(intent, DemandPress):
            return self._plan_press(intent, actor)
        snapshot = self.port.interrogate()
        ctx = Context(snapshot, self.patient, self.clinic, self.formulary, actor)
        before = ctx.before
        draft = HANDLERS[type(intent)](ctx, intent)
        findings = [f for f in (role_finding(actor, intent),) if f is not None]
        findings += draft.findings
        shared, warned = dose_checks(
            ctx, before, draft.after, one_off_ng=draft.one_off_ng, starts_bridge=draft.starts_bridge
        )
        findings += shared
        warnings = list(draft.warnings) + warned
        findings, kept = _without_kept_soft_limits(ctx, before, findings)
        warnings += kept
        if not draft.commands:
            warnings.append(PlanWarning("nothing_to_send", "The pump already holds this: nothing will be sent."))
        override, note = override_for(actor, intent.override_reason)
        return Plan(
            intent=intent,
            actor=actor,
            planned_wall_ms=snapshot.wall_ms,
            commands=draft.commands,
            settings=side_by_side(before, draft.after, snapshot.model.internal_volume_nl),
            verdict=Verdict.of(_unique(findings), override),
            warnings=tuple(warnings),
            before=before,
            expected=draft.after,
            expected_mode=draft.expected_mode,
            override_note=note,
            refill_due_wall_ms=draft.refill_due_wall_ms,
            expected_event=draft.expected_event,
        )

    def _plan_press(self, intent: DemandPress, actor: Actor) -> Plan:
        view = self.port.patient_view()
        findings = [f for f in (role_finding(actor, intent),) if f is not None]
        findings += press_findings(view)
        override, note = override_for(actor, intent.override_reason)
        return Plan(
            intent=intent,
            actor=actor,
            planned_wall_ms=view.wall_ms,
            commands=(RequestDemandBolus(),),
            settings=(),
            verdict=Verdict.of(_unique(findings), override),
            warnings=(),
            before=None,
            expected=None,
            override_note=note,
        )

    # ------------------------------------------------------------------ execute

    def execute(self, plan: Plan, actor: Actor, confirmed: bool) -> Execution:
        """Send a confirmed, allowed plan in order, stop at the first refusal or unknown, then verify."""
        if not confirmed:
            return Execution(plan, actor, ExecutionStatus.NOT_CONFIRMED, message="Nothing was sent: not confirmed.")
        if role_finding(actor, plan.intent) is not None:
            return Execution(
                plan, actor, ExecutionStatus.NOT_PERMITTED, message=f"A {actor.role.value} may not send this plan."
            )
        if not plan.allowed:
            return Execution(
                plan, actor, ExecutionStatus.NOT_ALLOWED, message="Nothing was sent: the plan is beyond a limit."
            )
        since: int | None = None
        if plan.before is not None:
            fresh = self.port.interrogate()
            if TherapySettings.of(fresh) != plan.before:
                return Execution(
                    plan,
                    actor,
                    ExecutionStatus.STALE,
                    message="Nothing was sent: the pump changed since the plan was made. Plan again.",
                )
            since = _log_next_seq(fresh)
        sent: list[Sent] = []
        for command in plan.commands:
            outcome = self.port.send(command)
            sent.append(outcome)
            if not outcome.accepted:
                break
        verification = self.verify(plan, since_seq=since)
        status = _status(sent, verification)
        message = _message(status, sent)
        if status is ExecutionStatus.NOT_VERIFIED and not verification.mismatches and verification.event_expected:
            message = (
                "Every command was accepted, but the pump's event log does not show the "
                f"{verification.event_expected.replace('_', ' ')}: interrogate and read the event log."
            )
        return Execution(plan, actor, status, tuple(sent), verification, message)

    def verify(self, plan: Plan, *, since_seq: int | None = None) -> Verification:
        """Interrogate the pump and compare what it holds with what the plan said it would.

        A plan that expects an event-log entry is checked against the log from `since_seq` (the log's head when
        it was sent) on; without that mark the entry cannot be found, and the plan is not verified.
        """
        if plan.expected is None:
            return Verification(False)
        snapshot = self.port.interrogate()
        found = TherapySettings.of(snapshot)
        rows = side_by_side(plan.expected, found, snapshot.model.internal_volume_nl)
        mismatches = tuple(row for row in rows if row.changed)
        events: tuple[LogRecord, ...] = ()
        if plan.expected_event is not None and since_seq is not None:
            events = tuple(e for e in self.port.event_log(since_seq) if e.kind == plan.expected_event)
        return Verification(
            True, mismatches, plan.expected_mode, snapshot.mode, plan.expected_event, events, snapshot=snapshot
        )


def _without_kept_soft_limits(
    ctx: Context, before: TherapySettings, findings: list[Finding]
) -> tuple[list[Finding], list[PlanWarning]]:
    """Soft findings the pump's present settings already carry, taken out as notes.

    A soft limit a physician passed earlier, on settings this plan leaves as
    they are, was decided then and is on record; it must not stop a nurse's
    later change of something else. A finding that differs in any word (a
    higher worst case, a new value) is new and still needs a physician.
    """
    if not before.label:
        return findings, []
    held = before.but(prescription=None, demand=None, periodic=None)
    standing = {f for f in dose_checks(ctx, held, before)[0] if f.tier is Tier.SOFT}
    kept = [f for f in findings if f.tier is Tier.SOFT and f in standing]
    notes = [PlanWarning("soft_limit_kept", f"Passed before and not changed here: {f.message}") for f in kept]
    return [f for f in findings if f not in kept], notes


def _log_next_seq(snapshot: PumpSnapshot) -> int | None:
    """The sequence number the pump's next log entry will have, as its status says, or None if it does not."""
    value = snapshot.status.get("log_next_seq")
    return value if type(value) is int else None


def _unique(findings: list[Finding]) -> list[Finding]:
    """Findings in order, each once: two checks that reach the same limit say it once."""
    return list(dict.fromkeys(findings))


def _status(sent: list[Sent], verification: Verification) -> ExecutionStatus:
    for outcome in sent:
        if outcome.outcome is SendOutcome.REFUSED:
            return ExecutionStatus.REFUSED
        if outcome.outcome is SendOutcome.UNKNOWN:
            return ExecutionStatus.UNKNOWN
    return ExecutionStatus.DONE if verification.ok else ExecutionStatus.NOT_VERIFIED


def _message(status: ExecutionStatus, sent: list[Sent]) -> str:
    last = sent[-1].words() if sent else ""
    if status is ExecutionStatus.DONE:
        return "Done: the pump holds what was planned."
    if status is ExecutionStatus.NOT_VERIFIED:
        return "Every command was accepted, but the pump does not hold what was planned: interrogate and check."
    return f"Stopped. {last}"


def _text(value: object) -> str | None:
    text = getattr(value, "text", None)
    return text if isinstance(text, str) else None
