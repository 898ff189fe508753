"""Dose calculators for the clinic: each returns integer values in base units, its reasoning and a verdict.

Also on the command line as `thecal calc …`. Pump figures (reservoir, accuracy,
internal volume, flows, the refill flag threshold) come from a pump model
(`thecal.pump.model.PumpModel`, read from its model file with sources), passed
as `pump=`; the calculators keep no copy of their own.

The names below are imported from their modules when first used, not with the
package, so that a command loads only the modules it uses.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from thecal.clinical.bolus import BridgeResult, CatheterSegment, PrimingResult, bridge_bolus, priming_bolus
    from thecal.clinical.convert import ConversionResult, Estimate, convert_opioid
    from thecal.clinical.demand import DemandResult, demand_worst_case
    from thecal.clinical.flow import ComponentDose, FlowResult, dose_for_flow, flow_for_dose
    from thecal.clinical.pump import model_with_reservoir
    from thecal.clinical.refill import Reconciliation, RefillDate, RefillPlan, plan_refill, reconcile_refill
    from thecal.clinical.result import Reasoning, Result
    from thecal.clinical.titrate import PlanStep, TitrationPlan, titration_plan
    from thecal.clinical.trial import TrialResult, trial_dose

# Each public name, by the module of this package that defines it.
_HOME = {
    "BridgeResult": "bolus",
    "CatheterSegment": "bolus",
    "PrimingResult": "bolus",
    "bridge_bolus": "bolus",
    "priming_bolus": "bolus",
    "ConversionResult": "convert",
    "Estimate": "convert",
    "convert_opioid": "convert",
    "DemandResult": "demand",
    "demand_worst_case": "demand",
    "ComponentDose": "flow",
    "FlowResult": "flow",
    "dose_for_flow": "flow",
    "flow_for_dose": "flow",
    "model_with_reservoir": "pump",
    "Reconciliation": "refill",
    "RefillDate": "refill",
    "RefillPlan": "refill",
    "plan_refill": "refill",
    "reconcile_refill": "refill",
    "Reasoning": "result",
    "Result": "result",
    "PlanStep": "titrate",
    "TitrationPlan": "titrate",
    "titration_plan": "titrate",
    "TrialResult": "trial",
    "trial_dose": "trial",
}


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


__all__ = [
    "BridgeResult",
    "CatheterSegment",
    "ComponentDose",
    "ConversionResult",
    "DemandResult",
    "Estimate",
    "FlowResult",
    "PlanStep",
    "PrimingResult",
    "Reasoning",
    "Reconciliation",
    "RefillDate",
    "RefillPlan",
    "Result",
    "TitrationPlan",
    "TrialResult",
    "bridge_bolus",
    "convert_opioid",
    "demand_worst_case",
    "dose_for_flow",
    "flow_for_dose",
    "model_with_reservoir",
    "plan_refill",
    "priming_bolus",
    "reconcile_refill",
    "titration_plan",
    "trial_dose",
]
