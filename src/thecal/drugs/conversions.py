"""The opioid conversion table: ranges of ratios between routes and drugs, each with its sources.

A `Factor` is the range by which a dose is multiplied to get the equivalent dose
on another route or of another drug. Factors multiply as ranges (low with low,
high with high), so uncertainty adds up along a chain instead of hiding.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from typing import Any

from thecal.errors import InputError

ROUTE_WORDS = {"oral": "oral", "iv": "intravenous", "epidural": "epidural", "intrathecal": "intrathecal"}
ROUTE_ALIASES = {"po": "oral", "intravenous": "iv", "it": "intrathecal", "spinal": "intrathecal", "epi": "epidural"}


@dataclass(frozen=True)
class Factor:
    """A range of multipliers from one dose to its equivalent, with the ratios and sources behind it."""

    low: Fraction
    high: Fraction
    steps: tuple[str, ...]
    sources: tuple[str, ...]

    def __mul__(self, other: Factor) -> Factor:
        return Factor(
            self.low * other.low,
            self.high * other.high,
            self.steps + other.steps,
            tuple(dict.fromkeys(self.sources + other.sources)),
        )

    def inverse(self, step: str) -> Factor:
        """The factor for the opposite direction; `step` says so after the ratios it reverses."""
        return Factor(1 / self.high, 1 / self.low, (*self.steps, step), self.sources)


IDENTITY = Factor(Fraction(1), Fraction(1), (), ())


@dataclass(frozen=True)
class ConversionTable:
    """All conversion ratios of the library."""

    routes: tuple[str, ...]
    morphine_steps: dict[tuple[str, str], Factor]
    observed_oral_to_intrathecal: Factor
    drug_to_morphine: dict[tuple[str, str], Factor]


def normal_route(route: str, field: str) -> str:
    """A route name in the table's words ('oral', 'iv', 'epidural', 'intrathecal'), from what people type."""
    table = conversion_table()
    key = str(route).strip().lower()
    key = ROUTE_ALIASES.get(key, key)
    if key not in table.routes:
        raise InputError(
            field, route, "not a route the conversion table knows", f"choose one of: {', '.join(table.routes)}"
        )
    return key


@lru_cache(maxsize=1)
def conversion_table() -> ConversionTable:
    """The conversion table read from its data file."""
    text = resources.files("thecal.drugs.data").joinpath("conversions.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    routes = tuple(data["routes"])
    steps: dict[tuple[str, str], Factor] = {}
    for entry in data["morphine_route"]:
        source, target = entry["from"], entry["to"]
        if routes.index(target) != routes.index(source) + 1:
            raise _error(f"morphine_route {source} to {target}", "must join neighbouring routes")
        steps[(source, target)] = _factor(entry, f"morphine {ROUTE_WORDS[source]} to {ROUTE_WORDS[target]}")
    if len(steps) != len(routes) - 1:
        raise _error("morphine_route", "every neighbouring pair of routes needs a ratio")
    observed = _factor(data["observed_oral_to_intrathecal"], "morphine oral to intrathecal, as observed in patients")
    drugs: dict[tuple[str, str], Factor] = {}
    for entry in data["drug_ratio"]:
        drug, route = entry["drug"].lower(), entry["route"]
        if route not in routes:
            raise _error(f"drug_ratio {drug}", f"unknown route {route}")
        drugs[(drug, route)] = _factor(entry, f"{drug} to morphine, {ROUTE_WORDS[route]}")
    return ConversionTable(routes, steps, observed, drugs)


def _factor(entry: dict[str, Any], what: str) -> Factor:
    ratios = entry.get("ratios")
    source = entry.get("source")
    if not isinstance(ratios, list) or not ratios or not isinstance(source, str) or not source.strip():
        raise _error(what, "needs a list of ratios and a source")
    factors = [_ratio(text, what) for text in ratios]
    shown = " to ".join(ratios)
    return Factor(min(factors), max(factors), (f"{what}: {shown}",), (source.strip(),))


def _ratio(text: str, what: str) -> Fraction:
    left, sep, right = str(text).partition(":")
    try:
        source_amount, target_amount = Fraction(left.strip()), Fraction(right.strip())
    except ValueError:
        raise _error(what, f"ratio {text!r} is not written as a:b") from None
    if not sep or source_amount <= 0 or target_amount <= 0:
        raise _error(what, f"ratio {text!r} is not written as a:b with positive numbers")
    return target_amount / source_amount


def _error(where: str, problem: str) -> InputError:
    return InputError(f"conversions.toml: {where}", where, problem, "correct the conversion data file")
