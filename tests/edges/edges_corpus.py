"""A corpus of hostile inputs, generated: every field of every door, and the field each refusal must name.

The doors are the scenario file (`thecal simulate`), the calculators (`thecal
calc`), the programmer and the pump's own commands (`thecal pump`), the
handset (`thecal ptm`), a pump model file and the JSON of `thecal pump send`.
Each case is a command line (with the files it names) that must be refused
with exit code 2, one line naming `field`, and nothing run, sent or written.

The hostile values are generated: every Unicode script's digits, booleans
written as text, nan, inf, huge, negative, zero and just-beyond-the-range
values for the range of each field (read from `thecal.units`, so a field
whose range changes is tested at its new bounds), wrong types, nesting
thousands deep and files in other encodings.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from thecal import units
from thecal.units import Count, Range

TMP = "{tmp}"  # replaced by the case's own directory when it runs


@dataclass(frozen=True)
class Case:
    """One hostile input: what is hostile about it, the door, the field the refusal names, the command line."""

    kind: str
    door: str
    field: str
    argv: tuple[str, ...]
    files: tuple[tuple[str, bytes], ...] = ()
    names: str = ""  # words the refusal must also hold (a character's name)
    must_not_exist: tuple[str, ...] = ()  # paths (with {tmp}) that a refusal must not create

    @property
    def id(self) -> str:
        """A readable test id."""
        return f"{self.door}|{self.field}|{self.kind}"


# ------------------------------------------------------------------------------------ the digits of the world


def _foreign_zeros() -> list[str]:
    """The digit zero of every script Unicode knows, except ASCII's: each is a class of digits of its own."""
    return [
        chr(code)
        for code in range(0x80, sys.maxunicode + 1)
        if unicodedata.category(chr(code)) == "Nd" and unicodedata.digit(chr(code), None) == 0
    ]


# Digits that are not decimal digits at all: superscripts, subscripts, fractions, circled, Roman numerals.
OTHER_NUMBERS = ("²", "₂", "½", "①", "Ⅻ", "〇", "⁰", "𝟐", "٢", "۲", "२", "২", "๒", "２")
FOREIGN_DIGITS = (*_foreign_zeros(), *OTHER_NUMBERS)

# ------------------------------------------------------------------------------------ the scenario door

BASE: dict[str, Any] = {
    "scenario": {"name": "edge", "seed": 3, "start": "2026-01-05T08:00"},
    "pump": {"model": "programmable-20", "low_reservoir_alarm": "2 mL", "accuracy_error": "+1 %"},
    "catheter": {"length": "45 cm", "volume_per_length": "2.2 uL/cm"},
    "patient": {"opioid_naive": False},
    "run": {"duration": "30 d", "sample": "1 d"},
    "timeline": [
        {"at": "0 d", "action": "fill", "drug": "morphine", "concentration": "10 mg/mL", "volume": "20 mL"},
        {"at": "0 d", "action": "prime", "volume": "0.1 mL", "duration": "1 h"},
        {"at": "0 d", "action": "program", "dose": "1 mg/day"},
        {
            "at": "1 d",
            "action": "program",
            "steps": [
                {"days": "all", "at": "00:00", "dose": "1 mg/day"},
                {"days": "mon-fri", "at": "07:00", "dose": "1.2 mg/day"},
            ],
        },
        {"at": "1 d 08:00", "action": "program", "flow": "0.1 mL/day"},
        {"at": "2 d", "action": "bolus", "dose": "0.1 mg", "duration": "1 h"},
        {"at": "2 d", "action": "bolus", "volume": "0.01 mL", "duration": "1 h"},
        {
            "at": "3 d",
            "action": "periodic_bolus",
            "dose": "0.1 mg",
            "duration": "1 h",
            "every": "8 h",
            "first": "08:00",
        },
        {"at": "4 d", "action": "periodic_bolus", "off": True},
        {
            "at": "4 d",
            "action": "demand_settings",
            "dose": "0.1 mg",
            "duration": "10 min",
            "lockout": "4 h",
            "max_per_day": 3,
        },
        {"at": "5 d", "action": "ptm_press"},
        {"at": "5 d", "action": "ptm_press", "every": "8 h", "until": "10 d"},
        {"at": "6 d", "action": "demand_settings", "off": True},
        {
            "at": "10 d",
            "action": "refill",
            "drug": "morphine",
            "concentration": "10 mg/mL",
            "volume": "20 mL",
            "aspirated": "9 mL",
            "bridge": True,
            "pocket_fill": False,
            "discrepancy_acknowledged": False,
            "programmed_concentration": "10 mg/mL",
            "low_reservoir_alarm": "3 mL",
            "dose": "1 mg/day",
        },
        {
            "at": "11 d",
            "action": "refill",
            "contents": [
                {"drug": "morphine", "concentration": "10 mg/mL"},
                {"drug": "bupivacaine", "concentration": "15 mg/mL"},
            ],
            "volume": "20 mL",
        },
        {"at": "12 d", "action": "low_reservoir_alarm", "threshold": "3 mL"},
        {"at": "13 d", "action": "mri", "duration": "40 min", "recovery_delay": "2 h"},
        {"at": "14 d", "action": "fault", "kind": "leak", "fraction": "30 %", "duration": "1 d"},
        {"at": "15 d", "action": "stop"},
        {"at": "16 d", "action": "resume"},
        {"at": "17 d", "action": "clear_alarm", "alarm": "motor_stall"},
    ],
}
TIMELINE: list[dict[str, Any]] = BASE["timeline"]
Path_ = tuple[str | int, ...]


def _entry(action: str, key: str, nth: int = 0) -> int:
    """The index of the `nth` timeline entry of an action that has a key."""
    found = [i for i, e in enumerate(TIMELINE) if e["action"] == action and key in e]
    return found[nth]


# Every quantity key of the format, where it sits in BASE, and the range it must keep.
SCENARIO_QUANTITIES: tuple[tuple[Path_, Range], ...] = (
    (("pump", "low_reservoir_alarm"), units.LOW_RESERVOIR_ALARM),
    (("catheter", "length"), units.CATHETER_LENGTH),
    (("catheter", "volume_per_length"), units.CATHETER_VOLUME_PER_LENGTH),
    (("run", "duration"), units.RUN_LENGTH),
    (("run", "sample"), units.SAMPLE_INTERVAL),
    (("timeline", _entry("fill", "volume"), "volume"), units.FILL_VOLUME),
    (("timeline", _entry("fill", "concentration"), "concentration"), units.CONCENTRATION_RANGE),
    (("timeline", _entry("prime", "volume"), "volume"), units.PRIMING_VOLUME),
    (("timeline", _entry("prime", "duration"), "duration"), units.PRIMING_DURATION),
    (("timeline", _entry("program", "dose"), "dose"), units.DAILY_DOSE),
    (("timeline", _entry("program", "flow"), "flow"), units.FLOW_RANGE),
    (("timeline", _entry("program", "steps"), "steps", 0, "dose"), units.DAILY_DOSE),
    (("timeline", _entry("bolus", "dose"), "dose"), units.BOLUS_DOSE),
    (("timeline", _entry("bolus", "dose"), "duration"), units.BOLUS_DURATION),
    (("timeline", _entry("bolus", "volume"), "volume"), units.DOSE_VOLUME),
    (("timeline", _entry("periodic_bolus", "dose"), "dose"), units.BOLUS_DOSE),
    (("timeline", _entry("periodic_bolus", "every"), "every"), units.PERIODIC_INTERVAL),
    (("timeline", _entry("demand_settings", "dose"), "dose"), units.BOLUS_DOSE),
    (("timeline", _entry("demand_settings", "duration"), "duration"), units.BOLUS_DURATION),
    (("timeline", _entry("demand_settings", "lockout"), "lockout"), units.LOCKOUT),
    (("timeline", _entry("ptm_press", "every"), "every"), units.PRESS_INTERVAL),
    (("timeline", _entry("refill", "aspirated"), "aspirated"), units.ASPIRATED_VOLUME),
    (("timeline", _entry("refill", "aspirated"), "volume"), units.FILL_VOLUME),
    (("timeline", _entry("refill", "aspirated"), "concentration"), units.CONCENTRATION_RANGE),
    (("timeline", _entry("refill", "aspirated"), "programmed_concentration"), units.CONCENTRATION_RANGE),
    (("timeline", _entry("refill", "aspirated"), "low_reservoir_alarm"), units.LOW_RESERVOIR_ALARM),
    (("timeline", _entry("refill", "aspirated"), "dose"), units.DAILY_DOSE),
    (("timeline", _entry("refill", "contents"), "contents", 1, "concentration"), units.CONCENTRATION_RANGE),
    (("timeline", _entry("low_reservoir_alarm", "threshold"), "threshold"), units.LOW_RESERVOIR_ALARM),
    (("timeline", _entry("mri", "duration"), "duration"), units.SCAN_DURATION),
    (("timeline", _entry("mri", "recovery_delay"), "recovery_delay"), units.RECOVERY_DELAY),
    (("timeline", _entry("fault", "duration"), "duration"), units.FAULT_DURATION),
)
SCENARIO_PERCENTAGES: tuple[tuple[Path_, Range], ...] = (
    (("pump", "accuracy_error"), units.ACCURACY_ERROR),
    (("timeline", _entry("fault", "fraction"), "fraction"), units.FAULT_FRACTION),
)
SCENARIO_COUNTS: tuple[tuple[Path_, Count], ...] = (
    (("timeline", _entry("demand_settings", "max_per_day"), "max_per_day"), units.DEMAND_DOSES_PER_DAY),
    (("scenario", "seed"), units.SEED),
)
SCENARIO_BOOLEANS: tuple[Path_, ...] = (
    ("patient", "opioid_naive"),
    ("timeline", _entry("refill", "bridge"), "bridge"),
    ("timeline", _entry("refill", "pocket_fill"), "pocket_fill"),
    ("timeline", _entry("refill", "discrepancy_acknowledged"), "discrepancy_acknowledged"),
    ("timeline", _entry("periodic_bolus", "off"), "off"),
    ("timeline", _entry("demand_settings", "off"), "off"),
)
SCENARIO_TIMES: tuple[tuple[Path_, str], ...] = (
    (("timeline", _entry("program", "steps"), "steps", 1, "at"), "time of day"),
    (("timeline", _entry("periodic_bolus", "first"), "first"), "time of day"),
    (("timeline", _entry("bolus", "dose"), "at"), "moment"),
    (("timeline", _entry("ptm_press", "until"), "until"), "moment"),
)


def field_of(path: Path_) -> str:
    """The field a refusal names for a key of BASE, as the format writes it: `timeline[5] (bolus).dose`."""
    if path[0] != "timeline":
        return ".".join(str(p) for p in path)
    text = f"timeline[{path[1]}] ({TIMELINE[int(path[1])]['action']})"
    for part in path[2:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def scenario_with(path: Path_, value: object) -> dict[str, Any]:
    """BASE with one key set to a value (a deep copy: BASE itself never changes)."""
    data: dict[str, Any] = json.loads(json.dumps(BASE))
    holder: Any = data
    for part in path[:-1]:
        holder = holder[part]
    holder[path[-1]] = value
    return data


def toml_text(data: dict[str, Any]) -> str:
    """A scenario as TOML text: sections, then the timeline as an array of tables."""
    lines = [f"{key} = {_toml_value(value)}" for key, value in data.items() if not isinstance(value, dict | list)]
    for section, table in data.items():
        if section == "timeline" or not isinstance(table, dict):
            continue
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in table.items()]
        lines.append("")
    for entry in data.get("timeline", []):
        lines.append("[[timeline]]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in entry.items()]
        lines.append("")
    return "\n".join(lines)


class Raw(str):
    """TOML written as is (a datetime, a nesting), not as a string."""


def _toml_value(value: object) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string is a JSON string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def _scenario_case(kind: str, field_: str, text: str | bytes, names: str = "") -> Case:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return Case(
        kind,
        "scenario",
        field_,
        ("simulate", f"{TMP}/scenario.toml", "--plot", f"{TMP}/plot.png"),
        (("scenario.toml", raw),),
        names,
        (f"{TMP}/plot.png",),
    )


# ------------------------------------------------------------------------------------ hostile values


def _unit(limits: Range) -> str:
    return limits.high.split(" ", 1)[1]


def _written(value: Fraction, limits: Range) -> str:
    """A base-unit value written back in the unit of the range's bounds."""
    unit = _unit(limits)
    scale = units.parse_typed(f"1 {unit}", limits.kind, "unit")
    number = value / scale
    return f"{units.format_exact(number, 1, '', decimals=6).strip()} {unit}"


def hostile_quantities(limits: Range, turn: int = 0) -> Iterator[tuple[str, object]]:
    """Text a field of this range must refuse: physically outside the range (every field gets these), and
    unreadable or ambiguous text (read by one parser whatever the field: each field gets a share, in turn)."""
    unit = _unit(limits)
    low, high = limits.bounds()
    yield "negative", f"-1 {unit}"
    yield "no unit", "1"
    yield "wrong kind of unit", "1 mg" if limits.kind is units.VOLUME else "1 mL"
    yield "just above the range", _written(high * Fraction(1001, 1000), limits)
    yield "huge", f"{'9' * 40} {unit}"
    if limits.above:
        yield "zero where it must be above", f"0 {unit}"
        yield "below the base unit", f"0.0000000001 {unit}"
    elif low > 0:
        yield "below the range", _written(low / 2, limits)
    yield from in_turn(
        [
            ("nan", f"nan {unit}"),
            ("inf", f"inf {unit}"),
            ("infinity", f"-Infinity {unit}"),
            ("minus sign", f"−2 {unit}"),
            ("plus sign", f"+1 {unit}"),
            ("power of ten", f"1e3 {unit}"),
            ("comma", f"1,5 {unit}"),
            ("no number", unit),
            ("empty", ""),
            ("blank", "   "),
            ("no-break space", f"1\u00a0{unit}"),
            ("tab inside", f"1\t{unit}"),
            ("too long", "1" * 70 + f" {unit}"),
            ("digits in the unit", f"1 {unit}2"),
            ("a number word in the unit", f"1 pi {unit}"),
            ("a percent in the unit", f"1 percent {unit}"),
        ],
        turn,
    )


def in_turn(values: list[tuple[str, object]], turn: int, share: int = 4) -> Iterator[tuple[str, object]]:
    """Every `share`-th value, starting at `turn`: across fields in turn, each value meets every door."""
    yield from (value for i, value in enumerate(values) if (i + turn) % share == 0)


def hostile_percentages(limits: Range) -> Iterator[tuple[str, str]]:
    """Percentages a field of this range must refuse."""
    low, high = limits.bounds()
    yield "nan", "nan %"
    yield "inf", "inf %"
    yield "power of ten", "1e2 %"
    yield "comma", "1,5 %"
    yield "no percent sign", "5"
    yield "empty", ""
    yield "percent sign alone", "%"
    yield "fraction written", "0.05"
    yield "just above the range", f"{float(high * 100) + 0.5:g} %"
    yield "below the range", f"{float(low * 100) - 0.5:g} %" if low < 0 else "-1 %"


def hostile_count_texts(limits: Count) -> Iterator[tuple[str, str]]:
    """Whole numbers typed on a command line that a field of this count must refuse."""
    yield "negative", "-1"
    yield "minus sign", "−3"
    yield "plus sign", "+5"
    yield "decimal", "1.5"
    yield "power of ten", "1e3"
    yield "underscore", "1_000"
    yield "hexadecimal", "0x10"
    yield "empty", ""
    yield "letters", "four"
    yield "too long", "9" * 30
    yield "just above the range", str(limits.high + 1)
    if limits.low > 0:
        yield "below the range", str(limits.low - 1)


def hostile_count_values(limits: Count) -> Iterator[tuple[str, object]]:
    """Values a TOML file may hold that a count field must refuse."""
    yield "text", "3"
    yield "float", 3.5
    yield "boolean", True
    yield "negative", -3
    yield "list", [3]
    yield "huge", 10**30
    yield "just above the range", limits.high + 1
    if limits.low > 0:
        yield "below the range", limits.low - 1


BOOLEAN_WORDS: tuple[object, ...] = ("no", "false", "true", "yes", "0", "1", "off", "on", "", "False", 0, 1)
WRONG_TYPES: tuple[tuple[str, object], ...] = (
    ("TOML integer", 5),
    ("TOML float", 1.5),
    ("TOML boolean", True),
    ("TOML array", ["1 mL"]),
    ("TOML table", {"value": "1 mL"}),
    ("TOML date-time", Raw("2026-01-05T08:00:00")),
)

# ------------------------------------------------------------------------------------ the command-line doors

CALC_BASES: dict[str, tuple[str, ...]] = {
    "flow": ("flow", "--drug", "morphine", "--dose", "1 mg/day", "--concentration", "10 mg/mL"),
    "dose": ("dose", "--drug", "morphine", "--flow", "0.1 mL/day", "--concentration", "10 mg/mL"),
    "convert": ("convert", "--dose", "60 mg/day", "--drug", "morphine", "--from", "oral", "--to", "intrathecal"),
    "refill": (
        "refill", "--reservoir", "20 mL", "--drug", "morphine", "--concentration", "10 mg/mL", "--last-fill", "20 mL",
        "--flow", "0.5 mL/day", "--since", "30 d", "--aspirated", "5.1 mL", "--fill-volume", "20 mL",
        "--date", "2025-03-01",
    ),
    "prime": ("prime", "--catheter", "45 cm", "--volume-per-cm", "2.2 uL/cm", "--drug", "morphine",
              "--concentration", "20 mg/mL"),
    "bridge": (
        "bridge", "--catheter", "45 cm", "--volume-per-cm", "2.2 uL/cm", "--drug", "morphine",
        "--old-concentration", "10 mg/mL", "--old-dose", "2 mg/day", "--new-concentration", "20 mg/mL",
        "--new-dose", "2.5 mg/day",
    ),
    "titrate": ("titrate", "--drug", "ziconotide", "--current", "1.2 mcg/day", "--target", "2.4 mcg/day"),
    "trial": ("trial", "--drug", "morphine", "--concentration", "0.5 mg/mL"),
    "demand-max": (
        "demand-max", "--drug", "morphine", "--concentration", "10 mg/mL", "--continuous", "2 mg/day",
        "--bolus", "0.1 mg", "--lockout", "2 h", "--max-per-day", "6",
    ),
}  # fmt: skip

# (calculator, option, the field its refusal names, the range)
CALC_QUANTITIES: tuple[tuple[str, str, str, Range], ...] = (
    ("flow", "--dose", "dose", units.DAILY_DOSE),
    ("flow", "--concentration", "concentration", units.CONCENTRATION_RANGE),
    ("dose", "--flow", "flow", units.FLOW_RANGE),
    ("convert", "--dose", "dose", units.CONVERTED_DOSE),
    ("refill", "--reservoir", "reservoir", units.RESERVOIR_SIZE),
    ("refill", "--last-fill", "last fill", units.LAST_FILL_VOLUME),
    ("refill", "--flow", "flow", units.FLOW_RANGE),
    ("refill", "--new-flow", "new flow", units.FLOW_RANGE),
    ("refill", "--since", "since", units.SINCE_LAST_REFILL),
    ("refill", "--aspirated", "aspirated", units.ASPIRATED_VOLUME),
    ("refill", "--bolus-volume", "bolus volume", units.BOLUS_VOLUME_SINCE_REFILL),
    ("refill", "--fill-volume", "fill volume", units.FILL_VOLUME),
    ("refill", "--demand-volume", "demand volume", units.DEMAND_VOLUME),
    ("refill", "--alarm", "alarm volume", units.LOW_RESERVOIR_ALARM),
    ("refill", "--flag-threshold", "flag threshold", units.FLAG_THRESHOLD),
    ("prime", "--catheter", "catheter", units.CATHETER_LENGTH),
    ("prime", "--volume-per-cm", "volume per cm", units.CATHETER_VOLUME_PER_LENGTH),
    ("prime", "--pump-volume", "pump volume", units.PUMP_TUBING_VOLUME),
    ("prime", "--rate", "rate", units.FLOW_RANGE),
    ("bridge", "--old-dose", "old dose", units.DAILY_DOSE),
    ("bridge", "--new-dose", "new dose", units.DAILY_DOSE),
    ("bridge", "--old-concentration", "old concentration", units.CONCENTRATION_RANGE),
    ("bridge", "--new-concentration", "new concentration", units.CONCENTRATION_RANGE),
    ("titrate", "--current", "current", units.CURRENT_DAILY_DOSE),
    ("titrate", "--target", "target", units.DAILY_DOSE),
    ("titrate", "--step", "step", units.TITRATION_STEP),
    ("titrate", "--every", "every", units.TITRATION_INTERVAL),
    ("titrate", "--since-last-increase", "since last increase", units.SINCE_LAST_INCREASE),
    ("titrate", "--concentration", "concentration", units.CONCENTRATION_RANGE),
    ("trial", "--dose", "dose", units.BOLUS_DOSE),
    ("trial", "--concentration", "concentration", units.CONCENTRATION_RANGE),
    ("demand-max", "--continuous", "continuous", units.DAILY_DOSE),
    ("demand-max", "--bolus", "bolus", units.BOLUS_DOSE),
    ("demand-max", "--lockout", "lockout", units.LOCKOUT),
)
CALC_PERCENTAGES: tuple[tuple[str, str, str, Range], ...] = (
    ("refill", "--accuracy", "accuracy", units.PUMP_ACCURACY),
    ("titrate", "--step", "step", units.TITRATION_STEP_PERCENT),
)
CALC_DATES: tuple[tuple[str, str, str], ...] = (
    ("refill", "--date", "date"),
    ("refill", "--clinic-date", "clinic date"),
    ("titrate", "--start", "start"),
)
HOSTILE_DATES: tuple[tuple[str, str], ...] = (
    ("year 9999", "9999-12-31"),
    ("year 1", "0001-01-01"),
    ("before 1990", "1989-12-31"),
    ("no such day", "2025-02-30"),
    ("American order", "03/01/2025"),
    ("no dashes", "20250301"),
    ("with a time", "2025-03-01T08:00"),
    ("empty", ""),
)

PUMP_COMMON = ("--state", f"{TMP}/pump", "--port", "9", "--by", "physician", "--name", "Dr Edge", "--yes")
PUMP_BASES: dict[str, tuple[str, ...]] = {
    "implant": ("--catheter-length", "45 cm", "--volume-per-length", "2.2 uL/cm"),
    "implant-volume": ("--catheter-volume", "0.1 mL"),
    "fill": ("--drug", "morphine", "--concentration", "10 mg/mL", "--volume", "20 mL", "--low-reservoir-alarm", "3 mL"),
    "refill": ("--aspirated", "5 mL", "--drug", "morphine", "--concentration", "10 mg/mL", "--volume", "20 mL",
               "--dose", "1 mg/day"),
    "prescribe": ("--dose", "1 mg/day"),
    "titrate": ("--dose", "1 mg/day"),
    "bolus": ("--dose", "0.1 mg", "--duration", "10 min"),
    "prime": ("--volume", "0.1 mL", "--duration", "1 h"),
    "periodic": ("--dose", "0.1 mg", "--duration", "30 min", "--every", "6 h", "--first", "08:00"),
    "ptm-settings": ("--dose", "0.1 mg", "--duration", "10 min", "--lockout", "2 h", "--max-per-day", "4"),
    "low-reservoir-alarm": ("--threshold", "3 mL"),
}  # fmt: skip
PUMP_QUANTITIES: tuple[tuple[str, str, Range], ...] = (
    ("implant", "--catheter-length", units.CATHETER_LENGTH),
    ("implant", "--volume-per-length", units.CATHETER_VOLUME_PER_LENGTH),
    ("implant-volume", "--catheter-volume", units.CATHETER_VOLUME),
    ("fill", "--concentration", units.CONCENTRATION_RANGE),
    ("fill", "--volume", units.FILL_VOLUME),
    ("fill", "--low-reservoir-alarm", units.LOW_RESERVOIR_ALARM),
    ("refill", "--aspirated", units.ASPIRATED_VOLUME),
    ("refill", "--volume", units.FILL_VOLUME),
    ("refill", "--dose", units.DAILY_DOSE),
    ("prescribe", "--dose", units.DAILY_DOSE),
    ("titrate", "--dose", units.DAILY_DOSE),
    ("bolus", "--dose", units.BOLUS_DOSE),
    ("bolus", "--duration", units.BOLUS_DURATION),
    ("prime", "--volume", units.PRIMING_VOLUME),
    ("prime", "--duration", units.PRIMING_DURATION),
    ("periodic", "--dose", units.BOLUS_DOSE),
    ("periodic", "--every", units.PERIODIC_INTERVAL),
    ("ptm-settings", "--dose", units.BOLUS_DOSE),
    ("ptm-settings", "--duration", units.BOLUS_DURATION),
    ("ptm-settings", "--lockout", units.LOCKOUT),
    ("low-reservoir-alarm", "--threshold", units.LOW_RESERVOIR_ALARM),
)


def with_option(argv: tuple[str, ...], option: str, value: str) -> tuple[str, ...]:
    """A command line with one option's value replaced (or the option added), written `--option=value` so that a
    value starting with "-" stays a value."""
    out: list[str] = []
    skip = False
    for i, word in enumerate(argv):
        if skip:
            skip = False
            continue
        if word == option and i + 1 < len(argv):
            skip = True
            continue
        out.append(word)
    return (*out, f"{option}={value}")


def without_option(argv: tuple[str, ...], option: str) -> tuple[str, ...]:
    """A command line without one option and its value."""
    i = argv.index(option)
    return argv[:i] + argv[i + 2 :]


def calc_argv(calculator: str) -> tuple[str, ...]:
    """A valid `thecal calc` command line."""
    return ("calc", *CALC_BASES[calculator])


def pump_argv(command: str) -> tuple[str, ...]:
    """A valid `thecal pump` programming command line (the pump itself is never reached in these tests)."""
    name = command.removesuffix("-volume") if command.startswith("implant") else command
    return ("pump", name, *PUMP_COMMON, *PUMP_BASES[command])


STEP = '[{{days="all", at="00:00", dose="1{d} mg/day"}}]'


def _digit_slots() -> list[tuple[str, str, Callable[[str], tuple[tuple[str, ...], tuple[tuple[str, bytes], ...]]]]]:
    """Where a digit of another script is typed: (door, field, the command line and files for a digit)."""

    def scenario(path: Path_, template: str) -> Callable[[str], Any]:
        def make(d: str) -> Any:
            case = _scenario_case("", "", toml_text(scenario_with(path, template.format(d=d))))
            return case.argv, case.files

        return make

    def cli(argv: tuple[str, ...], option: str, template: str) -> Callable[[str], Any]:
        return lambda d: (with_option(argv, option, template.format(d=d)), ())

    conc = ("timeline", _entry("fill", "concentration"), "concentration")
    step_at = ("timeline", _entry("program", "steps"), "steps", 1, "at")
    serve = ("pump", "serve", "--state", f"{TMP}/pump")
    return [
        ("scenario", field_of(conc), scenario(conc, "2{d} mg/mL")),
        ("scenario", "timeline[0] (fill).at", scenario(("timeline", 0, "at"), "{d} d 08:00")),
        ("scenario", field_of(step_at), scenario(step_at, "0{d}:00")),
        ("scenario", "pump.accuracy_error", scenario(("pump", "accuracy_error"), "+1{d} %")),
        ("scenario", "run.duration", scenario(("run", "duration"), "3{d} d")),
        ("scenario", "scenario.start", scenario(("scenario", "start"), "2{d}26-01-05T08:00")),
        ("calc", "concentration", cli(calc_argv("flow"), "--concentration", "2{d} mg/mL")),
        ("calc", "dose", cli(calc_argv("flow"), "--dose", "1{d} mg/day")),
        ("calc", "max per day", cli(calc_argv("demand-max"), "--max-per-day", "{d}")),
        ("calc", "date", cli(calc_argv("refill"), "--date", "2025-0{d}-01")),
        ("calc", "step", cli(calc_argv("titrate"), "--step", "1{d} %")),
        ("calc", "vial", cli(calc_argv("flow"), "--vial", "1{d} mg/mL")),
        ("pump", "--port", cli(pump_argv("bolus"), "--port", "9{d}")),
        ("pump", "--max-per-day", cli(pump_argv("ptm-settings"), "--max-per-day", "{d}")),
        ("pump", "--first", cli(pump_argv("periodic"), "--first", "0{d}:00")),
        ("pump", "--dose", cli(pump_argv("bolus"), "--dose", "0.{d} mg")),
        ("pump", "--steps[0].dose", cli(without_option(pump_argv("prescribe"), "--dose"), "--steps", STEP)),
        ("pump", "--accel", cli(serve, "--accel", "1{d}")),
        ("pump", "--port", cli(serve, "--port", "8{d}")),
        ("pump", "--loss-seed", cli(serve, "--loss-seed", "{d}")),
        ("pump", "--from", cli(("pump", "log", "--state", f"{TMP}/pump", "--port", "9"), "--from", "{d}")),
    ]  # fmt: skip


# ------------------------------------------------------------------------------------ the corpus


def corpus() -> list[Case]:
    """Every hostile case of every door."""
    cases: list[Case] = []
    cases += _foreign_digit_cases()
    cases += _scenario_cases()
    cases += _calc_cases()
    cases += _pump_cases()
    cases += _file_cases()
    return cases


def _foreign_digit_cases() -> list[Case]:
    slots = _digit_slots()
    cases = []
    for i, digit in enumerate(FOREIGN_DIGITS):
        for j in (i,):
            door, field_, make = slots[j % len(slots)]
            argv, files = make(digit)
            kind = f"{units.character_name(digit)} (a digit of another script)"
            cases.append(Case(kind, door, field_, argv, files, units.character_name(digit), (f"{TMP}/plot.png",)))
    return cases


def _scenario_cases() -> list[Case]:
    cases = []
    for turn, (path, limits) in enumerate(SCENARIO_QUANTITIES):
        for kind, value in [*hostile_quantities(limits, turn), *in_turn(list(WRONG_TYPES), turn)]:
            cases.append(_scenario_case(kind, field_of(path), toml_text(scenario_with(path, value))))
    for path, limits in SCENARIO_PERCENTAGES:
        for kind, value in [*hostile_percentages(limits), *WRONG_TYPES]:
            cases.append(_scenario_case(kind, field_of(path), toml_text(scenario_with(path, value))))
    for path, count in SCENARIO_COUNTS:
        for kind, value in hostile_count_values(count):
            cases.append(_scenario_case(kind, field_of(path), toml_text(scenario_with(path, value))))
    for path in SCENARIO_BOOLEANS:
        for word in BOOLEAN_WORDS:
            kind = f"boolean written as {word!r}"
            cases.append(_scenario_case(kind, field_of(path), toml_text(scenario_with(path, word))))
    for path, what in SCENARIO_TIMES:
        values = (
            ["25:00", "8", "08:00:00", "-1:00", "08.00", "", 8, "８:00"]
            if what == "time of day"
            else ["-1 d", "5 d 25:00", "36500000 d", "1e3 d", "", 5, "5 days 08:00", "5 d 08:00 pm"]
        )
        for value in values:
            cases.append(_scenario_case(f"{what} {value!r}", field_of(path), toml_text(scenario_with(path, value))))
    cases += _scenario_whole_file_cases()
    cases += _scenario_hang_cases()
    return cases


def _scenario_whole_file_cases() -> list[Case]:
    """What is wrong with a table, a list or a text rather than one quantity."""
    fill, steps, refill = _entry("fill", "volume"), _entry("program", "steps"), _entry("refill", "contents")
    periodic = _entry("periodic_bolus", "dose")
    drugs = ("morphine", "bupivacaine", "clonidine", "ziconotide", "hydromorphone")
    cases = []
    for kind, path, value, field_ in [
        ("unknown drug", ("timeline", fill, "drug"), "morphinne", None),
        ("drug with a digit of another script", ("timeline", fill, "drug"), "morphine٢", None),
        ("empty drug", ("timeline", fill, "drug"), "", None),
        ("unknown pump model", ("pump", "model"), "programmable-30", None),
        ("pump model as a number", ("pump", "model"), 20, None),
        ("start in the year 9999", ("scenario", "start"), "9999-12-31T08:00", None),
        ("start in the year 1", ("scenario", "start"), Raw("0001-01-01T00:00:00"), None),
        ("start that is not a date", ("scenario", "start"), "next monday", None),
        ("weekdays in words", ("timeline", steps, "steps", 1, "days"), "weekdays", None),
        ("weekdays with an en dash", ("timeline", steps, "steps", 1, "days"), "mon–fri", None),
        ("five drugs in one fill", ("timeline", refill, "contents"),
         [{"drug": d, "concentration": "1 mg/mL"} for d in drugs], None),
        ("the same drug twice", ("timeline", refill, "contents"),
         [{"drug": "morphine", "concentration": "10 mg/mL"}, {"drug": "Morphine", "concentration": "20 mg/mL"}],
         None),
        ("no drug in a fill", ("timeline", refill, "contents"), [], None),
        ("a step that is not a table", ("timeline", steps, "steps"), ["x"], field_of(("timeline", steps, "steps", 0))),
        ("a step that is a number", ("timeline", steps, "steps"), [1], field_of(("timeline", steps, "steps", 0))),
        ("no steps", ("timeline", steps, "steps"), [], None),
        ("a hundred and one steps", ("timeline", steps, "steps"),
         [{"days": "all", "at": "00:00", "dose": "1 mg/day"}] * 101, None),
        ("a note nested 100 deep", ("timeline", fill, "note"), Raw("[" * 100 + "]" * 100), None),
        ("unknown action", ("timeline", fill, "action"), "refil", f"timeline[{fill}].action"),
        ("unknown fault", ("timeline", _entry("fault", "kind"), "kind"), "gremlins", None),
        ("unknown alarm", ("timeline", _entry("clear_alarm", "alarm"), "alarm"), "gremlins", None),
        ("periodic bolus longer than its interval", ("timeline", periodic, "duration"), "10 h", None),
        ("catheter volume with a length", ("catheter", "volume"), "0.1 mL", None),
        ("a section that is a number", ("run",), 5, "[run]"),
    ]:  # fmt: skip
        named = field_of(path) if field_ is None else field_
        cases.append(_scenario_case(kind, named, toml_text(scenario_with(path, value))))
    return cases


def _scenario_hang_cases() -> list[Case]:
    """Legal-looking input that would hang a run or fill the memory: refused with the limit named."""
    cases = []
    press = _entry("ptm_press", "every")
    for kind, changes, field_ in [
        ("a run of 36500000 days", {("run", "duration"): "36500000 d"}, "run.duration"),
        ("a sample every millisecond for a year", {("run", "duration"): "365 d", ("run", "sample"): "1 ms"},
         "run.sample"),
        ("a sample every second for ten years", {("run", "duration"): "3650 d", ("run", "sample"): "1 s"},
         "run.sample"),
        ("a sample of zero", {("run", "sample"): "0 ms"}, "run.sample"),
        ("a press every millisecond", {("timeline", press, "every"): "1 ms"}, field_of(("timeline", press, "every"))),
        ("a press every second for a month", {("run", "duration"): "60 d", ("timeline", press, "every"): "1 s",
                                              ("timeline", press, "until"): "40 d"},
         field_of(("timeline", press, "every"))),
    ]:  # fmt: skip
        data = json.loads(json.dumps(BASE))
        for path, value in changes.items():
            holder: Any = data
            for part in path[:-1]:
                holder = holder[part]
            holder[path[-1]] = value
        cases.append(_scenario_case(kind, field_, toml_text(data)))
    many = json.loads(json.dumps(BASE))
    many["timeline"] += [{"at": "20 d", "action": "stop"}] * 10_001
    cases.append(_scenario_case("ten thousand and more entries", "timeline", toml_text(many)))
    return cases


def _file_cases() -> list[Case]:
    """Files in other encodings or nested thousands deep: a scenario, a pump model, a command's JSON."""
    text = toml_text(BASE)
    cases = []
    cases.append(_scenario_case("an empty file", "[pump]", b""))
    for kind, raw in [
        ("UTF-16 with its byte order mark", text.encode("utf-16")),
        ("UTF-16 big-endian", text.encode("utf-16-be")),
        ("UTF-32", text.encode("utf-32")),
        ("Latin-1 with an umlaut", text.replace("edge", "Zürich").encode("latin-1")),
        ("Windows-1252 with a micro sign", text.replace("2.2 uL/cm", "2.2 µL/cm").encode("cp1252")),
        ("Shift-JIS", text.replace("edge", "テスト").encode("shift_jis")),
        ("a byte that is never UTF-8", text.encode("utf-8") + b"\xff\n"),
        ("a NUL byte", text.encode("utf-8").replace(b'name = "edge"', b'name = "ed\x00ge"')),
        ("UTF-8 with a byte order mark", b"\xef\xbb\xbf" + text.encode("utf-8")),
        ("not TOML at all", b'{"pump": {"model": "programmable-20"}}'),
        ("arrays nested 5000 deep", (text + "\n[extra]\nx = " + "[" * 5000 + "]" * 5000 + "\n").encode()),
        ("a table nested 3000 deep", ("x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n" + text).encode()),
    ]:
        cases.append(_scenario_case(kind, "scenario", raw))
    model = (TMP + "/model.toml").encode()
    for kind, raw in [
        ("Latin-1", b'name = "pr\xfcfung"\n'),
        ("nested 5000 deep", b"x = " + b"[" * 5000 + b"]" * 5000 + b"\n"),
        ("not TOML", b"this is not a model"),
        ("a figure with a digit of another script", _model_text().replace(b'"20 mL"', '"٢٠ mL"'.encode())),
        ("a figure of nan", _model_text().replace(b'"20 mL"', b'"nan mL"')),
    ]:
        files = (("model.toml", raw),)
        scenario = toml_text(scenario_with(("pump", "model"), f"{TMP}/model.toml")).encode()
        cases.append(
            Case(
                f"model file: {kind}",
                "pump model file",
                "pump model",
                ("calc", *with_option(CALC_BASES["flow"], "--pump-model", model.decode())),
                files,
            )
        )
        cases.append(
            Case(
                f"model file: {kind}",
                "pump model file",
                "--model",
                ("pump", "init", "--state", f"{TMP}/new", "--model", model.decode()),
                files,
                must_not_exist=(f"{TMP}/new",),
            )
        )
        cases.append(
            Case(
                f"model file: {kind}",
                "pump model file",
                "pump.model",
                ("simulate", f"{TMP}/scenario.toml"),
                (*files, ("scenario.toml", scenario)),
            )
        )
    return cases


def _model_text() -> bytes:
    from importlib import resources

    return (resources.files("thecal.pump") / "models" / "programmable-20.toml").read_bytes()


def _calc_cases() -> list[Case]:
    cases = []
    for turn, (calculator, option, field_, limits) in enumerate(CALC_QUANTITIES):
        for kind, value in hostile_quantities(limits, turn):
            cases.append(Case(kind, "calc", field_, with_option(calc_argv(calculator), option, str(value))))
    for calculator, option, field_, limits in CALC_PERCENTAGES:
        for kind, value in hostile_percentages(limits):
            if option == "--step" and "%" not in value and "percent" not in value:
                continue  # without a % sign --step is a daily dose: its own cases above
            cases.append(Case(kind, "calc", field_, with_option(calc_argv(calculator), option, value)))
    for calculator, option, field_ in CALC_DATES:
        for kind, value in HOSTILE_DATES:
            cases.append(Case(kind, "calc", field_, with_option(calc_argv(calculator), option, value)))
    last_refill = without_option(calc_argv("refill"), "--since")
    for kind, value in HOSTILE_DATES:
        cases.append(Case(kind, "calc", "last refill", with_option(last_refill, "--last-refill", value)))
    cases.append(
        Case(
            "a last refill after this refill",
            "calc",
            "last refill",
            with_option(last_refill, "--last-refill", "2025-04-01"),
        )
    )
    for kind, value in hostile_count_texts(units.DEMAND_DOSES_PER_DAY):
        cases.append(Case(kind, "calc", "max per day", with_option(calc_argv("demand-max"), "--max-per-day", value)))
    for kind, option, field_, value in [
        ("five drugs in one fill", "--admixture", "admixture",
         "morphine 1 mg/mL + bupivacaine 1 mg/mL + clonidine 1 mg/mL + ziconotide 1 mcg/mL + hydromorphone 1 mg/mL"),
        ("the same drug twice", "--admixture", "admixture", "morphine 10 mg/mL + morphine 20 mg/mL"),
        ("a concentration of zero in an admixture", "--admixture", "concentration",
         "morphine 0 mg/mL + bupivacaine 15 mg/mL"),
        ("a huge concentration in an admixture", "--admixture", "admixture",
         "morphine 1000 mg/mL + bupivacaine 15 mg/mL"),
        ("a negative vial", "--vial", "vial", "-10 mg/mL"),
        ("a vial of nan", "--vial", "vial", "nan mg/mL"),
        ("a vial listing a drug twice", "--vial", "vial", "morphine 10 mg/mL + morphine 10 mg/mL"),
        ("a reason with a control character", "--reason", "reason", "tired\x07 of waiting"),
        ("an unknown pump model", "--pump-model", "pump model", "programmable-30"),
    ]:  # fmt: skip
        argv = calc_argv("flow")
        if option == "--admixture":
            argv = without_option(without_option(argv, "--drug"), "--concentration")
        if option == "--reason":
            argv = (*argv, "--role", "physician")
        cases.append(Case(kind, "calc", field_, with_option(argv, option, value)))
    # Plausibility across fields: each value in range, together not what anyone means.
    for kind, calculator, changes, field_ in [
        ("aspirated more than the reservoir holds", "refill", {"--aspirated": "30 mL"}, "aspirated volume"),
        ("a flag threshold that switches the pocket-fill check off", "refill", {"--flag-threshold": "50 mL"},
         "flag threshold"),
        ("a new flow the pump cannot run", "refill", {"--new-flow": "30 mL/day"}, "new flow"),
        ("a programmed flow the pump cannot run", "refill", {"--flow": "0.01 mL/day"}, "flow"),
        ("a fill above the reservoir", "refill", {"--fill-volume": "40 mL"}, "fill volume"),
        ("a reservoir size no pump has", "refill", {"--reservoir": "30 mL"}, "reservoir"),
    ]:  # fmt: skip
        argv = calc_argv(calculator)
        for option, value in changes.items():
            argv = with_option(argv, option, value)
        cases.append(Case(kind, "calc", field_, argv))
    segments = (*calc_argv("prime"), "--catheter", "200 cm", "--volume-per-cm", "20 uL/cm")
    cases.append(Case("catheter segments adding up past any catheter", "calc", "catheter", segments))
    return cases


def _pump_cases() -> list[Case]:
    cases = []
    for turn, (command, option, limits) in enumerate(PUMP_QUANTITIES):
        for kind, value in hostile_quantities(limits, turn):
            cases.append(Case(kind, "pump", option, with_option(pump_argv(command), option, str(value))))
    for kind, value in hostile_count_texts(units.DEMAND_DOSES_PER_DAY):
        cases.append(
            Case(kind, "pump", "--max-per-day", with_option(pump_argv("ptm-settings"), "--max-per-day", value))
        )
    for kind, value in hostile_count_texts(units.PORT):
        cases.append(Case(kind, "pump", "--port", with_option(pump_argv("bolus"), "--port", value)))
        cases.append(Case(kind, "ptm", "--port", ("ptm", "status", "--state", f"{TMP}/pump", f"--port={value}")))
    for kind, value in [*hostile_count_texts(units.LOG_ENTRY_NUMBER)]:
        cases.append(
            Case(kind, "pump", "--from", ("pump", "log", "--state", f"{TMP}/pump", "--port", "9", f"--from={value}"))
        )
    for kind, value in hostile_count_texts(units.LOG_PAGE):
        cases.append(
            Case(kind, "pump", "--max", ("pump", "log", "--state", f"{TMP}/pump", "--port", "9", f"--max={value}"))
        )
    for kind, value in [
        ("25:00", "25:00"),
        ("no colon", "8"),
        ("seconds", "08:00:00"),
        ("empty", ""),
        ("negative", "-1:00"),
    ]:
        cases.append(Case(kind, "pump", "--first", with_option(pump_argv("periodic"), "--first", value)))
    cases.append(
        Case(
            "a periodic bolus longer than its interval",
            "pump",
            "--duration",
            with_option(pump_argv("periodic"), "--duration", "7 h"),
        )
    )
    cases += _steps_cases()
    cases += _text_cases()
    cases += _serve_cases()
    cases += _send_cases()
    return cases  # fmt: skip


def _steps_cases() -> list[Case]:
    argv = without_option(pump_argv("prescribe"), "--dose")
    cases = []
    for kind, value, field_ in [
        ("a step with a flow", '[{days="all", at="00:00", flow="0.1 mL/day"}]', "--steps[0].flow"),
        ("a step of nan", '[{days="all", at="00:00", dose="nan mg/day"}]', "--steps[0].dose"),
        ("a step of zero", '[{days="all", at="00:00", dose="0 mg/day"}]', "--steps[0].dose"),
        ("a step that is a number", "[1]", "--steps[0]"),
        ("no steps", "[]", "--steps"),
        ("steps nested 5000 deep", "[" * 5000 + "]" * 5000, "--steps"),
        ("steps nested 100 deep", "[" * 100 + "]" * 100, "--steps[0]"),
        ("a key after the steps", '[{days="all", at="00:00", dose="1 mg/day"}]\nextra = 1', "--steps"),
        ("a hundred and one steps", "[" + ", ".join(['{days="all", at="00:00", dose="1 mg/day"}'] * 101) + "]",
         "--steps"),
        ("steps that are too long", "[" + " " * 20_000 + "]", "--steps"),
        ("a step at a time with another script's digits", '[{days="all", at="٠٠:٠٠", dose="1 mg/day"}]',
         "--steps[0].at"),
    ]:  # fmt: skip
        cases.append(Case(kind, "pump", field_, (*argv, f"--steps={value}")))
    return cases


def _text_cases() -> list[Case]:
    cases = []
    for kind, value in [
        ("a lone surrogate (an undecodable byte)", "\udcff"),
        ("a control character", "Dr\x1bEdge"),
        ("a NUL", "Dr\x00Edge"),
        ("a line break", "Dr\nEdge"),
        ("five thousand characters", "x" * 5_000),
        ("empty", ""),
    ]:
        cases.append(Case(kind, "pump", "--name", with_option(pump_argv("bolus"), "--name", value)))
        cases.append(
            Case(kind, "ptm", "--name", ("ptm", "bolus", "--state", f"{TMP}/pump", "--port", "9", f"--name={value}"))
        )
        cases.append(Case(kind, "pump", "--reason", (*pump_argv("bolus"), f"--reason={value}")))
    for kind, value in [
        ("a lone surrogate", "SN-\udcff"),
        ("a space", "SN 0001"),
        ("an accent", "SN-é"),
        ("too long", "SN-" + "0" * 40),
        ("empty", ""),
        ("a control character", "SN\x07"),
        ("a digit of another script", "SN-٠٠٠١"),
    ]:
        cases.append(
            Case(
                kind,
                "pump",
                "--label",
                ("pump", "init", "--state", f"{TMP}/new", f"--label={value}"),
                must_not_exist=(f"{TMP}/new",),
            )
        )
        cases.append(
            Case(
                kind,
                "pump",
                "--expect-label",
                (
                    "pump",
                    "pair",
                    "--state",
                    f"{TMP}/pump",
                    "--port",
                    "9",
                    "--role",
                    "clinician",
                    f"--expect-label={value}",
                ),
            )
        )
    cases.append(
        Case(
            "a state that is a file",
            "pump",
            "--state",
            ("pump", "init", "--state", f"{TMP}/afile"),
            (("afile", b"not a directory"),),
        )
    )
    cases.append(
        Case(
            "an unknown model",
            "pump",
            "--model",
            ("pump", "init", "--state", f"{TMP}/new", "--model", "programmable-30"),
            must_not_exist=(f"{TMP}/new",),
        )
    )
    cases.append(
        Case(
            "a reason with a control character",
            "pump",
            "--reason",
            ("pump", "recover", "--state", f"{TMP}/pump", "--reason", "fault\x07"),
        )
    )
    return cases  # fmt: skip


def _serve_cases() -> list[Case]:
    serve = ("pump", "serve", "--state", f"{TMP}/pump")
    cases = []
    for kind, value in hostile_count_texts(units.LISTEN_PORT):
        cases.append(Case(kind, "pump", "--port", (*serve, f"--port={value}")))
    for kind, value in hostile_count_texts(units.SEED):
        cases.append(Case(kind, "pump", "--loss-seed", (*serve, f"--loss-seed={value}")))
    for kind, value in [
        ("nan", "nan"),
        ("inf", "inf"),
        ("1e308", "1e308"),
        ("zero", "0"),
        ("negative", "-5"),
        ("comma", "1,5"),
        ("above a day a second", "100000"),
        ("empty", ""),
        ("a unit", "1440 x"),
    ]:
        cases.append(Case(kind, "pump", "--accel", (*serve, f"--accel={value}")))
    for kind, value in hostile_quantities(units.PROGRAMMER_DISTANCE):
        cases.append(Case(kind, "pump", "--distance", (*serve, f"--distance={value}")))
    for kind, value in hostile_percentages(units.LINK_LOSS):
        cases.append(Case(kind, "pump", "--loss", (*serve, f"--loss={value}")))
    return cases  # fmt: skip


def _send_cases() -> list[Case]:
    send = ("pump", "send", "--state", f"{TMP}/pump", "--port", "9", "clock_set")
    cases = []
    for kind, value in [
        ("arrays nested 100000 deep", "[" * 100_000 + "]" * 100_000),
        ("arrays nested 5000 deep in an object", '{"x": ' + "[" * 5000 + "]" * 5000 + "}"),
        ("nested 17 deep", '{"x": ' + "[" * 16 + "]" * 16 + "}"),
        ("NaN", '{"wall_ms": NaN}'),
        ("Infinity", '{"wall_ms": Infinity}'),
        ("-Infinity", '{"wall_ms": -Infinity}'),
        ("an integer of 5000 digits", '{"wall_ms": ' + "9" * 5000 + "}"),
        ("a list, not an object", "[1, 2]"),
        ("not JSON", "wall_ms=1"),
        ("a lone surrogate escaped", '{"label": "\\udcff"}'),
        ("a control character escaped", '{"label": "a\\u0007b"}'),
        ("longer than any command", '{"x": "' + "y" * 70_000 + '"}'),
        ("empty", ""),
    ]:
        cases.append(Case(kind, "pump send", "arguments", (*send, value)))
    for kind, name in [
        ("a lone surrogate", "clock\udcff"),
        ("capitals", "CLOCK_SET"),
        ("empty", ""),
        ("a path", "../clock_set"),
        ("too long", "x" * 100),
    ]:
        cases.append(Case(kind, "pump send", "name", (*send[:-1], name, "{}")))
    return cases


CASES = corpus()


def kinds() -> set[tuple[str, str, str]]:
    """The distinct kinds of hostile input: (door, field, what is hostile)."""
    return {(c.door, c.field, c.kind) for c in CASES}
