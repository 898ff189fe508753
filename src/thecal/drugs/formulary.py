"""The pump's formulary: the hard tier of every drug of the library, as the firmware enforces it.

The pump is built with the drugs it may be filled with; at a fill it copies
each drug's rule into the reservoir's label and from then on refuses any
setting beyond it, whichever programmer sent it. Only hard limits travel to
the pump: soft limits need a physician's reason, which only the therapy layer
can take.
"""

from __future__ import annotations

from functools import cache

from thecal.drugs.loader import drug_names, get_drug
from thecal.drugs.model import Drug
from thecal.pump.core.label import DrugRule, Formulary


def drug_rule(drug: Drug) -> DrugRule:
    """The hard limits of one drug of the library, as the pump holds them."""
    demand = drug.limit("max_demand_bolus")
    demand_allowed = drug.demand_bolus_allowed and demand is not None
    return DrugRule(
        drug=drug.name,
        opioid=drug.opioid,
        max_concentration_ng_per_ml=drug.max_concentration.hard,
        max_daily_dose_ng_per_day=drug.max_daily_dose.hard,
        max_bolus_ng=drug.require_limit("max_trial_bolus").hard,
        demand_allowed=demand_allowed,
        max_demand_dose_ng=demand.hard if demand_allowed and demand is not None else 0,
        partners=tuple(drug.admixture_partners),
    )


@cache
def pump_formulary() -> Formulary:
    """Every drug of the library with its hard limits, for building a pump."""
    return Formulary(drug_rule(get_drug(name)) for name in drug_names())
