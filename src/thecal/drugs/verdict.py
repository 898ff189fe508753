"""The answer of a safety check: what was found, at which tier, and whether it may go ahead.

A soft finding may be passed by a physician who writes a reason; the reason is
kept in the verdict so it can go to the audit log. A hard finding can never be
passed: no override, role or flag changes `allowed` once a hard finding exists.
Verdicts stack: combining two keeps every finding, so a later check can only
add refusals, never remove one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum, StrEnum

from thecal.errors import InputError

MIN_REASON_CHARS = 10


class StaffRole(StrEnum):
    """Who acts on a patient's therapy: the one list of people's roles, whatever the door.

    A physician may pass a soft limit with a written reason; a nurse may not; the
    patient only asks for a demand dose. Nobody passes a hard limit. (Which kind of
    device sent a command is another matter: `thecal.pump.core.Role`.)
    """

    PHYSICIAN = "physician"
    NURSE = "nurse"
    PATIENT = "patient"

    @classmethod
    def parse(cls, text: object, field: str = "role") -> StaffRole:
        """The role a person typed, in any case; an unknown word is an error that names the roles."""
        if isinstance(text, StaffRole):
            return text
        word = str(text).strip().lower()
        for role in cls:
            if role.value == word:
                return role
        raise InputError(field, text, "is not a role", f"use one of: {', '.join(r.value for r in cls)}")

    @property
    def may_pass_soft_limits(self) -> bool:
        """Whether this role may pass a soft limit by giving a written reason."""
        return self is StaffRole.PHYSICIAN


PHYSICIAN = StaffRole.PHYSICIAN


class Tier(Enum):
    """Soft limits may be passed with a physician's written reason; hard limits never."""

    SOFT = "soft"
    HARD = "hard"


@dataclass(frozen=True)
class Override:
    """A physician's written decision to pass the soft limits of one check."""

    role: StaffRole
    reason: str
    by: str = ""

    def __post_init__(self) -> None:
        # A role typed at a command line arrives as text; it is read here, once, into the one enum.
        object.__setattr__(self, "role", StaffRole.parse(self.role, "override role"))
        if not self.role.may_pass_soft_limits:
            raise InputError(
                "override role",
                self.role.value,
                "only a physician may pass a soft limit",
                "ask the prescribing physician to review and give the reason",
            )
        if len(self.reason.strip()) < MIN_REASON_CHARS:
            raise InputError(
                "override reason",
                self.reason,
                f"a soft limit is passed only with a written reason of at least {MIN_REASON_CHARS} characters",
                "write why this patient needs a value beyond the usual limit",
            )

    def to_dict(self) -> dict[str, str]:
        """The override as stable JSON-ready fields."""
        return {"role": self.role.value, "reason": self.reason.strip(), "by": self.by}


@dataclass(frozen=True)
class Finding:
    """One limit that a value reached beyond, told in words a nurse understands.

    This is the one shape of "beyond a limit" that every door shows, whether the
    drug library, the pump model or the pump's firmware drew the line. `code`
    names the rule for machines (a limit key such as "max_daily_dose", or the
    pump's refusal code); `source` says where the line comes from.
    """

    tier: Tier
    field: str
    value: str
    limit: str
    message: str
    action: str
    source: str
    overridden: bool = False
    code: str = ""

    @property
    def blocking(self) -> bool:
        """Whether this finding stops the value from being used."""
        return self.tier is Tier.HARD or not self.overridden

    def input_error(
        self, *, where: str = "", problem: str = "", how_to_pass: str = "by giving a written reason"
    ) -> InputError:
        """The finding as the error a door raises for input a person must correct; `where` names the place."""
        action = self.action
        if self.tier is Tier.SOFT:
            action = action.rstrip(".") + f"; a physician may pass this soft limit {how_to_pass}"
        field = f"{where}: {self.field}" if where else self.field
        return InputError(field, self.value, problem or self.message, action, self.limit)

    def to_dict(self) -> dict[str, object]:
        """The finding as stable JSON-ready fields."""
        return {
            "tier": self.tier.value,
            "field": self.field,
            "value": self.value,
            "limit": self.limit,
            "message": self.message,
            "action": self.action,
            "source": self.source,
            "overridden": self.overridden,
            "code": self.code,
        }


@dataclass(frozen=True)
class Verdict:
    """All findings of one or more checks, and the override applied to their soft tier, if any."""

    findings: tuple[Finding, ...] = ()
    override: Override | None = None

    @classmethod
    def of(cls, findings: list[Finding] | tuple[Finding, ...], override: Override | None) -> Verdict:
        """A verdict whose soft findings are marked passed when a valid override is given."""
        if override is not None:
            findings = [replace(f, overridden=True) if f.tier is Tier.SOFT else f for f in findings]
        return cls(tuple(findings), override)

    @property
    def allowed(self) -> bool:
        """True when no hard finding exists and every soft finding was passed by a physician."""
        return not any(f.blocking for f in self.findings)

    @property
    def hard(self) -> tuple[Finding, ...]:
        """The hard findings: nothing passes these."""
        return tuple(f for f in self.findings if f.tier is Tier.HARD)

    @property
    def soft(self) -> tuple[Finding, ...]:
        """The soft findings, passed or not."""
        return tuple(f for f in self.findings if f.tier is Tier.SOFT)

    def combine(self, *others: Verdict) -> Verdict:
        """Stack verdicts: every finding is kept, so a later check can only tighten."""
        findings = list(self.findings)
        override = self.override
        for other in others:
            findings.extend(f for f in other.findings if f not in findings)
            override = override or other.override
        return Verdict(tuple(findings), override)

    def audit(self) -> list[dict[str, object]]:
        """Entries for the audit log: each soft limit passed, with who passed it and why."""
        if self.override is None:
            return []
        return [{"finding": f.to_dict(), "override": self.override.to_dict()} for f in self.soft if f.overridden]

    def raise_if_refused(self) -> None:
        """Raise an InputError naming the field, value, limit and action of the first blocking finding."""
        blocking = sorted((f for f in self.findings if f.blocking), key=lambda f: f.tier is not Tier.HARD)
        if not blocking:
            return
        first = blocking[0]
        problem = first.message
        if len(blocking) > 1:
            others = "; ".join(f"{f.field} {f.value} (limit {f.limit})" for f in blocking[1:])
            problem += f" Also beyond a limit: {others}."
        raise first.input_error(problem=problem)

    def to_dict(self) -> dict[str, object]:
        """The verdict as stable JSON-ready fields."""
        return {
            "allowed": self.allowed,
            "findings": [f.to_dict() for f in self.findings],
            "override": self.override.to_dict() if self.override else None,
        }
