"""Opioid conversions between routes (oral, IV, epidural, intrathecal) and drugs, always as ranges.

The way is: from the drug to morphine on the same route, then morphine along the
routes, then from morphine to the target drug. Each step is a range with its
sources; ranges multiply, so the answer shows how uncertain it is. Where
patients switched from oral to intrathecal morphine were observed, that wider
range is shown beside the textbook chain. Oral morphine equivalents (MME) are
always given too.
"""

from __future__ import annotations

from dataclasses import dataclass

from thecal.clinical.result import Reasoning, Result, limit_line
from thecal.drugs.conversions import IDENTITY, ROUTE_WORDS, Factor, conversion_table, normal_route
from thecal.drugs.dosing import ceil
from thecal.drugs.loader import get_drug
from thecal.drugs.model import Drug
from thecal.drugs.verdict import Verdict
from thecal.errors import InputError

MORPHINE = "morphine"
SYSTEMIC = ("oral", "iv")
NO_CONVERSION = ("same drug and route: no conversion",)
FORMULA = (
    "equivalent dose = dose × (drug to morphine, same route) × (morphine from route to route) × "
    "(morphine to the target drug); each factor is a range, and ranges multiply"
)
CAUTION = (
    "A conversion is an estimate, not a prescription: when moving to a stronger route start at or below the "
    "low end and titrate; watch for withdrawal when moving to a weaker route."
)


@dataclass(frozen=True)
class Estimate:
    """One range of equivalent daily doses, with the ratios and sources behind it."""

    basis: str
    low_ng_per_day: int
    high_ng_per_day: int
    steps: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class ConversionResult(Result):
    """Equivalent daily doses on another route or of another drug, as ranges."""

    CALCULATOR = "convert"

    dose_ng_per_day: int
    from_drug: str
    from_route: str
    to_drug: str
    to_route: str
    estimates: tuple[Estimate, ...]
    oral_morphine_equivalent: tuple[Estimate, ...]


def convert_opioid(
    dose_ng_per_day: int,
    *,
    from_drug: str,
    from_route: str,
    to_route: str,
    to_drug: str | None = None,
) -> ConversionResult:
    """The equivalent daily dose on another route and/or of another opioid, as ranges with their sources."""
    source = get_drug(from_drug)
    target = get_drug(to_drug) if to_drug is not None else source
    route_a = normal_route(from_route, "from route")
    route_b = normal_route(to_route, "to route")
    for drug, field in ((source, "from drug"), (target, "to drug")):
        if not drug.opioid:
            raise InputError(field, drug.name, "not an opioid; only opioids are converted", "choose an opioid")
    if dose_ng_per_day < 0:
        raise InputError("dose", dose_ng_per_day, "cannot be negative", "enter the daily dose")
    estimates = _estimates(dose_ng_per_day, source, route_a, target, route_b)
    mme = _estimates(dose_ng_per_day, source, route_a, get_drug(MORPHINE), "oral")
    start = f"{source.dose_text(dose_ng_per_day)} {ROUTE_WORDS[route_a]} {source.name}"
    morphine = get_drug(MORPHINE)
    summary = tuple((e.basis, _range_text(target, e)) for e in estimates) + tuple(
        (f"oral morphine equivalent, {e.basis}", _range_text(morphine, e)) for e in mme
    )
    return ConversionResult(
        title=f"{start} as {ROUTE_WORDS[route_b]} {target.name}",
        summary=summary,
        reasoning=Reasoning(
            inputs=(
                ("dose", source.dose_text(dose_ng_per_day)),
                ("from", f"{ROUTE_WORDS[route_a]} {source.name}"),
                ("to", f"{ROUTE_WORDS[route_b]} {target.name}"),
            ),
            formula=FORMULA,
            steps=tuple(step for e in estimates for step in (f"{e.basis}:", *e.steps)),
            limits=_context_limits(target, route_b),
            sources=tuple(dict.fromkeys(s for e in (*estimates, *mme) for s in e.sources)),
            notes=(CAUTION, *_context_notes(target, route_b, estimates)),
        ),
        verdict=Verdict(),
        dose_ng_per_day=dose_ng_per_day,
        from_drug=source.name,
        from_route=route_a,
        to_drug=target.name,
        to_route=route_b,
        estimates=estimates,
        oral_morphine_equivalent=mme,
    )


def _estimates(dose: int, source: Drug, route_a: str, target: Drug, route_b: str) -> tuple[Estimate, ...]:
    to_morphine = _drug_factor(source, route_a)
    from_morphine = IDENTITY
    if target.name != MORPHINE:
        from_morphine = _drug_factor(target, route_b).inverse(f"reversed: morphine to {target.name}")
    bases = [("textbook ratios", _route_chain(route_a, route_b))]
    observed = _observed(route_a, route_b)
    if observed is not None:
        bases.append(("as observed in patients", observed))
    estimates = []
    for basis, route_factor in bases:
        factor = to_morphine * route_factor * from_morphine
        low, high = factor.low * dose, factor.high * dose
        estimates.append(
            Estimate(
                basis=basis,
                low_ng_per_day=int(low),
                high_ng_per_day=ceil(high),
                steps=factor.steps or NO_CONVERSION,
                sources=factor.sources,
            )
        )
    return tuple(estimates)


def _drug_factor(drug: Drug, route: str) -> Factor:
    if drug.name == MORPHINE:
        return IDENTITY
    factor = conversion_table().drug_to_morphine.get((drug.name, route))
    if factor is None:
        known = sorted(r for d, r in conversion_table().drug_to_morphine if d == drug.name)
        raise InputError(
            "route",
            f"{ROUTE_WORDS[route]} {drug.name}",
            f"the conversion table has no published ratio for {drug.name} by this route",
            f"convert {drug.name} only by these routes: {', '.join(known) or 'none'}",
        )
    return factor


def _route_chain(route_a: str, route_b: str) -> Factor:
    table = conversion_table()
    routes = table.routes
    a, b = routes.index(route_a), routes.index(route_b)
    factor = IDENTITY
    for i in range(min(a, b), max(a, b)):
        step = table.morphine_steps[(routes[i], routes[i + 1])]
        factor = factor * step
    if a > b:
        return factor.inverse(f"reversed: morphine {ROUTE_WORDS[route_a]} to {ROUTE_WORDS[route_b]}")
    return factor


def _observed(route_a: str, route_b: str) -> Factor | None:
    """The observed oral-to-intrathecal range, joined to IV by the oral:IV ratio, when the way crosses it."""
    pair = {route_a, route_b}
    if "intrathecal" not in pair or not pair & set(SYSTEMIC):
        return None
    systemic = route_a if route_a in SYSTEMIC else route_b
    factor = _route_chain(systemic, "oral") * conversion_table().observed_oral_to_intrathecal
    if route_a == "intrathecal":
        return factor.inverse(f"reversed: morphine intrathecal to {ROUTE_WORDS[systemic]}")
    return factor


def _context_limits(target: Drug, route: str) -> tuple[str, ...]:
    if route != "intrathecal":
        return ()
    return (
        limit_line(target, target.require_limit("max_start_dose")),
        limit_line(target, target.max_daily_dose),
    )


def _context_notes(target: Drug, route: str, estimates: tuple[Estimate, ...]) -> tuple[str, ...]:
    if route != "intrathecal":
        return ()
    notes = [
        f"Recommended intrathecal starting dose of {target.name}: {target.dose_text(target.start_dose.low)} to "
        f"{target.dose_text(target.start_dose.high)} ({target.start_dose.source}), whatever the conversion gives."
    ]
    hard = target.max_daily_dose.hard
    if any(e.high_ng_per_day > hard for e in estimates):
        notes.append(
            f"Part of the range is above the hard daily limit for intrathecal {target.name} "
            f"({target.dose_text(hard)}); the library would refuse such a dose."
        )
    return tuple(notes)


def _range_text(drug: Drug, estimate: Estimate) -> str:
    low, high = estimate.low_ng_per_day, estimate.high_ng_per_day
    if low != high:
        return f"{drug.dose_text(low)} to {drug.dose_text(high)}"
    if estimate.steps == NO_CONVERSION:
        return drug.dose_text(low)
    return f"{drug.dose_text(low)} (one commonly cited ratio; practice varies widely, see the sources)"
