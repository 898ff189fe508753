"""The pump's own hard limits, which depend only on the pump model.

The firmware enforces them on every command; the therapy layer calls the same
functions to refuse bad input before anything is sent. Each returns None when
the value is acceptable, or a `Refusal` that says why. The drug's hard limits,
which come with the label, are in `hard_limits.py`.
"""

from __future__ import annotations

from thecal.pump.core.actions import Refusal
from thecal.pump.core.commands import Fill
from thecal.pump.core.figures import PumpFigures
from thecal.pump.core.integers import (
    MS_PER_DAY,
    ceil_div,
    format_concentration,
    format_dose_rate,
    format_duration,
    format_flow,
    format_volume,
)
from thecal.pump.core.refusals import RefusalCode
from thecal.pump.core.schedule import DoseSchedule, WeekSchedule


def fill_refusal(model: PumpFigures, fill: Fill) -> Refusal | None:
    """Why a fill is not acceptable for this pump, or None."""
    if fill.volume_nl < 0:
        return Refusal(
            RefusalCode.BAD_VOLUME, "a fill volume cannot be negative", "fill.volume", format_volume(fill.volume_nl)
        )
    if fill.volume_nl > model.reservoir_nl:
        return Refusal(
            RefusalCode.OVER_CAPACITY,
            f"this pump's reservoir holds {format_volume(model.reservoir_nl)}; check the pump model and the volume",
            "fill.volume",
            format_volume(fill.volume_nl),
            format_volume(model.reservoir_nl),
        )
    if fill.volume_nl > 0 and not fill.contents:
        return Refusal(
            RefusalCode.NO_CONTENTS, "say which drug and concentration the reservoir holds", "fill.contents", "none"
        )
    for drug, conc in fill.contents:
        if conc <= 0:
            return Refusal(
                RefusalCode.BAD_CONCENTRATION, "a concentration must be above zero", f"fill.{drug}", str(conc)
            )
    if fill.low_reservoir_alarm_nl is not None:
        return threshold_refusal(model, fill.low_reservoir_alarm_nl)
    return None


def threshold_refusal(model: PumpFigures, threshold_nl: int) -> Refusal | None:
    """Why a low-reservoir alarm threshold is outside the pump's range, or None."""
    low, high = model.low_reservoir_alarm_min_nl, model.low_reservoir_alarm_max_nl
    if low <= threshold_nl <= high:
        return None
    return Refusal(
        RefusalCode.ALARM_THRESHOLD,
        "the low-reservoir alarm must lie in the pump's programmable range",
        "low_reservoir_alarm",
        format_volume(threshold_nl),
        f"{format_volume(low)} to {format_volume(high)}",
    )


def schedule_refusal(model: PumpFigures, schedule: WeekSchedule) -> Refusal | None:
    """Why a basal schedule of flows cannot be delivered by this pump, or None."""
    for day_index, steps in enumerate(schedule.days):
        if len(steps) > model.max_steps_per_day:
            return _too_many_steps(model, day_index, len(steps))
        for i, step in enumerate(steps):
            refusal = flow_refusal(model, step.flow_nl_per_day, f"schedule.day{day_index}.step{i}")
            if refusal is not None:
                return refusal
    return None


def prescription_refusal(model: PumpFigures, doses: DoseSchedule, concentration_ng_per_ml: int) -> Refusal | None:
    """Why a prescription cannot be delivered by this pump at a concentration, or None."""
    flows = doses.flows(concentration_ng_per_ml)
    if (
        max(len(steps) for steps in doses.days) <= model.max_steps_per_day
        and flows.min_flow_nl_per_day() >= model.min_programmable_flow_nl_per_day
        and flows.max_flow_nl_per_day() <= model.max_continuous_flow_nl_per_day
    ):
        return None  # every step's flow within the pump's: no step to name (every refill asks)
    for day_index, steps in enumerate(doses.days):
        if len(steps) > model.max_steps_per_day:
            return _too_many_steps(model, day_index, len(steps))
        for i, step in enumerate(steps):
            flow = flows.days[day_index][i].flow_nl_per_day
            refusal = flow_refusal(model, flow, f"schedule.day{day_index}.step{i}")
            if refusal is not None:
                return Refusal(
                    refusal.code,
                    f"{format_dose_rate(step.dose_ng_per_day)} at {format_concentration(concentration_ng_per_ml)} "
                    f"needs {format_flow(flow)}; {refusal.message}",
                    refusal.field,
                    refusal.value,
                    refusal.limit,
                )
    return None


def _too_many_steps(model: PumpFigures, day_index: int, steps: int) -> Refusal:
    return Refusal(
        RefusalCode.TOO_MANY_STEPS,
        "flexible dosing allows fewer rate changes a day",
        f"schedule.day{day_index}",
        str(steps),
        str(model.max_steps_per_day),
    )


def flow_refusal(model: PumpFigures, flow_nl_per_day: int, field: str) -> Refusal | None:
    """Why a basal flow is outside what this pump delivers, or None."""
    if flow_nl_per_day < model.min_programmable_flow_nl_per_day:
        return Refusal(
            RefusalCode.BELOW_MINIMUM_FLOW,
            "the pump cannot deliver less than its minimum flow; use a weaker concentration or stop therapy",
            field,
            format_flow(flow_nl_per_day),
            format_flow(model.min_programmable_flow_nl_per_day),
        )
    if flow_nl_per_day > model.max_continuous_flow_nl_per_day:
        return Refusal(
            RefusalCode.ABOVE_MAXIMUM_FLOW,
            "the pump cannot deliver this flow continuously; check mL/h against mL/day",
            field,
            format_flow(flow_nl_per_day),
            format_flow(model.max_continuous_flow_nl_per_day),
        )
    return None


def bolus_flow_refusal(
    model: PumpFigures, volume_nl: int, duration_ms: int, basal_nl_per_day: int, field: str
) -> Refusal | None:
    """Why a bolus of this volume over this duration, on top of this basal flow, is faster than the pump's bolus
    flow, or None; the refusal gives the shortest duration that works."""
    rate = ceil_div(volume_nl * MS_PER_DAY, duration_ms)
    ceiling = model.max_bolus_flow_nl_per_day - basal_nl_per_day
    if rate <= ceiling:
        return None
    if ceiling <= 0:
        return Refusal(
            RefusalCode.BOLUS_TOO_FAST,
            f"the basal flow of {format_flow(basal_nl_per_day)} already takes the pump's whole bolus flow of "
            f"{format_flow(model.max_bolus_flow_nl_per_day)}; no bolus fits on top of it: lower the basal flow",
            f"{field}.duration",
            format_duration(duration_ms),
            format_flow(max(ceiling, 0)),
        )
    # rate ≤ ceiling exactly when volume × day ≤ ceiling × duration.
    shortest = ceil_div(volume_nl * MS_PER_DAY, ceiling)
    return Refusal(
        RefusalCode.BOLUS_TOO_FAST,
        f"{format_volume(volume_nl)} over {format_duration(duration_ms)} would need {format_flow(rate)} on top of "
        f"the basal flow of {format_flow(basal_nl_per_day)}, more than the pump's bolus flow allows; give it over "
        f"at least {format_duration(shortest)}",
        f"{field}.duration",
        format_duration(duration_ms),
        format_flow(ceiling),
    )
