"""What a handler hands back: the commands for one intent, the settings they leave, and its own findings."""

from __future__ import annotations

from dataclasses import dataclass

from thecal.drugs.limits import PUMP_FIRMWARE, rule_finding
from thecal.drugs.verdict import Finding
from thecal.pump.core.commands import BolusKind, Command
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
    starts_bridge: bool = False  # a fill that leaves the old solution in the tubing, to be pushed first
    expected_mode: str | None = None
    refill_due_wall_ms: int | None = None
    expected_event: str | None = None  # an event-log entry the pump must write when the plan is sent


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


def bolus_in_the_way(ctx: Context) -> list[Finding]:
    """A hard finding while a bolus that adds to the basal runs: the pump takes no new prescription under it."""
    bolus = ctx.snapshot.bolus
    if bolus is None or BolusKind(bolus.kind).replaces_basal:
        return []
    return [
        rule_finding(
            "prescription",
            f"{bolus.kind} bolus running",
            "no bolus running",
            f"A {bolus.kind} bolus is running; the pump takes no new prescription until it has ended.",
            "wait until the bolus has ended, or cancel it, then plan again",
            PUMP_FIRMWARE,
            code="bolus_running",
        )
    ]
