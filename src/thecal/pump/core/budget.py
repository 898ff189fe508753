"""A budget of log entries for refusals that can come without end.

Anyone in radio range can send frames the pump refuses, and a stuck button on
the patient's handset presses without end. Logging every such refusal would
push the clinical history out of the bounded log, so at most a number of them
are logged per pump day and the rest counted; the count goes into the next
logged entry and into the status.
"""

from __future__ import annotations

from dataclasses import dataclass

from thecal.pump.core.integers import MS_PER_DAY


@dataclass
class RefusalBudget:
    """Refusals of one kind logged in the pump day that started at `window_start_ms`, and those not logged."""

    window_start_ms: int = 0
    logged_in_window: int = 0
    unlogged: int = 0

    def admit(self, now_ms: int, per_day: int) -> bool:
        """Whether one more refusal is logged now; when not, it is counted."""
        if self.logged_in_window == 0 or now_ms - self.window_start_ms >= MS_PER_DAY:
            self.window_start_ms = now_ms
            self.logged_in_window = 0
        if self.logged_in_window >= per_day:
            self.unlogged += 1
            return False
        self.logged_in_window += 1
        return True

    def take_unlogged(self) -> int:
        """The refusals counted but not logged since the last logged one; the count starts again at zero."""
        count, self.unlogged = self.unlogged, 0
        return count

    def to_data(self) -> list[int]:
        """Plain values for storage."""
        return [self.window_start_ms, self.logged_in_window, self.unlogged]

    @classmethod
    def from_data(cls, data: list[int]) -> RefusalBudget:
        """Rebuild from `to_data`."""
        start, logged, unlogged = data
        return cls(int(start), int(logged), int(unlogged))
