"""What a clinician types into the app's forms, read into the integers of a therapy intent.

Every quantity is typed with its unit and read strictly by `thecal.units`
("0.5 mg/day" and "500 mcg/day" mean the same; "1,5 mg/day" is refused) within
its field's physical range. A mistake is an `InputError` naming the form field,
the value and what to do; nothing here judges a dose: the therapy layer does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from thecal.clinical.bolus import UM_PER_CM, CatheterSegment, catheter_volume_nl
from thecal.drugs.fill import Fill
from thecal.errors import InputError
from thecal.pump.core.alarms import Alarm
from thecal.pump.core.schedule import DAY_NAMES, DoseSchedule, DoseStep
from thecal.therapy import (
    AlarmTest,
    ClearAlarm,
    ClinicianBolus,
    Implant,
    Intent,
    PeriodicBolus,
    PeriodicBolusOff,
    PostMriCheck,
    Prescribe,
    PrimingBolus,
    PtmOff,
    PtmSettings,
    Refill,
    Titrate,
)
from thecal.units import (
    ASPIRATED_VOLUME,
    BOLUS_DOSE,
    BOLUS_DURATION,
    CATHETER_LENGTH,
    CATHETER_VOLUME_PER_LENGTH,
    CONCENTRATION_RANGE,
    DAILY_DOSE,
    DEMAND_DOSES_PER_DAY,
    FILL_VOLUME,
    LOCKOUT,
    LOW_RESERVOIR_ALARM,
    MS_PER_HOUR,
    MS_PER_MIN,
    PERIODIC_INTERVAL,
    PRIMING_DURATION,
    PRIMING_VOLUME,
    calendar_date,
    count,
    format_exact,
    plain_text,
    quantity,
)

Form = Mapping[str, str]
REASON_MAX_CHARACTERS = 1_000
TEXT_MAX_CHARACTERS = 2_000
SCHEDULE_ROWS = 12
# Which weekdays a schedule row covers, as the editor offers them.
DAY_CHOICES: dict[str, tuple[int, ...]] = {
    "every day": tuple(range(7)),
    "mon-fri": (0, 1, 2, 3, 4),
    "sat-sun": (5, 6),
    **{name: (i,) for i, name in enumerate(DAY_NAMES)},
}
_TIME = re.compile(r"(?P<h>[0-9]{2}):(?P<m>[0-9]{2})")


def text(form: Form, name: str) -> str:
    """A field as typed, without surrounding blanks; empty when absent."""
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def required(form: Form, name: str, what: str, like: str) -> str:
    """A field that must be filled in."""
    value = text(form, name)
    if not value:
        raise InputError(name, "", f"{what} is missing", f"type it, like {like}")
    return value


def reason(form: Form, name: str = "override_reason") -> str | None:
    """A physician's written reason to pass soft limits, or None when none was written."""
    value = text(form, name)
    return plain_text(value, name, max_characters=REASON_MAX_CHARACTERS) if value else None


def note_text(form: Form, name: str, *, required: bool = True) -> str:
    """Free text for the record (a note, a summary): plain text of a bounded length, line breaks kept as "\\n"."""
    value = text(form, name).replace("\r\n", "\n").replace("\r", "\n")
    plain_text(value.replace("\n", " "), name, max_characters=TEXT_MAX_CHARACTERS, required=required)
    return value


def checked(form: Form, name: str) -> bool:
    """Whether a checkbox was ticked."""
    return text(form, name) in ("on", "yes", "true", "1")


def time_of_day_ms(value: str, field: str) -> int:
    """A time of day like "07:30", in ms after midnight."""
    match = _TIME.fullmatch(value.strip())
    if match is None or int(match["h"]) > 23 or int(match["m"]) > 59:
        raise InputError(field, value, "is not a time of day", 'write it as HH:MM on the 24 h clock, like "07:30"')
    return int(match["h"]) * MS_PER_HOUR + int(match["m"]) * MS_PER_MIN


@dataclass(frozen=True)
class ScheduleRow:
    """One row of the schedule editor: from `at` on the chosen days, this daily dose."""

    days: str
    at: str
    dose: str


def schedule_rows(form: Form) -> list[ScheduleRow]:
    """The editor's rows as typed, empty rows left out."""
    rows = []
    for i in range(SCHEDULE_ROWS):
        row = ScheduleRow(text(form, f"days_{i}") or "every day", text(form, f"at_{i}"), text(form, f"dose_{i}"))
        if row.at or text(form, f"dose_{i}"):
            rows.append(row)
    return rows


def schedule(form: Form) -> DoseSchedule:
    """The prescription of the form: one continuous daily dose, or the flexible rows of the 24 h / 7-day editor."""
    mode = text(form, "mode") or "continuous"
    if mode == "continuous":
        dose = required(form, "dose", "the daily dose", '"0.5 mg/day"')
        return DoseSchedule.continuous(quantity(dose, "dose", DAILY_DOSE))
    if mode != "flexible":
        raise InputError("mode", mode, "is not a kind of prescription", "choose continuous or flexible")
    rows = schedule_rows(form)
    if not rows:
        raise InputError("steps", "", "no step given", 'give at least a row for every day from "00:00"')
    days: list[dict[int, tuple[int, int]]] = [{} for _ in range(7)]
    for i, row in enumerate(rows):
        where = f"step {i + 1}"
        chosen = DAY_CHOICES.get(row.days)
        if chosen is None:
            raise InputError(f"{where} days", row.days, "is not a choice of days", f"choose one of {list(DAY_CHOICES)}")
        at = time_of_day_ms(row.at or "", f"{where} time")
        if not row.dose:
            raise InputError(f"{where} dose", "", "the daily dose is missing", 'type it, like "0.5 mg/day"')
        dose_ng = quantity(row.dose, f"{where} dose", DAILY_DOSE)
        for day in chosen:
            if at in days[day]:
                other = days[day][at][1]
                raise InputError(
                    f"{where} time",
                    row.at,
                    f"{DAY_NAMES[day]} already has a step at {row.at} (step {other + 1})",
                    "give each day at most one step at each time",
                )
            days[day][at] = (dose_ng, i)
    for day, steps in enumerate(days):
        if 0 not in steps:
            raise InputError(
                "steps",
                DAY_NAMES[day],
                f"{DAY_NAMES[day]} has no step from 00:00",
                'give every day a step from "00:00" (a row for "every day" at 00:00 covers them all)',
            )
    return DoseSchedule(tuple(tuple(DoseStep(at, days[d][at][0]) for at in sorted(days[d])) for d in range(7)))


def fill(form: Form) -> Fill:
    """The drug and concentration typed from the vial label, and typed again to confirm: never defaulted."""
    drug = required(form, "drug", "the drug on the vial label", '"morphine"')
    conc_text = required(form, "concentration", "the concentration on the vial label", '"10 mg/mL"')
    again_drug = required(form, "drug_confirm", "the drug, typed a second time", '"morphine"')
    again_conc = required(form, "concentration_confirm", "the concentration, typed a second time", '"10 mg/mL"')
    conc = quantity(conc_text, "concentration", CONCENTRATION_RANGE)
    if again_drug.lower() != drug.lower():
        raise InputError(
            "drug_confirm", again_drug, f"differs from the drug typed first ({drug!r})", "read the vial again"
        )
    if quantity(again_conc, "concentration_confirm", CONCENTRATION_RANGE) != conc:
        raise InputError(
            "concentration_confirm",
            again_conc,
            f"differs from the concentration typed first ({conc_text!r})",
            "read the vial label again and type the same concentration twice",
        )
    extra = text(form, "admixture")
    if extra:
        return Fill.parse(f"{drug} {conc_text} + {extra}", "admixture")
    return Fill.single(drug.lower(), conc)


def refill(form: Form, *, new_prescription: DoseSchedule | None = None) -> Refill:
    """A refill: the aspirated volume, what goes in, the bridge and the acknowledged discrepancy."""
    threshold = text(form, "low_reservoir_alarm")
    return Refill(
        quantity(required(form, "volume", "the volume put in", '"20 mL"'), "volume", FILL_VOLUME),
        fill(form),
        quantity(required(form, "aspirated", "the volume aspirated", '"1.9 mL"'), "aspirated", ASPIRATED_VOLUME),
        bridge=not checked(form, "no_bridge"),
        new_prescription=new_prescription,
        low_reservoir_alarm_nl=quantity(threshold, "low_reservoir_alarm", LOW_RESERVOIR_ALARM) if threshold else None,
        discrepancy_acknowledged=checked(form, "acknowledge_discrepancy"),
        override_reason=reason(form),
    )


def prescribe(form: Form) -> Prescribe:
    """A new prescription."""
    return Prescribe(schedule(form), override_reason=reason(form))


def clinician_bolus(form: Form) -> ClinicianBolus:
    """A clinician bolus of the lead drug."""
    return ClinicianBolus(
        quantity(required(form, "dose", "the bolus dose", '"0.5 mg"'), "dose", BOLUS_DOSE),
        quantity(required(form, "duration", "over how long", '"10 min"'), "duration", BOLUS_DURATION),
        override_reason=reason(form),
    )


def ptm(form: Form) -> PtmSettings | PtmOff:
    """The patient's handset settings, or off."""
    if checked(form, "off"):
        return PtmOff(override_reason=reason(form))
    return PtmSettings(
        quantity(required(form, "dose", "each demand dose", '"0.1 mg"'), "dose", BOLUS_DOSE),
        quantity(required(form, "duration", "each dose over", '"10 min"'), "duration", BOLUS_DURATION),
        quantity(required(form, "lockout", "the lockout", '"2 h"'), "lockout", LOCKOUT),
        count(required(form, "max_per_24h", "the most doses in 24 h", "4"), "max_per_24h", DEMAND_DOSES_PER_DAY),
        override_reason=reason(form),
    )


def priming(form: Form) -> PrimingBolus:
    """A priming bolus: the dead volume and the fastest flow unless typed."""
    volume, duration = text(form, "volume"), text(form, "duration")
    return PrimingBolus(
        quantity(volume, "volume", PRIMING_VOLUME) if volume else None,
        quantity(duration, "duration", PRIMING_DURATION) if duration else None,
        override_reason=reason(form),
    )


def periodic(form: Form) -> PeriodicBolus | PeriodicBolusOff:
    """A periodic bolus, or off."""
    if checked(form, "off"):
        return PeriodicBolusOff(override_reason=reason(form))
    return PeriodicBolus(
        quantity(required(form, "dose", "each bolus", '"0.2 mg"'), "dose", BOLUS_DOSE),
        quantity(required(form, "duration", "each bolus over", '"30 min"'), "duration", BOLUS_DURATION),
        quantity(required(form, "every", "the interval", '"6 h"'), "every", PERIODIC_INTERVAL),
        time_of_day_ms(required(form, "first", "the time of the first bolus", '"08:00"'), "first"),
        override_reason=reason(form),
    )


def titrate(form: Form) -> Titrate:
    """A new daily dose (a flexible schedule is scaled to it by the therapy layer)."""
    return Titrate(
        quantity(required(form, "dose", "the new daily dose", '"1.2 mg/day"'), "dose", DAILY_DOSE),
        override_reason=reason(form),
    )


def clear_alarm(form: Form) -> ClearAlarm:
    """Clear one alarm whose cause was handled."""
    name = required(form, "alarm", "the alarm to clear", "low_reservoir")
    try:
        alarm = Alarm(name)
    except ValueError:
        raise InputError("alarm", name, "is not an alarm of the pump", "choose an alarm the pump shows") from None
    return ClearAlarm(alarm, override_reason=reason(form))


def post_mri(form: Form) -> PostMriCheck:
    """The check after an MRI."""
    return PostMriCheck(override_reason=reason(form))


def alarm_test(form: Form) -> AlarmTest:
    """The alarm test: the pump sounds each of its tones once for the patient to hear."""
    return AlarmTest(override_reason=reason(form))


def catheter_segment(form: Form) -> CatheterSegment:
    """The implanted catheter as typed: its length and its volume per cm (from the catheter labeling)."""
    length = quantity(required(form, "length", "the catheter's length", '"45 cm"'), "length", CATHETER_LENGTH)
    per_cm = quantity(
        required(form, "volume_per_cm", "the catheter's volume per cm", '"2.2 uL/cm"'),
        "volume_per_cm",
        CATHETER_VOLUME_PER_LENGTH,
    )
    return CatheterSegment(length, per_cm)


def catheter(form: Form) -> Implant:
    """The new catheter's volume for the pump (length × volume per cm), after an implant or a revision."""
    return Implant(catheter_volume_nl((catheter_segment(form),)), override_reason=reason(form))


def typed_cm(length_cm: float) -> str:
    """A catheter length from the record, as the form takes it ("40 cm")."""
    return format_exact(round(length_cm * UM_PER_CM), UM_PER_CM, "cm", decimals=1)


def typed_ul_per_cm(volume_ul_per_cm: float) -> str:
    """A catheter's volume per cm from the record, as the form takes it ("2.2 uL/cm")."""
    return format_exact(round(volume_ul_per_cm * 1_000), 1_000, "uL/cm", decimals=3)


@dataclass(frozen=True)
class Revision:
    """A catheter revision as typed: the day, the new length and tip level, and a note."""

    revised_on: date
    new_length_cm: float
    new_tip_level: str
    note: str


def revision(form: Form) -> Revision:
    """A catheter revision: its date (YYYY-MM-DD), the new length with its unit, the new tip level, a note."""
    revised_on = calendar_date(required(form, "revised_on", "the day of the revision", "2026-02-01"), "revised_on")
    length_um = quantity(
        required(form, "new_length", "the new catheter length", '"40 cm"'), "new_length", CATHETER_LENGTH
    )
    tip = plain_text(required(form, "new_tip_level", "the new tip level", "T10"), "new_tip_level", max_characters=32)
    return Revision(revised_on, length_um / UM_PER_CM, tip, note_text(form, "note", required=False))


# The kinds of visit the clinic records, as the visit form offers them.
VISIT_KINDS: dict[str, str] = {
    "refill": "refill",
    "follow-up": "follow-up",
    "programming": "programming",
    "titration": "titration",
    "catheter revision": "catheter revision",
    "post-MRI check": "post-MRI check",
    "alarm": "alarm",
    "screening trial": "screening trial",
    "implant": "implant",
    "replacement": "pump replacement",
    "other": "other",
}


@dataclass(frozen=True)
class VisitForm:
    """A visit as typed: its kind and what was done."""

    kind: str
    summary: str


def visit(form: Form) -> VisitForm:
    """A visit: one of the clinic's kinds and a summary in words."""
    kind = required(form, "kind", "the kind of visit", "follow-up")
    if kind not in VISIT_KINDS:
        raise InputError("kind", kind, "is not a kind of visit", f"choose one of {list(VISIT_KINDS)}")
    return VisitForm(kind, note_text(form, "summary"))


# The workflows of the pump page: their form reader and their title.
WORKFLOWS: dict[str, str] = {
    "prescribe": "Prescription change",
    "refill": "Refill",
    "bolus": "Clinician bolus",
    "ptm": "Patient's handset (PTM) settings",
    "catheter": "New catheter (after an implant or a revision)",
    "priming": "Priming bolus",
    "periodic": "Periodic bolus",
    "titrate": "Titration",
    "clear-alarm": "Alarm review and clearing",
    "post-mri": "Post-MRI check",
    "alarm-test": "Alarm test",
}


def intent_of(workflow: str, form: Form) -> Intent:
    """The intent a workflow's form asks for."""
    if workflow == "prescribe":
        return prescribe(form)
    if workflow == "refill":
        with_new = text(form, "mode") in ("continuous", "flexible") and checked(form, "new_prescription")
        return refill(form, new_prescription=schedule(form) if with_new else None)
    readers = {
        "bolus": clinician_bolus,
        "ptm": ptm,
        "catheter": catheter,
        "priming": priming,
        "periodic": periodic,
        "titrate": titrate,
        "clear-alarm": clear_alarm,
        "post-mri": post_mri,
        "alarm-test": alarm_test,
    }
    reader = readers.get(workflow)
    if reader is None:
        raise InputError("workflow", workflow, "is not a workflow of this app", f"choose one of {list(WORKFLOWS)}")
    return reader(form)
