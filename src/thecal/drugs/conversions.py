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
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from thecal.errors import InputError, schema_error

ROUTE_WORDS = {"oral": "oral", "iv": "intravenous", "epidural": "epidural", "intrathecal": "intrathecal"}
FILE = "conversions.toml"
FIX = "correct the conversion data file"
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
    text = resources.files("thecal.drugs.data").joinpath(FILE).read_text(encoding="utf-8")
    return parse_conversions(tomllib.loads(text), FILE)


def parse_conversions(data: dict[str, Any], origin: str) -> ConversionTable:
    """Build the conversion table from the contents of its data file, refusing anything incomplete."""
    try:
        table = ConversionFile.model_validate(data)
    except ValidationError as exc:
        raise schema_error(origin, exc, FIX, ConversionFile) from None
    routes = tuple(table.routes)
    steps: dict[tuple[str, str], Factor] = {}
    for entry in table.morphine_route:
        if entry.source_route not in routes or entry.target_route not in routes:
            raise _error(origin, f"morphine_route {entry.source_route} to {entry.target_route}", "unknown route")
        if routes.index(entry.target_route) != routes.index(entry.source_route) + 1:
            raise _error(
                origin, f"morphine_route {entry.source_route} to {entry.target_route}", "must join neighbouring routes"
            )
        what = f"morphine {ROUTE_WORDS[entry.source_route]} to {ROUTE_WORDS[entry.target_route]}"
        steps[(entry.source_route, entry.target_route)] = entry.factor(what)
    if len(steps) != len(routes) - 1:
        raise _error(origin, "morphine_route", "every neighbouring pair of routes needs a ratio")
    observed = table.observed_oral_to_intrathecal.factor("morphine oral to intrathecal, as observed in patients")
    drugs: dict[tuple[str, str], Factor] = {}
    for ratio in table.drug_ratio:
        drug = ratio.drug.lower()
        if ratio.route not in routes:
            raise _error(origin, f"drug_ratio {drug}", f"unknown route {ratio.route}")
        drugs[(drug, ratio.route)] = ratio.factor(f"{drug} to morphine, {ROUTE_WORDS[ratio.route]}")
    return ConversionTable(routes, steps, observed, drugs)


def ratio(text: str) -> Fraction:
    """A ratio "a:b" (a of one dose is as strong as b of the other) as the multiplier b/a."""
    left, sep, right = text.partition(":")
    try:
        source_amount, target_amount = Fraction(left.strip()), Fraction(right.strip())
    except ValueError:
        source_amount = target_amount = Fraction(0)
    if not sep or source_amount <= 0 or target_amount <= 0:
        raise InputError("", text, "a ratio is written as a:b with positive numbers", 'write it like "3:1"')
    return target_amount / source_amount


def _checked(text: str) -> str:
    ratio(text)
    return text


# Ratios stay text as written ("2:1"), because people are shown them as written.
RatioText = Annotated[str, AfterValidator(_checked)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Table(BaseModel):
    """A table of the conversion file: no unknown names, no silent conversion of one type into another."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)


class Ratios(Table):
    """A range of ratios and the sources that give them."""

    ratios: Annotated[list[RatioText], Field(min_length=1)]
    source: Text

    def factor(self, what: str) -> Factor:
        """The range these ratios span, with the ratios and the source behind it."""
        values = [ratio(text) for text in self.ratios]
        return Factor(min(values), max(values), (f"{what}: {' to '.join(self.ratios)}",), (self.source,))


class RouteStep(Ratios):
    """Morphine from one route to the next stronger one."""

    source_route: str = Field(alias="from")
    target_route: str = Field(alias="to")


class DrugRatio(Ratios):
    """Another opioid against morphine on one route."""

    drug: Text
    route: str


class ConversionFile(Table):
    """The conversion data file, as written."""

    routes: Annotated[list[str], Field(min_length=2)]
    morphine_route: list[RouteStep]
    observed_oral_to_intrathecal: Ratios
    drug_ratio: list[DrugRatio]


def _error(origin: str, where: str, problem: str) -> InputError:
    return InputError(f"{origin}: {where}", where, problem, FIX)
