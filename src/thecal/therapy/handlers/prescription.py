"""Prescribe and titrate: the basal schedule of daily doses of the drug the pump holds."""

from __future__ import annotations

from thecal.drugs.limits import rule_finding
from thecal.pump.core.commands import Program
from thecal.pump.core.schedule import DoseSchedule, DoseStep
from thecal.therapy.context import Context
from thecal.therapy.handlers.draft import PUMP_LABEL_SOURCE, Draft, bolus_in_the_way, no_drug
from thecal.therapy.intents import Prescribe, Titrate


def prescribe(ctx: Context, intent: Prescribe) -> Draft:
    """Give a new schedule of daily doses; the checks every plan shares judge it as a titration step."""
    after = ctx.before.but(prescription=intent.doses)
    return Draft((Program(intent.doses),), after, (*no_drug(ctx), *bolus_in_the_way(ctx)))


def titrate(ctx: Context, intent: Titrate) -> Draft:
    """Change the daily dose: a continuous prescription at the new dose, a flexible one scaled to it."""
    current = ctx.snapshot.prescription
    if current is None:
        finding = rule_finding(
            "prescription",
            "none",
            "a prescription to change",
            "The pump has no prescription, so there is no dose to titrate.",
            "prescribe a starting dose instead",
            PUMP_LABEL_SOURCE,
            code="no_prescription",
        )
        return Draft((), ctx.before, (finding, *no_drug(ctx)))
    doses = scaled_schedule(current, intent.new_dose_ng_per_day)
    return Draft((Program(doses),), ctx.before.but(prescription=doses), (*no_drug(ctx), *bolus_in_the_way(ctx)))


def scaled_schedule(current: DoseSchedule, new_dose_ng_per_day: int) -> DoseSchedule:
    """The schedule whose highest step is the new dose, every other step in proportion, rounded down."""
    highest = current.max_dose_ng_per_day()
    if highest == 0 or len({s.dose_ng_per_day for day in current.days for s in day}) == 1:
        return DoseSchedule.continuous(new_dose_ng_per_day)
    return DoseSchedule(
        tuple(
            tuple(DoseStep(s.start_ms, s.dose_ng_per_day * new_dose_ng_per_day // highest) for s in day)
            for day in current.days
        )
    )
