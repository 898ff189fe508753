"""A plan and its execution laid out for a person at a terminal.

First the plan: who asks for what, the drug in the pump, every setting now and
after side by side (in dose with the drug's unit and in volume, a star on each
change), the limits that applied with their tier, words and source, and the
warnings. Then, once it was sent, how each command ended and what a fresh
interrogation found. The words come from the therapy layer; this module only
lays them out.
"""

from __future__ import annotations

from thecal.drugs.verdict import Finding, Tier
from thecal.pump.core.commands import Fill
from thecal.therapy import Execution, ExecutionStatus, Plan, SettingChange
from thecal.therapy.settings import grouped_by_weekday, label_text, volume_text, wall_text
from thecal.therapy.words import intent_words

INDENT = "    "
CHANGED = "*"
# Findings that an option of the command line answers, once the person has done what the finding asks.
ANSWERED_BY = {
    "refill_discrepancy": "once the cause is known, run the refill again with --acknowledge-discrepancy",
    "new_prescription_needed": "give the new prescription with --dose or --steps",
}


def plan_lines(plan: Plan, pump_label: str) -> list[str]:
    """The whole plan for a person to read before confirming."""
    actor = plan.actor
    lines = [
        f"Plan: {intent_words(plan.intent)}, by {actor.name} ({actor.role.value}), for pump {pump_label} "
        f"as read at {wall_text(plan.planned_wall_ms)} (pump clock, local time)",
    ]
    if plan.before is not None:
        lines.append(f"Drug in the pump: {label_text(plan.before.label)}")
    for command in plan.commands:
        if isinstance(command, Fill):
            line = f"Into the reservoir: {volume_text(command.volume_nl)} of {label_text(command.contents)}"
            if command.aspirated_nl is not None:
                line += f", after {volume_text(command.aspirated_nl)} was aspirated"
            lines.append(line)
    if plan.settings:
        lines += ["", f"Settings, now and after ({CHANGED} = changed by this plan):"]
        for change in grouped_by_weekday(plan.settings):
            lines += setting_lines(change)
    lines += ["", "Limits that applied:"]
    if plan.findings:
        for finding in plan.findings:
            lines += finding_lines(finding, plan)
    else:
        lines.append(f"{INDENT}none reached")
    if plan.override_note:
        lines.append(f"{INDENT}{plan.override_note}")
    if plan.warnings:
        lines += ["", "Warnings:"]
        lines += [f"{INDENT}- {w.message}" for w in plan.warnings]
    if plan.commands:
        names = ", ".join(type(c).__name__ for c in plan.commands)
        lines += ["", f"Commands for the pump: {names}"]
    lines += ["", plan.verdict_sentence()]
    return lines


def setting_lines(change: SettingChange) -> list[str]:
    """One setting: unchanged on one line, changed with now and after one under the other."""
    if not change.changed:
        text = change.new.text if change.new is not None else "none"
        return [f"  {change.name}: {text} (unchanged)"]
    old = change.old.text if change.old is not None else "none"
    new = change.new.text if change.new is not None else "none"
    return [f"{CHANGED} {change.name}", f"{INDENT}now:   {old}", f"{INDENT}after: {new}"]


def finding_lines(finding: Finding, plan: Plan | None = None) -> list[str]:
    """One limit reached: its tier and state, the value against the limit, the words, what to do, the source."""
    if finding.tier is Tier.HARD:
        state = "HARD limit"
    elif finding.overridden and plan is not None and plan.override is not None:
        override = plan.override
        state = f"soft limit, passed by {override.by or override.role.value} ({override.role.value}): {override.reason}"
    else:
        state = "soft limit, not passed: a physician may pass it with --by physician and a written --reason"
    head = f"{INDENT}[{state}] {finding.field}"
    if finding.value:
        head += f": {finding.value}"
    if finding.limit:
        head += f" (limit: {finding.limit})"
    lines = [head, f"{INDENT}{INDENT}{finding.message}"]
    if finding.blocking:
        lines.append(f"{INDENT}{INDENT}What to do: {finding.action}")
        if finding.code in ANSWERED_BY:
            lines.append(f"{INDENT}{INDENT}At this command line: {ANSWERED_BY[finding.code]}")
    lines.append(f"{INDENT}{INDENT}Source: {finding.source}")
    return lines


def execution_lines(execution: Execution) -> list[str]:
    """How each command ended and what the fresh interrogation found."""
    lines = ["Sent to the pump:"]
    lines += [f"{INDENT}{sent.words()}" for sent in execution.sent] or [f"{INDENT}nothing"]
    verification = execution.verification
    if verification.checked:
        if verification.ok:
            lines.append("Verified: a fresh interrogation shows the pump holds what was planned.")
        else:
            lines.append("Verification: a fresh interrogation shows the pump does NOT hold what was planned:")
            for m in verification.mismatches:
                planned = m.old.text if m.old is not None else "none"
                found = m.new.text if m.new is not None else "none"
                lines.append(f"{INDENT}{m.name}: planned {planned}; found {found}")
            if verification.mode_expected not in (None, verification.mode_found):
                lines.append(f"{INDENT}mode: planned {verification.mode_expected}; found {verification.mode_found}")
    lines.append(execution.message)
    if execution.status is ExecutionStatus.UNKNOWN:
        lines.append(UNKNOWN_WORDS)
    return lines


UNKNOWN_WORDS = (
    "The outcome is unknown: a dose may have been delivered. Count it as delivered, and interrogate the pump "
    "before sending anything again."
)
