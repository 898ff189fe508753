"""What every calculator returns: integer values in base units, the reasoning, and the safety verdict.

The reasoning is what a programmer screen or a report shows beside a number:
the inputs as typed and normalised, the formula in words, the worked steps, the
limits that applied and where they come from. `to_dict()` gives the same as
stable JSON-ready data.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import ClassVar

from thecal.drugs.model import Direction, Drug, Limit
from thecal.drugs.verdict import Verdict

HIDDEN_FIELDS = ("title", "summary", "reasoning", "verdict")


@dataclass(frozen=True)
class Reasoning:
    """How a result was reached, in words: inputs, formula, steps, limits applied, sources and notes."""

    inputs: tuple[tuple[str, str], ...]
    formula: str
    steps: tuple[str, ...] = ()
    limits: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """The reasoning as stable JSON-ready fields."""
        return {
            "inputs": dict(self.inputs),
            "formula": self.formula,
            "steps": list(self.steps),
            "limits": list(self.limits),
            "sources": list(self.sources),
            "notes": list(self.notes),
        }


@dataclass(frozen=True, kw_only=True)
class Result:
    """The common part of every calculator result."""

    CALCULATOR: ClassVar[str] = ""

    title: str
    summary: tuple[tuple[str, str], ...]
    reasoning: Reasoning
    verdict: Verdict

    def values(self) -> dict[str, object]:
        """The result's own values, integers in base units (names say the unit), ready for JSON."""
        return {
            f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name not in HIDDEN_FIELDS
        }

    def to_dict(self) -> dict[str, object]:
        """The whole result as stable JSON-ready data."""
        return {
            "calculator": self.CALCULATOR,
            "title": self.title,
            "values": self.values(),
            "summary": dict(self.summary),
            "reasoning": self.reasoning.to_dict(),
            "verdict": self.verdict.to_dict(),
        }

    def raise_if_refused(self) -> None:
        """Raise an InputError when a limit refuses the result."""
        self.verdict.raise_if_refused()


def limit_line(drug: Drug, limit: Limit) -> str:
    """One limit of a drug in words: its tiers, values and sources."""
    measure = limit.spec.measure
    soft = drug.quantity_text(measure, limit.soft)
    hard = drug.quantity_text(measure, limit.hard)
    word = "at most" if limit.spec.direction is Direction.MAX else "at least"
    if limit.soft == limit.hard:
        return f"{drug.name} {limit.spec.field}: {word} {hard}, hard limit ({limit.hard_source})"
    return (
        f"{drug.name} {limit.spec.field}: {word} {soft} usually ({limit.soft_source}); "
        f"{word} {hard} always, hard limit ({limit.hard_source})"
    )


def _jsonable(value: object) -> object:
    if isinstance(value, Drug):
        return value.name
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    return value
