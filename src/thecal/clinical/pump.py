"""The pump facts the calculators need, as explicit values with documented defaults.

The calculators take these as arguments so they can be wired to the pump-model
files later; the defaults are the figures of DESIGN.md for the 20 mL and 40 mL
programmable pumps. Figures marked "assumption" were not published and stay
named here so they can be reviewed in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from thecal.drugs.limits import rule_finding
from thecal.drugs.verdict import Finding
from thecal.errors import InputError
from thecal.units import NL_PER_ML, format_exact

DESIGN = "DESIGN.md, programmable pump"


@dataclass(frozen=True)
class PumpFacts:
    """The figures of one pump model that dose arithmetic depends on."""

    reservoir_nl: int = 20 * NL_PER_ML  # Medtronic HCP spec: 20 mL or 40 mL reservoir
    accuracy_bp: int = 1450  # TGA notice 2014: labeled accuracy +/-14.5 % of the programmed rate
    internal_volume_nl: int = 220_000  # assumption: pump tubing from reservoir to catheter port, 0.22 mL
    low_reservoir_alarm_nl: int = 2 * NL_PER_ML  # manufacturer default low-reservoir alarm, 2 mL
    min_flow_nl_per_day: int = 48_000  # Medtronic spec; Prialt site: minimum flow 0.048 mL/day
    max_flow_nl_per_day: int = 24 * NL_PER_ML  # assumption: not published, 24 mL/day
    bolus_rate_nl_per_day: int = 24 * NL_PER_ML  # assumption: priming and bridge ceiling, 1 mL/h

    def with_reservoir(self, reservoir_nl: int) -> PumpFacts:
        """The same pump facts with another reservoir size."""
        return replace(self, reservoir_nl=reservoir_nl)


PUMP_20 = PumpFacts()
PUMP_40 = PumpFacts(reservoir_nl=40 * NL_PER_ML)

# DESIGN.md (pocket-fill defence): flag aspirated-vs-expected differences over
# 1 mL for a 20 mL pump and over 2 mL for a 40 mL pump.
REFILL_FLAG_NL = {20 * NL_PER_ML: 1 * NL_PER_ML, 40 * NL_PER_ML: 2 * NL_PER_ML}


def volume_text(nl: int) -> str:
    """A volume for people, in mL without float rounding."""
    return format_exact(nl, NL_PER_ML, "mL")


def flow_text(nl_per_day: int) -> str:
    """A flow for people, in mL/day without float rounding."""
    return format_exact(nl_per_day, NL_PER_ML, "mL/day")


def refill_flag_nl(reservoir_nl: int) -> int:
    """The aspirated-vs-expected difference above which a refill is flagged, for a reservoir size."""
    try:
        return REFILL_FLAG_NL[reservoir_nl]
    except KeyError:
        raise InputError(
            "reservoir",
            volume_text(reservoir_nl),
            "no refill discrepancy threshold is published for this reservoir size (known: 20 mL, 40 mL)",
            "give the flag threshold for this pump model explicitly",
        ) from None


def flow_findings(flow_nl_per_day: int, pump: PumpFacts) -> list[Finding]:
    """Hard findings for a continuous flow the pump cannot deliver."""
    if flow_nl_per_day == 0:
        return []
    if flow_nl_per_day < pump.min_flow_nl_per_day:
        return [
            rule_finding(
                "flow",
                flow_text(flow_nl_per_day),
                f"at least {flow_text(pump.min_flow_nl_per_day)}",
                f"The flow {flow_text(flow_nl_per_day)} is below the slowest the pump can run "
                f"({flow_text(pump.min_flow_nl_per_day)}), so the pump cannot give this dose.",
                "use a weaker concentration so that the flow rises to the pump's range",
                "Medtronic specification: minimum flow 0.048 mL/day",
            )
        ]
    if flow_nl_per_day > pump.max_flow_nl_per_day:
        return [
            rule_finding(
                "flow",
                flow_text(flow_nl_per_day),
                f"at most {flow_text(pump.max_flow_nl_per_day)}",
                f"The flow {flow_text(flow_nl_per_day)} is above the fastest continuous flow of the pump "
                f"({flow_text(pump.max_flow_nl_per_day)}).",
                "use a stronger concentration so that the flow falls to the pump's range",
                "assumption: maximum continuous flow of the pump model",
            )
        ]
    return []


def reservoir_findings(field: str, volume_nl: int, pump: PumpFacts) -> list[Finding]:
    """A hard finding when a volume is more than the reservoir can hold (such as 40 mL for a 20 mL pump)."""
    if volume_nl <= pump.reservoir_nl:
        return []
    return [
        rule_finding(
            field,
            volume_text(volume_nl),
            f"at most the reservoir size, {volume_text(pump.reservoir_nl)}",
            f"The {field} {volume_text(volume_nl)} is more than this pump's reservoir holds "
            f"({volume_text(pump.reservoir_nl)}). Dates worked out from it would be wrong and the pump "
            "could run dry before its alarm.",
            f"check the pump model and enter the volume actually in the {volume_text(pump.reservoir_nl)} reservoir",
            "DESIGN.md: a 40 mL volume entered for a 20 mL pump let the pump run dry twice",
        )
    ]
