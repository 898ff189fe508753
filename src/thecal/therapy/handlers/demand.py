"""The patient's handset: the physician's demand settings, and the patient's press."""

from __future__ import annotations

from thecal.drugs.limits import PUMP_FIRMWARE, rule_finding
from thecal.drugs.verdict import Finding
from thecal.pump.core import commands as pump
from thecal.therapy.context import Context
from thecal.therapy.handlers.draft import Draft, no_drug
from thecal.therapy.intents import PtmOff, PtmSettings
from thecal.therapy.settings import wall_text
from thecal.therapy.snapshot import PatientView


def ptm_settings(ctx: Context, intent: PtmSettings) -> Draft:
    """Let the patient take doses within these limits; the checks every plan shares judge them."""
    limits = pump.DemandLimits(intent.dose_ng, intent.duration_ms, intent.lockout_ms, intent.max_per_24h)
    after = ctx.before.but(demand=limits)
    return Draft((pump.SetDemandLimits(limits),), after, tuple(no_drug(ctx)))


def ptm_off(ctx: Context, intent: PtmOff) -> Draft:
    """No more demand doses from the patient's handset."""
    if ctx.before.demand is None:
        return Draft((), ctx.before)
    return Draft((pump.SetDemandLimits(None),), ctx.before.but(demand=None))


def press_findings(view: PatientView) -> list[Finding]:
    """Why a press would not give a dose now, as the pump's own demand window says, or nothing."""
    if not view.demand_enabled:
        return [_press("demand_off", "off", "enabled by the physician", "Extra doses are not switched on.")]
    if view.therapy_stopped:
        return [_press("stopped", "therapy stopped", "therapy running", "Therapy is stopped, so no extra dose.")]
    allowed = view.demand_next_allowed_wall_ms
    if allowed is not None and allowed > view.wall_ms:
        if view.demand_left_24h == 0:
            why = "The most doses allowed in 24 hours have been taken."
            code = "daily_maximum"
        else:
            why = "It is too soon after the last dose."
            code = "locked_out"
        return [
            _press(
                code,
                wall_text(view.wall_ms),
                f"not before {wall_text(allowed)}",
                f"{why} The next dose is possible at {wall_text(allowed)}.",
            )
        ]
    return []


def _press(code: str, value: str, limit: str, message: str) -> Finding:
    return rule_finding(
        "demand dose",
        value,
        limit,
        message,
        "wait, and press again when the handset says a dose is possible",
        PUMP_FIRMWARE,
        code=code,
    )
