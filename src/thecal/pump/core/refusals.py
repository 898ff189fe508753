"""Every reason the firmware gives for refusing a command, as codes with their words.

The code is what goes on the wire and into the event log (a `StrEnum`, so the
value is the plain string); the words say what the code means. A refusal's
own message is more specific (it names the value and the limit); these words
are what docs/architecture.md lists, and a test keeps the two in step.
"""

from __future__ import annotations

from enum import StrEnum


class RefusalCode(StrEnum):
    """Why the firmware refused a command."""

    # The pump's mode (the table in modes.py).
    END_OF_SERVICE = "end_of_service"
    FAULT = "fault"
    MOTOR_STALL = "motor_stall"
    NO_LABEL = "no_label"
    RESERVOIR = "reservoir"
    STOPPED = "stopped"
    ALREADY_STOPPED = "already_stopped"
    NOT_STOPPED = "not_stopped"
    NO_PROGRAM = "no_program"
    # One bolus at a time.
    BOLUS_RUNNING = "bolus_running"
    NO_BOLUS = "no_bolus"
    # The fill and the drug label.
    BAD_VOLUME = "bad_volume"
    OVER_CAPACITY = "over_capacity"
    NO_CONTENTS = "no_contents"
    BAD_CONCENTRATION = "bad_concentration"
    TOO_MANY_DRUGS = "too_many_drugs"
    UNKNOWN_DRUG = "unknown_drug"
    DRUG_TWICE = "drug_twice"
    ABOVE_MAX_CONCENTRATION = "above_max_concentration"
    TWO_OPIOIDS = "two_opioids"
    NOT_PARTNERS = "not_partners"
    BRIDGE_RUNNING = "bridge_running"
    BRIDGE_NEEDED = "bridge_needed"
    # Settings.
    ALARM_THRESHOLD = "alarm_threshold"
    BAD_CATHETER_VOLUME = "bad_catheter_volume"
    TOO_MANY_STEPS = "too_many_steps"
    BELOW_MINIMUM_FLOW = "below_minimum_flow"
    ABOVE_MAXIMUM_FLOW = "above_maximum_flow"
    ABOVE_MAX_DAILY_DOSE = "above_max_daily_dose"
    ABOVE_MAX_BOLUS = "above_max_bolus"
    DEMAND_NOT_ALLOWED = "demand_not_allowed"
    ABOVE_MAX_DEMAND_DOSE = "above_max_demand_dose"
    BAD_DEMAND_LIMITS = "bad_demand_limits"
    PERIODIC_OVERLAP = "periodic_overlap"
    DOSE_TOO_SMALL = "dose_too_small"
    # Boluses.
    BAD_BOLUS = "bad_bolus"
    BOLUS_TOO_FAST = "bolus_too_fast"
    ABOVE_DEAD_VOLUME = "above_dead_volume"
    # The patient's demand doses (and the periodic bolus's own daily count).
    DEMAND_OFF = "demand_off"
    LOCKED_OUT = "locked_out"
    DAILY_MAXIMUM = "daily_maximum"
    # Alarms.
    NOT_ACTIVE = "not_active"
    NOT_CLEARABLE = "not_clearable"
    STILL_STALLED = "still_stalled"

    @property
    def words(self) -> str:
        """What the code means, in words a nurse understands."""
        return _WORDS[self]


_WORDS: dict[RefusalCode, str] = {
    RefusalCode.END_OF_SERVICE: "the battery is exhausted and the pump has stopped; it takes no new therapy",
    RefusalCode.FAULT: "the pump halted on a fault; a clinician must clear it first",
    RefusalCode.MOTOR_STALL: "the motor is stalled; no bolus can start until it turns again",
    RefusalCode.NO_LABEL: "the pump does not know what its reservoir holds; fill it first",
    RefusalCode.RESERVOIR: "the reservoir is empty or holds less than the bolus; refill it first",
    RefusalCode.STOPPED: "therapy is stopped (minimum rate); resume it first",
    RefusalCode.ALREADY_STOPPED: "therapy is already stopped",
    RefusalCode.NOT_STOPPED: "therapy is not stopped, so there is nothing to resume",
    RefusalCode.NO_PROGRAM: "there is no prescription to deliver; program one",
    RefusalCode.BOLUS_RUNNING: "a bolus is running; wait until it ends (the refusal says when) or cancel it",
    RefusalCode.NO_BOLUS: "no bolus is running",
    RefusalCode.BAD_VOLUME: "a fill volume cannot be negative",
    RefusalCode.OVER_CAPACITY: "the fill is more than this pump's reservoir holds; check the pump model and volume",
    RefusalCode.NO_CONTENTS: "a fill must say which drug and concentration the reservoir holds",
    RefusalCode.BAD_CONCENTRATION: "a concentration must be above zero",
    RefusalCode.TOO_MANY_DRUGS: "the fill names more drugs than the pump's label can hold",
    RefusalCode.UNKNOWN_DRUG: "the drug is not in the pump's formulary; check the name on the vial",
    RefusalCode.DRUG_TWICE: "a drug appears twice in the fill; give each drug once",
    RefusalCode.ABOVE_MAX_CONCENTRATION: "the concentration is above the drug's hard limit; check the vial and unit",
    RefusalCode.TWO_OPIOIDS: "a reservoir holds at most one opioid",
    RefusalCode.NOT_PARTNERS: "these drugs may not share the reservoir",
    RefusalCode.BRIDGE_RUNNING: "the tubing still holds the previous solution; wait until the bridge has pushed it",
    RefusalCode.BRIDGE_NEEDED: "the old, stronger solution in the tubing would go too fast; refill with a bridge",
    RefusalCode.ALARM_THRESHOLD: "the low-reservoir alarm threshold is outside the pump's programmable range",
    RefusalCode.BAD_CATHETER_VOLUME: "the catheter volume is outside what a catheter can hold; check its labeling",
    RefusalCode.TOO_MANY_STEPS: "a day of flexible dosing has more steps than the pump allows",
    RefusalCode.BELOW_MINIMUM_FLOW: "the dose needs a flow below the pump's minimum; use a weaker concentration",
    RefusalCode.ABOVE_MAXIMUM_FLOW: "the dose needs a flow above the pump's maximum; check mL/h against mL/day",
    RefusalCode.ABOVE_MAX_DAILY_DOSE: "the worst 24 h, every bolus and demand dose counted, passes the daily limit",
    RefusalCode.ABOVE_MAX_BOLUS: "one bolus is more than the drug's hard limit for a single bolus",
    RefusalCode.DEMAND_NOT_ALLOWED: "a drug in the reservoir must not be given as a demand dose",
    RefusalCode.ABOVE_MAX_DEMAND_DOSE: "one demand dose is more than the drug's hard limit",
    RefusalCode.BAD_DEMAND_LIMITS: "demand limits need a dose, a duration, a lockout of zero or more, 1 or more a day",
    RefusalCode.PERIODIC_OVERLAP: "each periodic bolus must end before the next one starts",
    RefusalCode.DOSE_TOO_SMALL: "the dose is less than 1 nL of this solution; give more or use a weaker solution",
    RefusalCode.BAD_BOLUS: "a bolus needs a dose (or volume) and a duration above zero",
    RefusalCode.BOLUS_TOO_FAST: "the bolus on top of the basal flow passes the pump's bolus flow; give it over longer",
    RefusalCode.ABOVE_DEAD_VOLUME: "a priming bolus may not be more than the tubing and catheter hold",
    RefusalCode.DEMAND_OFF: "the physician has not enabled demand doses",
    RefusalCode.LOCKED_OUT: "too soon after the last demand dose; the refusal says when the next is possible",
    RefusalCode.DAILY_MAXIMUM: "the most doses allowed in 24 h have been given; the refusal says when one is possible",
    RefusalCode.NOT_ACTIVE: "the alarm is not active",
    RefusalCode.NOT_CLEARABLE: "this alarm ends only by what removes its cause (alarms.py says what)",
    RefusalCode.STILL_STALLED: "the motor is still stalled; clear the alarm once it turns again",
}


def refusal_codes_markdown() -> str:
    """The refusal codes and their words as a markdown table, for docs/architecture.md."""
    lines = ["| code | meaning |", "|---|---|"]
    lines += [f"| `{code.value}` | {code.words} |" for code in RefusalCode]
    return "\n".join(lines) + "\n"
