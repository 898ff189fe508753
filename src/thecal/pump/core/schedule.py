"""The basal schedule: a week of steps by time of day, as flexible dosing programs it.

The prescription is a `DoseSchedule`: daily doses of the reservoir's lead drug
(ng/day), as the physician wrote them. The motor follows a `WeekSchedule` of
flows (nL/day) that the firmware derives from the doses and the concentration
on the label, again whenever the concentration changes, so a dose stays the
dose across refills. A simple continuous rate is the special case of one step
at 00:00 every day. Times of day follow the pump's wall clock (milliseconds
since the Unix epoch, read as local time); the week starts on Monday.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from thecal.pump.core.integers import MS_PER_DAY, NL_PER_ML

MS_PER_WEEK = 7 * MS_PER_DAY
# 1970-01-01 was a Thursday; the first Monday 00:00 after the epoch is 4 days later.
_FIRST_MONDAY_MS = 4 * MS_PER_DAY
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def time_of_week_ms(wall_ms: int) -> int:
    """Milliseconds since Monday 00:00 for a wall-clock time."""
    return (wall_ms - _FIRST_MONDAY_MS) % MS_PER_WEEK


class _Timed(Protocol):
    @property
    def start_ms(self) -> int: ...


def _check_week(days: Sequence[Sequence[_Timed]]) -> None:
    """The rules of a week of steps: seven days, Monday first, each starting at 00:00 with its steps in order."""
    if len(days) != 7:
        raise ValueError("a week schedule has seven days")
    for day_index, steps in enumerate(days):
        if not steps or steps[0].start_ms != 0:
            raise ValueError(f"{DAY_NAMES[day_index]}: the first step must start at 00:00")
        previous = -1
        for step in steps:
            if not previous < step.start_ms < MS_PER_DAY:
                raise ValueError(f"{DAY_NAMES[day_index]}: steps must be in order within the day")
            previous = step.start_ms


@dataclass(frozen=True)
class Step:
    """From `start_ms` after midnight until the next step, deliver `flow_nl_per_day`."""

    start_ms: int
    flow_nl_per_day: int


@dataclass(frozen=True)
class WeekSchedule:
    """Seven days of steps, Monday first; each day's first step starts at 00:00."""

    days: tuple[tuple[Step, ...], ...]
    # The week's table of boundaries, built once: where each step starts (ms after Monday 00:00), its flow, where
    # it ends, and its line of the flow integral of the week (nL·ms/day): the integral up to a time t within the
    # step is `_bases[i] + _flows[i] * t`. The motor walks it with a cursor, and `locate` looks a time up in it.
    _starts: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _flows: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _ends: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _bases: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _week_integral: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_week(self.days)
        starts: list[int] = []
        flows: list[int] = []
        for day_index, steps in enumerate(self.days):
            for step in steps:
                # Merging equal neighbours keeps the number of boundaries, and so of
                # segments the firmware computes, as small as the therapy allows.
                if flows and flows[-1] == step.flow_nl_per_day:
                    continue
                starts.append(day_index * MS_PER_DAY + step.start_ms)
                flows.append(step.flow_nl_per_day)
        ends = [*starts[1:], MS_PER_WEEK]
        integrals = [0]
        for i in range(1, len(starts)):
            integrals.append(integrals[-1] + flows[i - 1] * (starts[i] - starts[i - 1]))
        object.__setattr__(self, "_starts", tuple(starts))
        object.__setattr__(self, "_flows", tuple(flows))
        object.__setattr__(self, "_ends", tuple(ends))
        object.__setattr__(self, "_bases", tuple(v - f * t for v, f, t in zip(integrals, flows, starts, strict=True)))
        object.__setattr__(self, "_week_integral", integrals[-1] + flows[-1] * (MS_PER_WEEK - starts[-1]))

    @classmethod
    def continuous(cls, flow_nl_per_day: int) -> WeekSchedule:
        """One flow around the clock, every day."""
        day = (Step(0, flow_nl_per_day),)
        return cls((day,) * 7)

    @classmethod
    def daily(cls, steps: tuple[Step, ...]) -> WeekSchedule:
        """The same steps every day."""
        return cls((steps,) * 7)

    def flow_at(self, wall_ms: int) -> int:
        """The programmed flow at a wall-clock time, in nL/day."""
        return self._flows[bisect_right(self._starts, time_of_week_ms(wall_ms)) - 1]

    def integral(self, from_wall_ms: int, to_wall_ms: int) -> int:
        """The flow integral between two wall-clock times, exact, in nL·ms/day (flow × time: nL/day × ms)."""
        return self.locate(to_wall_ms)[0] - self.locate(from_wall_ms)[0]

    def locate(self, wall_ms: int) -> tuple[int, int, int]:
        """Where a wall-clock time lies in the week's table: the flow integral from the first Monday 00:00 after
        the epoch up to it (nL·ms/day), the flow there (nL/day), and the wall-clock time its step ends."""
        weeks, tow = divmod(wall_ms - _FIRST_MONDAY_MS, MS_PER_WEEK)
        i = bisect_right(self._starts, tow) - 1
        flow = self._flows[i]
        return weeks * self._week_integral + self._bases[i] + flow * tow, flow, wall_ms - tow + self._ends[i]

    def boundaries(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The week's table of steps: where each starts (ms after Monday 00:00, the first at 0) and its flow."""
        return self._starts, self._flows

    def next_change_ms(self, wall_ms: int) -> int:
        """The wall-clock time of the next step boundary strictly after `wall_ms`."""
        tow = time_of_week_ms(wall_ms)
        index = bisect_right(self._starts, tow)
        week_start = wall_ms - tow
        if index < len(self._starts):
            return week_start + self._starts[index]
        return week_start + MS_PER_WEEK + self._starts[0]

    def max_flow_nl_per_day(self) -> int:
        """The highest flow anywhere in the week."""
        return max(self._flows)

    def min_flow_nl_per_day(self) -> int:
        """The lowest flow anywhere in the week."""
        return min(self._flows)

    def daily_volume_nl(self, day_index: int) -> int:
        """Volume programmed for one day of the week (0 = Monday), rounded down to whole nL."""
        steps = self.days[day_index]
        total = 0
        for i, step in enumerate(steps):
            end = steps[i + 1].start_ms if i + 1 < len(steps) else MS_PER_DAY
            total += step.flow_nl_per_day * (end - step.start_ms)
        return total // MS_PER_DAY

    def to_data(self) -> list[list[list[int]]]:
        """Plain lists for storage: per day, [start_ms, flow_nl_per_day] pairs."""
        return [[[s.start_ms, s.flow_nl_per_day] for s in day] for day in self.days]

    @classmethod
    def from_data(cls, data: list[list[list[int]]]) -> WeekSchedule:
        """Rebuild from `to_data`."""
        return _week_from(_plain(data))


@dataclass(frozen=True)
class DoseStep:
    """From `start_ms` after midnight until the next step, give `dose_ng_per_day` of the lead drug."""

    start_ms: int
    dose_ng_per_day: int


@dataclass(frozen=True)
class DoseSchedule:
    """The prescription: seven days of dose steps, Monday first; each day's first step starts at 00:00."""

    days: tuple[tuple[DoseStep, ...], ...]
    # The flows at each concentration asked for, made once: the pump and every status ask again and again.
    _flows_at: dict[int, WeekSchedule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_week(self.days)
        object.__setattr__(self, "_flows_at", {})

    @classmethod
    def continuous(cls, dose_ng_per_day: int) -> DoseSchedule:
        """One dose rate around the clock, every day."""
        return cls(((DoseStep(0, dose_ng_per_day),),) * 7)

    @classmethod
    def daily(cls, steps: tuple[DoseStep, ...]) -> DoseSchedule:
        """The same steps every day."""
        return cls((steps,) * 7)

    def flows(self, concentration_ng_per_ml: int) -> WeekSchedule:
        """The flows that carry these doses at a concentration, each rounded down (never more than prescribed)."""
        found = self._flows_at.get(concentration_ng_per_ml)
        if found is None:
            found = WeekSchedule(
                tuple(
                    tuple(Step(s.start_ms, s.dose_ng_per_day * NL_PER_ML // concentration_ng_per_ml) for s in day)
                    for day in self.days
                )
            )
            if len(self._flows_at) < 8:  # a schedule meets a handful of concentrations in its life
                self._flows_at[concentration_ng_per_ml] = found
        return found

    def max_dose_ng_per_day(self) -> int:
        """The highest dose rate anywhere in the week."""
        return max(s.dose_ng_per_day for day in self.days for s in day)

    def to_data(self) -> list[list[list[int]]]:
        """Plain lists for storage: per day, [start_ms, dose_ng_per_day] pairs."""
        return [[[s.start_ms, s.dose_ng_per_day] for s in day] for day in self.days]

    @classmethod
    def from_data(cls, data: list[list[list[int]]]) -> DoseSchedule:
        """Rebuild from `to_data`."""
        return _doses_from(_plain(data))


Plain = tuple[tuple[tuple[int, int], ...], ...]


def _plain(data: list[list[list[int]]]) -> Plain:
    # Lists, not generators: every interrogation reads its schedules back through here.
    return tuple([tuple([(int(a), int(b)) for a, b in day]) for day in data])


# A status read back into schedules again and again holds the same few: each is rebuilt once (they are frozen).
@lru_cache(maxsize=64)
def _week_from(data: Plain) -> WeekSchedule:
    return WeekSchedule(tuple(tuple(Step(a, b) for a, b in day) for day in data))


@lru_cache(maxsize=64)
def _doses_from(data: Plain) -> DoseSchedule:
    return DoseSchedule(tuple(tuple(DoseStep(a, b) for a, b in day) for day in data))
