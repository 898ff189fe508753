"""What the firmware core puts out: motor work, alarm tones, log entries and command outcomes.

The records made by the thousand (motor work, tones, log entries, outcomes) are plain slotted records:
cheap to make, and nothing in the firmware changes one after it is put out. A refusal is frozen: the
firmware keeps a few as constants and hands the same one out again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from thecal.pump.core.alarms import Alarm, Tone
from thecal.pump.core.eventlog import LogEntry
from thecal.pump.core.integers import MS_PER_DAY


@dataclass(slots=True)
class Delivery:
    """The motor ran at `rate_nl_per_day` from `start_ms` to `end_ms`, completing `strokes` strokes.

    `phase_start` is the fraction of a stroke already accumulated at the start,
    in units of nL·ms/day; with it every stroke's exact time can be recovered.
    """

    start_ms: int
    end_ms: int
    rate_nl_per_day: int
    strokes: int
    stroke_nl: int
    phase_start: int

    @property
    def volume_nl(self) -> int:
        """Volume the motor was commanded to move, in nL."""
        return self.strokes * self.stroke_nl

    def stroke_times_ms(self) -> list[int]:
        """The time of every stroke in this delivery."""
        unit = self.stroke_nl * MS_PER_DAY
        r = self.rate_nl_per_day
        return [self.start_ms + -(-(k * unit - self.phase_start) // r) for k in range(1, self.strokes + 1)]


@dataclass(slots=True)
class ToneSounded:
    """The pump sounded `tone` for the active `alarms`."""

    at_ms: int
    tone: Tone
    alarms: tuple[Alarm, ...]


@dataclass(slots=True)
class Logged:
    """An entry was added to the event log."""

    entry: LogEntry


Action = Delivery | ToneSounded | Logged


@dataclass(frozen=True)
class Refusal:
    """Why a command was refused: a code, the field, its value, the limit and words a nurse understands.

    The firmware makes every refusal with a `RefusalCode` (refusals.py); the code is kept as its plain
    string value, the one on the wire and in the log, so that a refusal travels as it is.
    """

    code: str
    message: str
    field: str = ""
    value: str = ""
    limit: str = ""
    until_ms: int | None = None

    def __post_init__(self) -> None:
        if type(self.code) is not str:
            object.__setattr__(self, "code", str(self.code))


@dataclass(slots=True)
class Outcome:
    """The result of one command: accepted or refused with a reason, and what it caused."""

    accepted: bool
    refusal: Refusal | None = None
    actions: tuple[Action, ...] = ()
    info: dict[str, int | str] = field(default_factory=dict)
