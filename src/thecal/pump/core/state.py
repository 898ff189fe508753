"""The firmware's whole state: plain integers and small records, so it can be stored and compared."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thecal.pump.core.alarms import Alarm
from thecal.pump.core.budget import RefusalBudget
from thecal.pump.core.commands import BolusKind, DemandLimits, PeriodicBolusPlan
from thecal.pump.core.demand import DoseHistory
from thecal.pump.core.eventlog import EventLog
from thecal.pump.core.hard_limits import Exposure, Replaced
from thecal.pump.core.integers import MS_PER_DAY, ceil_div
from thecal.pump.core.label import DrugLabel, DrugRule, LabelEntry
from thecal.pump.core.schedule import DoseSchedule, WeekSchedule

STATE_FORMAT = 5


@dataclass(slots=True)
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
class Bridge:
    """After a change of drug or concentration, the old solution in the dead volume, until it has been pushed.

    `label` and `doses` are what was in force before the fill: the solution still
    in the tubing and catheter, and its prescription, whose flows run in place of
    the basal; None when nothing was programmed (then whatever flows pushes it,
    and doses are measured with the stronger solution). `done` counts the flow
    integral pushed since (nL·ms/day), whatever flow pushed it, boluses included.
    """

    label: DrugLabel
    doses: DoseSchedule | None
    volume_nl: int
    started_ms: int
    done: int = 0
    flows: WeekSchedule | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.flows = None if self.doses is None else self.doses.flows(self.label[0].concentration_ng_per_ml)

    @property
    def total(self) -> int:
        """The flow integral that completes the bridge, in nL·ms/day."""
        return self.volume_nl * MS_PER_DAY

    @property
    def remaining_nl(self) -> int:
        """Volume still to push, rounded up to whole nL."""
        return ceil_div(max(0, self.total - self.done), MS_PER_DAY)


@dataclass
class PumpState:
    """Everything the firmware remembers. Counters in it never go backwards."""

    now_ms: int
    wall_offset_ms: int
    log: EventLog
    reservoir_nl: int = 0
    label: DrugLabel = ()
    low_reservoir_alarm_nl: int = 0
    phase: int = 0
    strokes_total: int = 0
    fills_total: int = 0
    catheter_volume_nl: int = 0
    prescription: DoseSchedule | None = None
    dose_raised_wall_ms: int | None = None
    stopped: bool = False
    bolus: ActiveBolus | None = None
    bridge: Bridge | None = None
    periodic: PeriodicBolusPlan | None = None
    periodic_next_wall_ms: int | None = None
    periodic_skipped: int = 0  # periodic boluses skipped since the last one given; the first of them is logged
    demand_limits: DemandLimits | None = None
    demand_history_ms: DoseHistory = ()  # (start, end) of each demand dose that may still count
    periodic_history_ms: DoseHistory = ()  # (start, end) of each periodic bolus started in the last 24 h
    replaced: tuple[Replaced, ...] = ()
    alarms: dict[Alarm, int] = field(default_factory=dict)
    next_tone_ms: int | None = None
    battery_used_pc: int = 0
    eri_at_ms: int | None = None
    end_of_service: bool = False
    stalled: bool = False
    fault: str = ""
    telemetry_rejections: RefusalBudget = field(default_factory=RefusalBudget)
    demand_refusals: RefusalBudget = field(default_factory=RefusalBudget)

    @property
    def wall_ms(self) -> int:
        """The pump's wall-clock time now."""
        return self.now_ms + self.wall_offset_ms

    def to_data(self) -> dict[str, object]:
        """Plain values for non-volatile storage."""
        return {**self.record_data(), "log": self.log.to_data()}

    def record_data(self) -> dict[str, object]:
        """Plain values of everything but the event log's entries: the small record saved with every command."""
        b = self.bolus
        g = self.bridge
        return {
            "format": STATE_FORMAT,
            "now_ms": self.now_ms,
            "wall_offset_ms": self.wall_offset_ms,
            "reservoir_nl": self.reservoir_nl,
            "label": _label_data(self.label),
            "low_reservoir_alarm_nl": self.low_reservoir_alarm_nl,
            "phase": self.phase,
            "strokes_total": self.strokes_total,
            "fills_total": self.fills_total,
            "catheter_volume_nl": self.catheter_volume_nl,
            "prescription": self.prescription.to_data() if self.prescription else None,
            "dose_raised_wall_ms": self.dose_raised_wall_ms,
            "stopped": self.stopped,
            "bolus": [b.kind.value, b.volume_nl, b.rate_nl_per_day, b.started_ms, b.done] if b else None,
            "bridge": None
            if g is None
            else {
                "label": _label_data(g.label),
                "doses": None if g.doses is None else g.doses.to_data(),
                "volume_nl": g.volume_nl,
                "started_ms": g.started_ms,
                "done": g.done,
            },
            "periodic": _plain(self.periodic),
            "periodic_next_wall_ms": self.periodic_next_wall_ms,
            "periodic_skipped": self.periodic_skipped,
            "demand_limits": _plain(self.demand_limits),
            "demand_history_ms": [list(dose) for dose in self.demand_history_ms],
            "periodic_history_ms": [list(bolus) for bolus in self.periodic_history_ms],
            "replaced": [
                [r.ended_ms, *(getattr(r.exposure, f) for f in r.exposure.__dataclass_fields__)] for r in self.replaced
            ],
            "alarms": {a.value: t for a, t in sorted(self.alarms.items())},
            "next_tone_ms": self.next_tone_ms,
            "battery_used_pc": self.battery_used_pc,
            "eri_at_ms": self.eri_at_ms,
            "end_of_service": self.end_of_service,
            "stalled": self.stalled,
            "fault": self.fault,
            # Refusals logged on a budget: bookkeeping of the log, not therapy.
            "rejections": {"telemetry": self.telemetry_rejections.to_data(), "demand": self.demand_refusals.to_data()},
        }

    @classmethod
    def from_data(cls, d: dict[str, Any]) -> PumpState:
        """Rebuild from `to_data`."""
        if d.get("format") != STATE_FORMAT:
            raise ValueError(f"unknown state format {d.get('format')!r}")
        b = d["bolus"]
        g = d["bridge"]
        return cls(
            now_ms=d["now_ms"],
            wall_offset_ms=d["wall_offset_ms"],
            log=EventLog.from_data(d["log"]),
            reservoir_nl=d["reservoir_nl"],
            label=_label_from(d["label"]),
            low_reservoir_alarm_nl=d["low_reservoir_alarm_nl"],
            phase=d["phase"],
            strokes_total=d["strokes_total"],
            fills_total=d["fills_total"],
            catheter_volume_nl=d["catheter_volume_nl"],
            prescription=DoseSchedule.from_data(d["prescription"]) if d["prescription"] else None,
            dose_raised_wall_ms=d["dose_raised_wall_ms"],
            stopped=d["stopped"],
            bolus=ActiveBolus(BolusKind(b[0]), b[1], b[2], b[3], b[4]) if b else None,
            bridge=None
            if g is None
            else Bridge(
                _label_from(g["label"]),
                None if g["doses"] is None else DoseSchedule.from_data(g["doses"]),
                g["volume_nl"],
                g["started_ms"],
                g["done"],
            ),
            periodic=PeriodicBolusPlan(*d["periodic"]) if d["periodic"] else None,
            periodic_next_wall_ms=d["periodic_next_wall_ms"],
            periodic_skipped=d["periodic_skipped"],
            demand_limits=DemandLimits(*d["demand_limits"]) if d["demand_limits"] else None,
            demand_history_ms=tuple((int(start), int(end)) for start, end in d["demand_history_ms"]),
            periodic_history_ms=tuple((int(start), int(end)) for start, end in d["periodic_history_ms"]),
            replaced=tuple(Replaced(r[0], Exposure(str(r[1]), *r[2:])) for r in d["replaced"]),
            alarms={Alarm(a): t for a, t in d["alarms"].items()},
            next_tone_ms=d["next_tone_ms"],
            battery_used_pc=d["battery_used_pc"],
            eri_at_ms=d["eri_at_ms"],
            end_of_service=d["end_of_service"],
            stalled=d["stalled"],
            fault=d["fault"],
            telemetry_rejections=RefusalBudget.from_data(d["rejections"]["telemetry"]),
            demand_refusals=RefusalBudget.from_data(d["rejections"]["demand"]),
        )


def _plain(record: PeriodicBolusPlan | DemandLimits | None) -> list[Any] | None:
    if record is None:
        return None
    return [getattr(record, f) for f in record.__dataclass_fields__]


def _label_data(label: DrugLabel) -> list[dict[str, Any]]:
    return [
        {
            "drug": e.drug,
            "concentration_ng_per_ml": e.concentration_ng_per_ml,
            "rule": {**{f: getattr(e.rule, f) for f in e.rule.__dataclass_fields__}, "partners": list(e.rule.partners)},
        }
        for e in label
    ]


def _label_from(data: list[dict[str, Any]]) -> DrugLabel:
    return tuple(
        LabelEntry(
            str(e["drug"]),
            int(e["concentration_ng_per_ml"]),
            DrugRule(**{**e["rule"], "partners": tuple(e["rule"]["partners"])}),
        )
        for e in data
    )
