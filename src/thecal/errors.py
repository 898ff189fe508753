"""Errors a person can act on: what was wrong, the limit, and what to do."""

from __future__ import annotations


class ThecalError(Exception):
    """Base of every error thecal raises on purpose."""


class InputError(ThecalError, ValueError):
    """A value a person typed or a file holds is not acceptable."""

    def __init__(self, field: str, value: object, problem: str, action: str, limit: str | None = None):
        self.field = field
        self.value = value
        self.problem = problem
        self.limit = limit
        self.action = action
        parts = [f"{field} = {value!r}: {problem}"]
        if limit:
            parts.append(f"limit: {limit}")
        parts.append(f"what to do: {action}")
        super().__init__("; ".join(parts))

    def to_dict(self) -> dict[str, object]:
        """The error as stable JSON-ready fields."""
        return {
            "field": self.field,
            "value": str(self.value),
            "problem": self.problem,
            "limit": self.limit,
            "action": self.action,
        }
