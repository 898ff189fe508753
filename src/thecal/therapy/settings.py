"""The settings a plan changes, and the side-by-side view of them: old and new, in dose and in volume.

Doses are kept as doses (the pump derives the volumes from its label's
concentration), so a setting is shown as its dose in the drug's own unit (mg or
mcg) and as the volume that dose is at the concentration in the reservoir: the
old volume at the old concentration, the new one at the new.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache

from thecal.drugs.dosing import mass_ng, volume_nl
from thecal.drugs.loader import get_drug
from thecal.drugs.model import Drug, duration_text
from thecal.errors import InputError
from thecal.pump.core.commands import DemandLimits, PeriodicBolusPlan
from thecal.pump.core.schedule import DAY_NAMES, DoseSchedule
from thecal.therapy.snapshot import Label, PumpSnapshot
from thecal.units import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN, NL_PER_ML, format_exact, format_mass

EVERY_DAY = "every day"


@dataclass(frozen=True)
class TherapySettings:
    """What a pump holds that a plan may change: the label and every dose-based and volume setting."""

    label: Label
    prescription: DoseSchedule | None
    demand: DemandLimits | None
    periodic: PeriodicBolusPlan | None
    low_reservoir_alarm_nl: int
    catheter_volume_nl: int

    @classmethod
    def of(cls, snapshot: PumpSnapshot) -> TherapySettings:
        """The settings a pump holds now."""
        return cls(
            snapshot.label,
            snapshot.prescription,
            snapshot.demand,
            snapshot.periodic,
            snapshot.low_reservoir_alarm_nl,
            snapshot.catheter_volume_nl,
        )

    def but(self, **changes: object) -> TherapySettings:
        """These settings with some replaced."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def lead_concentration_ng_per_ml(self) -> int | None:
        """The concentration of the lead drug, or None before the first fill."""
        return self.label[0][1] if self.label else None

    def doses_differ(self, other: TherapySettings) -> bool:
        """Whether anything that decides how much drug the patient gets differs."""
        return (self.label, self.prescription, self.demand, self.periodic) != (
            other.label,
            other.prescription,
            other.demand,
            other.periodic,
        )


@dataclass(frozen=True)
class SettingValue:
    """One setting in words: the whole, its dose part and its volume part, and its integers in base units."""

    text: str
    dose: str = ""
    volume: str = ""
    data: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """The value as stable JSON-ready fields."""
        return {"text": self.text, "dose": self.dose, "volume": self.volume, "data": self.data}


@dataclass(frozen=True)
class SettingChange:
    """One setting before and after the plan, side by side; `changed` marks those the plan changes."""

    key: str
    name: str
    old: SettingValue | None
    new: SettingValue | None

    @property
    def changed(self) -> bool:
        """Whether the plan changes this setting (in dose, in volume or in any other part)."""
        if self.old is None or self.new is None or not (self.old.data or self.new.data):
            return self.old != self.new
        # The integers are the setting; the words around them (what a volume holds) follow the label.
        return self.old.data != self.new.data

    def to_dict(self) -> dict[str, object]:
        """The change as stable JSON-ready fields."""
        return {
            "key": self.key,
            "name": self.name,
            "old": None if self.old is None else self.old.to_dict(),
            "new": None if self.new is None else self.new.to_dict(),
            "changed": self.changed,
        }


def grouped_by_weekday(settings: Sequence[SettingChange]) -> list[SettingChange]:
    """The settings, a basal step alike on several weekdays shown once for all of them ("basal dose, mon-fri …")."""
    out: list[SettingChange] = []
    groups: list[_WeekdayGroup] = []
    for change in settings:
        parts = change.key.split(".")
        if len(parts) == 3 and parts[0] == "basal" and parts[1] in DAY_NAMES:
            at, day = parts[2], DAY_NAMES.index(parts[1])
            same = [g for g in groups if (g.at, g.old, g.new) == (at, change.old, change.new)]
            if same:
                same[0].days.append(day)
            else:
                groups.append(_WeekdayGroup(at, change.old, change.new, [day]))
            continue
        out += _basal_changes(groups)
        groups = []
        out.append(change)
    return out + _basal_changes(groups)


@dataclass
class _WeekdayGroup:
    at: str
    old: SettingValue | None
    new: SettingValue | None
    days: list[int]


def _basal_changes(groups: list[_WeekdayGroup]) -> list[SettingChange]:
    return [
        SettingChange(
            f"basal.{weekdays_text(g.days)}.{g.at}", f"basal dose, {weekdays_text(g.days)} from {g.at}", g.old, g.new
        )
        for g in sorted(groups, key=lambda g: (min(g.days), g.at))
    ]


def weekdays_text(days: Sequence[int]) -> str:
    """Weekdays (0 = Monday) as people write them: "every day", "mon-fri", "sat, sun", "mon, wed-fri"."""
    distinct = sorted(set(days))
    if len(distinct) == len(DAY_NAMES):
        return EVERY_DAY
    runs: list[list[int]] = []
    for day in distinct:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(
        DAY_NAMES[r[0]] if len(r) == 1 else f"{DAY_NAMES[r[0]]}{', ' if len(r) == 2 else '-'}{DAY_NAMES[r[-1]]}"
        for r in runs
    )


def side_by_side(before: TherapySettings, after: TherapySettings, internal_volume_nl: int) -> tuple[SettingChange, ...]:
    """Every setting old and new: label, basal steps, demand, periodic, low-reservoir alarm, catheter."""
    rows = [SettingChange("label", "drug in the reservoir", _label_value(before.label), _label_value(after.label))]
    rows += _basal_rows(before, after)

    def row(key: str, name: str, value: Callable[[TherapySettings], SettingValue]) -> SettingChange:
        return SettingChange(key, name, value(before), value(after))

    rows.append(row("demand", "demand dose (patient's handset)", lambda s: _demand_value(s, s.demand)))
    rows.append(row("periodic", "periodic bolus", lambda s: _periodic_value(s, s.periodic)))
    rows.append(
        row(
            "low_reservoir_alarm",
            "low-reservoir alarm",
            lambda s: _volume_value(s, s.low_reservoir_alarm_nl, "threshold_nl"),
        )
    )
    rows.append(
        SettingChange(
            "catheter",
            "catheter volume (dead volume with the pump's tubing)",
            _catheter_value(before.catheter_volume_nl, internal_volume_nl),
            _catheter_value(after.catheter_volume_nl, internal_volume_nl),
        )
    )
    return tuple(rows)


# ----------------------------------------------------------------- words for one drug


def library_drug(name: str) -> Drug | None:
    """The drug library's entry for a drug on a label, or None for a name the library does not know."""
    try:
        return get_drug(name)
    except InputError:
        return None


def mass_text(label: Label, ng: int) -> str:
    """A mass of the lead drug in its own unit (mg or mcg), with its name."""
    drug = library_drug(label[0][0]) if label else None
    text = drug.mass_text(ng) if drug else format_mass(ng)
    return f"{text} of {label[0][0]}" if label else text


# The words for an amount are a function of the amount alone; every plan and verification writes the same few
# dozen again (each basal step, old and new), so they are kept.
@lru_cache(maxsize=4096)
def dose_rate_text(label: Label, ng_per_day: int) -> str:
    """A daily dose of the lead drug in its own unit."""
    drug = library_drug(label[0][0]) if label else None
    return drug.dose_text(ng_per_day) if drug else format_exact(ng_per_day, 1_000_000, "mg/day")


@lru_cache(maxsize=4096)
def volume_text(nl: int) -> str:
    """A volume in mL, exactly."""
    return format_exact(nl, NL_PER_ML, "mL")


@lru_cache(maxsize=4096)
def flow_text(nl_per_day: int) -> str:
    """A flow in mL/day, exactly."""
    return format_exact(nl_per_day, NL_PER_ML, "mL/day")


def wall_text(wall_ms: int) -> str:
    """A wall-clock time of the pump (local time) to the minute."""
    return datetime.fromtimestamp(wall_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def time_of_day_text(ms: int) -> str:
    """A time of day, like 06:30."""
    return f"{ms // MS_PER_HOUR:02d}:{ms % MS_PER_HOUR // MS_PER_MIN:02d}"


def component_text(drug: str, concentration_ng_per_ml: int) -> str:
    """One drug of a label with its concentration, in the drug's unit."""
    known = library_drug(drug)
    if known is None:
        return f"{drug} {format_exact(concentration_ng_per_ml, 1_000_000, 'mg/mL')}"
    return f"{drug} {known.concentration_text(concentration_ng_per_ml)}"


def label_text(label: Label) -> str:
    """A label in words, lead drug first; 'empty' before the first fill."""
    return " + ".join(component_text(d, c) for d, c in label) or "empty"


# ------------------------------------------------------------------------- the rows


def _label_value(label: Label) -> SettingValue:
    data: dict[str, object] = {"label": [{"drug": d, "concentration_ng_per_ml": c} for d, c in label]}
    return SettingValue(label_text(label), data=data)


def _basal_rows(before: TherapySettings, after: TherapySettings) -> list[SettingChange]:
    old, new = _steps(before.prescription), _steps(after.prescription)
    per_day = _varies(before.prescription) or _varies(after.prescription)
    keys: list[tuple[int, int]] = sorted(
        {(d if per_day else -1, start) for steps in (old, new) for (d, start) in steps}
    )
    rows: list[SettingChange] = []
    for day, start in keys:
        day_name = EVERY_DAY if day < 0 else DAY_NAMES[day]
        at = (0 if day < 0 else day, start)
        rows.append(
            SettingChange(
                f"basal.{day_name.replace(' ', '_')}.{time_of_day_text(start)}",
                f"basal dose, {day_name} from {time_of_day_text(start)}",
                _basal_value(before, old, at),
                _basal_value(after, new, at),
            )
        )
    if not rows:
        rows.append(SettingChange("basal", "basal dose", SettingValue("none"), SettingValue("none")))
    return rows


def _steps(schedule: DoseSchedule | None) -> dict[tuple[int, int], int]:
    if schedule is None:
        return {}
    return {(d, s.start_ms): s.dose_ng_per_day for d, day in enumerate(schedule.days) for s in day}


def _varies(schedule: DoseSchedule | None) -> bool:
    return schedule is not None and len(set(schedule.days)) > 1


def _basal_value(
    settings: TherapySettings, steps: dict[tuple[int, int], int], at: tuple[int, int]
) -> SettingValue | None:
    if at not in steps:
        return None
    dose = steps[at]
    conc = settings.lead_concentration_ng_per_ml
    dose_words = dose_rate_text(settings.label, dose)
    data: dict[str, object] = {"dose_ng_per_day": dose}
    if conc is None:
        return SettingValue(f"{dose_words} (no drug in the pump)", dose_words, "", data)
    flow = dose * NL_PER_ML // conc  # as the pump derives it: rounded down, never more than prescribed
    data["flow_nl_per_day"] = flow
    return SettingValue(f"{dose_words} ({flow_text(flow)})", dose_words, flow_text(flow), data)


def _dose_and_volume(settings: TherapySettings, dose_ng: int) -> tuple[str, str, int | None]:
    dose_words = mass_text(settings.label, dose_ng)
    conc = settings.lead_concentration_ng_per_ml
    if conc is None:
        return dose_words, "", None
    volume = volume_nl(dose_ng, conc)
    return dose_words, volume_text(volume), volume


def _demand_value(settings: TherapySettings, demand: DemandLimits | None) -> SettingValue:
    if demand is None:
        return SettingValue("off")
    dose, volume, volume_nl_ = _dose_and_volume(settings, demand.dose_ng)
    text = (
        f"{dose} ({volume or 'no drug in the pump'}) over {duration_text(demand.duration_ms)}, lockout "
        f"{duration_text(demand.lockout_ms)}, at most {demand.max_per_24h} per 24 h"
    )
    data: dict[str, object] = {
        "dose_ng": demand.dose_ng,
        "volume_nl": volume_nl_,
        "duration_ms": demand.duration_ms,
        "lockout_ms": demand.lockout_ms,
        "max_per_24h": demand.max_per_24h,
    }
    return SettingValue(text, dose, volume, data)


def _periodic_value(settings: TherapySettings, periodic: PeriodicBolusPlan | None) -> SettingValue:
    if periodic is None:
        return SettingValue("off")
    dose, volume, volume_nl_ = _dose_and_volume(settings, periodic.dose_ng)
    text = (
        f"{dose} ({volume or 'no drug in the pump'}) over {duration_text(periodic.duration_ms)} every "
        f"{duration_text(periodic.interval_ms)}, from {wall_text(periodic.first_wall_ms)}"
    )
    data: dict[str, object] = {
        "dose_ng": periodic.dose_ng,
        "volume_nl": volume_nl_,
        "duration_ms": periodic.duration_ms,
        "interval_ms": periodic.interval_ms,
        "first_wall_ms": periodic.first_wall_ms,
    }
    return SettingValue(text, dose, volume, data)


def _volume_value(settings: TherapySettings, nl: int, key: str) -> SettingValue:
    conc = settings.lead_concentration_ng_per_ml
    data: dict[str, object] = {key: nl}
    if conc is None:
        return SettingValue(volume_text(nl), "", volume_text(nl), data)
    dose = mass_text(settings.label, mass_ng(nl, conc))
    return SettingValue(f"{volume_text(nl)} (holds {dose})", dose, volume_text(nl), data)


def _catheter_value(catheter_nl: int, internal_nl: int) -> SettingValue:
    dead = catheter_nl + internal_nl
    return SettingValue(
        f"{volume_text(catheter_nl)} (dead volume {volume_text(dead)})",
        volume=volume_text(catheter_nl),
        data={"catheter_volume_nl": catheter_nl, "dead_volume_nl": dead},
    )


def days_text(ms: int) -> str:
    """A span of days for people, to a tenth of a day."""
    return format_exact(ms, MS_PER_DAY, "days", decimals=1)
