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
    """Why a press would not give a dose now, as the pump itself answers (its demand window, a running bolus, its
    mode), or nothing."""
    if not view.demand_enabled:
        return [_press("demand_off", "off", "enabled by the physician", "Extra doses are not switched on.")]
    if view.therapy_stopped:
        return [_press("stopped", "therapy stopped", "therapy running", "Therapy is stopped, so no extra dose.")]
    code = view.demand_not_now_code
    allowed = view.demand_next_allowed_wall_ms
    if code is None and (allowed is None or allowed <= view.wall_ms):
        return []
    until = view.demand_not_now_until_wall_ms or allowed
    if code is None:
        # A view without the pump's answer: the next-dose time still holds, the reason is the window's.
        code = "daily_maximum" if view.demand_left_24h == 0 else "locked_out"
    why = _NOT_NOW.get(code, "The pump gives no extra dose now.")
    if until is not None and until > view.wall_ms:
        return [
            _press(
                code,
                wall_text(view.wall_ms),
                f"not before {wall_text(until)}",
                f"{why} The next dose is possible at {wall_text(until)}.",
            )
        ]
    return [_press(code, wall_text(view.wall_ms), "the pump able to give a dose", why)]


# What the pump's refusal of a press means for the patient, by its code.
_NOT_NOW = {
    "locked_out": "It is too soon after the last dose.",
    "daily_maximum": "The most doses allowed in 24 hours have been taken.",
    "bolus_running": "A bolus is running; no extra dose until it has ended.",
    "bridge_running": "The pump is still pushing the previous solution out of the catheter.",
    "reservoir": "The pump's reservoir is too low for an extra dose.",
    "motor_stall": "The pump's motor is stopped.",
    "fault": "The pump has stopped on a fault.",
    "end_of_service": "The pump's battery is exhausted.",
    "stopped": "Therapy is stopped, so no extra dose.",
    "demand_off": "Extra doses are not switched on.",
}


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
