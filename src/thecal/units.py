"""Quantities typed by people, turned into the integers the pump counts in: the one strict edge.

People write "0.5 mg/day", "500 mcg/day", "0.02 mL/h" or "10mg/mL"; the core
counts nanolitres, nanograms and milliseconds. This module is the edge where
text becomes integers, for every command line and every file format. What it
reads, it reads exactly; what it cannot read for certain, it refuses, naming
the field, the value, the limit and what to do:

- digits are the ASCII digits 0 to 9 only. Any other digit ("٢٠", "２０",
  "²") is refused with the character named (U+0660 ARABIC-INDIC DIGIT ZERO),
  never dropped or guessed; so is any character a quantity does not use;
- a number is a plain decimal: no sign, no comma, no power of ten, no nan or
  inf; a typed minus is called negative;
- a number without a unit, or a unit of the wrong kind, is refused;
- every quantity and count of a field lies in that field's documented
  physical range (`Range`, `Count`; the table below, listed in docs/inputs.md).

Parsing is exact, so "0.1 mL" is exactly 100 000 nL. Building pint's registry
takes most of a second, so it is built only when first needed, and once. The
quantities thecal's own files and most people write (a plain decimal and units
of the table below, such as "40 mL", "1 mL/h", "2.2 uL/cm", "1.6 A*h") are read
exactly without it, by the same arithmetic with the same factors (a test holds
the table to pint's); other unit spellings ("1 milliliter", "2 weeks") go to
pint, which also words the refusal of a unit it does not know.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from thecal.errors import InputError

# The conversion factors have one home, beside the firmware that counts in them; re-exported here.
from thecal.pump.core.integers import MS_PER_DAY as MS_PER_DAY
from thecal.pump.core.integers import MS_PER_HOUR as MS_PER_HOUR
from thecal.pump.core.integers import MS_PER_MIN as MS_PER_MIN
from thecal.pump.core.integers import MS_PER_S as MS_PER_S
from thecal.pump.core.integers import NG_PER_MCG as NG_PER_MCG
from thecal.pump.core.integers import NG_PER_MG as NG_PER_MG
from thecal.pump.core.integers import NL_PER_ML as NL_PER_ML
from thecal.pump.core.integers import UM_PER_MM as UM_PER_MM

if TYPE_CHECKING:
    import pint


@cache
def registry() -> pint.UnitRegistry:
    """pint's unit registry, with exact fractions: built on first use, then kept."""
    import pint

    return pint.UnitRegistry(non_int_type=Fraction)


@dataclass(frozen=True)
class Kind:
    """A kind of quantity: its dimension, the integer unit it is counted in, and examples."""

    name: str
    base_unit: str
    examples: str


VOLUME = Kind("volume", "nanoliter", '"2 mL", "0.5 mL", "150 uL"')
MASS = Kind("mass", "nanogram", '"0.5 mg", "25 mcg"')
DURATION = Kind("duration", "millisecond", '"40 min", "10 d", "2 h"')
FLOW = Kind("flow", "nanoliter / day", '"0.15 mL/day", "0.02 mL/h"')
DOSE_RATE = Kind("dose rate", "nanogram / day", '"1.5 mg/day", "500 mcg/day"')
CONCENTRATION = Kind("concentration", "nanogram / milliliter", '"10 mg/mL", "25 mcg/mL"')
LENGTH = Kind("length", "micrometer", '"45 cm", "450 mm"')
VOLUME_PER_LENGTH = Kind("volume per length", "nanoliter / centimeter", '"2.2 uL/cm", "0.0022 mL/cm"')
# Not a unit of pint's: a percentage is read by `percent_fraction`, as an exact fraction of one.
PERCENT = Kind("percentage", "", '"14.5 %", "+1 %" or "-3.5 %"')

KINDS = (VOLUME, MASS, DURATION, FLOW, DOSE_RATE, CONCENTRATION, LENGTH, VOLUME_PER_LENGTH)


@lru_cache(maxsize=4096)
def _parse(text: str) -> pint.Quantity:
    return registry().Quantity(text)


# Units read without pint: each with its dimension (exponents of metre, gram, second, ampere) and its size in
# those, exactly as pint defines them. `test_pump_model_units` holds every row to pint.
_LENGTH, _MASS, _TIME, _CURRENT = (1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1)
_VOLUME = (3, 0, 0, 0)
_CHARGE = (0, 0, 1, 1)
_MICRO = ("u", "µ", "μ")
_UNITS: dict[str, tuple[tuple[int, int, int, int], Fraction]] = {
    **{name: (_LENGTH, Fraction(1, 10**k)) for name, k in (("m", 0), ("cm", 2), ("mm", 3), ("nm", 9))},
    **{f"{mu}m": (_LENGTH, Fraction(1, 10**6)) for mu in _MICRO},
    **{name: (_VOLUME, Fraction(1, 10**k)) for name, k in (("L", 3), ("mL", 6), ("nL", 12))},
    **{f"{mu}L": (_VOLUME, Fraction(1, 10**9)) for mu in _MICRO},
    **{name: (_MASS, Fraction(10**3)) for name in ("kg",)},
    **{name: (_MASS, Fraction(1, 10**k)) for name, k in (("g", 0), ("mg", 3), ("mcg", 6), ("ng", 9))},
    **{f"{mu}g": (_MASS, Fraction(1, 10**6)) for mu in _MICRO},
    **{name: (_TIME, Fraction(seconds)) for name, seconds in (("s", 1), ("min", 60), ("h", 3600), ("d", 86400))},
    **{name: (_TIME, Fraction(seconds)) for name, seconds in (("hour", 3600), ("day", 86400), ("week", 604800))},
    "ms": (_TIME, Fraction(1, 1000)),
    **{name: (_CURRENT, Fraction(1, 10**k)) for name, k in (("A", 0), ("mA", 3), ("nA", 9))},
    **{f"{mu}A": (_CURRENT, Fraction(1, 10**6)) for mu in _MICRO},
    **{name: (_CHARGE, Fraction(1, 10**k)) for name, k in (("C", 0), ("mC", 3), ("nC", 9), ("pC", 12))},
    **{f"{mu}C": (_CHARGE, Fraction(1, 10**6)) for mu in _MICRO},
    # The base units the kinds count in, as pint spells them.
    "nanoliter": (_VOLUME, Fraction(1, 10**12)),
    "milliliter": (_VOLUME, Fraction(1, 10**6)),
    "nanogram": (_MASS, Fraction(1, 10**9)),
    "millisecond": (_TIME, Fraction(1, 1000)),
    "micrometer": (_LENGTH, Fraction(1, 10**6)),
    "centimeter": (_LENGTH, Fraction(1, 100)),
    "picocoulomb": (_CHARGE, Fraction(1, 10**12)),
    "nanoampere": (_CURRENT, Fraction(1, 10**9)),
}
# A plain decimal, then units joined by "*" or "/" (read left to right, as pint reads them).
# Patterns are compiled on first use (re keeps them): most commands that load this module read no quantity.
_PLAIN = r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+) *([^\W\d_]+(?: *[*/] *[^\W\d_]+)*)"
_JOIN = r" *([*/]) *"


@lru_cache(maxsize=256)
def _unit(text: str) -> tuple[tuple[int, ...], Fraction] | None:
    """The dimension and size of units such as "mL/day" or "A*h" from the table, or None when one is not in it."""
    words = re.split(_JOIN, text)
    found = _UNITS.get(words[0])
    if found is None:
        return None
    dimension, size = list(found[0]), found[1]
    for op, word in zip(words[1::2], words[2::2], strict=True):
        other = _UNITS.get(word)
        if other is None:
            return None
        sign = 1 if op == "*" else -1
        dimension = [a + sign * b for a, b in zip(dimension, other[0], strict=True)]
        size = size * other[1] if op == "*" else size / other[1]
    return tuple(dimension), size


def _without_pint(text: str, kind: Kind) -> Fraction | None:
    """The value of a plain quantity in the kind's base unit, exactly, when the table reads it; else None."""
    match = re.fullmatch(_PLAIN, text)
    if match is None:
        return None
    unit, base = _unit(match[2]), _unit(kind.base_unit)
    if unit is None or base is None or unit[0] != base[0]:
        return None  # not in the table, or a unit of another kind: pint reads it and words the refusal
    return Fraction(match[1]) * unit[1] / base[1]


# ------------------------------------------------------------------------ the characters of a value

# Longer than any quantity a person writes; a cap that also keeps huge numbers out of every calculation.
MAX_QUANTITY_CHARACTERS = 64
ASCII_DIGITS = "0123456789"
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# What a quantity is written with: a decimal, a space, units of letters (and the micro signs) joined by / or *.
QUANTITY_CHARACTERS = frozenset(ASCII_DIGITS + _LETTERS + " ./*" + "µμ")
_MINUS = ("-", "−")  # the hyphen-minus, and the minus sign a word processor puts in


def character_name(ch: str) -> str:
    """A character as a person can look it up: "U+0660 ARABIC-INDIC DIGIT ZERO"."""
    name = unicodedata.name(ch, "")
    if not name:
        category = unicodedata.category(ch)
        name = {"Cc": "(a control character)", "Cs": "(half of a character that cannot be written)"}.get(
            category, "(a character without a name)"
        )
    return f"U+{ord(ch):04X} {name}"


def is_foreign_digit(ch: str) -> bool:
    """True for a character that stands for a number but is not one of the ASCII digits 0 to 9."""
    if ch in ASCII_DIGITS:
        return False
    return unicodedata.numeric(ch, None) is not None or unicodedata.category(ch) in ("Nd", "Nl", "No")


def refuse_foreign_digits(text: str, field: str, action: str) -> None:
    """Refuse text holding a digit other than 0 to 9, naming the character, rather than drop it or read it."""
    if text.isascii():
        return  # the common case, at once: ASCII holds no other digits
    for ch in text:
        if is_foreign_digit(ch):
            problem = f"{character_name(ch)} is not one of the digits 0 to 9, which are the only ones read"
            raise InputError(field, text, problem, action)


def refuse_characters(text: str, field: str, allowed: frozenset[str], what: str, action: str) -> None:
    """Refuse text holding a character outside `allowed`, naming the first one (a foreign digit as a digit)."""
    if allowed.issuperset(text):
        return
    refuse_foreign_digits(text, field, action)
    for ch in text:
        if ch not in allowed:
            raise InputError(field, text, f"{character_name(ch)} is not read in {what}", action)


# ------------------------------------------------------------------------------------- quantities


def parse_exact(text: object, kind: Kind, field: str) -> Fraction:
    """Parse a quantity with its unit and return it as an exact fraction of the kind's base unit."""
    if not isinstance(text, str):
        raise InputError(field, text, f"a {kind.name} must be written with its unit", f"write it like {kind.examples}")
    plain = _without_pint(text.strip(), kind)
    if plain is not None:
        return plain
    import pint

    try:
        quantity = _parse(text.strip())
    except Exception as exc:  # pint raises several unrelated types for bad text
        raise InputError(
            field, text, f"not a {kind.name} that can be read ({exc})", f"write it like {kind.examples}"
        ) from None
    if quantity.dimensionless:
        raise InputError(field, text, f"the unit is missing; a {kind.name} needs one", f"write it like {kind.examples}")
    for name, _ in quantity.unit_items():
        if not registry().get_dimensionality(name):
            # pint reads "pi", "percent" or "radian" as numbers: "1 pi mL" would be 3.14 mL, a misreading.
            raise InputError(
                field,
                text,
                f"{name} is a number, not a unit",
                f"work the number out first and write it like {kind.examples}",
            )
    try:
        magnitude = quantity.to(kind.base_unit).magnitude
    except pint.DimensionalityError:
        raise InputError(
            field,
            text,
            f"{quantity.units:~} is not a unit of {kind.name}",
            f"write it like {kind.examples}",
        ) from None
    value = Fraction(magnitude)
    if value < 0:
        raise InputError(field, text, f"is negative: a {kind.name} cannot be below zero", "enter zero or more")
    return value


_TYPED_NUMBER = r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+"
_POWER_OF_TEN = r"[0-9.]+[eE][+\-]?[0-9]"
_NOT_A_NUMBER = r"(?i)[+\-−]?\s*(nan|inf|infinity)\b"


def _written(text: str, field: str, what: str, like: str) -> str:
    """The text of a value, stripped, refused when it is empty, too long, or not a number a person writes."""
    stripped = text.strip()
    if not stripped:
        raise InputError(field, text, f"is empty; {what} is needed here", like)
    if len(stripped) > MAX_QUANTITY_CHARACTERS:
        raise InputError(
            field,
            f"{stripped[:20]}… ({len(stripped)} characters)",
            f"is longer than {what} is ever written ({MAX_QUANTITY_CHARACTERS} characters at most)",
            like,
        )
    if re.match(_NOT_A_NUMBER, stripped):
        raise InputError(field, text, "is not a number (nan and inf stand for no value)", like)
    if re.match(_POWER_OF_TEN, stripped):
        raise InputError(field, text, "powers of ten (1e3) are not read; write the number out in full", like)
    return stripped


def parse_typed(text: object, kind: Kind, field: str) -> Fraction:
    """Parse a quantity as a person types it: a plain decimal number of ASCII digits, then its unit, nothing else."""
    if isinstance(text, str):
        like = f"write it like {kind.examples}"
        stripped = _written(text, field, f"a {kind.name}", like)
        if "," in stripped:
            # "1,5 mg/day" could mean 1.5 or 15; pint reads it as 15, a tenfold error.
            raise InputError(
                field,
                text,
                "a comma is neither a decimal point nor a thousands separator here (1,5 could be 1.5 or 15)",
                f"write the number with a decimal point and no separators, like {kind.examples}",
            )
        if stripped[0] in _MINUS:
            raise InputError(field, text, f"is negative: a {kind.name} cannot be below zero", like)
        if stripped[0] == "+":
            raise InputError(field, text, "a plus sign is not read before a quantity", f"leave it out: {like}")
        refuse_characters(stripped, field, QUANTITY_CHARACTERS, f"a {kind.name}", like)
        match = re.match(_TYPED_NUMBER, stripped)
        if match is None:
            raise InputError(field, text, f"the number is missing; a {kind.name} starts with one", like)
        if any(ch in ASCII_DIGITS for ch in stripped[match.end() :]):
            # "1 mg/24h" or "2 3 mg" are arithmetic or typos, not a unit.
            raise InputError(
                field,
                text,
                "numbers inside the unit are not read; the unit must be letters only",
                f"work the number out first and write it like {kind.examples}",
            )
    return parse_exact(text, kind, field)


def parse_typed_int(text: object, kind: Kind, field: str) -> int:
    """Parse a typed quantity and round it to the nearest integer of the kind's base unit."""
    return round(parse_typed(text, kind, field))


def parse_int(text: object, kind: Kind, field: str) -> int:
    """Parse a typed quantity and round it to the nearest integer of the kind's base unit."""
    return parse_typed_int(text, kind, field)


def volume_nl(text: object, field: str) -> int:
    """A volume in nanolitres."""
    return parse_int(text, VOLUME, field)


def mass_ng(text: object, field: str) -> int:
    """A mass in nanograms."""
    return parse_int(text, MASS, field)


def duration_ms(text: object, field: str) -> int:
    """A duration in milliseconds."""
    return parse_int(text, DURATION, field)


def flow_nl_per_day(text: object, field: str) -> int:
    """A flow in nanolitres per day."""
    return parse_int(text, FLOW, field)


def dose_rate_ng_per_day(text: object, field: str) -> int:
    """A dose rate in nanograms per day."""
    return parse_int(text, DOSE_RATE, field)


def concentration_ng_per_ml(text: object, field: str) -> int:
    """A concentration in nanograms per millilitre."""
    return parse_int(text, CONCENTRATION, field)


# ------------------------------------------------------------------------------------ percentages

# A sign may be typed as "+", "-" or the minus sign "−" that word processors put in.
_PERCENT = r"\s*(?P<sign>[+\-−]?)\s*(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?:%|percent)\s*"
_PERCENT_CHARACTERS = frozenset(ASCII_DIGITS + " .%+-−" + "percnt")
_PERCENT_ACTION = 'write it with the percent sign, like "14.5 %", "+1 %" or "-3.5 %"'
BP_PER_PERCENT = 100
BP_PER_ONE = 10_000


def percent_fraction(text: object, field: str, *, signed: bool = False) -> Fraction:
    """A percentage written with its % sign ("14.5 %", "+1 %", "-3.5 %") as an exact fraction of one."""
    if isinstance(text, str):
        stripped = _written(text, field, "a percentage", _PERCENT_ACTION)
        refuse_characters(stripped, field, _PERCENT_CHARACTERS, "a percentage", _PERCENT_ACTION)
    match = re.fullmatch(_PERCENT, text) if isinstance(text, str) else None
    if match is None:
        raise InputError(
            field,
            text,
            "not a percentage that can be read; a bare number could mean a fraction or a percent",
            _PERCENT_ACTION,
        )
    value = Fraction(match["number"]) / 100
    if match["sign"] in ("-", "−"):
        if not signed and value:
            raise InputError(
                field, text, "is negative: this percentage cannot be below zero", "enter zero or a positive percentage"
            )
        value = -value
    return value


def percent_bp(text: object, field: str, *, signed: bool = False) -> int:
    """A percentage written with its % sign, in basis points (hundredths of a percent), rounded to the nearest."""
    return round(percent_fraction(text, field, signed=signed) * BP_PER_ONE)


# ------------------------------------------------------------------------ whole numbers and dates

# Longer than any count a person writes (a seed is at most 19 digits).
MAX_COUNT_CHARACTERS = 24


def whole_number(value: object, field: str) -> int:
    """A whole number as a file holds it (an integer) or a person types it ("6"): ASCII digits; a minus is kept,
    so that the field's range calls the number negative."""
    like = "write a whole number with the digits 0 to 9, like 4"
    if isinstance(value, bool):
        raise InputError(field, value, "true or false is not a number", like)
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise InputError(field, value, "is not a whole number", like)
    text = value.strip()
    if not text:
        raise InputError(field, value, "is empty; a whole number is needed here", like)
    if len(text) > MAX_COUNT_CHARACTERS:
        raise InputError(
            field, f"{text[:20]}… ({len(text)} characters)", "is longer than any whole number accepted here", like
        )
    refuse_foreign_digits(text, field, like)
    if text[0] in _MINUS and text[1:].strip() and all(ch in ASCII_DIGITS for ch in text[1:].strip()):
        return -int(text[1:].strip())
    if not all(ch in ASCII_DIGITS for ch in text):
        raise InputError(field, value, "is not a whole number (digits 0 to 9 only: no sign, point or unit)", like)
    return int(text)


def decimal_number(value: object, field: str, example: str) -> Fraction:
    """A plain decimal without a unit (a factor such as an acceleration): ASCII digits and a point, no sign."""
    like = f"write it like {example}"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InputError(field, value, "is not a number", like)
    if isinstance(value, int):
        return Fraction(value)
    text = _written(value, field, "a number", like)
    if text[0] in _MINUS:
        raise InputError(field, value, "is negative: this number cannot be below zero", like)
    refuse_foreign_digits(text, field, like)
    if re.fullmatch(_TYPED_NUMBER, text) is None:
        raise InputError(field, value, "is not a plain decimal number (digits 0 to 9 and a point only)", like)
    return Fraction(text)


_DATE = r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
FIRST_DATE = date(1990, 1, 1)
LAST_DATE = date(2100, 12, 31)


def calendar_date(text: object, field: str) -> date:
    """A date written YYYY-MM-DD, from 1990-01-01 to 2100-12-31 (a clinic's dates, with room for plans)."""
    like = "write it as YYYY-MM-DD, like 2025-03-01"
    if not isinstance(text, str):
        raise InputError(field, text, "not a date that can be read", like)
    stripped = text.strip()
    refuse_foreign_digits(stripped, field, like)
    match = re.fullmatch(_DATE, stripped)
    try:
        day = date(int(match[1]), int(match[2]), int(match[3])) if match else None
    except ValueError:
        day = None
    if day is None:
        raise InputError(field, text, "not a date that can be read", like)
    if not FIRST_DATE <= day <= LAST_DATE:
        raise InputError(
            field,
            text,
            "lies outside the dates thecal plans for",
            f"enter a date from {FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()}",
            f"{FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()}",
        )
    return day


# ------------------------------------------------------------------------------------ files

# Larger than any scenario, model or drug file a person writes; a bigger file is a mistake, not a plan.
MAX_FILE_BYTES = 1_000_000


def read_text_file(path: str | Path, field: str) -> str:
    """The text of a file a person names (a scenario, a pump model): readable, not too large, and UTF-8."""
    shown = str(path)
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(
            field, shown, f"cannot be read ({exc.strerror or exc})", "give the path of a .toml file"
        ) from None
    except ValueError as exc:  # a path holding a NUL character
        raise InputError(field, shown, f"is not a path ({exc})", "give the path of a .toml file") from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(
            field,
            shown,
            f"is larger than {MAX_FILE_BYTES} bytes",
            "give the file itself, not a larger one",
            f"{MAX_FILE_BYTES} bytes",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            field,
            shown,
            f"is not UTF-8 text (byte {exc.start} cannot be read)",
            "save the file as UTF-8 (TOML files are UTF-8)",
        ) from None


# ---------------------------------------------------------------------------- what a check gave, kept

# The drug library, a pump model and a scenario file are checked in full by their schemas the first time; what a
# check gave is kept in the user's cache and read back, instead of checked again, only while nothing it came from
# has changed: the same bytes in (by content), the same thecal (version, place, Python), and the same code (every
# module file of thecal and of the libraries that check, by size and modification time, as Python judges its own
# bytecode cache). An entry that is missing, damaged, stale or not this user's alone is ignored and written anew;
# a cache that cannot be written only makes the next run check again.
CACHE_FORMAT = "thecal.checked/1"
CACHE_ENTRIES_KEPT = 64  # per kind of check: the oldest go when a new one is written
_CHECKING_PACKAGES = frozenset({"thecal", "pydantic", "pydantic_core", "pint"})
_NOT_FOUND = object()
_Checked = TypeVar("_Checked")


def cache_dir() -> Path | None:
    """The directory of the user's cache of checked files: $XDG_CACHE_HOME/thecal, else ~/.cache/thecal."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG rule: an empty or relative path is ignored
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home directory to be found: nothing is kept
            return None
    return Path(base) / "thecal"


def checked(
    kind: str,
    inputs: Sequence[str | bytes],
    check: Callable[[], _Checked],
    keep: Callable[[_Checked], bool] = lambda value: True,
) -> _Checked:
    """What `check()` gives, read from the user's cache if a run with the same inputs and code kept it, else
    checked now and kept (when `keep` says so); `inputs` must hold everything the check reads besides code."""
    path = _cache_path(kind, inputs)
    if path is not None:
        found = _read_checked(path)
        if found is not _NOT_FOUND:
            return found  # type: ignore[return-value]  # kept from `check` for these very inputs
    value = check()
    if path is not None and keep(value):
        _keep_checked(path, value)
    return value


def _cache_path(kind: str, inputs: Sequence[str | bytes]) -> Path | None:
    """The entry for a check of these inputs by this thecal, named by their hash."""
    import hashlib

    from thecal import __version__

    folder = cache_dir()
    if folder is None:
        return None
    key = hashlib.sha256()
    for part in (CACHE_FORMAT, __version__, str(Path(__file__).parent), sys.prefix, sys.version, kind, *inputs):
        # Any text, even a file name that is not UTF-8 (kept by Python as lone surrogates), has its bytes.
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        key.update(len(data).to_bytes(8, "big") + data)
    return folder / f"{kind}-{key.hexdigest()[:40]}.pickle"


def _code_files() -> tuple[tuple[str, int, int], ...] | None:
    """Each module file of thecal and of the checking libraries now loaded: its path, size and modification time;
    None when one has changed since this process first looked (its code is older than the files: keep nothing)."""
    files = set()
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None)
        if name.partition(".")[0] in _CHECKING_PACKAGES and isinstance(where, str):
            seen, status = _file_version(where), os.stat(where)
            if seen != (status.st_size, status.st_mtime_ns):
                return None
            files.add((where, *seen))
    return tuple(sorted(files))


@cache
def _file_version(path: str) -> tuple[int, int]:
    """A code file's size and modification time, as a process first sees it: its code is loaded once too, and an
    entry it writes and one it reads are judged by the same view."""
    status = os.stat(path)
    return status.st_size, status.st_mtime_ns


def _read_checked(path: Path) -> object:
    """A kept value, or _NOT_FOUND when the entry is missing, damaged, stale or not this user's alone."""
    import hashlib
    import pickle

    try:
        with open(path, "rb") as file:
            status = os.fstat(file.fileno())
            # Read back only what this user alone can have written, as for any file whose bytes become objects.
            if status.st_mode & 0o022 or (hasattr(os, "geteuid") and status.st_uid != os.geteuid()):
                return _NOT_FOUND
            header = pickle.load(file)
            body = file.read()
        form, code, digest = header
        if form != CACHE_FORMAT or hashlib.sha256(body).digest() != digest:
            return _NOT_FOUND
        if any(_file_version(where) != (size, mtime_ns) for where, size, mtime_ns in code):
            return _NOT_FOUND
        return pickle.loads(body)
    except Exception:  # whatever an entry holds, it can only be read back or ignored
        return _NOT_FOUND


def _keep_checked(path: Path, value: object) -> None:
    """Write an entry whole or not at all (a temporary file renamed), and let the oldest entries of its kind go."""
    import hashlib
    import pickle

    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    try:
        code = _code_files()
        if code is None:
            return
        body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        header = pickle.dumps((CACHE_FORMAT, code, hashlib.sha256(body).digest()))
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(header + body)
        os.replace(temporary, path)
        kind = path.name.rpartition("-")[0]
        entries = sorted(path.parent.glob(f"{kind}-*.pickle"), key=lambda entry: entry.stat().st_mtime_ns)
        for old in entries[:-CACHE_ENTRIES_KEPT]:
            old.unlink()
    except Exception:  # a cache that cannot be written (read-only, full, gone) only means checking again next time
        with contextlib.suppress(OSError):
            temporary.unlink()


# -------------------------------------------------------------------------------- free text


def plain_text(value: object, field: str, *, max_characters: int, required: bool = True) -> str:
    """Free text a person writes (a name, a reason): no control characters, nothing that cannot be written."""
    if not isinstance(value, str):
        raise InputError(field, value, "must be text", "write it as plain text")
    if required and not value.strip():
        raise InputError(field, value, "is empty", "write it out")
    if len(value) > max_characters:
        raise InputError(
            field,
            f"{value[:20]}… ({len(value)} characters)",
            f"is longer than {max_characters} characters",
            "shorten it",
            f"{max_characters} characters",
        )
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn"):
            raise InputError(
                field, value, f"{character_name(ch)} cannot be stored or shown", "retype it without that character"
            )
    return value


LABEL_CHARACTERS = frozenset(ASCII_DIGITS + _LETTERS + "-_.")
MAX_LABEL_CHARACTERS = 32


def device_label(value: object, field: str) -> str:
    """A serial number or device label: 1 to 32 ASCII letters, digits, "-", "_" or ".", like SN-0001."""
    action = f'write 1 to {MAX_LABEL_CHARACTERS} letters, digits, "-", "_" or ".", like SN-0001'
    if not isinstance(value, str) or not value:
        raise InputError(field, value, "is empty", action)
    if len(value) > MAX_LABEL_CHARACTERS:
        raise InputError(
            field,
            f"{value[:20]}… ({len(value)} characters)",
            "is longer than a serial number",
            action,
            f"{MAX_LABEL_CHARACTERS} characters",
        )
    refuse_characters(value, field, LABEL_CHARACTERS, "a serial number", action)
    return value


# ------------------------------------------------------------------- the range of every field


@dataclass(frozen=True)
class Range:
    """The physical range of a field: what it is, its kind, the least and the most accepted, and why.

    `low` and `high` are written as a person writes them ("0 mL", "100 mL");
    `above` means the least is excluded (a dose must be above 0 mg).
    """

    name: str
    kind: Kind
    low: str
    high: str
    above: bool = False
    why: str = ""

    @property
    def limit(self) -> str:
        """The range in words: "1 cm to 200 cm", or "above 0 mL, at most 100 mL"."""
        return f"above {self.low}, at most {self.high}" if self.above else f"{self.low} to {self.high}"

    def bounds(self) -> tuple[Fraction, Fraction]:
        """The least and the most, exactly, in the kind's base unit (a fraction of one for a percentage)."""
        return _bounds(self)

    def check(self, value: Fraction | int, field: str, written: object) -> None:
        """Refuse a value outside the range, with the field, the value as written, the range and why."""
        low, high = self.bounds()
        between = f"above {self.low} and at most {self.high}" if self.above else f"from {self.low} to {self.high}"
        action = f"enter the {self.name} {between}"
        if value < 0 <= low:
            raise InputError(field, written, f"is negative: the {self.name} cannot be below zero", action, self.limit)
        if value < low or (self.above and value == low):
            least = f"is below {self.low}, the least accepted for the {self.name}"
            raise InputError(field, written, f"must be above {self.low}" if self.above else least, action, self.limit)
        if value > high:
            why = f" ({self.why})" if self.why else ""
            problem = f"is above {self.high}, the most accepted for the {self.name}{why}"
            raise InputError(field, written, problem, action, self.limit)


@cache
def _bounds(limits: Range) -> tuple[Fraction, Fraction]:
    if limits.kind is PERCENT:
        return percent_fraction(limits.low, "low", signed=True), percent_fraction(limits.high, "high", signed=True)
    return parse_typed(limits.low, limits.kind, "low"), parse_typed(limits.high, limits.kind, "high")


def quantity(text: object, field: str, limits: Range) -> int:
    """A quantity of a field, read strictly, rounded to the base unit, and within the field's range."""
    value = parse_typed_int(text, limits.kind, field)
    limits.check(value, field, text)
    return value


def quantity_exact(text: object, field: str, limits: Range) -> Fraction:
    """A quantity of a field kept exact (a catheter's length and its volume per length multiply first)."""
    value = parse_typed(text, limits.kind, field)
    limits.check(round(value), field, text)  # judged at the base unit's resolution, as the integers are
    return value


def percentage(text: object, field: str, limits: Range) -> Fraction:
    """A percentage of a field, as an exact fraction of one, within the field's range."""
    low, _ = limits.bounds()
    value = percent_fraction(text, field, signed=low < 0)
    limits.check(value, field, text)
    return value


@dataclass(frozen=True)
class Count:
    """The range of a whole number: what it counts, the least and the most accepted, and why."""

    name: str
    low: int
    high: int
    why: str = ""

    @property
    def limit(self) -> str:
        """The range in words: "1 to 100"."""
        return f"{self.low} to {self.high}"

    def check(self, value: int, field: str, written: object = None) -> int:
        """The count, or a refusal naming the field, the value as written, the range and why."""
        shown = value if written is None else written
        action = f"enter a whole number from {self.low} to {self.high}"
        if value < 0 <= self.low:
            raise InputError(field, shown, f"is negative: the {self.name} cannot be below zero", action, self.limit)
        if value < self.low:
            raise InputError(field, shown, f"is below {self.low}, the least for the {self.name}", action, self.limit)
        if value > self.high:
            why = f" ({self.why})" if self.why else ""
            problem = f"is above {self.high}, the most for the {self.name}{why}"
            raise InputError(field, shown, problem, action, self.limit)
        return value


def count(value: object, field: str, limits: Count) -> int:
    """A whole number of a field, read strictly and within the field's range."""
    return limits.check(whole_number(value, field), field, value)


_RESERVOIR_WHY = "more than any implanted pump's reservoir holds; the pump model then holds it to its own reservoir"
_RUN_WHY = "ten years: longer than a pump's battery lasts"

# Volumes.
FILL_VOLUME = Range("fill volume", VOLUME, "0 mL", "100 mL", above=True, why=_RESERVOIR_WHY)
ASPIRATED_VOLUME = Range("aspirated volume", VOLUME, "0 mL", "100 mL", why=_RESERVOIR_WHY)
LAST_FILL_VOLUME = Range("volume after the last refill", VOLUME, "0 mL", "100 mL", above=True, why=_RESERVOIR_WHY)
RESERVOIR_SIZE = Range("reservoir size", VOLUME, "0 mL", "100 mL", above=True, why=_RESERVOIR_WHY)
BOLUS_VOLUME_SINCE_REFILL = Range("bolus volume since the last refill", VOLUME, "0 mL", "100 mL", why=_RESERVOIR_WHY)
LOW_RESERVOIR_ALARM = Range("low-reservoir alarm volume", VOLUME, "0 mL", "100 mL", above=True, why=_RESERVOIR_WHY)
FLAG_THRESHOLD = Range(
    "refill discrepancy flag threshold",
    VOLUME,
    "0 mL",
    "100 mL",
    above=True,
    why="a clinic may only make the pump model's threshold stricter",
)
DOSE_VOLUME = Range("bolus volume", VOLUME, "0 mL", "100 mL", above=True, why=_RESERVOIR_WHY)
CATHETER_VOLUME = Range(
    "catheter volume", VOLUME, "0 mL", "4 mL", above=True, why="the longest catheter (200 cm) at the widest lumen"
)
PUMP_TUBING_VOLUME = Range(
    "pump tubing volume", VOLUME, "0 mL", "2 mL", why="assumption: ten times the shipped models' 0.22 mL"
)
PRIMING_VOLUME = Range(
    "priming volume",
    VOLUME,
    "0 mL",
    "6 mL",
    above=True,
    why="the largest catheter and pump tubing together; the pump holds it to its own dead volume",
)
# Doses, concentrations and flows: far above any intrathecal use; the drug library's limits are much lower.
_DRUG_WHY = "far above any intrathecal use; the drug library's own limits are much lower"
BOLUS_DOSE = Range("bolus dose", MASS, "0 mg", "100 mg", above=True, why=_DRUG_WHY)
DAILY_DOSE = Range("daily dose", DOSE_RATE, "0 mg/day", "100 mg/day", above=True, why=_DRUG_WHY)
CURRENT_DAILY_DOSE = Range("current daily dose", DOSE_RATE, "0 mg/day", "100 mg/day", why=_DRUG_WHY)
TITRATION_STEP = Range("titration step", DOSE_RATE, "0 mg/day", "100 mg/day", above=True, why=_DRUG_WHY)
CONVERTED_DOSE = Range(
    "daily dose to convert", DOSE_RATE, "0 mg/day", "10 g/day", above=True, why="above any opioid dose by any route"
)
CONCENTRATION_RANGE = Range("concentration", CONCENTRATION, "0 mg/mL", "100 mg/mL", above=True, why=_DRUG_WHY)
_FLOW_WHY = "above what any implanted pump delivers (1 mL/h is 24 mL/day)"
FLOW_RANGE = Range("flow", FLOW, "0 mL/day", "100 mL/day", above=True, why=_FLOW_WHY)
DEMAND_VOLUME = Range("demand volume per day", FLOW, "0 mL/day", "100 mL/day", why="above what any pump delivers")
# Times.
RUN_LENGTH = Range("run length", DURATION, "0 d", "3660 d", above=True, why=_RUN_WHY)
MOMENT = Range("time since the start", DURATION, "0 d", "3660 d", why=_RUN_WHY)
SAMPLE_INTERVAL = Range("sample interval", DURATION, "0 ms", "3660 d", above=True, why=_RUN_WHY)
BOLUS_DURATION = Range(
    "bolus duration", DURATION, "0 min", "24 h", above=True, why="a dose given over longer is a basal rate"
)
PERIODIC_INTERVAL = Range("periodic bolus interval", DURATION, "0 min", "7 d", above=True, why="a week at most")
LOCKOUT = Range("lockout", DURATION, "0 min", "7 d", why="a week; for no demand doses at all, switch them off")
PRIMING_DURATION = Range("priming duration", DURATION, "0 min", "7 d", above=True, why="a week at most")
SCAN_DURATION = Range("scan duration", DURATION, "0 min", "24 h", above=True, why="longer than any MRI scan")
RECOVERY_DELAY = Range(
    "recovery delay", DURATION, "0 min", "7 d", why="the return to the proper rate is reported to lag 2 to 24 h"
)
FAULT_DURATION = Range("fault duration", DURATION, "0 min", "3660 d", above=True, why=_RUN_WHY)
PRESS_INTERVAL = Range(
    "time between presses", DURATION, "1 s", "3660 d", why="no one presses a handset more often than once a second"
)
SINCE_LAST_REFILL = Range("time since the last refill", DURATION, "0 d", "3660 d", why=_RUN_WHY)
TITRATION_INTERVAL = Range("titration interval", DURATION, "0 min", "365 d", above=True, why="a year at most")
SINCE_LAST_INCREASE = Range("time since the last increase", DURATION, "0 d", "3660 d", why=_RUN_WHY)
# Lengths.
CATHETER_LENGTH = Range(
    "catheter length", LENGTH, "0 cm", "200 cm", above=True, why="longer than any intrathecal catheter"
)
CATHETER_VOLUME_PER_LENGTH = Range(
    "catheter volume per length",
    VOLUME_PER_LENGTH,
    "0 uL/cm",
    "20 uL/cm",
    above=True,
    why="a lumen of 1.6 mm; intrathecal catheters hold about 2.2 uL/cm",
)
PROGRAMMER_DISTANCE = Range("programmer distance", LENGTH, "0 cm", "10 m", why="far beyond the telemetry's reach")
# Percentages.
ACCURACY_ERROR = Range(
    "accuracy error",
    PERCENT,
    "-50 %",
    "+50 %",
    why="more than three times the labeled 14.5 %; a larger error is a fault (leak, over_infusion, occlusion)",
)
PUMP_ACCURACY = Range("pump accuracy", PERCENT, "0 %", "50 %", why="more than three times the labeled 14.5 %")
FAULT_FRACTION = Range("fault fraction", PERCENT, "0 %", "100 %", why="all of the flow; 0 % ends the fault")
LINK_LOSS = Range("link loss", PERCENT, "0 %", "100 %", why="every frame lost")
TITRATION_STEP_PERCENT = Range(
    "titration step as a percentage", PERCENT, "0 %", "100 %", above=True, why="a doubling at most"
)
# The virtual patient's figures ([virtual_patient] in a scenario, `thecal forecast` options).
_ORAL_WHY = "above any opioid dose by any route"
PRIOR_ORAL = Range("oral morphine before the pump", DOSE_RATE, "0 mg/day", "10 g/day", why=_ORAL_WHY)
ORAL_WITH_PUMP = Range("oral morphine taken with the pump", DOSE_RATE, "0 mg/day", "10 g/day", why=_ORAL_WHY)
PROGNOSIS = Range("prognosis", DURATION, "0 d", "3660 d", above=True, why=_RUN_WHY)
OBSERVE_INTERVAL = Range(
    "observation interval", DURATION, "1 min", "1 d", why="an observation a day is the least that shows a day's pain"
)

RANGES: tuple[Range, ...] = (
    FILL_VOLUME,
    ASPIRATED_VOLUME,
    LAST_FILL_VOLUME,
    RESERVOIR_SIZE,
    BOLUS_VOLUME_SINCE_REFILL,
    LOW_RESERVOIR_ALARM,
    FLAG_THRESHOLD,
    DOSE_VOLUME,
    CATHETER_VOLUME,
    PUMP_TUBING_VOLUME,
    PRIMING_VOLUME,
    BOLUS_DOSE,
    DAILY_DOSE,
    CURRENT_DAILY_DOSE,
    TITRATION_STEP,
    CONVERTED_DOSE,
    CONCENTRATION_RANGE,
    FLOW_RANGE,
    DEMAND_VOLUME,
    RUN_LENGTH,
    MOMENT,
    SAMPLE_INTERVAL,
    BOLUS_DURATION,
    PERIODIC_INTERVAL,
    LOCKOUT,
    PRIMING_DURATION,
    SCAN_DURATION,
    RECOVERY_DELAY,
    FAULT_DURATION,
    PRESS_INTERVAL,
    SINCE_LAST_REFILL,
    TITRATION_INTERVAL,
    SINCE_LAST_INCREASE,
    CATHETER_LENGTH,
    CATHETER_VOLUME_PER_LENGTH,
    PROGRAMMER_DISTANCE,
    ACCURACY_ERROR,
    PUMP_ACCURACY,
    FAULT_FRACTION,
    LINK_LOSS,
    TITRATION_STEP_PERCENT,
    PRIOR_ORAL,
    ORAL_WITH_PUMP,
    PROGNOSIS,
    OBSERVE_INTERVAL,
)

# Counts.
DEMAND_DOSES_PER_DAY = Count("demand doses per 24 h", 1, 100, "one every 15 minutes; the drug's own limit is lower")
SAMPLES_PER_RUN = Count("samples in a run", 1, 100_000, "a point an hour for ten years; more is a run that never ends")
PRESSES_PER_RUN = Count("handset presses in a run", 0, 20_000, "five a day for ten years")
TIMELINE_ENTRIES = Count("timeline entries", 0, 10_000, "almost three a day for ten years")
DRUGS_PER_FILL = Count("drugs in one fill", 1, 4, "assumption: no listed admixture holds more")
STEPS_PER_PRESCRIPTION = Count("flexible steps", 1, 100, "13 a day for every day of the week fit")
SEED = Count("seed", 0, 2**32 - 1, "the seeds a random generator is usually given")
PORT = Count("TCP port", 1, 65_535, "the largest port number")
LISTEN_PORT = Count("TCP port to listen on", 0, 65_535, "the largest port number; 0 picks a free one")
LOG_ENTRY_NUMBER = Count("event log entry number", 0, 10**9, "more entries than a pump ever logs")
LOG_PAGE = Count("entries shown", 1, 100, "one page")

COUNTS: tuple[Count, ...] = (
    DEMAND_DOSES_PER_DAY,
    SAMPLES_PER_RUN,
    PRESSES_PER_RUN,
    TIMELINE_ENTRIES,
    DRUGS_PER_FILL,
    STEPS_PER_PRESCRIPTION,
    SEED,
    PORT,
    LISTEN_PORT,
    LOG_ENTRY_NUMBER,
    LOG_PAGE,
)


def reader(kind: Kind | Range) -> Callable[[object], int]:
    """How a data-file schema reads a quantity of a kind, or of a field's range: typed text to its integer."""

    def read(text: object) -> int:
        # The field is left empty: the schema knows where the value sits and names it.
        if isinstance(kind, Range):
            return quantity(text, "", kind)
        return parse_typed_int(text, kind, "")

    return read


# ---------------------------------------------------------------------------------- for people


def format_volume(nl: int | float) -> str:
    """A volume for people, in mL."""
    return f"{nl / NL_PER_ML:.3f} mL"


def format_mass(ng: int | float) -> str:
    """A mass for people, in mg or mcg as fits."""
    if abs(ng) >= 100_000:
        return f"{ng / NG_PER_MG:.3f} mg"
    return f"{ng / NG_PER_MCG:.2f} mcg"


def format_flow(nl_per_day: int | float) -> str:
    """A flow for people, in mL/day."""
    return f"{nl_per_day / NL_PER_ML:.4f} mL/day"


def format_dose_rate(ng_per_day: int | float) -> str:
    """A dose rate for people, in mg/day or mcg/day as fits."""
    if abs(ng_per_day) >= 100_000:
        return f"{ng_per_day / NG_PER_MG:.3f} mg/day"
    return f"{ng_per_day / NG_PER_MCG:.2f} mcg/day"


def format_concentration(ng_per_ml: int | float) -> str:
    """A concentration for people, in mg/mL or mcg/mL as fits."""
    if abs(ng_per_ml) >= 100_000:
        return f"{ng_per_ml / NG_PER_MG:g} mg/mL"
    return f"{ng_per_ml / NG_PER_MCG:g} mcg/mL"


def format_duration(ms: int) -> str:
    """A duration or a time since start for people: days, hours and minutes."""
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    days, rest = divmod(ms, MS_PER_DAY)
    hours, rest = divmod(rest, MS_PER_HOUR)
    minutes, rest = divmod(rest, MS_PER_MIN)
    seconds = rest / MS_PER_S
    text = f"{sign}{days} d {hours:02d}:{minutes:02d}"
    if seconds:
        text += f":{seconds:06.3f}".rstrip("0").rstrip(".")
    return text


def format_exact(value: int | Fraction, scale: int, unit: str, decimals: int = 6) -> str:
    """A base-unit value shown in a display unit by exact arithmetic, trailing zeros dropped."""
    # The value in the display unit is numerator / denominator, exactly; integers alone, as no Fraction is needed.
    if isinstance(value, int):
        numerator, denominator = value, scale
    else:
        exact = Fraction(value)
        numerator, denominator = exact.numerator, exact.denominator * scale
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    sign = "-" if numerator < 0 else ""
    # Rounded to `decimals`, a half away from zero: floor(|quantity| * 10**decimals + 1/2).
    rounded = (2 * abs(numerator) * 10**decimals + denominator) // (2 * denominator)
    whole, frac = divmod(rounded, 10**decimals)
    digits = f"{frac:0{decimals}d}".rstrip("0")
    number = f"{whole}.{digits}" if digits else f"{whole}"
    return f"{sign}{number} {unit}".rstrip()


# How each kind is written back exactly: a display unit, the base units in one of it, and the decimals that
# keep every base-unit integer exact.
_EXACT: dict[Kind, tuple[str, int, int]] = {
    VOLUME: ("mL", NL_PER_ML, 6),
    MASS: ("mg", NG_PER_MG, 6),
    DURATION: ("s", MS_PER_S, 3),
    FLOW: ("mL/day", NL_PER_ML, 6),
    DOSE_RATE: ("mg/day", NG_PER_MG, 6),
    CONCENTRATION: ("mg/mL", NG_PER_MG, 6),
    LENGTH: ("mm", UM_PER_MM, 3),
    VOLUME_PER_LENGTH: ("uL/cm", 1_000, 3),
}


def format_typed(value: int, kind: Kind) -> str:
    """A base-unit integer written as a person types it, exactly: it reads back as the same integer."""
    unit, scale, decimals = _EXACT[kind]
    return format_exact(value, scale, unit, decimals)
