"""The pump's alarms: which are critical, how they sound, and who may clear them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Alarm(StrEnum):
    """Every alarm the pump can raise."""

    LOW_RESERVOIR = "low_reservoir"
    ELECTIVE_REPLACEMENT = "elective_replacement"
    EMPTY_RESERVOIR = "empty_reservoir"
    END_OF_SERVICE = "end_of_service"
    MOTOR_STALL = "motor_stall"
    PUMP_FAULT = "pump_fault"


class Tone(StrEnum):
    """The two sounds of the pump: a single tone for non-critical, two tones for critical alarms."""

    SINGLE = "single"
    TWO_TONE = "two-tone"


@dataclass(frozen=True)
class AlarmRule:
    """How an alarm sounds and how it ends."""

    critical: bool
    words: str
    cleared_by: str
    clinician_may_clear: bool


RULES: dict[Alarm, AlarmRule] = {
    Alarm.LOW_RESERVOIR: AlarmRule(
        False, "the reservoir is low", "a refill above the alarm threshold", clinician_may_clear=False
    ),
    Alarm.ELECTIVE_REPLACEMENT: AlarmRule(
        False, "the battery is near its end (ERI): plan pump replacement", "replacing the pump", False
    ),
    Alarm.EMPTY_RESERVOIR: AlarmRule(True, "the reservoir is empty: no drug is delivered", "a refill", False),
    Alarm.END_OF_SERVICE: AlarmRule(
        True, "the battery is exhausted: the pump has stopped", "replacing the pump", False
    ),
    Alarm.MOTOR_STALL: AlarmRule(
        True, "the motor stalled: delivery was interrupted", "a clinician, once the motor runs again", True
    ),
    Alarm.PUMP_FAULT: AlarmRule(True, "the pump found a fault and halted delivery", "a clinician", True),
}


def tone_for(alarms: set[Alarm] | frozenset[Alarm]) -> Tone | None:
    """The tone the pump sounds for a set of active alarms: the most severe wins."""
    if not alarms:
        return None
    return Tone.TWO_TONE if any(RULES[a].critical for a in alarms) else Tone.SINGLE
