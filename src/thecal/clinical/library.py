"""The drug library shown to people: every drug at a glance, or one drug's figures with their sources."""

from __future__ import annotations

import json

from thecal.clinical.result import limit_line
from thecal.drugs.loader import drug_names, get_drug
from thecal.drugs.model import Drug


def library_text(name: str | None = None) -> str:
    """The whole library in one table, or one drug in full when a name is given."""
    if name is not None:
        return _drug_text(get_drug(name))
    lines = ["Drug library", ""]
    for drug in map(get_drug, drug_names()):
        limit = drug.max_daily_dose
        strengths = ", ".join(drug.concentration_text(c) for c in drug.concentrations_ng_per_ml)
        lines.append(
            f"  {drug.name:<14} {'approved' if drug.approved_for_pump else 'off-label':<9}  "
            f"max {drug.dose_text(limit.soft)} (hard {drug.dose_text(limit.hard)}); strengths {strengths}; "
            f"refill within {drug.max_refill_interval_days} days"
        )
    lines += ["", "Show one drug with: thecal calc library DRUG"]
    return "\n".join(lines)


def library_json(name: str | None = None) -> str:
    """The whole library, or one drug, as stable JSON."""
    drugs = [get_drug(name)] if name is not None else [get_drug(n) for n in drug_names()]
    data = [_drug_dict(d) for d in drugs]
    return json.dumps(data[0] if name is not None else data, indent=2, sort_keys=True, ensure_ascii=False)


def _drug_text(drug: Drug) -> str:
    lines = [
        f"{drug.name}: {drug.description}",
        "",
        f"  approved for the pump: {'yes' if drug.approved_for_pump else 'no'} ({drug.approved_source})",
        f"  opioid: {'yes' if drug.opioid else 'no'}",
        f"  for opioid-naïve patients: {'yes' if drug.allowed_opioid_naive else 'no'} ({drug.opioid_naive_source})",
        f"  demand boluses: {'yes' if drug.demand_bolus_allowed else 'no'} ({drug.demand_bolus_source})",
        "  strengths: "
        + ", ".join(drug.concentration_text(c) for c in drug.concentrations_ng_per_ml)
        + f" ({drug.concentrations_source})",
        f"  admixture with: {', '.join(drug.admixture_partners) or 'nothing'} ({drug.admixture_source})",
        "",
        "Dose ranges",
        f"  start: {drug.dose_text(drug.start_dose.low)} to {drug.dose_text(drug.start_dose.high)} "
        f"({drug.start_dose.source})",
        f"  usual: {drug.dose_text(drug.usual_dose.low)} to {drug.dose_text(drug.usual_dose.high)} "
        f"({drug.usual_dose.source})",
        f"  trial bolus: {drug.mass_text(drug.trial_bolus.low)} to {drug.mass_text(drug.trial_bolus.high)} "
        f"({drug.trial_bolus.source})",
        "",
        "Limits (soft: a physician may pass with a written reason; hard: never)",
    ]
    lines += [f"  - {limit_line(drug, limit)}" for limit in drug.limits.values()]
    if drug.notes:
        lines += ["", "Notes"] + [f"  - {note}" for note in drug.notes]
    return "\n".join(lines)


def _drug_dict(drug: Drug) -> dict[str, object]:
    return {
        "name": drug.name,
        "description": drug.description,
        "approved_for_pump": drug.approved_for_pump,
        "opioid": drug.opioid,
        "allowed_opioid_naive": drug.allowed_opioid_naive,
        "demand_bolus_allowed": drug.demand_bolus_allowed,
        "concentrations_ng_per_ml": list(drug.concentrations_ng_per_ml),
        "max_refill_interval_days": drug.max_refill_interval_days,
        "admixture_partners": list(drug.admixture_partners),
        "doses": {
            key: {"low": r.low, "high": r.high, "source": r.source}
            for key, r in (
                ("start_ng_per_day", drug.start_dose),
                ("usual_ng_per_day", drug.usual_dose),
                ("trial_bolus_ng", drug.trial_bolus),
            )
        },
        "limits": {
            key: {
                "unit": limit.spec.measure.value,
                "direction": limit.spec.direction.value,
                "soft": limit.soft,
                "hard": limit.hard,
                "soft_source": limit.soft_source,
                "hard_source": limit.hard_source,
                "why": limit.why,
            }
            for key, limit in drug.limits.items()
        },
        "notes": list(drug.notes),
    }
