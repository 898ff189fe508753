"""What a handler hands back: the commands for one intent, the settings they leave, and its own findings."""

from __future__ import annotations

from dataclasses import dataclass

from thecal.drugs.limits import rule_finding
from thecal.drugs.verdict import Finding
from thecal.pump.core.commands import Command
from thecal.therapy.context import Context
from thecal.therapy.plan import PlanWarning
from thecal.therapy.settings import TherapySettings

PUMP_LABEL_SOURCE = "the pump's drug label: doses are given in the drug the pump holds, never a default"


@dataclass(frozen=True)
class Draft:
    """One intent turned into firmware commands, before the checks every plan shares."""

    commands: tuple[Command, ...]
    after: TherapySettings
    findings: tuple[Finding, ...] = ()
    warnings: tuple[PlanWarning, ...] = ()
    one_off_ng: int = 0  # a dose given now, counted in the next 24 h
    expected_mode: str | None = None
    refill_due_wall_ms: int | None = None


def no_drug(ctx: Context) -> list[Finding]:
    """A hard finding when the pump holds no drug, so no dose can be worked out."""
    if ctx.snapshot.label:
        return []
    return [
        rule_finding(
            "drug label",
            "empty",
            "a filled reservoir",
            "The pump holds no drug, so no dose can be turned into a volume.",
            "fill the pump first, then plan this again",
            PUMP_LABEL_SOURCE,
            code="no_drug",
        )
    ]
