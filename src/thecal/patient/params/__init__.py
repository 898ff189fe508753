"""The virtual patient's parameter files, read strictly: every figure has a value, a unit and a source.

A figure is a TOML table `{ value = 185.0, unit = "min", source = "..." }`;
one that varies between patients adds `cv` (log-normal) or `sd` (normal) and
`variability_source`. A source starting with "assumption" marks a value that
was not found published. Each model module states the figures it needs and
their units; a file that lacks one, has one the module does not know, gives a
figure without its source or in another unit is refused with an InputError
naming the file, the figure and what to do.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from thecal.errors import InputError

HERE = Path(__file__).resolve().parent
FIX = "give every figure a value, its unit and its published source (or a source starting with 'assumption')"
_KEYS = frozenset({"value", "unit", "source", "cv", "sd", "variability_source"})


@dataclass(frozen=True, slots=True)
class Figure:
    """One figure of a parameter file: value, unit, source and, if it varies between patients, how."""

    name: str
    value: float
    unit: str
    source: str
    cv: float | None = None
    sd: float | None = None
    variability_source: str | None = None

    @property
    def assumption(self) -> bool:
        """True when no published source was found for the figure."""
        return self.source.lower().startswith("assumption")


@dataclass(frozen=True)
class Params:
    """The figures of one parameter file, by dotted name."""

    origin: str
    figures: Mapping[str, Figure]

    def __getitem__(self, name: str) -> Figure:
        return self.figures[name]

    def value(self, name: str) -> float:
        """The value of a figure."""
        return self.figures[name].value

    def get(self, name: str, default: float) -> float:
        """The value of an optional figure, or `default` when the file does not give it."""
        figure = self.figures.get(name)
        return default if figure is None else figure.value

    def section(self, prefix: str) -> dict[str, Figure]:
        """The figures under a table, by their name inside it."""
        head = prefix + "."
        return {k[len(head) :]: f for k, f in self.figures.items() if k.startswith(head)}


def load_params(name: str, required: Mapping[str, str], optional: Mapping[str, str] | None = None) -> Params:
    """Read and check `params/NAME.toml` against the figures a module needs (dotted name -> unit)."""
    return _load(name, tuple(sorted(required.items())), tuple(sorted((optional or {}).items())))


@cache
def _load(name: str, required: tuple[tuple[str, str], ...], optional: tuple[tuple[str, str], ...]) -> Params:
    path = HERE / f"{name}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"params/{name}.toml", str(path), "no such parameter file", FIX) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"params/{name}.toml", str(exc), "not valid TOML", FIX) from None
    return parse_params(data, f"params/{name}.toml", dict(required), dict(optional))


def parse_params(
    data: Mapping[str, Any], origin: str, required: Mapping[str, str], optional: Mapping[str, str] | None = None
) -> Params:
    """Check the contents of a parameter file and return its figures; refuse anything incomplete."""
    figures: dict[str, Figure] = {}
    _walk(data, "", origin, figures)
    known = {**required, **(optional or {})}
    for key, figure in figures.items():
        if key not in known:
            raise InputError(
                f"{origin}: {key}",
                key,
                "not a figure this model uses (a misspelt name?)",
                f"use one of: {', '.join(sorted(known))}",
            )
        if figure.unit != known[key]:
            raise InputError(
                f"{origin}: {key}.unit",
                figure.unit,
                f"this figure is read in {known[key]!r}",
                f"write it in {known[key]}",
            )
    for key in required:
        if key not in figures:
            raise InputError(f"{origin}: {key}", None, "missing from the file", FIX)
    return Params(origin, figures)


def _walk(table: Mapping[str, Any], prefix: str, origin: str, out: dict[str, Figure]) -> None:
    for key, item in table.items():
        name = f"{prefix}{key}"
        if not isinstance(item, Mapping):
            raise InputError(f"{origin}: {name}", item, "a figure must be a table with value, unit and source", FIX)
        if "value" in item:
            out[name] = _figure(item, name, origin)
        else:
            _walk(item, name + ".", origin, out)


def _figure(item: Mapping[str, Any], name: str, origin: str) -> Figure:
    field = f"{origin}: {name}"
    extra = set(item) - _KEYS
    if extra:
        raise InputError(f"{field}.{min(extra)}", min(extra), "not a key a figure may hold", f"use {sorted(_KEYS)}")
    value = _number(item["value"], f"{field}.value")
    texts = {}
    for key in ("unit", "source"):
        text = item.get(key)
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{field}.{key}", text, "missing or blank: every figure carries its unit and source", FIX)
        texts[key] = text.strip()
    cv = _number(item["cv"], f"{field}.cv") if "cv" in item else None
    sd = _number(item["sd"], f"{field}.sd") if "sd" in item else None
    if cv is not None and sd is not None:
        raise InputError(f"{field}.sd", sd, "give either cv (log-normal) or sd (normal), not both", "remove one")
    for spread, key in ((cv, "cv"), (sd, "sd")):
        if spread is not None and spread < 0:
            raise InputError(f"{field}.{key}", spread, "a spread cannot be negative", "give a value of 0 or more")
    varies = item.get("variability_source")
    if (cv is not None or sd is not None) and (not isinstance(varies, str) or not varies.strip()):
        raise InputError(
            f"{field}.variability_source", varies, "a figure that varies must say where its spread is from", FIX
        )
    return Figure(
        name, value, texts["unit"], texts["source"], cv, sd, varies.strip() if isinstance(varies, str) else None
    )


def _number(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(field, value, "a finite number is required here", FIX)
    return float(value)
