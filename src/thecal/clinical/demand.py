"""Demand-bolus worst case: the most a patient can get in 24 h with every press of the handset used.

worst case = continuous daily dose + presses × bolus dose, where presses is the
smaller of the daily cap and what the lockout allows (a press at the very start
and one at the very end of a 24 h window both count). In an admixture, a bolus
is a volume, so every drug of the fill comes along in proportion.
"""

from __future__ import annotations

from dataclasses import dataclass

from thecal.clinical.pump import flow_findings, flow_text, volume_text
from thecal.clinical.result import Reasoning, Result, limit_line
from thecal.drugs.checks import check_demand_bolus, demand_presses_per_day
from thecal.drugs.dosing import dose_ng_per_day, mass_ng, volume_nl
from thecal.drugs.fill import Fill
from thecal.drugs.model import Drug, duration_text
from thecal.drugs.verdict import Override, Verdict
from thecal.errors import InputError
from thecal.pump.model import PumpModel
from thecal.units import MS_PER_DAY

FORMULA = (
    "presses in 24 h = the smaller of the daily cap and (24 h ÷ lockout, rounded down, + 1); "
    "worst case = continuous daily dose + presses × bolus dose, for every drug of the fill"
)


@dataclass(frozen=True)
class DemandWorstCase:
    """One drug's demand bolus and its 24 h worst case."""

    drug: Drug
    continuous_ng_per_day: int
    bolus_ng: int
    worst_case_ng_per_day: int


@dataclass(frozen=True, kw_only=True)
class DemandResult(Result):
    """The 24 h worst case of a demand-bolus setting, per drug of the fill, and the volume it uses."""

    CALCULATOR = "demand-max"

    presses_per_day: int
    bolus_volume_nl: int
    worst_case_volume_per_day_nl: int
    drugs: tuple[DemandWorstCase, ...]


def demand_worst_case(
    fill: Fill,
    *,
    continuous_ng_per_day: int,
    bolus_ng: int,
    lockout_ms: int,
    max_per_day: int,
    opioid_naive: bool = False,
    override: Override | None = None,
    pump: PumpModel,
) -> DemandResult:
    """The most the patient can get in 24 h with every demand bolus used, checked for every drug of the fill."""
    if lockout_ms <= 0:
        raise InputError("lockout", lockout_ms, "must be above zero", 'enter the lockout, like "2 h"')
    if max_per_day < 0 or bolus_ng < 0 or continuous_ng_per_day < 0:
        raise InputError("demand bolus", bolus_ng, "doses and counts cannot be negative", "enter the settings")
    lead = fill.lead
    flow = fill.flow_for_dose(continuous_ng_per_day)
    bolus_volume = volume_nl(bolus_ng, lead.concentration_ng_per_ml)
    presses = demand_presses_per_day(lockout_ms, max_per_day)
    verdict = fill.check().combine(Verdict(tuple(flow_findings(flow, pump))))
    drugs: list[DemandWorstCase] = []
    steps = [
        f"presses = smaller of {max_per_day} (daily cap) and 24 h ÷ {duration_text(lockout_ms)} + 1 = "
        f"{MS_PER_DAY // lockout_ms + 1} (lockout) = {presses}",
        f"bolus volume = {lead.drug.mass_text(bolus_ng)} ÷ "
        f"{lead.drug.concentration_text(lead.concentration_ng_per_ml)} = {volume_text(bolus_volume)}",
    ]
    for component in fill.components:
        drug = component.drug
        continuous = dose_ng_per_day(flow, component.concentration_ng_per_ml)
        bolus = bolus_ng if component is lead else mass_ng(bolus_volume, component.concentration_ng_per_ml)
        worst = continuous + presses * bolus
        drugs.append(DemandWorstCase(drug, continuous, bolus, worst))
        steps.append(
            f"{drug.name}: {drug.dose_text(continuous)} + {presses} × {drug.mass_text(bolus)} = {drug.dose_text(worst)}"
        )
        verdict = verdict.combine(
            check_demand_bolus(
                drug,
                bolus_ng=bolus,
                max_per_day=max_per_day,
                lockout_ms=lockout_ms,
                continuous_ng_per_day=continuous,
                opioid_naive=opioid_naive,
            )
        )
    worst_volume = flow + presses * bolus_volume
    return DemandResult(
        title=f"Demand-bolus worst case for {fill.text()}",
        summary=(
            ("presses possible in 24 h", f"{presses}"),
            *((f"{d.drug.name} worst case in 24 h", d.drug.dose_text(d.worst_case_ng_per_day)) for d in drugs),
            ("volume used in 24 h, worst case", flow_text(worst_volume)),
        ),
        reasoning=Reasoning(
            inputs=(
                ("fill", fill.text()),
                (f"continuous daily dose of {lead.drug.name}", lead.drug.dose_text(continuous_ng_per_day)),
                (f"demand bolus of {lead.drug.name}", lead.drug.mass_text(bolus_ng)),
                ("lockout", duration_text(lockout_ms)),
                ("demand boluses per 24 h, at most", f"{max_per_day}"),
                ("patient", "opioid-naïve" if opioid_naive else "opioid-tolerant"),
            ),
            formula=FORMULA,
            steps=tuple(steps),
            limits=tuple(_limit_lines(fill)),
            sources=tuple(dict.fromkeys(c.drug.demand_bolus_source for c in fill.components)),
            notes=(
                "Use the worst-case daily volume when planning the refill date, so the reservoir cannot "
                "run low early if every press is used.",
            ),
        ),
        verdict=Verdict.of(verdict.findings, override),
        presses_per_day=presses,
        bolus_volume_nl=bolus_volume,
        worst_case_volume_per_day_nl=worst_volume,
        drugs=tuple(drugs),
    )


def _limit_lines(fill: Fill) -> list[str]:
    lines: list[str] = []
    for component in fill.components:
        drug = component.drug
        if not drug.demand_bolus_allowed:
            lines.append(f"{drug.name}: no demand boluses ({drug.demand_bolus_source})")
            continue
        for key in ("max_demand_bolus", "max_demand_per_day", "min_demand_lockout", "max_daily_dose"):
            lines.append(limit_line(drug, drug.require_limit(key)))
    return lines
