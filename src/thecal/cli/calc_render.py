"""Calculator results as text a clinician reads on a screen or in a report, or as stable JSON."""

from __future__ import annotations

import json

from thecal.clinical.result import Result
from thecal.drugs.verdict import Tier


def result_text(result: Result) -> str:
    """A result as plain text: the answer first, then how it was worked out and what limits applied."""
    width = max((len(label) for label, _ in result.summary), default=0)
    lines = [result.title, ""]
    lines += [f"  {label.ljust(width)}  {value}" for label, value in result.summary]
    reasoning = result.reasoning
    lines += ["", "Inputs"]
    lines += [f"  {name}: {value}" for name, value in reasoning.inputs]
    lines += ["", "How it is worked out", f"  {reasoning.formula}"]
    lines += [f"  {step}" for step in reasoning.steps]
    if reasoning.limits:
        lines += ["", "Limits that applied"]
        lines += [f"  - {limit}" for limit in reasoning.limits]
    passed = [f for f in result.verdict.findings if f.tier is Tier.SOFT and f.overridden]
    if passed and result.verdict.override is not None:
        lines += ["", f"Soft limits passed by a physician (reason: {result.verdict.override.reason.strip()})"]
        lines += [f"  - {f.message}" for f in passed]
    if reasoning.notes:
        lines += ["", "Notes"]
        lines += [f"  - {note}" for note in reasoning.notes]
    if reasoning.sources:
        lines += ["", "Sources"]
        lines += [f"  - {source}" for source in reasoning.sources]
    return "\n".join(lines)


def results_json(results: list[Result]) -> str:
    """One result, or several, as stable JSON text."""
    data: object = results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results]
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
