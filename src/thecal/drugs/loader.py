"""Reads the drug data files into `Drug` values and refuses any file that breaks the library's rules.

A data file that is wrong is a safety problem, so the loader is strict: every
required limit must be present, every figure must carry its source, a soft tier
may never be looser than its hard tier, and quantities must carry units of the
right kind. Files are read once and cached.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any

from thecal.drugs.model import (
    DEMAND_LIMITS,
    LIMIT_SPECS,
    Direction,
    DoseRange,
    Drug,
    Limit,
    LimitSpec,
    Measure,
)
from thecal.errors import InputError
from thecal.units import BP_PER_ONE, CONCENTRATION, DOSE_RATE, DURATION, MASS, Kind, parse_typed_int, percent_bp

DATA_PACKAGE = "thecal.drugs.data"
CONVERSIONS_FILE = "conversions.toml"
MASS_UNITS = ("mg", "mcg")

_KINDS = {
    Measure.DOSE_RATE: DOSE_RATE,
    Measure.CONCENTRATION: CONCENTRATION,
    Measure.MASS: MASS,
    Measure.DURATION: DURATION,
}


def get_drug(name: str) -> Drug:
    """The drug of the library with this name or alias, in any letter case."""
    library = _library()
    key = name.strip().lower() if isinstance(name, str) else ""
    for drug in library.values():
        if key == drug.name or key in drug.aliases:
            return drug
    raise InputError(
        "drug",
        name,
        "not in the drug library",
        f"choose one of: {', '.join(drug_names())}",
    )


def drug_names() -> list[str]:
    """The names of all drugs in the library, sorted."""
    return sorted(_library())


def parse_drug(data: dict[str, Any], origin: str) -> Drug:
    """Build a Drug from the contents of one data file, refusing anything incomplete or inconsistent."""
    where = origin
    name = _text(data, "name", where).lower()
    mass_unit = _text(data, "mass_unit", where)
    if mass_unit not in MASS_UNITS:
        raise _file_error(where, "mass_unit", mass_unit, f"must be one of {', '.join(MASS_UNITS)}")
    opioid = _flag(data, "opioid", where)
    approval = _table(data, "approval", where)
    naive = _table(data, "opioid_naive", where)
    demand = _table(data, "demand_bolus", where)
    concentrations = _table(data, "concentrations", where)
    admixture = _table(data, "admixture", where)
    doses = _table(data, "doses", where)
    limits = _limits(_table(data, "limits", where), f"{where} [limits]")
    demand_allowed = _flag(demand, "allowed", f"{where} [demand_bolus]")
    naive_allowed = _flag(naive, "allowed", f"{where} [opioid_naive]")
    _require_limits(limits, opioid=opioid, naive_allowed=naive_allowed, demand_allowed=demand_allowed, where=where)
    available = tuple(
        parse_typed_int(text, CONCENTRATION, f"{where} concentrations")
        for text in _list(concentrations, "available", where)
    )
    if not available or any(value <= 0 for value in available):
        raise _file_error(where, "concentrations.available", available, "must list at least one positive strength")
    drug = Drug(
        name=name,
        description=_text(data, "description", where),
        aliases=tuple(alias.lower() for alias in _list(data, "aliases", where)),
        mass_unit=mass_unit,
        opioid=opioid,
        approved_for_pump=_flag(approval, "approved_for_pump", f"{where} [approval]"),
        approved_source=_text(approval, "source", f"{where} [approval]"),
        allowed_opioid_naive=naive_allowed if opioid else True,
        opioid_naive_source=_text(naive, "source", f"{where} [opioid_naive]"),
        demand_bolus_allowed=demand_allowed,
        demand_bolus_source=_text(demand, "source", f"{where} [demand_bolus]"),
        concentrations_ng_per_ml=tuple(sorted(available)),
        concentrations_source=_text(concentrations, "source", f"{where} [concentrations]"),
        start_dose=_range(doses, "start", DOSE_RATE, where),
        usual_dose=_range(doses, "usual", DOSE_RATE, where),
        trial_bolus=_range(doses, "trial_bolus", MASS, where),
        limits=limits,
        admixture_partners=tuple(p.lower() for p in _list(admixture, "partners", where)),
        admixture_source=_text(admixture, "source", f"{where} [admixture]"),
        notes=tuple(_list(data, "notes", where)),
    )
    for available_strength in drug.concentrations_ng_per_ml:
        if drug.max_concentration.hard_exceeded(available_strength):
            raise _file_error(
                where, "concentrations.available", available_strength, "a listed strength is above the hard limit"
            )
    return drug


@lru_cache(maxsize=1)
def _library() -> dict[str, Drug]:
    drugs: dict[str, Drug] = {}
    for entry in sorted(resources.files(DATA_PACKAGE).iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml") or entry.name == CONVERSIONS_FILE:
            continue
        drug = parse_drug(tomllib.loads(entry.read_text(encoding="utf-8")), entry.name)
        if drug.name in drugs:
            raise _file_error(entry.name, "name", drug.name, "two data files describe the same drug")
        drugs[drug.name] = drug
    for drug in drugs.values():
        for partner in drug.admixture_partners:
            if partner not in drugs or drug.name not in drugs[partner].admixture_partners:
                raise _file_error(
                    drug.name, "admixture.partners", partner, "a partner must be in the library and list this drug too"
                )
    return drugs


def _limits(table: dict[str, Any], where: str) -> dict[str, Limit]:
    limits: dict[str, Limit] = {}
    for key, entry in table.items():
        spec = LIMIT_SPECS.get(key)
        if spec is None:
            raise _file_error(where, key, key, f"unknown limit; known limits: {', '.join(LIMIT_SPECS)}")
        limits[key] = _limit(spec, entry, f"{where}.{key}")
    return limits


def _limit(spec: LimitSpec, entry: dict[str, Any], where: str) -> Limit:
    soft = _quantity(spec.measure, entry.get("soft"), f"{where}.soft")
    hard = _quantity(spec.measure, entry.get("hard"), f"{where}.hard")
    # The soft tier warns before the hard tier refuses; a soft tier beyond the hard one would never be seen.
    looser = soft > hard if spec.direction is Direction.MAX else soft < hard
    if looser:
        raise _file_error(
            where, "soft", entry.get("soft"), f"the soft tier is beyond the hard tier {entry.get('hard')}"
        )
    if spec.key == "max_step_down" and hard > BP_PER_ONE:
        raise _file_error(where, "hard", entry.get("hard"), "a decrease cannot be more than 100 %")
    return Limit(
        spec=spec,
        soft=soft,
        hard=hard,
        soft_source=_text(entry, "soft_source", where),
        hard_source=_text(entry, "hard_source", where),
        why=_text(entry, "why", where),
    )


def _quantity(measure: Measure, value: object, where: str) -> int:
    if measure is Measure.COUNT:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise _file_error(where, "value", value, "must be a whole number of zero or more")
        return value
    if measure is Measure.PERCENT:
        return percent_bp(value, where)
    return parse_typed_int(value, _KINDS[measure], where)


def _require_limits(
    limits: dict[str, Limit], *, opioid: bool, naive_allowed: bool, demand_allowed: bool, where: str
) -> None:
    required = [key for key, spec in LIMIT_SPECS.items() if spec.required]
    if opioid and naive_allowed:
        required.append("max_daily_dose_opioid_naive")
    if demand_allowed:
        required.extend(DEMAND_LIMITS)
    missing = [key for key in required if key not in limits]
    if "max_step_up" not in limits and "max_step_up_amount" not in limits:
        missing.append("max_step_up or max_step_up_amount")
    if missing:
        raise _file_error(where, "limits", ", ".join(missing), "required limits are missing")


def _range(table: dict[str, Any], key: str, kind: Kind, where: str) -> DoseRange:
    entry = _table(table, key, f"{where} [doses]")
    low = parse_typed_int(entry.get("low"), kind, f"{where} doses.{key}.low")
    high = parse_typed_int(entry.get("high"), kind, f"{where} doses.{key}.high")
    if low > high:
        raise _file_error(where, f"doses.{key}", entry, "low is above high")
    return DoseRange(low, high, _text(entry, "source", f"{where} doses.{key}"))


def _table(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise _file_error(where, key, value, "a table is required here")
    return value


def _list(data: dict[str, Any], key: str, where: str) -> list[str]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _file_error(where, key, value, "a list of text is required here")
    return value


def _text(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _file_error(where, key, value, "text is required here (every figure carries its source)")
    return value.strip()


def _flag(data: dict[str, Any], key: str, where: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise _file_error(where, key, value, "true or false is required here")
    return value


def _file_error(where: str, key: str, value: object, problem: str) -> InputError:
    return InputError(f"{where}: {key}", value, problem, "correct the drug data file")
