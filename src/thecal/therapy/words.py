"""Words for what a pump reports: its modes, its alarms and its clock, the same at every door.

The pump's wall clock is the clinic's local time (milliseconds since the epoch,
read as local time), as a programmer sets it; times are shown from it, never
as pump milliseconds.
"""

from __future__ import annotations

from thecal.pump.core.alarms import RULES, Alarm
from thecal.pump.core.integers import MS_PER_DAY
from thecal.therapy.settings import time_of_day_text, wall_text

LOCAL_TIME = "pump clock, local time"

MODE_WORDS = {
    "running": "running the prescription",
    "minimum_rate": "therapy stopped: the pump runs at its minimum rate",
    "not_filled": "not filled: no drug in the reservoir yet",
    "not_programmed": "not programmed: no prescription yet",
    "priming": "priming the catheter, in place of the basal flow",
    "bridge": "bridging: the old drug in the tubing and catheter goes first, at the old doses",
    "empty": "the reservoir is empty: no drug is delivered",
    "stalled": "the motor has stalled: no drug is delivered",
    "fault": "halted on a fault: no drug is delivered",
    "end_of_service": "end of service: the battery is exhausted and the pump has stopped",
}


def mode_text(mode: str) -> str:
    """What the pump is doing, in words."""
    return MODE_WORDS.get(mode, mode.replace("_", " "))


def alarm_text(name: str) -> str:
    """An alarm in words, critical ones marked."""
    try:
        rule = RULES[Alarm(name)]
    except ValueError:
        return name.replace("_", " ")
    return f"{'CRITICAL: ' if rule.critical else ''}{rule.words}"


# What each intent is called on a screen or a terminal, by its class name.
INTENT_WORDS = {
    "Implant": "record the implanted catheter",
    "FirstFill": "first fill",
    "Refill": "refill",
    "Prescribe": "prescription change",
    "Titrate": "titration",
    "ClinicianBolus": "clinician bolus",
    "PrimingBolus": "priming bolus",
    "PeriodicBolus": "periodic bolus",
    "PeriodicBolusOff": "periodic bolus off",
    "PtmSettings": "patient's handset (PTM) settings",
    "PtmOff": "patient's handset (PTM) off",
    "StopTherapy": "stop therapy (minimum rate)",
    "ResumeTherapy": "resume therapy",
    "ClearAlarm": "clear an alarm",
    "PostMriCheck": "check after an MRI",
    "AlarmTest": "alarm test",
    "LowReservoirAlarm": "low-reservoir alarm threshold",
    "DemandPress": "demand dose",
}


def intent_words(intent: object) -> str:
    """What an intent asks for, in words."""
    name = type(intent).__name__
    return INTENT_WORDS.get(name, name)


# What each alarm means to the patient and what they do, the same words at every door: the handset app,
# the terminal and the clinic's alarm test.
PATIENT_ALARM_MEANING: dict[Alarm, str] = {
    Alarm.LOW_RESERVOIR: "The pump's medicine is running low: it needs a refill soon.",
    Alarm.ELECTIVE_REPLACEMENT: "The pump's battery is near its end: the pump must be replaced within months.",
    Alarm.EMPTY_RESERVOIR: "The pump's medicine has run out: it gives you no medicine now.",
    Alarm.END_OF_SERVICE: "The pump's battery is exhausted: the pump has stopped and gives no medicine.",
    Alarm.MOTOR_STALL: "The pump's motor has stopped: you may be getting no medicine.",
    Alarm.PUMP_FAULT: "The pump found a fault and stopped giving medicine.",
}
CALL_TODAY = "Call your clinic today to arrange a visit. You do not need to go to the emergency department."
CALL_NOW = (
    "Call your clinic now. If you cannot reach them, go to the emergency department today. "
    "Go at once (or call the emergency number) if you feel very drowsy, breathe slowly, are confused, "
    "or your pain comes back strongly with sweating, shaking or sickness (signs the medicine has stopped)."
)
TWO_TONES = "Sound: two tones, repeated (a critical alarm)."
ONE_TONE = "Sound: a single tone, about once an hour (not urgent, but do not ignore it)."


def alarm_is_critical(name: str) -> bool:
    """Whether an alarm is critical (two-tone); an alarm this programmer does not know counts as critical."""
    try:
        return RULES[Alarm(name)].critical
    except ValueError:
        return True


def local_time(wall_ms: int) -> str:
    """A moment of the pump's clock, to the minute, with its weekday."""
    weekday = ("Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed")[wall_ms // MS_PER_DAY % 7]  # 1970-01-01: Thursday
    return f"{weekday} {wall_text(wall_ms)}"


def clock_text(wall_ms: int, now_wall_ms: int) -> str:
    """A moment as HH:MM, with "tomorrow" or the date when it is not today."""
    days = wall_ms // MS_PER_DAY - now_wall_ms // MS_PER_DAY
    hhmm = time_of_day_text(wall_ms % MS_PER_DAY)
    if days == 0:
        return hhmm
    if days == 1:
        return f"{hhmm} tomorrow"
    return f"{hhmm} on {wall_text(wall_ms)[:10]}"
