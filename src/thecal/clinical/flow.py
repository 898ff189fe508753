"""Dose to flow and flow to dose, for one drug or for every drug of an admixture.

flow = daily dose ÷ concentration, and dose = flow × concentration. In an
admixture one flow carries all drugs, so the flow set for the first drug's dose
fixes every other drug's dose; each is checked against its own limits.
"""

from __future__ import annotations

from dataclasses import dataclass

from thecal.clinical.pump import flow_findings, flow_range_line, flow_text
from thecal.clinical.result import Reasoning, Result, limit_line
from thecal.drugs.dosing import exact_flow
from thecal.drugs.fill import Fill
from thecal.drugs.model import Drug
from thecal.drugs.verdict import Override, Verdict
from thecal.pump.model import PumpModel
from thecal.units import format_exact

FLOW_FORMULA = "flow = daily dose ÷ concentration; each drug of the fill gets flow × its concentration"
DOSE_FORMULA = "daily dose = flow × concentration, for each drug of the fill"
FLOW_ROUNDING = "flow rounded down to a whole nL/day, so the pump never gives more than prescribed"
DOSE_ROUNDING = "doses rounded up to a whole ng/day, so a limit check never sees less than is given"


@dataclass(frozen=True)
class ComponentDose:
    """The daily dose one drug of a fill gets at a flow."""

    drug: Drug
    concentration_ng_per_ml: int
    dose_ng_per_day: int


@dataclass(frozen=True, kw_only=True)
class FlowResult(Result):
    """A flow and the daily dose of every drug of the fill at that flow."""

    CALCULATOR = "flow"

    fill: str
    flow_nl_per_day: int
    doses: tuple[ComponentDose, ...]


def flow_for_dose(
    fill: Fill,
    dose_ng_per_day: int,
    *,
    drug: Drug | str | None = None,
    opioid_naive: bool = False,
    override: Override | None = None,
    pump: PumpModel,
    typed: str | None = None,
) -> FlowResult:
    """The flow that gives one drug of the fill (the first by default) its daily dose, with every dose checked."""
    # `typed` is the dose as the person typed it, shown beside the normalised dose so that
    # "1 mg/h" read as 24 mg/day is plain to see.
    component = fill.lead if drug is None else fill.component(drug)
    flow = fill.flow_for_dose(dose_ng_per_day, component.drug)
    exact = exact_flow(dose_ng_per_day, component.concentration_ng_per_ml)
    steps = [
        f"{component.drug.dose_text(dose_ng_per_day)} ÷ "
        f"{component.drug.concentration_text(component.concentration_ng_per_ml)} = "
        f"{format_exact(exact, 1_000_000, 'mL/day', decimals=9)}",
    ]
    if exact != flow:
        steps.append(f"{FLOW_ROUNDING}: {flow_text(flow)}")
    inputs = (
        ("fill", fill.text()),
        (f"daily dose of {component.drug.name}", _as_typed(component.drug.dose_text(dose_ng_per_day), typed)),
        ("patient", _patient(opioid_naive)),
    )
    return _build(
        fill,
        flow,
        inputs,
        FLOW_FORMULA,
        steps,
        opioid_naive,
        override,
        pump,
        f"Flow for {component.drug.name} {component.drug.dose_text(dose_ng_per_day)}",
    )


def dose_for_flow(
    fill: Fill,
    flow_nl_per_day: int,
    *,
    opioid_naive: bool = False,
    override: Override | None = None,
    pump: PumpModel,
    typed: str | None = None,
) -> FlowResult:
    """The daily dose of every drug of the fill at a flow, with every dose checked; `typed` as for flow_for_dose."""
    inputs = (
        ("fill", fill.text()),
        ("flow", _as_typed(flow_text(flow_nl_per_day), typed)),
        ("patient", _patient(opioid_naive)),
    )
    return _build(
        fill,
        flow_nl_per_day,
        inputs,
        DOSE_FORMULA,
        [DOSE_ROUNDING],
        opioid_naive,
        override,
        pump,
        f"Daily dose at {flow_text(flow_nl_per_day)}",
    )


def _build(
    fill: Fill,
    flow: int,
    inputs: tuple[tuple[str, str], ...],
    formula: str,
    steps: list[str],
    opioid_naive: bool,
    override: Override | None,
    pump: PumpModel,
    title: str,
) -> FlowResult:
    doses = tuple(
        ComponentDose(component.drug, component.concentration_ng_per_ml, dose)
        for component, dose in fill.doses_at_flow(flow)
    )
    for item in doses:
        steps.append(
            f"{item.drug.name}: {flow_text(flow)} × {item.drug.concentration_text(item.concentration_ng_per_ml)}"
            f" = {item.drug.dose_text(item.dose_ng_per_day)}"
        )
    checked = fill.check_flow(flow, opioid_naive=opioid_naive)
    verdict = Verdict.of(checked.findings + tuple(flow_findings(flow, pump)), override)
    summary = (
        ("flow", flow_text(flow)),
        *((f"{item.drug.name} daily dose", item.drug.dose_text(item.dose_ng_per_day)) for item in doses),
    )
    return FlowResult(
        title=title,
        summary=summary,
        reasoning=Reasoning(
            inputs=inputs,
            formula=formula,
            steps=tuple(steps),
            limits=_limits(fill, opioid_naive, pump),
            sources=_sources(fill),
            notes=_notes(fill),
        ),
        verdict=verdict,
        fill=fill.text(),
        flow_nl_per_day=flow,
        doses=doses,
    )


def _limits(fill: Fill, opioid_naive: bool, pump: PumpModel) -> tuple[str, ...]:
    lines: list[str] = []
    for component in fill.components:
        drug = component.drug
        lines.append(limit_line(drug, drug.max_daily_dose))
        if opioid_naive and drug.opioid and (naive := drug.limit("max_daily_dose_opioid_naive")) is not None:
            lines.append(limit_line(drug, naive))
        if opioid_naive and drug.opioid and not drug.allowed_opioid_naive:
            lines.append(f"{drug.name}: opioid-tolerant patients only ({drug.opioid_naive_source})")
        lines.append(limit_line(drug, drug.max_concentration))
    lines.append(flow_range_line(pump))
    return tuple(lines)


def _sources(fill: Fill) -> tuple[str, ...]:
    return tuple(
        dict.fromkeys(
            source
            for c in fill.components
            for source in (c.drug.approved_source, c.drug.max_daily_dose.soft_source, c.drug.max_daily_dose.hard_source)
        )
    )


def _notes(fill: Fill) -> tuple[str, ...]:
    notes = [
        f"{c.drug.name} is not approved for this pump (off-label)."
        for c in fill.components
        if not c.drug.approved_for_pump
    ]
    return tuple(notes)


def _patient(opioid_naive: bool) -> str:
    return "opioid-naïve" if opioid_naive else "opioid-tolerant"


def _as_typed(normalised: str, typed: str | None) -> str:
    if typed is None or typed.strip() == normalised:
        return normalised
    return f"{normalised} (typed as {typed.strip()!r})"
