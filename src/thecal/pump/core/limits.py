"""The pump's own hard limits, which depend only on the pump model.

The firmware enforces them on every command; the scenario runner and the
programmer call the same functions to refuse bad input before anything is sent.
Each returns None when the value is acceptable, or a `Refusal` that says why.
"""

from __future__ import annotations

from thecal.pump.core.actions import Refusal
from thecal.pump.core.commands import Fill
from thecal.pump.core.schedule import WeekSchedule
from thecal.pump.model import PumpModel
from thecal.units import format_flow, format_volume


def fill_refusal(model: PumpModel, fill: Fill) -> Refusal | None:
    """Why a fill is not acceptable for this pump, or None."""
    if fill.volume_nl > model.reservoir_nl:
        return Refusal(
            "over_capacity",
            f"this pump's reservoir holds {format_volume(model.reservoir_nl)}; check the pump model and the volume",
            "fill.volume",
            format_volume(fill.volume_nl),
            format_volume(model.reservoir_nl),
        )
    if fill.volume_nl > 0 and not fill.contents:
        return Refusal("no_contents", "say which drug and concentration the reservoir holds", "fill.contents", "none")
    for drug, conc in fill.contents:
        if conc <= 0:
            return Refusal("bad_concentration", "a concentration must be above zero", f"fill.{drug}", str(conc))
    if fill.low_reservoir_alarm_nl is not None:
        return threshold_refusal(model, fill.low_reservoir_alarm_nl)
    return None


def threshold_refusal(model: PumpModel, threshold_nl: int) -> Refusal | None:
    """Why a low-reservoir alarm threshold is outside the pump's range, or None."""
    low, high = model.low_reservoir_alarm_min_nl, model.low_reservoir_alarm_max_nl
    if low <= threshold_nl <= high:
        return None
    return Refusal(
        "alarm_threshold",
        "the low-reservoir alarm must lie in the pump's programmable range",
        "low_reservoir_alarm",
        format_volume(threshold_nl),
        f"{format_volume(low)} to {format_volume(high)}",
    )


def schedule_refusal(model: PumpModel, schedule: WeekSchedule) -> Refusal | None:
    """Why a basal schedule cannot be delivered by this pump, or None."""
    for day_index, steps in enumerate(schedule.days):
        if len(steps) > model.max_steps_per_day:
            return Refusal(
                "too_many_steps",
                "flexible dosing allows fewer rate changes a day",
                f"schedule.day{day_index}",
                str(len(steps)),
                str(model.max_steps_per_day),
            )
        for i, step in enumerate(steps):
            refusal = flow_refusal(model, step.flow_nl_per_day, f"schedule.day{day_index}.step{i}")
            if refusal is not None:
                return refusal
    return None


def flow_refusal(model: PumpModel, flow_nl_per_day: int, field: str) -> Refusal | None:
    """Why a basal flow is outside what this pump delivers, or None."""
    if flow_nl_per_day < model.min_programmable_flow_nl_per_day:
        return Refusal(
            "below_minimum_flow",
            "the pump cannot deliver less than its minimum flow; use a weaker concentration or stop therapy",
            field,
            format_flow(flow_nl_per_day),
            format_flow(model.min_programmable_flow_nl_per_day),
        )
    if flow_nl_per_day > model.max_continuous_flow_nl_per_day:
        return Refusal(
            "above_maximum_flow",
            "the pump cannot deliver this flow continuously; check mL/h against mL/day",
            field,
            format_flow(flow_nl_per_day),
            format_flow(model.max_continuous_flow_nl_per_day),
        )
    return None
