"""A plan and its execution laid out for a person at a terminal.

First the plan: who asks for what, the drug in the pump, every setting now and
after side by side (in dose with the drug's unit and in volume, a star on each
change), the limits that applied with their tier, words and source, and the
warnings. Then, once it was sent, how each command ended and what a fresh
interrogation found. The words come from the therapy layer; this module only
lays them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from thecal.drugs.verdict import Finding, Tier
from thecal.pump.core.commands import Fill
from thecal.pump.core.schedule import DAY_NAMES
from thecal.therapy import Execution, ExecutionStatus, Plan, SettingChange, SettingValue
from thecal.therapy.settings import EVERY_DAY, label_text, volume_text, wall_text

INDENT = "    "
CHANGED = "*"
# Findings that an option of the command line answers, once the person has done what the finding asks.
ANSWERED_BY = {
    "refill_discrepancy": "once the cause is known, run the refill again with --acknowledge-discrepancy",
    "new_prescription_needed": "give the new prescription with --dose or --steps",
}

# What each intent is called on the screen.
INTENT_WORDS = {
    "Implant": "record the implanted catheter",
    "FirstFill": "first fill",
    "Refill": "refill",
    "Prescribe": "prescribe",
    "Titrate": "titrate",
    "ClinicianBolus": "clinician bolus",
    "PrimingBolus": "priming bolus",
    "PeriodicBolus": "periodic bolus",
    "PeriodicBolusOff": "periodic bolus off",
    "PtmSettings": "patient's handset (PTM) settings",
    "PtmOff": "patient's handset (PTM) off",
    "StopTherapy": "stop therapy (minimum rate)",
    "ResumeTherapy": "resume therapy",
    "ClearAlarm": "clear an alarm",
    "PostMriCheck": "check after an MRI",
    "LowReservoirAlarm": "low-reservoir alarm threshold",
    "DemandPress": "demand dose",
}


def intent_words(plan: Plan) -> str:
    """What the plan is for, in words."""
    name = type(plan.intent).__name__
    return INTENT_WORDS.get(name, name)


def plan_lines(plan: Plan, pump_label: str) -> list[str]:
    """The whole plan for a person to read before confirming."""
    actor = plan.actor
    lines = [
        f"Plan: {intent_words(plan)}, by {actor.name} ({actor.role.value}), for pump {pump_label} "
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
        for change in grouped(plan.settings):
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


def grouped(settings: Sequence[SettingChange]) -> list[SettingChange]:
    """The settings, with a basal step that is alike on several weekdays shown once for all of them."""
    out: list[SettingChange] = []
    groups: list[_Group] = []
    for change in settings:
        parts = change.key.split(".")
        if len(parts) == 3 and parts[0] == "basal" and parts[1] in DAY_NAMES:
            at, day = parts[2], DAY_NAMES.index(parts[1])
            same = [g for g in groups if (g.at, g.old, g.new) == (at, change.old, change.new)]
            if same:
                same[0].days.append(day)
            else:
                groups.append(_Group(at, change.old, change.new, [day]))
            continue
        out += _basal_rows(groups)
        groups = []
        out.append(change)
    return out + _basal_rows(groups)


@dataclass
class _Group:
    at: str
    old: SettingValue | None
    new: SettingValue | None
    days: list[int]


def _basal_rows(groups: list[_Group]) -> list[SettingChange]:
    return [
        SettingChange(f"basal.{days_text(g.days)}.{g.at}", f"basal dose, {days_text(g.days)} from {g.at}", g.old, g.new)
        for g in sorted(groups, key=lambda g: (min(g.days), g.at))
    ]


def days_text(days: Sequence[int]) -> str:
    """Weekdays (0 = Monday) as people write them: "every day", "mon-fri", "sat, sun", "mon, wed-fri"."""
    if len(days) == len(DAY_NAMES):
        return EVERY_DAY
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(
        DAY_NAMES[r[0]] if len(r) == 1 else f"{DAY_NAMES[r[0]]}{', ' if len(r) == 2 else '-'}{DAY_NAMES[r[-1]]}"
        for r in runs
    )


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
