"""The store's input checks: each gives the clean value or an InputError naming field, value, limit and action."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from thecal.errors import InputError

USERNAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
PASSWORD_MIN_CHARACTERS = 10
PASSWORD_MAX_CHARACTERS = 1024
# Characters a typed text may not hold: the C0 controls but tab, line feed and carriage return, and NUL above all
# (PostgreSQL refuses NUL in text; a record must read the same on both databases).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text(field: str, value: object, *, max_chars: int, required: bool = True, one_line: bool = True) -> str:
    """A text field as typed (never trimmed nor changed): a string, within its length, without control characters."""
    if not isinstance(value, str):
        raise InputError(field, value, "must be text", f"give {field} as text")
    if required and not value.strip():
        raise InputError(field, value, "is empty", f"fill in {field}")
    if len(value) > max_chars:
        raise InputError(field, value, "is too long", f"shorten {field}", limit=f"at most {max_chars} characters")
    bad = re.compile(r"[\x00-\x1f\x7f]") if one_line else _CONTROL
    if found := bad.search(value):
        raise InputError(field, value, f"holds the control character {found.group()!r}", f"retype {field} without it")
    return value


def printable(value: str) -> str:
    """A string with every control character replaced by U+FFFD, fit for a record whatever was typed."""
    return re.sub(r"[\x00-\x1f\x7f]", "\ufffd", value)


def username(value: object) -> str:
    """A login name: 1 to 64 letters, digits or . _ @ -."""
    if not isinstance(value, str) or not USERNAME.fullmatch(value):
        raise InputError(
            "username",
            value,
            "is not a valid login name",
            "use letters, digits and . _ @ - only",
            limit="1 to 64 characters",
        )
    return value


def password(value: object) -> str:
    """A new password: long enough to resist guessing."""
    if not isinstance(value, str):
        raise InputError("password", "(hidden)", "must be text", "type a password")
    if len(value) < PASSWORD_MIN_CHARACTERS:
        raise InputError(
            "password",
            f"({len(value)} characters)",
            "is too short",
            "choose a longer password, a phrase of several words is easy to remember",
            limit=f"at least {PASSWORD_MIN_CHARACTERS} characters",
        )
    if len(value) > PASSWORD_MAX_CHARACTERS:
        raise InputError(
            "password",
            f"({len(value)} characters)",
            "is too long",
            "choose a shorter password",
            limit=f"at most {PASSWORD_MAX_CHARACTERS} characters",
        )
    return value


def choice(field: str, value: object, allowed: Sequence[str]) -> str:
    """One of a fixed list of words."""
    if not isinstance(value, str) or value not in allowed:
        raise InputError(field, value, "is not one of the allowed values", f"choose one of: {', '.join(allowed)}")
    return value


def number(
    field: str,
    value: object,
    *,
    unit: str,
    minimum: float,
    maximum: float,
    above_minimum: bool = False,
    optional: bool = False,
) -> float | None:
    """A finite number within its range (strictly above the minimum when `above_minimum`); None when optional."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(field, value, "must be a number", f"give {field} as a number in {unit}")
    number_ = float(value)
    low_ok = number_ > minimum if above_minimum else number_ >= minimum
    if not math.isfinite(number_) or not low_ok or number_ > maximum:
        low = f"above {minimum:g}" if above_minimum else f"from {minimum:g}"
        raise InputError(
            field,
            value,
            "is out of range",
            f"give {field} in {unit} within the limit",
            limit=f"{low} to {maximum:g} {unit}",
        )
    return number_


def required_number(field: str, value: object, *, unit: str, minimum: float, maximum: float, above: bool) -> float:
    """A finite number within its range, never None."""
    checked = number(field, value, unit=unit, minimum=minimum, maximum=maximum, above_minimum=above)
    assert checked is not None
    return checked


def whole(field: str, value: object, *, minimum: int, maximum: int) -> int:
    """A whole number within its range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(field, value, "must be a whole number", f"give {field} as a whole number")
    if not minimum <= value <= maximum:
        raise InputError(
            field, value, "is out of range", f"give {field} within the limit", limit=f"{minimum} to {maximum}"
        )
    return value


def flag(field: str, value: object) -> bool:
    """True or false."""
    if not isinstance(value, bool):
        raise InputError(field, value, "must be true or false", f"give {field} as true or false")
    return value


def day(field: str, value: object, *, latest: date | None = None, earliest: date = date(1900, 1, 1)) -> date:
    """A calendar date (not a datetime) within its range."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InputError(field, value, "must be a date", f"give {field} as a date (YYYY-MM-DD)")
    if value < earliest or (latest is not None and value > latest):
        limit = f"from {earliest.isoformat()}" + (f" to {latest.isoformat()}" if latest is not None else "")
        raise InputError(field, value, "is out of range", f"check {field}", limit=limit)
    return value


def moment(field: str, value: object) -> datetime:
    """A timezone-aware datetime."""
    if not isinstance(value, datetime):
        raise InputError(field, value, "must be a date and time", f"give {field} as a date and time with its zone")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(
            field,
            value,
            "has no time zone",
            f"give {field} with its time zone (UTC, or the clinic's offset)",
        )
    return value


def plain(value: Any) -> Any:
    """A value as plain JSON: dates and times as ISO text, enums as their value, tuples as lists."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN nor infinity; PostgreSQL refuses them
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "value") and isinstance(value.value, str | int | float):
        return value.value
    return str(value)
