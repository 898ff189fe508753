"""Screening-trial doses: the single test bolus, or the starting dose of a continuous trial.

Before a pump is implanted, a trial shows whether intrathecal drug helps. A
bolus trial gives one test injection in the published range, starting at its
low end; a continuous trial runs an external pump at a starting dose. The
calculator gives the range, the dose it recommends, the volume to draw up at
the concentration in hand, and checks the dose against the drug's limits.
"""

from __future__ import annotations

from dataclasses import dataclass

from thecal.clinical.pump import flow_findings, flow_text, require_pump, volume_text
from thecal.clinical.result import Reasoning, Result, limit_line
from thecal.drugs.checks import check_concentration, check_start_dose, check_trial_bolus
from thecal.drugs.dosing import flow_nl_per_day, volume_nl
from thecal.drugs.loader import get_drug
from thecal.drugs.model import Drug
from thecal.drugs.verdict import Override, Verdict
from thecal.errors import InputError
from thecal.pump.model import PumpModel
from thecal.units import NL_PER_ML

BOLUS = "bolus"
CONTINUOUS = "continuous"
FLOW_CHECK = "the flow of a continuous trial is checked against the pump's flow range"
# Below about 0.1 mL a syringe cannot be read accurately (assumption); dilute instead.
SMALLEST_MEASURABLE_NL = NL_PER_ML // 10
OBSERVE_OPIOID = (
    "Watch the patient in a fully equipped setting for at least 24 h after each test dose: breathing may slow "
    "hours later (Infumorph PI)."
)


@dataclass(frozen=True, kw_only=True)
class TrialResult(Result):
    """A screening-trial dose: the range, the dose, and the volume or flow that gives it."""

    CALCULATOR = "trial"

    drug: Drug
    mode: str
    range_low: int
    range_high: int
    dose: int
    volume_nl: int | None
    flow_nl_per_day: int | None


def trial_dose(
    drug: Drug | str,
    *,
    mode: str = BOLUS,
    dose: int | None = None,
    concentration_ng_per_ml: int | None = None,
    opioid_naive: bool = False,
    override: Override | None = None,
    pump: PumpModel | None = None,
) -> TrialResult:
    """The screening-trial dose (ng for a bolus, ng/day for a continuous trial), checked, with its volume or flow."""
    drug = drug if isinstance(drug, Drug) else get_drug(drug)
    if mode not in (BOLUS, CONTINUOUS):
        raise InputError("trial mode", mode, f"must be {BOLUS!r} or {CONTINUOUS!r}", "choose the kind of trial")
    published = drug.trial_bolus if mode == BOLUS else drug.start_dose
    chosen = published.low if dose is None else dose
    show = drug.mass_text if mode == BOLUS else drug.dose_text
    limits: tuple[str, ...]
    if mode == BOLUS:
        verdict = check_trial_bolus(drug, chosen, opioid_naive=opioid_naive)
        limits = (limit_line(drug, drug.require_limit("max_trial_bolus")),)
    else:
        verdict = check_start_dose(drug, chosen, opioid_naive=opioid_naive)
        limits = (
            limit_line(drug, drug.require_limit("max_start_dose")),
            limit_line(drug, drug.max_daily_dose),
        )
    steps = [f"published range {show(published.low)} to {show(published.high)}; first dose at the low end"]
    notes = [OBSERVE_OPIOID] if drug.opioid else []
    volume = flow = None
    if concentration_ng_per_ml is not None:
        verdict = verdict.combine(check_concentration(drug, concentration_ng_per_ml))
        if mode == BOLUS:
            volume = volume_nl(chosen, concentration_ng_per_ml)
            steps.append(
                f"volume = {show(chosen)} ÷ {drug.concentration_text(concentration_ng_per_ml)} = {volume_text(volume)}"
            )
            if volume < SMALLEST_MEASURABLE_NL:
                notes.append(
                    f"{volume_text(volume)} is too small to draw up accurately: dilute to a weaker solution first."
                )
        else:
            flow = flow_nl_per_day(chosen, concentration_ng_per_ml)
            steps.append(
                f"flow = {show(chosen)} ÷ {drug.concentration_text(concentration_ng_per_ml)} = {flow_text(flow)}"
            )
            verdict = verdict.combine(Verdict(tuple(flow_findings(flow, require_pump(pump, FLOW_CHECK)))))
    summary = [
        ("published range", f"{show(published.low)} to {show(published.high)}"),
        ("trial dose", show(chosen)),
    ]
    if volume is not None:
        summary.append(("volume to draw up", volume_text(volume)))
    if flow is not None:
        summary.append(("flow", flow_text(flow)))
    return TrialResult(
        title=f"{'Bolus' if mode == BOLUS else 'Continuous'} screening trial of {drug.name}",
        summary=tuple(summary),
        reasoning=Reasoning(
            inputs=(
                ("drug", drug.name),
                ("trial", mode),
                ("dose", "low end of the range" if dose is None else show(dose)),
                (
                    "concentration",
                    "not given"
                    if concentration_ng_per_ml is None
                    else drug.concentration_text(concentration_ng_per_ml),
                ),
                ("patient", "opioid-naïve" if opioid_naive else "opioid-tolerant"),
            ),
            formula="volume = dose ÷ concentration (bolus); flow = daily dose ÷ concentration (continuous)",
            steps=tuple(steps),
            limits=limits,
            sources=(published.source,),
            notes=tuple(notes),
        ),
        verdict=Verdict.of(verdict.findings, override),
        drug=drug,
        mode=mode,
        range_low=published.low,
        range_high=published.high,
        dose=chosen,
        volume_nl=volume,
        flow_nl_per_day=flow,
    )
