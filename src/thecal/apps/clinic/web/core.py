"""The app's one desk for pumps and plans: who may do what, interrogation, planning, sending, and the audit.

Every programming goes plan → Finish screen → one confirmed send → verify →
audit, through the therapy layer's `TherapyService` for the pump; this module
adds only the clinic's side: the user as the therapy layer's actor, a lock per
pump so two requests never talk to one pump at once, the record of a refill,
and the audit entries of every interrogation and programming session.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, Protocol

from thecal.apps.clinic.store import AppRole, ClinicStore, Implant, Patient, User
from thecal.apps.clinic.web import facts, views
from thecal.apps.clinic.web.plans import Outcome, Pending, PlanBook
from thecal.errors import InputError, ThecalError
from thecal.therapy import (
    Actor,
    ClinicSettings,
    ExecutionStatus,
    Intent,
    PatientFacts,
    PumpSnapshot,
    Refill,
    TherapyService,
    words,
)
from thecal.therapy.context import DEFAULT_DAILY_JUMP_FACTOR
from thecal.therapy.words import intent_words
from thecal.units import NL_PER_ML

JUMP_FACTOR_KEY = "daily_jump_factor"
PROGRAM_ACTION = "pump.program"


class Pumps(Protocol):
    """The clinic's pumps as the app uses them (`thecal.apps.clinic.pumps.ClinicPumps`)."""

    def links(self) -> list[Any]:
        """Every pump the clinic runs."""
        ...

    def place_head(self, serial: str) -> None:
        """Open the pump's pairing window (the programmer head over the pump)."""
        ...

    def pair(self, serial: str) -> None:
        """Pair the clinic programmer inside the window."""
        ...

    def paired(self, serial: str) -> bool:
        """Whether the clinic programmer is paired with the pump."""
        ...

    def service(self, serial: str, *, patient: PatientFacts, clinic: ClinicSettings) -> TherapyService:
        """The therapy service over the pump's telemetry."""
        ...

    def event_log(self, serial: str, from_seq: int = 0) -> list[dict[str, Any]]:
        """The pump's event log from an entry on."""
        ...


class NotPermitted(ThecalError):
    """The user's role may not do this: the words say who may."""


PROGRAMMERS = (AppRole.PHYSICIAN, AppRole.NURSE)


def actor(user: User) -> Actor:
    """The therapy layer's actor for a clinic user who programs; NotPermitted for a viewer or admin."""
    role = user.role.staff_role
    if role is None:
        raise NotPermitted(
            f"A {user.role.value} reads the record but never programs a pump: ask a physician or a nurse."
        )
    return Actor(user.full_name or user.username, role)


def require(user: User, *roles: AppRole, what: str) -> None:
    """Refuse a user whose role is not one of these, in words naming who may."""
    if user.role not in roles:
        who = " or ".join(f"a {r.value}" for r in roles)
        raise NotPermitted(f"Only {who} may {what}; you are signed in as a {user.role.value}.")


def now() -> datetime:
    """The clinic's clock (UTC)."""
    return datetime.now(UTC)


@dataclass
class Interrogation:
    """One interrogation: the snapshot, the facts the dashboard keeps, and the event log excerpt."""

    snapshot: PumpSnapshot
    summary: dict[str, object]
    replace_by: facts.ReplaceBy
    days_to_low: float | None
    log: list[dict[str, Any]]


class Desk:
    """The app's desk: the store, the pumps, the plans on their Finish screens."""

    def __init__(self, store: ClinicStore, pumps: Pumps, book: PlanBook | None = None):
        self.store = store
        self.pumps = pumps
        self.book = book or PlanBook()
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    @contextmanager
    def pump(self, serial: str) -> Iterator[None]:
        """Hold one pump for one request: its telemetry takes one conversation at a time."""
        with self._locks_lock:
            lock = self._locks.setdefault(serial, threading.Lock())
        with lock:
            yield

    # ------------------------------------------------------------------- records

    def implant_and_patient(self, serial: str) -> tuple[Implant | None, Patient | None]:
        """The implant record of a pump serial and its patient, if the clinic has them."""
        implant = self.store.implant_by_serial(serial)
        patient = self.store.patient(implant.patient_id) if implant is not None else None
        return implant, patient

    def clinic_settings(self) -> ClinicSettings:
        """The clinic's choices for the therapy layer (the daily-jump factor)."""
        text = self.store.setting(JUMP_FACTOR_KEY, str(DEFAULT_DAILY_JUMP_FACTOR))
        try:
            factor = Fraction(text)
        except (ValueError, ZeroDivisionError):
            factor = DEFAULT_DAILY_JUMP_FACTOR
        return ClinicSettings(daily_jump_factor=factor if factor > 1 else DEFAULT_DAILY_JUMP_FACTOR)

    def service(self, serial: str) -> TherapyService:
        """The therapy service for a pump, with its patient's facts and the clinic's settings."""
        _, patient = self.implant_and_patient(serial)
        naive = patient is not None and patient.opioid_status == "naive"
        return self.pumps.service(serial, patient=PatientFacts(opioid_naive=naive), clinic=self.clinic_settings())

    # ------------------------------------------------------------------- pumps

    def place_head(self, serial: str, user: User) -> None:
        """The proximity step and pairing: open the pump's pairing window and pair inside it."""
        require(user, *PROGRAMMERS, what="pair the programmer with a pump")
        _, patient = self.implant_and_patient(serial)
        with self.pump(serial):
            self.pumps.place_head(serial)
            self.pumps.pair(serial)
        self.store.audit(
            "pump.pair",
            by=user,
            patient_id=None if patient is None else patient.id,
            pump_serial=serial,
            detail="the programmer head was placed over the pump and paired with it",
        )

    def interrogate(self, serial: str, user: User, *, log_entries: int = 30) -> Interrogation:
        """Read the pump: status, reservoir, alarms, battery, replace-by date and the end of its event log."""
        require(user, *PROGRAMMERS, what="interrogate a pump")
        _, patient = self.implant_and_patient(serial)
        with self.pump(serial):
            snapshot = self.service(serial).port.interrogate()
            next_seq = snapshot.status.get("log_next_seq")
            start = max(0, next_seq - log_entries) if type(next_seq) is int else 0
            try:
                log = self.pumps.event_log(serial, start)
            except (ThecalError, RuntimeError, OSError):
                log = []
        summary = facts.summary(snapshot)
        self.store.audit(
            facts.INTERROGATE_ACTION,
            by=user,
            patient_id=None if patient is None else patient.id,
            pump_serial=serial,
            new=summary,
            detail=f"interrogated: {words.mode_text(snapshot.mode)}; alarms: {', '.join(snapshot.alarms) or 'none'}",
        )
        return Interrogation(
            snapshot, summary, facts.replace_by(snapshot), facts.days_to_low_reservoir(snapshot), log[-log_entries:]
        )

    # ------------------------------------------------------------------- plans

    def plan(self, workflow: str, serial: str, intent: Intent, user: User) -> Pending:
        """Plan an intent for a pump and keep it for its Finish screen."""
        who = actor(user)
        _, patient = self.implant_and_patient(serial)
        with self.pump(serial):
            service = self.service(serial)
            extra: dict[str, object] = {}
            if isinstance(intent, Refill):
                extra["expected_nl"] = service.port.interrogate().reservoir_nl
            plan = service.plan(intent, who)
        return self.book.keep(
            plan,
            workflow=workflow,
            serial=serial,
            patient_id=None if patient is None else patient.id,
            user_id=user.id,
            extra=extra,
        )

    def replan(self, token: str, reason: str | None, user: User) -> Pending:
        """The same intent planned again with a written reason to pass its soft limits; the old plan is dropped."""
        pending = self.book.peek(token)
        if pending is None:
            raise InputError("plan", token, "is no longer waiting", "start the workflow again from the pump page")
        self.book.drop(token)
        intent = replace(pending.plan.intent, override_reason=reason)
        return self.plan(pending.workflow, pending.serial, intent, user)

    def send(self, token: str, user: User) -> Outcome:
        """Send the plan under a one-time token, once, confirmed; verify; record; audit."""
        who = actor(user)
        earlier = self.book.outcome(token)
        if earlier is not None:
            return earlier
        pending = self.book.take(token)
        if pending is None:
            again = self.book.outcome(token)
            if again is not None:
                return again
            if self.book.sending(token):
                raise InputError("plan", "", "is being sent now", "wait for its result page")
            raise InputError(
                "plan", "", "is no longer waiting (sent, cancelled or expired)", "start again from the pump page"
            )
        if pending.user_id != user.id:
            self.book.failed(token)
            raise NotPermitted("Only the person who made a plan may send it: make your own plan.")
        try:
            with self.pump(pending.serial):
                execution = self.service(pending.serial).execute(pending.plan, who, confirmed=True)
        except Exception:
            self.book.failed(token)
            raise
        plan = pending.plan
        old, new = views.audit_settings(plan)
        entry = self.store.audit(
            PROGRAM_ACTION,
            by=user,
            patient_id=pending.patient_id,
            pump_serial=pending.serial,
            old=old,
            new={**new, "intent": intent_words(plan.intent), "status": execution.status.value},
            override_reason=plan.override.reason if plan.override is not None else None,
            detail=f"{intent_words(plan.intent)}: {execution.message}",
        )
        self._record(pending, user, execution.status)
        outcome = Outcome(token, pending, execution, entry.id)
        self.book.done(outcome)
        return outcome

    def _record(self, pending: Pending, user: User, status: ExecutionStatus) -> None:
        """Keep a refill that the pump took in the patient's record of fills."""
        intent = pending.plan.intent
        if not isinstance(intent, Refill) or status is not ExecutionStatus.DONE:
            return
        implant = self.store.implant_by_serial(pending.serial)
        if implant is None:
            return
        expected = pending.extra.get("expected_nl")
        self.store.record_fill(
            implant.id,
            at=now(),
            drugs=tuple((c.drug.name, c.concentration_ng_per_ml / 1_000_000) for c in intent.fill.components),
            volume_ml=intent.volume_nl / NL_PER_ML,
            aspirated_ml=intent.aspirated_nl / NL_PER_ML,
            expected_ml=expected / NL_PER_ML if isinstance(expected, int) else None,
            discrepancy_acknowledged=intent.discrepancy_acknowledged,
            by=user,
        )
