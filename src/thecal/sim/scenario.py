"""Scenario files: a timeline of what people do to a pump, with a unit on every quantity.

The format is documented in docs/scenario.md. Reading a scenario checks
everything before anything runs: a missing unit, an unknown action, drug or
pump model, a flow the pump cannot deliver or a dose beyond the drug's hard
limit is an `InputError` naming the field, the value, the limit and what to do.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from thecal.errors import InputError
from thecal.units import (
    DOSE_RATE,
    FLOW,
    LENGTH,
    MASS,
    MS_PER_DAY,
    MS_PER_HOUR,
    MS_PER_MIN,
    VOLUME_PER_LENGTH,
    concentration_ng_per_ml,
    duration_ms,
    parse_exact,
    parse_int,
    percent_fraction,
    volume_nl,
)

ACTIONS = (
    "fill",
    "refill",
    "prime",
    "program",
    "bolus",
    "periodic_bolus",
    "demand_settings",
    "ptm_press",
    "stop",
    "resume",
    "clear_alarm",
    "low_reservoir_alarm",
    "mri",
    "fault",
)
FAULTS = ("occlusion", "leak", "disconnection", "motor_stall", "over_infusion", "pump_fault")
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_AT = re.compile(r"^\s*(?P<days>\d+)\s*d\s+(?P<hh>\d{1,2}):(?P<mm>\d{2})\s*$")
_CLOCK = re.compile(r"^\s*(?P<hh>\d{1,2}):(?P<mm>\d{2})\s*$")


@dataclass(frozen=True)
class Amount:
    """A dose or a volume, as the person wrote it: exactly one of the two is set."""

    mass_ng: int | None = None
    volume_nl: int | None = None


@dataclass(frozen=True)
class Rate:
    """A dose rate or a flow, as written: exactly one of the two is set."""

    dose_ng_per_day: int | None = None
    flow_nl_per_day: int | None = None


@dataclass(frozen=True)
class FlexStep:
    """A flexible-dosing step: on these weekdays (0 = Monday), from this time of day, this rate."""

    days: tuple[int, ...]
    start_ms: int
    rate: Rate


@dataclass(frozen=True)
class Event:
    """One timeline entry, validated; `params` holds its typed fields."""

    index: int
    at_ms: int
    action: str
    params: dict[str, Any]

    @property
    def where(self) -> str:
        """How error messages name this entry."""
        return f"timeline[{self.index}] ({self.action})"


@dataclass(frozen=True)
class Scenario:
    """A whole scenario: the pump, the catheter, the patient, the timeline and the run."""

    name: str
    description: str
    start_wall_ms: int
    seed: int
    model: str
    low_reservoir_alarm_nl: int | None
    accuracy_error: float | None
    catheter_volume_nl: int
    opioid_naive: bool
    duration_ms: int
    sample_ms: int
    timeline: tuple[Event, ...]
    source: str = field(default="")


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise InputError(
            "scenario", str(p), f"cannot be read ({exc.strerror})", "give the path of a .toml file"
        ) from None
    return parse_scenario(text, str(p))


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Check a scenario given as TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError("scenario", source, f"is not valid TOML ({exc})", "fix the syntax at the line named") from None
    meta = _table(data, "scenario", required=False)
    pump = _table(data, "pump")
    run = _table(data, "run")
    catheter = _table(data, "catheter", required=False)
    patient = _table(data, "patient", required=False)
    # [expect] holds a scenario test's expected results; the runner does not read it.
    _known(data, "", ("scenario", "pump", "run", "catheter", "patient", "timeline", "expect"))
    _known(meta, "scenario", ("name", "description", "start", "seed"))
    _known(pump, "pump", ("model", "low_reservoir_alarm", "accuracy_error"))
    _known(run, "run", ("duration", "sample"))
    _known(catheter, "catheter", ("length", "volume_per_length", "volume"))
    _known(patient, "patient", ("opioid_naive",))

    start = _start(meta.get("start", "2026-01-05T08:00"))
    accuracy = pump.get("accuracy_error")
    if accuracy is not None:
        accuracy = _percent(accuracy, "pump.accuracy_error", signed=True)
    if "model" not in pump:
        raise InputError("pump.model", None, "is missing", 'name the pump model, e.g. model = "programmable-40"')
    entries = data.get("timeline", [])
    if not isinstance(entries, list):
        raise InputError("timeline", entries, "must be a list of [[timeline]] tables", "write [[timeline]] entries")
    timeline = tuple(_event(i, e, start) for i, e in enumerate(entries))
    duration = duration_ms(run.get("duration"), "run.duration")
    if duration <= 0:
        raise InputError("run.duration", run.get("duration"), "must be longer than zero", 'write e.g. "300 d"')
    for event in timeline:
        if event.at_ms > duration:
            raise InputError(
                f"{event.where}.at",
                event.params.get("_at_text"),
                "lies after the end of the run",
                f"move it before run.duration = {run.get('duration')!r} or lengthen the run",
            )
    return Scenario(
        name=str(meta.get("name", Path(source).stem)),
        description=str(meta.get("description", "")),
        start_wall_ms=start,
        seed=_int(meta.get("seed", 0), "scenario.seed"),
        model=str(pump["model"]),
        low_reservoir_alarm_nl=volume_nl(pump["low_reservoir_alarm"], "pump.low_reservoir_alarm")
        if "low_reservoir_alarm" in pump
        else None,
        accuracy_error=accuracy,
        catheter_volume_nl=_catheter_volume(catheter),
        opioid_naive=_bool(patient.get("opioid_naive", False), "patient.opioid_naive"),
        duration_ms=duration,
        sample_ms=duration_ms(run.get("sample", "1 d" if duration > 30 * MS_PER_DAY else "1 h"), "run.sample"),
        timeline=tuple(sorted(timeline, key=lambda e: (e.at_ms, e.index))),
        source=source,
    )


# --------------------------------------------------------------------- pieces


def _table(data: dict[str, Any], key: str, required: bool = True) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        if required:
            raise InputError(f"[{key}]", None, "section is missing", f"add a [{key}] section (see docs/scenario.md)")
        return {}
    if not isinstance(value, dict):
        raise InputError(f"[{key}]", value, "must be a table", f"write it as a [{key}] section")
    return value


def _known(table: dict[str, Any], where: str, allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            name = f"{where}.{key}" if where else key
            raise InputError(name, table[key], "is not a known key", f"use one of: {', '.join(allowed)}")


def _int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(where, value, "must be a whole number", "write it without quotes, e.g. 7")
    return value


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(where, value, "must be true or false", "write it without quotes: true or false")
    return value


def _steps(entry: dict[str, Any], where: str) -> tuple[FlexStep, ...]:
    """The prescription of an entry: one continuous rate, or flexible steps by weekday and time of day."""
    mode = entry.get("mode", "flexible" if "steps" in entry else "continuous")
    if mode == "continuous":
        return (FlexStep(tuple(range(7)), 0, _rate(entry, where)),)
    if mode != "flexible":
        raise InputError(f"{where}.mode", mode, "is not a therapy mode", 'use "continuous" or "flexible"')
    steps = entry.get("steps")
    if not isinstance(steps, list) or not steps:
        raise InputError(f"{where}.steps", steps, "must list the steps", "see docs/scenario.md")
    out = []
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            raise InputError(f"{where}.steps[{i}]", step, "must be a table", 'write { days = "all", at = "00:00", … }')
        out.append(
            FlexStep(
                _days(step.get("days"), f"{where}.steps[{i}].days"),
                _clock(step.get("at"), f"{where}.steps[{i}].at"),
                _rate(step, f"{where}.steps[{i}]"),
            )
        )
    return tuple(out)


def _percent(value: object, where: str, *, signed: bool = False) -> float:
    return float(percent_fraction(value, where, signed=signed))


def _start(value: object) -> int:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise InputError(
            "scenario.start", value, "is not a date and time", 'write it like "2026-01-05T08:00" (local time)'
        ) from None
    return round((moment.replace(tzinfo=None) - datetime(1970, 1, 1)) / timedelta(milliseconds=1))


def _catheter_volume(catheter: dict[str, Any]) -> int:
    if "volume" in catheter:
        return volume_nl(catheter["volume"], "catheter.volume")
    length = parse_exact(catheter.get("length", "45 cm"), LENGTH, "catheter.length")
    per_length = parse_exact(
        catheter.get("volume_per_length", "2.2 uL/cm"), VOLUME_PER_LENGTH, "catheter.volume_per_length"
    )
    # length is in micrometres, volume per length in nL/cm
    return round(length / 10_000 * per_length)


def _at(value: object, where: str, start_wall_ms: int) -> int:
    if isinstance(value, str):
        match = _AT.match(value)
        if match:
            hh, mm = int(match["hh"]), int(match["mm"])
            if hh > 23 or mm > 59:
                raise InputError(where, value, "is not a time of day", 'write it like "10 d 08:00"')
            midnight = start_wall_ms - start_wall_ms % MS_PER_DAY
            at = midnight + int(match["days"]) * MS_PER_DAY + hh * MS_PER_HOUR + mm * MS_PER_MIN - start_wall_ms
            if at < 0:
                raise InputError(where, value, "lies before the start of the scenario", "choose a later time")
            return at
    return duration_ms(value, where)


def timeline_time(start_wall_ms: int, at_ms: int) -> str:
    """A pump time written as the timeline writes it: days since the start date, then the wall clock."""
    wall = start_wall_ms + at_ms
    days = (wall - (start_wall_ms - start_wall_ms % MS_PER_DAY)) // MS_PER_DAY
    of_day = wall % MS_PER_DAY
    return f"{days} d {of_day // MS_PER_HOUR:02d}:{of_day % MS_PER_HOUR // MS_PER_MIN:02d}"


def _clock(value: object, where: str) -> int:
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if not match or int(match["hh"]) > 23 or int(match["mm"]) > 59:
        raise InputError(where, value, "is not a time of day", 'write it like "08:00"')
    return int(match["hh"]) * MS_PER_HOUR + int(match["mm"]) * MS_PER_MIN


def _days(value: object, where: str) -> tuple[int, ...]:
    if value is None or value == "all":
        return tuple(range(7))
    if not isinstance(value, str):
        raise InputError(where, value, "is not a list of weekdays", 'write "mon-fri", "sat,sun" or "all"')
    days: list[int] = []
    for part in value.lower().replace(" ", "").split(","):
        ends = part.split("-")
        if not all(e in DAY_KEYS for e in ends) or len(ends) > 2:
            raise InputError(where, value, "is not a list of weekdays", 'write "mon-fri", "sat,sun" or "all"')
        a, b = DAY_KEYS.index(ends[0]), DAY_KEYS.index(ends[-1])
        days.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return tuple(sorted(set(days)))


def _amount(entry: dict[str, Any], where: str, required: bool = True) -> Amount | None:
    has_dose, has_volume = "dose" in entry, "volume" in entry
    if has_dose and has_volume:
        raise InputError(where, f"dose={entry['dose']!r}, volume={entry['volume']!r}", "gives both", "give one")
    if has_dose:
        return Amount(mass_ng=parse_int(entry["dose"], MASS, f"{where}.dose"))
    if has_volume:
        return Amount(volume_nl=volume_nl(entry["volume"], f"{where}.volume"))
    if required:
        raise InputError(where, None, "needs a dose or a volume", 'add dose = "0.1 mg" or volume = "0.02 mL"')
    return None


def _rate(entry: dict[str, Any], where: str) -> Rate:
    has_dose, has_flow = "dose" in entry, "flow" in entry
    if has_dose and has_flow:
        raise InputError(where, f"dose={entry['dose']!r}, flow={entry['flow']!r}", "gives both", "give one")
    if has_dose:
        return Rate(dose_ng_per_day=parse_int(entry["dose"], DOSE_RATE, f"{where}.dose"))
    if has_flow:
        return Rate(flow_nl_per_day=parse_int(entry["flow"], FLOW, f"{where}.flow"))
    raise InputError(where, None, "needs a dose or a flow", 'add dose = "1.5 mg/day" or flow = "0.15 mL/day"')


def _contents(entry: dict[str, Any], where: str) -> tuple[tuple[str, int], ...]:
    if "contents" in entry:
        items = entry["contents"]
        if not isinstance(items, list) or not items:
            raise InputError(
                f"{where}.contents",
                items,
                "must list the drugs",
                'write [{drug="morphine", concentration="10 mg/mL"}]',
            )
        pairs = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or "drug" not in item or "concentration" not in item:
                raise InputError(f"{where}.contents[{i}]", item, "needs a drug and a concentration", "add both")
            pairs.append((str(item["drug"]), item["concentration"]))
    else:
        if "drug" not in entry or "concentration" not in entry:
            raise InputError(where, None, "needs a drug and a concentration", 'add drug = "morphine" and concentration')
        pairs = [(str(entry["drug"]), entry["concentration"])]
    return tuple((name.lower(), concentration_ng_per_ml(conc, f"{where}.concentration")) for name, conc in pairs)


_EVENT_KEYS: dict[str, tuple[str, ...]] = {
    "fill": ("drug", "concentration", "contents", "volume", "low_reservoir_alarm"),
    "refill": (
        "drug",
        "concentration",
        "contents",
        "volume",
        "aspirated",
        "bridge",
        "pocket_fill",
        "programmed_concentration",
        "low_reservoir_alarm",
        "discrepancy_acknowledged",
        "dose",
        "steps",
        "mode",
        "override_reason",
    ),
    "prime": ("volume", "duration"),
    "program": ("mode", "dose", "flow", "steps", "drug", "override_reason"),
    "bolus": ("dose", "volume", "duration", "drug", "override_reason"),
    "periodic_bolus": ("dose", "volume", "duration", "every", "first", "off", "drug", "override_reason"),
    "demand_settings": ("dose", "volume", "duration", "lockout", "max_per_day", "off", "drug", "override_reason"),
    "ptm_press": ("every", "until"),
    "stop": (),
    "resume": (),
    "clear_alarm": ("alarm",),
    "low_reservoir_alarm": ("threshold",),
    "mri": ("duration", "recovery_delay"),
    "fault": ("kind", "fraction", "duration"),
}


def _event(index: int, entry: object, start_wall_ms: int) -> Event:
    where = f"timeline[{index}]"
    if not isinstance(entry, dict):
        raise InputError(where, entry, "must be a table", "write it as a [[timeline]] entry")
    action = entry.get("action")
    if action not in ACTIONS:
        raise InputError(f"{where}.action", action, "is not a known action", f"use one of: {', '.join(ACTIONS)}")
    where = f"{where} ({action})"
    _known(entry, where, ("at", "action", "note", *_EVENT_KEYS[action]))
    if "at" not in entry:
        raise InputError(f"{where}.at", None, "is missing", 'say when, e.g. at = "0 d" or at = "10 d 08:00"')
    p: dict[str, Any] = {"_at_text": entry["at"], "note": str(entry.get("note", ""))}
    at = _at(entry["at"], f"{where}.at", start_wall_ms)
    if action in ("fill", "refill"):
        p["contents"] = _contents(entry, where)
        p["volume_nl"] = volume_nl(entry.get("volume"), f"{where}.volume")
        if "low_reservoir_alarm" in entry:
            p["low_reservoir_alarm_nl"] = volume_nl(entry["low_reservoir_alarm"], f"{where}.low_reservoir_alarm")
    if action == "refill":
        if "aspirated" in entry:
            p["aspirated_nl"] = volume_nl(entry["aspirated"], f"{where}.aspirated")
        p["bridge"] = _bool(entry.get("bridge", True), f"{where}.bridge")
        p["pocket_fill"] = _bool(entry.get("pocket_fill", False), f"{where}.pocket_fill")
        p["discrepancy_acknowledged"] = _bool(
            entry.get("discrepancy_acknowledged", False), f"{where}.discrepancy_acknowledged"
        )
        if "override_reason" in entry:
            p["override_reason"] = str(entry["override_reason"])
        if "dose" in entry or "steps" in entry:
            p["steps"] = _steps(entry, where)
        if "programmed_concentration" in entry:
            if len(p["contents"]) != 1:
                raise InputError(
                    f"{where}.programmed_concentration",
                    entry["programmed_concentration"],
                    "applies to a single-drug fill only",
                    "remove it or use one drug",
                )
            p["programmed_concentration_ng_per_ml"] = concentration_ng_per_ml(
                entry["programmed_concentration"], f"{where}.programmed_concentration"
            )
    elif action == "prime":
        if "volume" in entry:
            p["volume_nl"] = volume_nl(entry["volume"], f"{where}.volume")
        if "duration" in entry:
            p["duration_ms"] = duration_ms(entry["duration"], f"{where}.duration")
    elif action == "program":
        p["drug"] = entry.get("drug")
        if "override_reason" in entry:
            p["override_reason"] = str(entry["override_reason"])
        p["steps"] = _steps(entry, where)
    elif action in ("bolus", "periodic_bolus", "demand_settings") and "override_reason" in entry:
        p["override_reason"] = str(entry["override_reason"])
    if action == "bolus":
        p["amount"] = _amount(entry, where)
        p["duration_ms"] = duration_ms(entry.get("duration"), f"{where}.duration")
        p["drug"] = entry.get("drug")
    elif action == "periodic_bolus":
        p["off"] = _bool(entry.get("off", False), f"{where}.off")
        if not p["off"]:
            p["amount"] = _amount(entry, where)
            p["duration_ms"] = duration_ms(entry.get("duration"), f"{where}.duration")
            p["every_ms"] = duration_ms(entry.get("every"), f"{where}.every")
            p["first_ms"] = _clock(entry.get("first", "00:00"), f"{where}.first")
            p["drug"] = entry.get("drug")
    elif action == "demand_settings":
        p["off"] = _bool(entry.get("off", False), f"{where}.off")
        if not p["off"]:
            p["amount"] = _amount(entry, where)
            p["duration_ms"] = duration_ms(entry.get("duration"), f"{where}.duration")
            p["lockout_ms"] = duration_ms(entry.get("lockout"), f"{where}.lockout")
            p["max_per_day"] = _int(entry.get("max_per_day"), f"{where}.max_per_day")
            p["drug"] = entry.get("drug")
    elif action == "ptm_press":
        if "every" in entry or "until" in entry:
            p["every_ms"] = duration_ms(entry.get("every"), f"{where}.every")
            p["until_ms"] = _at(entry.get("until"), f"{where}.until", start_wall_ms)
            if p["every_ms"] <= 0 or p["until_ms"] < at:
                raise InputError(
                    f"{where}.every",
                    entry.get("every"),
                    "needs a positive interval and a later end",
                    'write every = "8 h", until = "30 d"',
                )
    elif action == "clear_alarm":
        p["alarm"] = str(entry.get("alarm"))
    elif action == "low_reservoir_alarm":
        p["threshold_nl"] = volume_nl(entry.get("threshold"), f"{where}.threshold")
    elif action == "mri":
        p["duration_ms"] = duration_ms(entry.get("duration"), f"{where}.duration")
        p["recovery_delay_ms"] = duration_ms(entry.get("recovery_delay", "0 min"), f"{where}.recovery_delay")
    elif action == "fault":
        kind = entry.get("kind")
        if kind not in FAULTS:
            raise InputError(
                f"{where}.kind",
                kind,
                "is not a fault the bench can inject",
                f"use one of: {', '.join(FAULTS)}",
            )
        p["kind"] = kind
        if kind in ("leak", "over_infusion"):
            p["fraction"] = _percent(entry.get("fraction"), f"{where}.fraction")
        if "duration" in entry:
            p["duration_ms"] = duration_ms(entry["duration"], f"{where}.duration")
    return Event(index, at, str(action), p)
