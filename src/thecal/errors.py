"""Errors a person can act on: what was wrong, the limit, and what to do."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping, Sequence


class ThecalError(Exception):
    """Base of every error thecal raises on purpose."""


# A value longer than this is shown by its start and its length: a pasted megabyte is not a message.
SHOWN_MAX_CHARACTERS = 200


def shown(value: object) -> str:
    """A value as a message shows it: quoted, escaped, and cut short when it is long."""
    text = repr(value)
    if len(text) > SHOWN_MAX_CHARACTERS:
        return f"{text[:120]}… ({len(text)} characters)"
    return text


class InputError(ThecalError, ValueError):
    """A value a person typed or a file holds is not acceptable."""

    def __init__(self, field: str, value: object, problem: str, action: str, limit: str | None = None):
        self.field = field
        self.value = value
        self.problem = problem
        self.limit = limit
        self.action = action
        parts = [f"{field} = {shown(value)}: {problem}"]
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


# What the schema library's own error types mean, in words a person editing the file understands.
_SCHEMA_WORDS = {
    "missing": "missing from the file",
    "string_type": "text is required here",
    "string_too_short": "text is required here (every figure carries its source)",
    "bool_type": "true or false is required here",
    "int_type": "a whole number is required here",
    "list_type": "a list is required here",
    "tuple_type": "a list is required here",
    "dict_type": "a table is required here",
    "model_type": "a table is required here",
    "model_attributes_type": "a table is required here",
    "too_short": "at least one entry is required here",
}


def schema_error(source: str, error: object, action: str, schema: type | None = None) -> InputError:
    """The first problem a data-file schema found, as an InputError naming the file, the field and the value.

    `error` is the schema library's validation error (anything with `.errors()`);
    `schema` is the model that was validated, used to list the known names when
    the file holds one the schema does not know.
    """
    problems: Sequence[Mapping[str, object]] = error.errors()  # type: ignore[attr-defined]
    # A misspelt name also makes the right name missing; the misspelling is the one to show.
    first = min(problems, key=lambda p: p.get("type") != "extra_forbidden")
    loc = tuple(str(part) for part in first.get("loc", ()))  # type: ignore[attr-defined]
    field = f"{source}: {'.'.join(loc)}" if loc else source
    kind = str(first.get("type", ""))
    value: object = None if kind == "missing" else first.get("input")
    cause = (first.get("ctx") or {}).get("error")  # type: ignore[attr-defined]
    if isinstance(cause, InputError):
        # A rule of the file's own (a unit, a tier, a range) said what was wrong and what to do.
        if cause.field:
            field = f"{field}.{cause.field}" if loc else f"{source}: {cause.field}"
        value = cause.value if cause.value is not None else value
        problem, act = cause.problem, cause.action
    elif kind == "extra_forbidden":
        known = _known_names(schema, loc[:-1]) if schema is not None else None
        problem = "not a name this file may hold here"
        problem += f"; known names: {', '.join(known)}" if known else " (a misspelt name?)"
        value, act = loc[-1] if loc else value, action
    else:
        problem = _SCHEMA_WORDS.get(kind) or str(first.get("msg", "not acceptable"))
        act = action
    if len(problems) > 1:
        problem += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''} in this file)"
    return InputError(field, value, problem, act)


def _known_names(schema: type, path: Iterable[str]) -> list[str] | None:
    """The names the schema accepts at a path of nested tables, as written in files, or None where it cannot tell."""
    model: object = schema
    for name in path:
        if name.isdigit():
            continue  # an entry of a list of tables: the list's annotation already led to the table type
        field = _written_names(model).get(name)
        model = _nested_model(getattr(field, "annotation", None))
        if model is None:
            return None
    return sorted(_written_names(model)) or None


def _written_names(model: object) -> dict[str, object]:
    """A table type's fields by the name a file uses for them (its alias, where it has one)."""
    fields: Mapping[str, object] = getattr(model, "model_fields", None) or {}
    return {getattr(field, "alias", None) or name: field for name, field in fields.items()}


def _nested_model(annotation: object) -> object | None:
    """The table type inside an annotation such as `Section`, `Section | None` or `list[Section]`."""
    if hasattr(annotation, "model_fields"):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, typing.Annotated, list):
        for arg in typing.get_args(annotation):
            if (found := _nested_model(arg)) is not None:
                return found
    return None
