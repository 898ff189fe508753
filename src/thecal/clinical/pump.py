"""What the calculators check against the pump: its flows and its reservoir, read from its model file.

Every figure comes from a `thecal.pump.model.PumpModel` (a shipped model or a
model file), with the source the model file gives; the calculators keep no
copy of their own, so any pump the model files describe can be calculated for.
"""

from __future__ import annotations

from thecal.drugs.limits import rule_finding
from thecal.drugs.verdict import Finding
from thecal.errors import InputError
from thecal.pump.model import PumpModel, model_names, shipped_models
from thecal.units import NL_PER_ML, format_exact


def volume_text(nl: int) -> str:
    """A volume for people, in mL without float rounding."""
    return format_exact(nl, NL_PER_ML, "mL")


def flow_text(nl_per_day: int) -> str:
    """A flow for people, in mL/day without float rounding."""
    return format_exact(nl_per_day, NL_PER_ML, "mL/day")


def accuracy_text(pump: PumpModel) -> str:
    """The pump's labeled accuracy for people, as a percentage."""
    return format_exact(pump.accuracy * 100, 1, "%", decimals=3)


def model_with_reservoir(reservoir_nl: int) -> PumpModel:
    """The shipped pump model whose reservoir has this size (such as the 20 mL or the 40 mL pump)."""
    models = shipped_models()
    for model in models:
        if model.reservoir_nl == reservoir_nl:
            return model
    sizes = ", ".join(f"{volume_text(m.reservoir_nl)} ({m.name})" for m in models)
    raise InputError(
        "reservoir",
        volume_text(reservoir_nl),
        f"no shipped pump model has this reservoir (shipped: {sizes})",
        f"choose one of {', '.join(model_names())}, or give the path of this pump's model file",
    )


def require_pump(pump: PumpModel | None, why: str) -> PumpModel:
    """The pump model a calculation needs, or an error saying why it is needed."""
    if pump is None:
        raise InputError(
            "pump model",
            None,
            f"needed here: {why}",
            f"give the pump model ({', '.join(model_names())}) or the path of its model file",
        )
    return pump


def flow_findings(flow_nl_per_day: int, pump: PumpModel) -> list[Finding]:
    """Hard findings for a continuous flow the pump cannot deliver."""
    if flow_nl_per_day == 0:
        return []
    low, high = pump.min_programmable_flow_nl_per_day, pump.max_continuous_flow_nl_per_day
    if flow_nl_per_day < low:
        return [
            rule_finding(
                "flow",
                flow_text(flow_nl_per_day),
                f"at least {flow_text(low)}",
                f"The flow {flow_text(flow_nl_per_day)} is below the slowest the pump can run "
                f"({flow_text(low)}), so the pump cannot give this dose.",
                "use a weaker concentration so that the flow rises to the pump's range",
                pump.source("min_programmable_flow_nl_per_day"),
            )
        ]
    if flow_nl_per_day > high:
        return [
            rule_finding(
                "flow",
                flow_text(flow_nl_per_day),
                f"at most {flow_text(high)}",
                f"The flow {flow_text(flow_nl_per_day)} is above the fastest continuous flow of the pump "
                f"({flow_text(high)}).",
                "use a stronger concentration so that the flow falls to the pump's range",
                pump.source("max_continuous_flow_nl_per_day"),
            )
        ]
    return []


def flow_range_line(pump: PumpModel) -> str:
    """The pump's continuous flow range in words, with its sources."""
    return (
        f"pump flow: {flow_text(pump.min_programmable_flow_nl_per_day)} to "
        f"{flow_text(pump.max_continuous_flow_nl_per_day)} (pump model {pump.name}: "
        f"{pump.source('min_programmable_flow_nl_per_day')}; {pump.source('max_continuous_flow_nl_per_day')})"
    )


def reservoir_findings(field: str, volume_nl: int, pump: PumpModel) -> list[Finding]:
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
            pump.source("reservoir_nl"),
        )
    ]
