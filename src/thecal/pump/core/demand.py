"""The demand window: when the patient's next extra dose is allowed, and how many are left in 24 h.

One function, used by the firmware to refuse a press and by the status the
PTM shows, so the two never disagree. Every demand dose counts, whatever the
settings were when it was given, for as long as any of it is delivered in the
24 h up to now: from its start until 24 h after its end. Counted by its start
alone, a long dose begun just before a 24 h window would not count in it, and
the daily maximum of shorter doses within it would pass the limit by up to one
dose. The lockout counts from the start of the last dose, even when that lies
outside the 24 h window (a lockout longer than a day); and a dose may not end
sooner than the lockout after the last one ended, which only matters when the
last dose was the longer one: a shorter dose right after a longer one would
otherwise put more into a 24 h window than the lockout allows.

The same two rules keep periodic boluses of different durations (across a
change of plan) within what the plan allows in 24 h: `spaced_until`.
"""

from __future__ import annotations

from dataclasses import dataclass

from thecal.pump.core.commands import DemandLimits
from thecal.pump.core.integers import MS_PER_DAY

# Each dose given: (start, end of its delivery), pump time in ms, oldest first. One bolus runs at a time, so the
# doses end in the order they started.
DoseHistory = tuple[tuple[int, int], ...]


@dataclass(slots=True)
class DemandWindow:
    """Where the patient stands at `now_ms` (pump time)."""

    used_24h: int
    left_24h: int
    locked_until_ms: int | None  # the end of the lockout, when it has not passed
    full_until_ms: int | None  # when a dose leaves the 24 h window, while the daily maximum is reached
    next_allowed_ms: int  # now, when a dose is allowed now
    recent: DoseHistory = ()  # the doses that count in the 24 h up to now (`recent_doses`)

    @property
    def allowed(self) -> bool:
        """True when neither the lockout nor the daily maximum stops a dose now."""
        return self.locked_until_ms is None and self.full_until_ms is None


def recent_doses(history: DoseHistory, now_ms: int) -> DoseHistory:
    """The doses of which some was delivered in the 24 h up to `now_ms` (or is still to be)."""
    # The doses end in the order they started, so those whose end left the window are the oldest.
    since = now_ms - MS_PER_DAY
    first = 0
    while first < len(history) and history[first][1] <= since:
        first += 1
    return history[first:]


def spaced_until(history: DoseHistory, spacing_ms: int, duration_ms: int) -> int | None:
    """The earliest start of a dose of `duration_ms` that begins at least `spacing_ms` after the last one began
    and ends at least `spacing_ms` after it ended; None when there was no dose."""
    if not history:
        return None
    start, end = history[-1]
    return max(start + spacing_ms, end + spacing_ms - duration_ms)


def demand_window(limits: DemandLimits, history: DoseHistory, now_ms: int) -> DemandWindow:
    """When the next demand dose is allowed and how many are left in the 24 h up to now."""
    recent = recent_doses(history, now_ms)
    used = len(recent)
    most = limits.max_per_24h
    next_allowed = now_ms
    locked: int | None = None
    until = spaced_until(history, limits.lockout_ms, limits.duration_ms)
    if until is not None and now_ms < until:
        locked = next_allowed = until
    full: int | None = None
    if used >= most:
        # Allowed again once all but max − 1 of these doses have left the window.
        full = recent[-most][1] + MS_PER_DAY
        if full > next_allowed:
            next_allowed = full
    return DemandWindow(used, most - used if used < most else 0, locked, full, next_allowed, recent)
