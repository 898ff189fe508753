"""The demand window: when the patient's next extra dose is allowed, and how many are left in 24 h.

One function, used by the firmware to refuse a press and by the status the
PTM shows, so the two never disagree. Every press of the last 24 h counts,
whatever the settings were when it was given, and the lockout counts from
the last dose even when that lies outside the 24 h window (a lockout longer
than a day).
"""

from __future__ import annotations

from dataclasses import dataclass

from thecal.pump.core.commands import DemandLimits
from thecal.pump.core.integers import MS_PER_DAY


@dataclass(frozen=True, slots=True)
class DemandWindow:
    """Where the patient stands at `now_ms` (pump time)."""

    used_24h: int
    left_24h: int
    locked_until_ms: int | None  # the end of the lockout, when it has not passed
    full_until_ms: int | None  # when a dose leaves the 24 h window, while the daily maximum is reached
    next_allowed_ms: int  # now, when a dose is allowed now

    @property
    def allowed(self) -> bool:
        """True when neither the lockout nor the daily maximum stops a dose now."""
        return self.locked_until_ms is None and self.full_until_ms is None


def recent_doses(history_ms: tuple[int, ...], now_ms: int) -> tuple[int, ...]:
    """The demand doses given in the 24 h up to `now_ms`."""
    return tuple(t for t in history_ms if t > now_ms - MS_PER_DAY)


def demand_window(limits: DemandLimits, history_ms: tuple[int, ...], now_ms: int) -> DemandWindow:
    """When the next demand dose is allowed and how many are left in the 24 h up to now."""
    recent = recent_doses(history_ms, now_ms)
    locked: int | None = None
    if history_ms and now_ms - history_ms[-1] < limits.lockout_ms:
        locked = history_ms[-1] + limits.lockout_ms
    full: int | None = None
    if len(recent) >= limits.max_per_24h:
        # Allowed again once all but max − 1 of these doses have left the window.
        full = recent[-limits.max_per_24h] + MS_PER_DAY
    next_allowed = max(now_ms, locked or now_ms, full or now_ms)
    return DemandWindow(len(recent), max(0, limits.max_per_24h - len(recent)), locked, full, next_allowed)
