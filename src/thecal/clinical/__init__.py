"""Dose calculators for the clinic: each returns integer values in base units, its reasoning and a verdict.

Also on the command line as `thecal calc …`. Pump figures (reservoir, accuracy,
internal volume, flows, the refill flag threshold) come from a pump model
(`thecal.pump.model.PumpModel`, read from its model file with sources), passed
as `pump=`; the calculators keep no copy of their own.
"""

from thecal.clinical.bolus import BridgeResult, CatheterSegment, PrimingResult, bridge_bolus, priming_bolus
from thecal.clinical.convert import ConversionResult, Estimate, convert_opioid
from thecal.clinical.demand import DemandResult, demand_worst_case
from thecal.clinical.flow import ComponentDose, FlowResult, dose_for_flow, flow_for_dose
from thecal.clinical.pump import model_with_reservoir
from thecal.clinical.refill import Reconciliation, RefillDate, RefillPlan, plan_refill, reconcile_refill
from thecal.clinical.result import Reasoning, Result
from thecal.clinical.titrate import PlanStep, TitrationPlan, titration_plan
from thecal.clinical.trial import TrialResult, trial_dose

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
