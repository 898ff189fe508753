"""The firmware's whole state: plain integers and small records, so it can be stored and compared."""

from __future__ import annotations

from dataclasses import dataclass, field

from thecal.pump.core.alarms import Alarm
from thecal.pump.core.commands import BolusKind, DemandLimits, PeriodicBolusPlan
from thecal.pump.core.eventlog import EventLog
from thecal.pump.core.schedule import WeekSchedule
from thecal.units import MS_PER_DAY

STATE_FORMAT = 2


@dataclass
class ActiveBolus:
    """A bolus under way: its rate, and how much of its flow integral is done (nL·ms/day)."""

    kind: BolusKind
    volume_nl: int
    rate_nl_per_day: int
    started_ms: int
    done: int = 0

    @property
    def total(self) -> int:
        """The flow integral that completes this bolus, in nL·ms/day."""
        return self.volume_nl * MS_PER_DAY

    @property
    def delivered_nl(self) -> int:
        """Volume of this bolus delivered so far, rounded down to whole nL."""
        return self.done // MS_PER_DAY


@dataclass
class PumpState:
    """Everything the firmware remembers. Counters in it never go backwards."""

    now_ms: int
    wall_offset_ms: int
    log: EventLog
    reservoir_nl: int = 0
    contents: tuple[tuple[str, int], ...] = ()
    low_reservoir_alarm_nl: int = 0
    phase: int = 0
    strokes_total: int = 0
    fills_total: int = 0
    schedule: WeekSchedule | None = None
    stopped: bool = False
    bolus: ActiveBolus | None = None
    periodic: PeriodicBolusPlan | None = None
    periodic_next_wall_ms: int | None = None
    demand_limits: DemandLimits | None = None
    demand_history_ms: tuple[int, ...] = ()
    alarms: dict[Alarm, int] = field(default_factory=dict)
    next_tone_ms: int | None = None
    battery_used_pc: int = 0
    eri_at_ms: int | None = None
    end_of_service: bool = False
    stalled: bool = False
    fault: str = ""
    rejections_window_start_ms: int = 0
    rejections_logged_in_window: int = 0
    rejections_unlogged: int = 0

    @property
    def wall_ms(self) -> int:
        """The pump's wall-clock time now."""
        return self.now_ms + self.wall_offset_ms

    def to_data(self) -> dict[str, object]:
        """Plain values for non-volatile storage."""
        b = self.bolus
        return {
            "format": STATE_FORMAT,
            "now_ms": self.now_ms,
            "wall_offset_ms": self.wall_offset_ms,
            "log": self.log.to_data(),
            "reservoir_nl": self.reservoir_nl,
            "contents": [list(c) for c in self.contents],
            "low_reservoir_alarm_nl": self.low_reservoir_alarm_nl,
            "phase": self.phase,
            "strokes_total": self.strokes_total,
            "fills_total": self.fills_total,
            "schedule": self.schedule.to_data() if self.schedule else None,
            "stopped": self.stopped,
            "bolus": [b.kind.value, b.volume_nl, b.rate_nl_per_day, b.started_ms, b.done] if b else None,
            "periodic": _plain(self.periodic),
            "periodic_next_wall_ms": self.periodic_next_wall_ms,
            "demand_limits": _plain(self.demand_limits),
            "demand_history_ms": list(self.demand_history_ms),
            "alarms": {a.value: t for a, t in sorted(self.alarms.items())},
            "next_tone_ms": self.next_tone_ms,
            "battery_used_pc": self.battery_used_pc,
            "eri_at_ms": self.eri_at_ms,
            "end_of_service": self.end_of_service,
            "stalled": self.stalled,
            "fault": self.fault,
            "rejections": [self.rejections_window_start_ms, self.rejections_logged_in_window, self.rejections_unlogged],
        }

    @classmethod
    def from_data(cls, d: dict) -> PumpState:  # type: ignore[type-arg]
        """Rebuild from `to_data`."""
        if d.get("format") != STATE_FORMAT:
            raise ValueError(f"unknown state format {d.get('format')!r}")
        b = d["bolus"]
        return cls(
            now_ms=d["now_ms"],
            wall_offset_ms=d["wall_offset_ms"],
            log=EventLog.from_data(d["log"]),
            reservoir_nl=d["reservoir_nl"],
            contents=tuple((str(n), int(c)) for n, c in d["contents"]),
            low_reservoir_alarm_nl=d["low_reservoir_alarm_nl"],
            phase=d["phase"],
            strokes_total=d["strokes_total"],
            fills_total=d["fills_total"],
            schedule=WeekSchedule.from_data(d["schedule"]) if d["schedule"] else None,
            stopped=d["stopped"],
            bolus=ActiveBolus(BolusKind(b[0]), b[1], b[2], b[3], b[4]) if b else None,
            periodic=PeriodicBolusPlan(*d["periodic"]) if d["periodic"] else None,
            periodic_next_wall_ms=d["periodic_next_wall_ms"],
            demand_limits=DemandLimits(*d["demand_limits"]) if d["demand_limits"] else None,
            demand_history_ms=tuple(d["demand_history_ms"]),
            alarms={Alarm(a): t for a, t in d["alarms"].items()},
            next_tone_ms=d["next_tone_ms"],
            battery_used_pc=d["battery_used_pc"],
            eri_at_ms=d["eri_at_ms"],
            end_of_service=d["end_of_service"],
            stalled=d["stalled"],
            fault=d["fault"],
            rejections_window_start_ms=d["rejections"][0],
            rejections_logged_in_window=d["rejections"][1],
            rejections_unlogged=d["rejections"][2],
        )


def _plain(record: PeriodicBolusPlan | DemandLimits | None) -> list[int] | None:
    if record is None:
        return None
    return [getattr(record, f) for f in record.__dataclass_fields__]
