"""The patient's view at a terminal: whether a dose is possible now, else until when and why, in plain words.

Everything comes from the pump's own answer (its demand window, the one that
refuses a press): no volumes, no drug label, no pump milliseconds; times are
the pump's clock (local time) as HH:MM. Alarms are worded for the patient,
with what to do.
"""

from __future__ import annotations

from thecal.pump.core.alarms import Alarm
from thecal.pump.core.refusals import RefusalCode
from thecal.therapy import PatientView
from thecal.therapy.words import CALL_NOW, CALL_TODAY, PATIENT_ALARM_MEANING, alarm_is_critical, clock_text, local_time


def patient_alarm(name: str) -> str:
    """One alarm for the patient: what it means and what to do, in the words every door uses."""
    try:
        meaning = PATIENT_ALARM_MEANING[Alarm(name)]
    except (ValueError, KeyError):
        meaning = f"The pump reports an alarm ({name.replace('_', ' ')})."
    return f"{meaning} {CALL_NOW if alarm_is_critical(name) else CALL_TODAY}"


# Why a press gives no dose, in the patient's words; any other reason is the pump's own words.
NOT_NOW_WORDS: dict[str, str] = {
    RefusalCode.LOCKED_OUT: "it is too soon after your last dose",
    RefusalCode.DAILY_MAXIMUM: "you have taken the most doses allowed in 24 hours",
    RefusalCode.BOLUS_RUNNING: "a dose is still being given",
}


def _code_words(code: str) -> str:
    try:
        return RefusalCode(code).words
    except ValueError:
        return code.replace("_", " ")


def dose_now_lines(view: PatientView) -> list[str]:
    """Whether an extra dose is possible now; if not, why and until when; and how many are left in 24 h."""
    if not view.demand_enabled:
        return ["Extra doses: not switched on by your clinic."]
    if view.therapy_stopped:
        return ["Extra doses: not possible while therapy is stopped by your clinic."]
    allowed = view.demand_next_allowed_wall_ms
    left = view.demand_left_24h
    lines: list[str] = []
    code = view.demand_not_now_code
    if code is None and (allowed is None or allowed <= view.wall_ms):
        lines.append("Extra dose: possible now.")
    else:
        # The pump's own reason when it gives one; from the counts only for a pump that does not say.
        if code is None:
            code = RefusalCode.DAILY_MAXIMUM if left == 0 else RefusalCode.LOCKED_OUT
        why = NOT_NOW_WORDS.get(code) or _code_words(code)
        until = view.demand_not_now_until_wall_ms or allowed
        when = f" Next dose possible at {clock_text(until, view.wall_ms)}." if until and until > view.wall_ms else ""
        lines.append(f"Extra dose: not now, {why}.{when}")
    if left is not None:
        lines.append(f"Doses left in the next 24 hours: {left}.")
    return lines


def patient_lines(view: PatientView) -> list[str]:
    """The patient's whole view of the pump."""
    lines = [f"Pump clock: {local_time(view.wall_ms)} (local time)."]
    lines += dose_now_lines(view)
    if view.alarms:
        lines.append("Alarms:")
        lines += [f"    {patient_alarm(a)}" for a in view.alarms]
    else:
        lines.append("Alarms: none.")
    return lines
