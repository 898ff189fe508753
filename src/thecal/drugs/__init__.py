"""The drug library (a dose error reduction system): drugs as data files with sources, and safety checks.

Every limit has two tiers. A soft limit may be passed by a physician with a
written reason, which the verdict keeps for the audit log; a hard limit cannot
be passed by any path. Checks stack and only tighten, and every finding says
why in plain words.
"""

from thecal.drugs.checks import (
    check_concentration,
    check_daily_dose,
    check_demand_bolus,
    check_fill_matches_program,
    check_refill_interval,
    check_start_dose,
    check_titration_step,
    check_trial_bolus,
    demand_presses_per_day,
    refill_interval_limit,
)
from thecal.drugs.fill import Admixture, Component, Fill
from thecal.drugs.formulary import pump_formulary
from thecal.drugs.loader import drug_names, get_drug
from thecal.drugs.model import Direction, DoseRange, Drug, Limit, Measure
from thecal.drugs.verdict import PHYSICIAN, Finding, Override, Tier, Verdict

__all__ = [
    "PHYSICIAN",
    "Admixture",
    "Component",
    "Direction",
    "DoseRange",
    "Drug",
    "Fill",
    "Finding",
    "Limit",
    "Measure",
    "Override",
    "Tier",
    "Verdict",
    "check_concentration",
    "check_daily_dose",
    "check_demand_bolus",
    "check_fill_matches_program",
    "check_refill_interval",
    "check_start_dose",
    "check_titration_step",
    "check_trial_bolus",
    "demand_presses_per_day",
    "drug_names",
    "get_drug",
    "pump_formulary",
    "refill_interval_limit",
]
