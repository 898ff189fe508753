"""Plans waiting on their Finish screen, kept on the server under a random one-time token.

A plan is sent only by the POST that names its token, once: taking a token
removes it, so a second click (or a replayed form) finds the result of the
first instead of sending again. A plan not sent within its time is forgotten.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from thecal.therapy import Execution, Plan

PLAN_TTL_S = 15 * 60
RESULT_TTL_S = 60 * 60


@dataclass(frozen=True)
class Pending:
    """A plan on its Finish screen: who made it, for which pump and patient, and what the form said."""

    token: str
    plan: Plan
    workflow: str
    serial: str
    patient_id: int | None
    user_id: int
    extra: dict[str, object] = field(default_factory=dict)  # what the record needs beyond the plan (a refill's)
    created_s: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Outcome:
    """What sending a plan did, kept for its result page."""

    token: str
    pending: Pending
    execution: Execution
    audit_id: int | None
    created_s: float = field(default_factory=time.monotonic)


class PlanBook:
    """The plans on their Finish screens and the outcomes of those sent, by token."""

    def __init__(self, ttl_s: float = PLAN_TTL_S):
        self.ttl_s = ttl_s
        self._pending: dict[str, Pending] = {}
        self._outcomes: dict[str, Outcome] = {}
        self._sending: set[str] = set()
        self._lock = threading.Lock()

    def keep(
        self,
        plan: Plan,
        *,
        workflow: str,
        serial: str,
        patient_id: int | None,
        user_id: int,
        extra: dict[str, object] | None = None,
    ) -> Pending:
        """Keep a plan for its Finish screen under a new token."""
        token = secrets.token_urlsafe(24)
        pending = Pending(token, plan, workflow, serial, patient_id, user_id, dict(extra or {}))
        with self._lock:
            self._forget_old()
            self._pending[token] = pending
        return pending

    def peek(self, token: str) -> Pending | None:
        """The plan under a token, still waiting, or None."""
        with self._lock:
            self._forget_old()
            return self._pending.get(token)

    def take(self, token: str) -> Pending | None:
        """Take the plan under a token to send it: only the first caller gets it."""
        with self._lock:
            self._forget_old()
            pending = self._pending.pop(token, None)
            if pending is not None:
                self._sending.add(token)
            return pending

    def drop(self, token: str) -> None:
        """Forget a plan without sending it (cancelled or replaced by a new plan)."""
        with self._lock:
            self._pending.pop(token, None)

    def sending(self, token: str) -> bool:
        """Whether the plan under a token is being sent right now."""
        with self._lock:
            return token in self._sending

    def done(self, outcome: Outcome) -> None:
        """Keep what sending a plan did for its result page."""
        with self._lock:
            self._sending.discard(outcome.token)
            self._outcomes[outcome.token] = outcome

    def failed(self, token: str) -> None:
        """Sending a plan ended without an outcome (the pump could not be reached)."""
        with self._lock:
            self._sending.discard(token)

    def outcome(self, token: str) -> Outcome | None:
        """What sending the plan under a token did, or None."""
        with self._lock:
            return self._outcomes.get(token)

    def _forget_old(self) -> None:
        now = time.monotonic()
        for token in [t for t, p in self._pending.items() if now - p.created_s > self.ttl_s]:
            del self._pending[token]
        for token in [t for t, o in self._outcomes.items() if now - o.created_s > RESULT_TTL_S]:
            del self._outcomes[token]
