"""The shape of "beyond a limit": findings from the drug library's two-tier limits and from the pump.

This is the only place that decides soft versus hard: a value beyond the hard
tier gives one hard finding (the soft finding is then moot); a value beyond only
the soft tier gives one soft finding; anything else gives none. A pump's refusal
becomes a finding here too, so every door shows one shape whoever drew the line.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from thecal.drugs.model import Direction, Drug, Limit
from thecal.drugs.verdict import Finding, Tier

if TYPE_CHECKING:  # the converter only reads a refusal's fields; the drug library does not load the firmware
    from thecal.pump.core.actions import Refusal

PUMP_FIRMWARE = "pump firmware"


def limit_findings(
    drug: Drug,
    limit: Limit,
    value: int | Fraction,
    *,
    value_text: str | None = None,
    note: str = "",
) -> list[Finding]:
    """The finding (none or one) for a value measured against a drug's two-tier limit."""
    if limit.hard_exceeded(value):
        tier, bound, source = Tier.HARD, limit.hard, limit.hard_source
    elif limit.soft_exceeded(value):
        tier, bound, source = Tier.SOFT, limit.soft, limit.soft_source
    else:
        return []
    spec = limit.spec
    shown = value_text or drug.quantity_text(spec.measure, round(value))
    bound_text = drug.quantity_text(spec.measure, bound)
    beyond = "above" if spec.direction is Direction.MAX else "below"
    if (shown == bound_text or shown.startswith(f"{bound_text} (")) and value != bound:
        # Rounded for display, a value just past the limit would read as the limit itself.
        shown = ("more than " if spec.direction is Direction.MAX else "less than ") + shown
    if tier is Tier.HARD:
        message = (
            f"The {spec.field} {shown} is {beyond} the hard limit for {drug.name} ({bound_text}): "
            f"{limit.why}. No one can override this limit."
        )
    else:
        message = f"The {spec.field} {shown} is {beyond} the usual limit for {drug.name} ({bound_text}): {limit.why}."
    if note:
        message += f" {note}"
    return [
        Finding(
            tier=tier,
            field=spec.field,
            value=shown,
            limit=f"{bound_text} ({tier.value} limit)",
            message=message,
            action=_action(spec.direction, spec.field, bound_text),
            source=source,
            code=limit.key,
        )
    ]


def rule_finding(
    field: str, value: str, limit: str, message: str, action: str, source: str, *, code: str = ""
) -> Finding:
    """A hard finding for a rule that is not a number, such as 'not for opioid-naïve patients'."""
    return Finding(Tier.HARD, field, value, limit, message, action, source, code=code)


def refusal_finding(refusal: Refusal, *, source: str = PUMP_FIRMWARE) -> Finding:
    """A pump's refusal as the finding every door shows: hard, since nothing a person says passes the pump."""
    code = str(refusal.code)
    words = refusal.message.strip().rstrip(".")
    return Finding(
        tier=Tier.HARD,
        field=refusal.field or code,
        value=refusal.value,
        limit=refusal.limit,
        message=f"The pump refused this: {words}." if words else "The pump refused this.",
        action="change what the pump refused, then plan again",
        source=source,
        code=code,
    )


def _action(direction: Direction, field: str, bound_text: str) -> str:
    if direction is Direction.MAX:
        return f"use a {field} of {bound_text} or less"
    return f"use a {field} of at least {bound_text}"
