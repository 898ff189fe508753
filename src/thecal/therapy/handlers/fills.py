"""Implant, first fill and refill: what the reservoir and the catheter hold.

A fill is judged by the pump's own rules before the needle goes in, since a
fill the pump refuses once the new solution is in the reservoir leaves the
pump's label and the reservoir telling different stories: its bridge rules
(`pump.core.solutions`) and, for a refill that also reprograms, the one check
of the settings the fill alone leaves (the new prescription is checked with
every plan).
"""

from __future__ import annotations

from dataclasses import replace

from thecal.clinical.refill import reconcile_refill
from thecal.drugs.dosing import mass_ng, volume_nl
from thecal.drugs.fill import Fill as DrugFill
from thecal.drugs.limits import rule_finding
from thecal.drugs.verdict import Finding, Tier
from thecal.pump.core import commands as pump
from thecal.pump.core.hard_limits import periodic_boluses_per_24h
from thecal.pump.core.limits import fill_refusal
from thecal.pump.core.solutions import Tubing, bridge_refusal, solution_change
from thecal.therapy.checks import library_fill, pump_finding, pump_model_finding, pump_refusal
from thecal.therapy.context import Context
from thecal.therapy.handlers.draft import PUMP_LABEL_SOURCE, Draft, bolus_in_the_way
from thecal.therapy.intents import FirstFill, Implant, Refill
from thecal.therapy.plan import PlanWarning
from thecal.therapy.settings import TherapySettings, days_text, label_text, mass_text, volume_text, wall_text
from thecal.therapy.snapshot import Label
from thecal.units import MS_PER_DAY

BRIDGE_SOURCE = "SynchroMed II programming guide: a bridge bolus follows a change of drug or concentration"


def implant(ctx: Context, intent: Implant) -> Draft:
    """Record the catheter's volume, so the dead volume (and so priming and bridging) is known."""
    after = ctx.before.but(catheter_volume_nl=intent.catheter_volume_nl)
    dead = intent.catheter_volume_nl + ctx.snapshot.model.internal_volume_nl
    warnings = (
        PlanWarning(
            "prime",
            f"A new catheter holds no drug: plan a priming bolus of the dead volume ({volume_text(dead)}) once the "
            "pump is filled, or the drug reaches the spinal fluid only after that volume has gone through.",
        ),
    )
    return Draft((pump.SetCatheter(intent.catheter_volume_nl),), after, warnings=warnings)


def first_fill(ctx: Context, intent: FirstFill) -> Draft:
    """Fill a new pump: the label, the volume and the low-reservoir alarm."""
    label = _label(intent.fill)
    command = pump.Fill(intent.volume_nl, label, None, intent.low_reservoir_alarm_nl, False)
    after = _after_fill(ctx.before, label, intent.low_reservoir_alarm_nl)
    findings = _fill_findings(ctx, command)
    if ctx.snapshot.label:
        findings.append(
            rule_finding(
                "fill",
                f"pump holds {label_text(ctx.snapshot.label)}",
                "an empty pump",
                "This pump was filled before: a refill starts by aspirating what is left, and records it.",
                "plan a refill with the aspirated volume",
                PUMP_LABEL_SOURCE,
                code="not_first_fill",
            )
        )
    warnings = _fill_warnings(ctx, intent.volume_nl, after)
    if ctx.snapshot.catheter_volume_nl == 0:
        warnings.append(
            PlanWarning("no_catheter", "No catheter volume is recorded: plan the implant first, so priming is right.")
        )
    due, due_warning = refill_due(ctx, after, intent.volume_nl, first_fill=True)
    return Draft((command,), after, tuple(findings), tuple(warnings + due_warning), refill_due_wall_ms=due)


def refill(ctx: Context, intent: Refill) -> Draft:
    """Aspirate, reconcile, refill; a new drug or concentration keeps every dose and bridges the old drug."""
    before = ctx.before
    label = _label(intent.fill)
    findings: list[Finding] = []
    warnings: list[PlanWarning] = []
    if not before.label:
        findings.append(
            rule_finding(
                "fill",
                "empty pump",
                "a pump filled before",
                "This pump was never filled, so there is nothing to aspirate or reconcile.",
                "plan a first fill",
                PUMP_LABEL_SOURCE,
                code="first_fill_needed",
            )
        )
    found, said = _reconcile(ctx, intent)
    findings += found
    warnings += said
    change = solution_change(ctx.snapshot.lead, label)
    changed = change.changed
    new_lead = change.drug_changed
    bridge = intent.bridge and changed
    commands: list[pump.Command] = []
    after = _after_fill(before, label, intent.low_reservoir_alarm_nl)
    if new_lead:
        if intent.new_prescription is None:
            findings.append(
                rule_finding(
                    "prescription",
                    f"{before.label[0][0]} to {label[0][0]}",
                    "a new prescription with a new drug",
                    f"The prescription is a dose of {before.label[0][0]}; it means nothing for {label[0][0]}.",
                    f"give the new prescription in {label[0][0]} with this refill",
                    PUMP_LABEL_SOURCE,
                    code="new_prescription_needed",
                )
            )
        # Every dose-based setting is a dose of the old drug: the pump drops them all when the drug changes.
        after = after.but(prescription=None, demand=None, periodic=None)
    fill = pump.Fill(intent.volume_nl, label, intent.aspirated_nl, intent.low_reservoir_alarm_nl, bridge)
    commands.append(fill)
    findings += _fill_findings(ctx, fill)
    if intent.new_prescription is not None:
        # Sent one after the other: the fill alone must pass the pump's check too, or half the plan is done.
        alone = pump_finding(pump_refusal(ctx, before, after, ctx.bridge_after(before, bridge)))
        if alone is not None:
            findings.append(alone)
        if not changed:  # a change of solution ends a running bolus; the same solution leaves it running
            findings += bolus_in_the_way(ctx)
        commands.append(pump.Program(intent.new_prescription))
        after = after.but(prescription=intent.new_prescription)
    if changed and (bridge or not change.stronger_old):
        warnings.append(_bridge_warning(ctx, before, label, bridge))
    warnings += _fill_warnings(ctx, intent.volume_nl, after)
    due, due_warning = refill_due(ctx, after, intent.volume_nl, first_fill=False)
    return Draft(
        tuple(commands),
        after,
        tuple(findings),
        tuple(warnings + due_warning),
        refill_due_wall_ms=due,
        starts_bridge=bridge,
    )


# ----------------------------------------------------------------------------- parts


def _label(fill: DrugFill) -> Label:
    return tuple((c.drug.name, c.concentration_ng_per_ml) for c in fill.components)


def _after_fill(before: TherapySettings, label: Label, threshold_nl: int | None) -> TherapySettings:
    return before.but(
        label=label, low_reservoir_alarm_nl=before.low_reservoir_alarm_nl if threshold_nl is None else threshold_nl
    )


def _fill_findings(ctx: Context, command: pump.Fill) -> list[Finding]:
    """The library's checks of the solution, the pump model's of the fill, and the pump's bridge rules."""
    library, findings = library_fill(command.contents)
    if library is not None:
        findings += library.check().findings
    findings += pump_model_finding(fill_refusal(ctx.snapshot.model, command), ctx)
    s = ctx.snapshot
    bridging = bridge_refusal(Tubing(s.lead, s.bridge_remaining_nl, s.dead_volume_nl), command)
    found = pump_finding(bridging)
    return findings if found is None else [*findings, found]


def _fill_warnings(ctx: Context, fill_nl: int, after: TherapySettings) -> list[PlanWarning]:
    if fill_nl > after.low_reservoir_alarm_nl:
        return []
    return [
        PlanWarning(
            "fill_below_alarm",
            f"The fill ({volume_text(fill_nl)}) is not above the low-reservoir alarm "
            f"({volume_text(after.low_reservoir_alarm_nl)}): the alarm will sound at once.",
        )
    ]


def _reconcile(ctx: Context, intent: Refill) -> tuple[list[Finding], list[PlanWarning]]:
    """The one refill reconciliation: aspirated against what the pump calculates is left."""
    # The pump's calculated reservoir volume is the expectation from the programmed delivery.
    result = reconcile_refill(
        aspirated_nl=intent.aspirated_nl, pump=ctx.snapshot.model, expected_nl=ctx.snapshot.reservoir_nl
    )
    if not result.flagged:
        return list(result.verdict.hard), []
    others = [f for f in result.verdict.findings if f.tier is Tier.HARD]
    flagged = [f for f in result.verdict.findings if f.tier is Tier.SOFT]
    if intent.discrepancy_acknowledged:
        words = " ".join(f.message for f in flagged)
        note = PlanWarning("discrepancy_acknowledged", f"{words} Acknowledged by {ctx.actor.name}; the refill goes on.")
        return others, [note]
    # A flagged discrepancy stops the refill until someone has looked into it and says so.
    stopped = [
        replace(
            f,
            tier=Tier.HARD,
            code="refill_discrepancy",
            action=f"{f.action.rstrip('.')}; once the cause is known, acknowledge the discrepancy to go on",
        )
        for f in flagged
    ]
    return others + stopped, []


def _bridge_warning(ctx: Context, before: TherapySettings, label: Label, bridge: bool) -> PlanWarning:
    dead = ctx.snapshot.dead_volume_nl
    old = before.label
    held = mass_text(old, mass_ng(dead, old[0][1]))
    if bridge and before.prescription is None:
        return PlanWarning(
            "bridge",
            f"The old drug in the tubing and catheter ({volume_text(dead)}, {held}) goes first, pushed by whatever "
            "the pump gives next: until it has gone, every dose is measured out with the stronger solution; then "
            f"{label_text(label)}.",
        )
    if bridge:
        return PlanWarning(
            "bridge",
            f"The old drug in the tubing and catheter ({volume_text(dead)}, {held}) goes first, at the old doses; "
            f"then {label_text(label)} at the same doses.",
        )
    return PlanWarning(
        "no_bridge",
        f"No bridge after a change from {label_text(old)} to {label_text(label)}: the old, weaker drug in the "
        f"tubing and catheter ({volume_text(dead)}, {held}) goes at the new volumes, so the patient gets less "
        "than the prescribed dose until it has passed.",
    )


def refill_due(
    ctx: Context, after: TherapySettings, fill_nl: int, *, first_fill: bool
) -> tuple[int | None, list[PlanWarning]]:
    """When the next refill is due: the earlier of the drug's stability and the low-reservoir alarm."""
    fill, _ = library_fill(after.label)
    if fill is None:
        return None, []
    drug, limit = fill.refill_limit(first_fill=first_fill)
    due_ms, why = limit.hard, f"{drug.name} stability in the pump ({limit.hard_source})"
    daily = _daily_volume_nl(after)
    if daily > 0 and fill_nl > after.low_reservoir_alarm_nl:
        alarm_ms = (fill_nl - after.low_reservoir_alarm_nl) * MS_PER_DAY // daily
        if alarm_ms < due_ms:
            due_ms, why = alarm_ms, "the low-reservoir alarm at the programmed doses"
    due = ctx.snapshot.wall_ms + due_ms
    words = f"Refill by {wall_text(due)} (in {days_text(due_ms)}): {why}."
    return due, [PlanWarning("refill_due", words)]


def _daily_volume_nl(settings: TherapySettings) -> int:
    """The volume the programmed doses use on an average day, periodic boluses included."""
    conc = settings.lead_concentration_ng_per_ml
    if conc is None or settings.prescription is None:
        return 0
    flows = settings.prescription.flows(conc)
    daily = sum(flows.daily_volume_nl(d) for d in range(7)) // 7
    if settings.periodic is not None:
        per_bolus = volume_nl(settings.periodic.dose_ng, conc)
        daily += periodic_boluses_per_24h(settings.periodic.interval_ms) * per_bolus
    return daily
