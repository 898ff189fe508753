"""What an interrogation shows, as typed values: the therapy layer reads the pump only through these.

`PumpSnapshot` is the clinician's view of `Firmware.status()` (its stable keys,
integers in base units), together with the figures of the pump's model: with
the record of what the pump's daily limit still counts from the last 24 h and
the old solution a bridge still pushes, so that a plan predicts the pump's
verdict. `PatientView` is the part a patient's handset may read. Both are built
by the ports from the status a pump answers; a key missing or of the wrong type
is a fault of the pump or the link, reported as such, never guessed. The one
exception is the pump's answer to a press now, which a handset's view may not
carry: without it, the next-dose time still holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from thecal.errors import ThecalError
from thecal.pump.core.commands import DemandLimits, PeriodicBolusPlan
from thecal.pump.core.hard_limits import Exposure, Replaced
from thecal.pump.core.schedule import DoseSchedule
from thecal.pump.model import PumpModel

Label = tuple[tuple[str, int], ...]
Status = Mapping[str, object]


class SnapshotError(ThecalError):
    """A pump's status lacks a key the therapy layer needs, or holds a value of the wrong type."""

    def __init__(self, key: str, problem: str):
        self.key = key
        super().__init__(
            f"the pump's status {problem} ({key}); interrogate again, and if it persists, the pump's firmware "
            "and this programmer do not match: update the programmer"
        )


@dataclass(frozen=True)
class BolusView:
    """The bolus under way: its kind, its volume and how much of it is given."""

    kind: str
    volume_nl: int
    delivered_nl: int


@dataclass(frozen=True)
class PatientView:
    """What the patient's handset may see: alarms, whether therapy runs, and when the next dose is possible."""

    wall_ms: int
    alarms: tuple[str, ...]
    therapy_stopped: bool
    demand_enabled: bool
    demand_next_allowed_wall_ms: int | None
    demand_left_24h: int | None
    # Why a press now gives no dose (a pump refusal code) and until when, as the pump itself answers; None when it
    # would give one, or when the view does not carry the answer.
    demand_not_now_code: str | None = None
    demand_not_now_until_wall_ms: int | None = None

    @classmethod
    def from_status(cls, status: Status) -> PatientView:
        """The patient's view of a status, full or already reduced to the patient's fields."""
        stopped = status.get("therapy_stopped")
        enabled = status.get("demand_enabled")
        code, until = _not_now(status)
        return cls(
            wall_ms=_int(status, "wall_ms"),
            alarms=_words(status, "alarms"),
            therapy_stopped=stopped if isinstance(stopped, bool) else _text(status, "mode") == "minimum_rate",
            demand_enabled=enabled if isinstance(enabled, bool) else status.get("demand") is not None,
            demand_next_allowed_wall_ms=_int_or_none(status, "demand_next_allowed_wall_ms"),
            demand_left_24h=_int_or_none(status, "demand_left_24h"),
            demand_not_now_code=code,
            demand_not_now_until_wall_ms=until,
        )


@dataclass(frozen=True)
class PumpSnapshot:
    """The clinician's view of one interrogation, with the figures of the pump's model."""

    model: PumpModel
    now_ms: int
    wall_ms: int
    mode: str
    alarms: tuple[str, ...]
    reservoir_nl: int
    reservoir_capacity_nl: int
    low_reservoir_alarm_nl: int
    label: Label
    prescription: DoseSchedule | None
    demand: DemandLimits | None
    periodic: PeriodicBolusPlan | None
    catheter_volume_nl: int
    dead_volume_nl: int
    dose_raised_wall_ms: int | None
    demand_next_allowed_wall_ms: int | None
    demand_left_24h: int | None
    bridge_remaining_nl: int | None
    bridge_label: Label  # the old solution a bridge still pushes; empty while no bridge runs
    bridge_prescription: DoseSchedule | None  # the old prescription whose flows push it, if there was one
    recent_exposures: tuple[Replaced, ...]  # what the pump's daily limit still counts from the last 24 h
    demand_not_now_code: str | None
    demand_not_now_until_wall_ms: int | None
    basal_flow_nl_per_day: int
    bolus_flow_nl_per_day: int
    bolus: BolusView | None
    fills_total: int
    status: Status = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_status(cls, status: Status, model: PumpModel) -> PumpSnapshot:
        """The typed view of a clinician's interrogation answer."""
        bolus = _record_or_none(status, "bolus")
        bridge = _record_or_none(status, "bridge")
        code, until = _not_now(status)
        return cls(
            model=model,
            now_ms=_int(status, "now_ms"),
            wall_ms=_int(status, "wall_ms"),
            mode=_text(status, "mode"),
            alarms=_words(status, "alarms"),
            reservoir_nl=_int(status, "reservoir_nl"),
            reservoir_capacity_nl=_int(status, "reservoir_capacity_nl"),
            low_reservoir_alarm_nl=_int(status, "low_reservoir_alarm_nl"),
            label=_label(status),
            prescription=_prescription(status),
            demand=_demand(status),
            periodic=_periodic(status),
            catheter_volume_nl=_int(status, "catheter_volume_nl"),
            dead_volume_nl=_int(status, "dead_volume_nl"),
            dose_raised_wall_ms=_int_or_none(status, "dose_raised_wall_ms"),
            demand_next_allowed_wall_ms=_int_or_none(status, "demand_next_allowed_wall_ms"),
            demand_left_24h=_int_or_none(status, "demand_left_24h"),
            bridge_remaining_nl=None if bridge is None else _int(bridge, "remaining_nl"),
            bridge_label=() if bridge is None else _label(bridge),
            bridge_prescription=None if bridge is None else _prescription(bridge),
            recent_exposures=_exposures(status),
            demand_not_now_code=code,
            demand_not_now_until_wall_ms=until,
            basal_flow_nl_per_day=_int(status, "basal_flow_nl_per_day"),
            bolus_flow_nl_per_day=_int(status, "bolus_flow_nl_per_day"),
            bolus=None
            if bolus is None
            else BolusView(_text(bolus, "kind"), _int(bolus, "volume_nl"), _int(bolus, "delivered_nl")),
            fills_total=_int(status, "fills_total"),
            status=dict(status),
        )

    @property
    def filled(self) -> bool:
        """Whether the reservoir has a drug label (it was filled at least once)."""
        return bool(self.label)

    @property
    def lead(self) -> tuple[str, int] | None:
        """The lead drug and its concentration (ng/mL), or None before the first fill."""
        return self.label[0] if self.label else None

    @property
    def stopped(self) -> bool:
        """Whether therapy is stopped (the pump runs at its minimum rate)."""
        return self.mode == "minimum_rate"

    @property
    def patient(self) -> PatientView:
        """The part of this snapshot the patient may see."""
        return PatientView(
            wall_ms=self.wall_ms,
            alarms=self.alarms,
            therapy_stopped=self.stopped,
            demand_enabled=self.demand is not None,
            demand_next_allowed_wall_ms=self.demand_next_allowed_wall_ms,
            demand_left_24h=self.demand_left_24h,
            demand_not_now_code=self.demand_not_now_code,
            demand_not_now_until_wall_ms=self.demand_not_now_until_wall_ms,
        )


def _get(status: Status, key: str) -> object:
    if key not in status:
        raise SnapshotError(key, "has no such key")
    return status[key]


def _int(status: Status, key: str) -> int:
    value = _get(status, key)
    if type(value) is not int:
        raise SnapshotError(key, f"holds {type(value).__name__} where an integer belongs")
    return value


def _int_or_none(status: Status, key: str) -> int | None:
    value = status.get(key)
    if value is None:
        return None
    return _int(status, key)


def _text(status: Status, key: str) -> str:
    value = _get(status, key)
    if not isinstance(value, str):
        raise SnapshotError(key, f"holds {type(value).__name__} where text belongs")
    return value


def _words(status: Status, key: str) -> tuple[str, ...]:
    value = _get(status, key)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise SnapshotError(key, "is not a list of words")
    return tuple(value)


def _record_or_none(status: Status, key: str) -> Status | None:
    value = status.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise SnapshotError(key, f"holds {type(value).__name__} where a record belongs")
    return value


def _record(status: Status, key: str) -> Status:
    record = _record_or_none(status, key)
    if record is None:
        raise SnapshotError(key, "has no record")
    return record


def _label(status: Status) -> Label:
    entries = _get(status, "label")
    if not isinstance(entries, list | tuple):
        raise SnapshotError("label", "is not a list")
    out: list[tuple[str, int]] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise SnapshotError("label", "holds an entry that is not a record")
        out.append((_text(entry, "drug"), _int(entry, "concentration_ng_per_ml")))
    return tuple(out)


def _prescription(status: Status) -> DoseSchedule | None:
    data = status.get("prescription")
    if data is None:
        return None
    try:
        return DoseSchedule.from_data(data)  # type: ignore[arg-type]  # checked by the schedule itself below
    except (TypeError, ValueError) as exc:
        raise SnapshotError("prescription", f"is not a dose schedule ({exc})") from None


def _not_now(status: Status) -> tuple[str | None, int | None]:
    """The pump's answer to a press now: the refusal code and until when (wall time), or (None, None)."""
    record = _record_or_none(status, "demand_not_now")
    if record is None:
        return None, None
    return _text(record, "code"), _int_or_none(record, "until_wall_ms")


_EXPOSURE_TERMS = (
    "basal_ng_per_day",
    "periodic_dose_ng",
    "periodic_per_24h",
    "demand_dose_ng",
    "demand_max_per_24h",
    "demand_lockout_ms",
    "one_off_ng",
)


def _exposures(status: Status) -> tuple[Replaced, ...]:
    """The record of replaced settings and clinician boluses the pump's daily limit still counts."""
    records = _get(status, "recent_exposures")
    if not isinstance(records, list | tuple):
        raise SnapshotError("recent_exposures", "is not a list")
    out: list[Replaced] = []
    for record in records:
        if not isinstance(record, Mapping):
            raise SnapshotError("recent_exposures", "holds an entry that is not a record")
        terms = [_int(record, key) for key in _EXPOSURE_TERMS]
        out.append(Replaced(_int(record, "ended_ms"), Exposure(_text(record, "drug"), *terms)))
    return tuple(out)


def _demand(status: Status) -> DemandLimits | None:
    if status.get("demand") is None:
        return None
    d = _record(status, "demand")
    return DemandLimits(_int(d, "dose_ng"), _int(d, "duration_ms"), _int(d, "lockout_ms"), _int(d, "max_per_24h"))


def _periodic(status: Status) -> PeriodicBolusPlan | None:
    if status.get("periodic") is None:
        return None
    p = _record(status, "periodic")
    return PeriodicBolusPlan(
        _int(p, "dose_ng"), _int(p, "duration_ms"), _int(p, "interval_ms"), _int(p, "first_wall_ms")
    )
