"""The people who act on a pump's therapy, and what each may ask for.

The same rules hold at every door: a physician may pass a soft limit with a
written reason; a nurse may not; the patient only asks for a demand dose (and
only the patient does); nobody passes a hard limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from thecal.drugs.limits import rule_finding
from thecal.drugs.verdict import MIN_REASON_CHARS, Finding, Override, StaffRole
from thecal.errors import InputError
from thecal.therapy.intents import DemandPress, Intent

ROLES_SOURCE = (
    "SynchroMed II personal therapy manager labeling: the patient's handset only requests a demand dose "
    "within the limits the physician set"
)


@dataclass(frozen=True)
class Actor:
    """A person acting on the therapy: a name for the record and a role."""

    name: str
    role: StaffRole

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", StaffRole.parse(self.role, "actor role"))
        if not self.name.strip():
            raise InputError("actor name", self.name, "is empty", "give the name of the person acting, for the record")


def role_finding(actor: Actor, intent: Intent) -> Finding | None:
    """A hard finding when this person may not ask for this intent at all, or None."""
    press = isinstance(intent, DemandPress)
    if press == (actor.role is StaffRole.PATIENT):
        return None
    what = type(intent).__name__
    if press:
        message = (
            f"A demand dose is the patient's own request from the handset; a {actor.role.value} gives an extra "
            "dose as a clinician bolus."
        )
        action = "plan a clinician bolus instead"
    else:
        message = f"The patient's handset only asks for a demand dose; {what} is for the clinic."
        action = "ask the clinic to make this change"
    return rule_finding(
        "role", f"{actor.role.value} asking for {what}", "who may ask", message, action, ROLES_SOURCE, code="role"
    )


def override_for(actor: Actor, reason: str | None) -> tuple[Override | None, str]:
    """The override a person's written reason gives, or None and the words saying why it gives none."""
    if reason is None or not reason.strip():
        return None, ""
    if not actor.role.may_pass_soft_limits:
        return None, (
            f"A {actor.role.value} cannot pass a soft limit, whatever the reason: the prescribing physician must "
            "review the plan and give the reason."
        )
    if len(reason.strip()) < MIN_REASON_CHARS:
        return None, (
            f"The reason {reason.strip()!r} is too short to pass a soft limit: write why this patient needs it, "
            f"in at least {MIN_REASON_CHARS} characters."
        )
    return Override(actor.role, reason.strip(), by=actor.name), ""
