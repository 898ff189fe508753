"""A plan: the exact pump commands, every setting old and new, the limits that applied, and the warnings.

A plan is words and integers, never layout: how it is laid out on a terminal or
a page belongs to the doors. `to_dict()` is its stable JSON form. Only a
confirmed plan with no blocking finding is ever sent.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from enum import Enum

from thecal.drugs.fill import Fill as DrugFill
from thecal.drugs.verdict import Finding, Override, Tier, Verdict
from thecal.pump.core.commands import Command
from thecal.pump.core.schedule import DoseSchedule
from thecal.therapy.intents import Intent
from thecal.therapy.roles import Actor
from thecal.therapy.settings import SettingChange, TherapySettings


@dataclass(frozen=True)
class PlanWarning:
    """Something the person confirming must see, though it is within every limit."""

    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """The warning as stable JSON-ready fields."""
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Plan:
    """What an intent will do to the pump, for a person to read and confirm before anything is sent."""

    intent: Intent
    actor: Actor
    planned_wall_ms: int
    commands: tuple[Command, ...]
    settings: tuple[SettingChange, ...]
    verdict: Verdict
    warnings: tuple[PlanWarning, ...]
    before: TherapySettings | None  # what the pump held when planned; None for the patient's press
    expected: TherapySettings | None  # what the pump must hold afterwards; None when nothing is to be checked
    expected_mode: str | None = None
    override_note: str = ""  # why a written reason did not become an override
    refill_due_wall_ms: int | None = None
    expected_event: str | None = None  # an event-log entry the pump must write when this plan is sent

    @property
    def allowed(self) -> bool:
        """True when no hard finding exists and every soft one was passed by a physician with a reason."""
        return self.verdict.allowed

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Every limit reached, stacked, each with its tier, words, limit and source."""
        return self.verdict.findings

    @property
    def override(self) -> Override | None:
        """The physician's override applied to the soft findings, with who gave it and why."""
        return self.verdict.override

    @property
    def changed(self) -> tuple[SettingChange, ...]:
        """The settings this plan changes."""
        return tuple(s for s in self.settings if s.changed)

    def verdict_sentence(self) -> str:
        """Whether the plan may be sent, and by whose reason or why not, in one sentence (the same at every door)."""
        if self.allowed:
            passed = sum(1 for f in self.findings if f.tier is Tier.SOFT and f.overridden)
            if passed and self.override is not None:
                who = self.override.by or self.override.role.value
                return (
                    f"This plan may be sent: within every hard limit; {passed} soft limit{'s' if passed > 1 else ''} "
                    f"passed by {who} with a written reason, kept for the audit."
                )
            return "This plan is within every limit that applies and may be sent."
        hard = sum(1 for f in self.findings if f.tier is Tier.HARD)
        soft = sum(1 for f in self.findings if f.tier is Tier.SOFT and f.blocking)
        parts = []
        if hard:
            parts.append(f"{hard} hard limit{'s' if hard > 1 else ''}")
        if soft:
            parts.append(f"{soft} soft limit{'s' if soft > 1 else ''} not passed")
        return f"This plan cannot be sent: {' and '.join(parts)}. Nothing will be sent."

    def to_dict(self) -> dict[str, object]:
        """The plan as stable JSON-ready data: integers in base units, words for people."""
        return {
            "intent": type(self.intent).__name__,
            "intent_fields": _plain(self.intent),
            "actor": {"name": self.actor.name, "role": self.actor.role.value},
            "planned_wall_ms": self.planned_wall_ms,
            "allowed": self.allowed,
            "commands": [command_data(c) for c in self.commands],
            "settings": [s.to_dict() for s in self.settings],
            "findings": [f.to_dict() for f in self.findings],
            "warnings": [w.to_dict() for w in self.warnings],
            "override": None if self.override is None else self.override.to_dict(),
            "override_note": self.override_note,
            "audit": self.verdict.audit(),
            "refill_due_wall_ms": self.refill_due_wall_ms,
        }


def command_data(command: Command) -> dict[str, object]:
    """A firmware command as a name and its fields in base units."""
    data = _plain(command)
    assert isinstance(data, dict)
    return {"command": type(command).__name__, **data}


def _plain(value: object) -> object:
    if isinstance(value, DrugFill):
        return [{"drug": c.drug.name, "concentration_ng_per_ml": c.concentration_ng_per_ml} for c in value.components]
    if isinstance(value, DoseSchedule):
        return value.to_data()
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
