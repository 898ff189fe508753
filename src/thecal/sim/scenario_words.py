"""The words of the scenario format: a time of day, weekdays, a moment of the timeline, the start date.

Plain functions, without the schema: the scenario schema
(`thecal.sim.scenario_schema`) reads its keys with them, and the command line
reads the same words typed as options (a periodic bolus's `--first 08:00`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from thecal import units
from thecal.errors import InputError
from thecal.units import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN, refuse_foreign_digits

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_START = "2026-01-05T08:00"
# Digits are the ASCII digits only: "٠٨:٠٠" is refused with the character named, never read as 08:00.
_AT = re.compile(r"^\s*(?P<days>[0-9]+)\s*d\s+(?P<hh>[0-9]{1,2}):(?P<mm>[0-9]{2})\s*$")
_CLOCK = re.compile(r"^\s*(?P<hh>[0-9]{1,2}):(?P<mm>[0-9]{2})\s*$")
_EPOCH = datetime(1970, 1, 1)


def time_of_day_ms(value: object, where: str) -> int:
    """A time of day written "HH:MM", as milliseconds after midnight."""
    if isinstance(value, str):
        refuse_foreign_digits(value, where, 'write it like "08:00"')
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if not match or int(match["hh"]) > 23 or int(match["mm"]) > 59:
        raise InputError(where, value, "is not a time of day", 'write it like "08:00"')
    return int(match["hh"]) * MS_PER_HOUR + int(match["mm"]) * MS_PER_MIN


def weekdays(value: object, where: str) -> tuple[int, ...]:
    """Weekdays written "all", "mon-fri" or "sat,sun", as numbers (0 = Monday)."""
    if value == "all":
        return tuple(range(7))
    if not isinstance(value, str):
        raise InputError(where, value, "is not a list of weekdays", 'write "mon-fri", "sat,sun" or "all"')
    days: list[int] = []
    for part in value.lower().replace(" ", "").split(","):
        ends = part.split("-")
        if not all(e in DAY_KEYS for e in ends) or len(ends) > 2:
            raise InputError(where, value, "is not a list of weekdays", 'write "mon-fri", "sat,sun" or "all"')
        a, b = DAY_KEYS.index(ends[0]), DAY_KEYS.index(ends[-1])
        # "fri-mon" wraps over the weekend
        days.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return tuple(sorted(set(days)))


@dataclass(frozen=True)
class When:
    """A moment of the timeline as written: a duration since the start, or a wall-clock time on the D-th day."""

    text: str
    after_start_ms: int | None = None
    day: int = 0
    of_day_ms: int = 0

    def ms_after(self, start_wall_ms: int, where: str) -> int:
        """Milliseconds after the start of the scenario."""
        if self.after_start_ms is not None:
            return self.after_start_ms
        midnight = start_wall_ms - start_wall_ms % MS_PER_DAY
        at = midnight + self.day * MS_PER_DAY + self.of_day_ms - start_wall_ms
        if at < 0:
            raise InputError(where, self.text, "lies before the start of the scenario", "choose a later time")
        return at


def when(value: object, where: str) -> When:
    """A timeline moment: "D d HH:MM" (wall clock on the D-th day after the start date) or a duration."""
    if isinstance(value, str):
        refuse_foreign_digits(value, where, 'write it like "10 d 08:00" or "36 h"')
    match = _AT.match(value) if isinstance(value, str) else None
    if match is None:
        return When(str(value), after_start_ms=units.quantity(value, where, units.MOMENT))
    hh, mm = int(match["hh"]), int(match["mm"])
    if hh > 23 or mm > 59:
        raise InputError(where, value, "is not a time of day", 'write it like "10 d 08:00"')
    return When(str(value), day=int(match["days"]), of_day_ms=hh * MS_PER_HOUR + mm * MS_PER_MIN)


def start_wall_ms(value: object, where: str) -> int:
    """The wall clock at time zero, local time, in ms since 1970: ISO text or a TOML date-time."""
    moment: object = value
    if isinstance(value, str):
        refuse_foreign_digits(value, where, f'write it like "{DEFAULT_START}" (local time)')
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if isinstance(moment, date) and not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    if not isinstance(moment, datetime):
        raise InputError(where, value, "is not a date and time", f'write it like "{DEFAULT_START}" (local time)')
    if not units.FIRST_DATE <= moment.date() <= units.LAST_DATE:
        first, last = units.FIRST_DATE.isoformat(), units.LAST_DATE.isoformat()
        raise InputError(
            where,
            str(value),
            "lies outside the dates thecal plans for",
            f"start from {first} to {last}",
            f"{first} to {last}",
        )
    # The clinic's local time is the pump's clock; an offset written in the file is not applied.
    return round((moment.replace(tzinfo=None) - _EPOCH) / timedelta(milliseconds=1))
