"""The clinic's patients ranked by urgency, from what their pumps said last and from the record.

Each reason is a sentence with its figure: an active alarm, days to the
low-reservoir alarm, days to the replace-by date, how long since the last
interrogation, a discrepancy at the last refill, a fast-rising dose. The
figures come from each implant's last interrogation and last refill, which the
store reads for all the patients at once (the summary of an interrogation is
kept in the audit trail and, for the dashboard, as the implant's last
interrogation); no pump is reached to draw the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from thecal.apps.clinic.store import ClinicStore, LastInterrogation, Patient, PatientOverview
from thecal.therapy.settings import wall_text
from thecal.therapy.words import alarm_is_critical, alarm_text
from thecal.units import NL_PER_ML

REFILL_SOON_DAYS = 14
REPLACE_SOON_DAYS = 180
INTERROGATION_TOO_OLD_DAYS = 90
DISCREPANCY_ML = 2.0  # assumption: a difference worth a look on the dashboard, whatever the pump model's flag
RISING_FACTOR = 1.5  # assumption: the highest basal dose up by half or more over the interrogations on record
PAGE_SIZE = 20
SORTS = {"urgency": "urgency", "family_name": "name", "mrn": "MRN"}


@dataclass
class Ranked:
    """One patient on the dashboard: their score, reasons in words, and their pumps."""

    patient: Patient
    score: int = 0
    reasons: list[str] = field(default_factory=list)
    serials: list[str] = field(default_factory=list)
    last_interrogated: datetime | None = None

    def add(self, points: int, reason: str) -> None:
        """Count one reason for urgency."""
        self.score += points
        self.reasons.append(reason)


def rank_one(overview: PatientOverview, now: datetime) -> Ranked:
    """One patient's urgency, with every reason in words."""
    ranked = Ranked(overview.patient)
    ranked.serials = [o.implant.pump_serial for o in overview.implants]
    for o in overview.implants:
        serial = o.implant.pump_serial
        read = o.last_interrogation
        if read is None:
            ranked.add(15, f"pump {serial}: never interrogated in this clinic")
        else:
            _from_summary(ranked, serial, read.summary, read.at, now)
            _rising(ranked, serial, read)
            if ranked.last_interrogated is None or read.at > ranked.last_interrogated:
                ranked.last_interrogated = read.at
        last = o.last_fill
        if last is not None and last.aspirated_ml is not None and last.expected_ml is not None:
            gap = last.aspirated_ml - last.expected_ml
            if abs(gap) >= DISCREPANCY_ML:
                ranked.add(
                    25,
                    f"pump {serial}: the last refill aspirated {last.aspirated_ml:g} mL where "
                    f"{last.expected_ml:g} mL was expected ({gap:+.1f} mL)"
                    + ("; acknowledged" if last.discrepancy_acknowledged else ""),
                )
    if not overview.implants:
        ranked.reasons.append("no implanted pump on record")
    return ranked


def _from_summary(ranked: Ranked, serial: str, s: dict[str, object], at: datetime, now: datetime) -> None:
    alarms = s.get("alarms")
    if isinstance(alarms, list) and alarms:
        critical = any(alarm_is_critical(str(a)) for a in alarms)
        ranked.add(100 if critical else 50, f"pump {serial}: alarm {'; '.join(alarm_text(str(a)) for a in alarms)}")
    days_low = s.get("days_to_low_reservoir")
    if isinstance(days_low, int | float) and days_low <= REFILL_SOON_DAYS:
        reservoir = s.get("reservoir_nl")
        left = f" ({reservoir / NL_PER_ML:g} mL left)" if isinstance(reservoir, int) else ""
        ranked.add(40 if days_low <= 7 else 20, f"pump {serial}: low-reservoir alarm in {days_low:g} days{left}")
    days_eos = s.get("days_to_replace_by")
    basis = s.get("replace_by_basis")
    due = s.get("replace_by_wall_ms")
    day = f" ({wall_text(due)[:10]})" if type(due) is int else ""
    if basis == "end_of_service":
        ranked.add(150, f"pump {serial}: end of service: the battery is exhausted and the pump has stopped")
    elif basis == "eri_reached" and isinstance(days_eos, int | float):
        ranked.add(
            80,
            f"pump {serial}: elective replacement indicator reached: replace the pump within {days_eos:g} days"
            f"{day}, its end of service",
        )
    elif isinstance(days_eos, int | float) and days_eos <= REPLACE_SOON_DAYS:
        ranked.add(
            50 if days_eos <= 30 else 30,
            f"pump {serial}: replace-by date in {days_eos:g} days{day}, projected from the battery used",
        )
    age_days = (now - at).total_seconds() / 86_400
    if age_days > INTERROGATION_TOO_OLD_DAYS:
        ranked.add(15, f"pump {serial}: last interrogated {age_days:.0f} days ago")


def _rising(ranked: Ranked, serial: str, read: LastInterrogation) -> None:
    """A highest basal dose that rose by half or more between the oldest and newest interrogation that gave one."""
    first, last = read.first_dose_ng_per_day, read.last_dose_ng_per_day
    if read.doses_known >= 2 and first is not None and last is not None and last >= RISING_FACTOR * first:
        ranked.add(
            20,
            f"pump {serial}: the highest basal dose rose {last / first:.1f}-fold over the interrogations "
            "on record (a fast-rising dose is a risk sign of a catheter-tip inflammatory mass)",
        )


def dashboard(
    store: ClinicStore,
    now: datetime,
    *,
    text: str = "",
    sort: str = "urgency",
    page: int = 1,
    per_page: int = PAGE_SIZE,
) -> tuple[list[Ranked], int]:
    """One page of patients matching the search, ranked by urgency or sorted by name or MRN; and the total.

    Sorted by name or MRN, the database searches, sorts and pages, and only the
    page's patients are ranked. By urgency, every patient matching the search
    is ranked (the score needs every reason) and the page is cut from them.
    Either way the store reads the patients, their active implants, last
    interrogations and last refills in a few statements for all of them.
    """
    sort = sort if sort in SORTS else "urgency"
    page = max(page, 1)
    if sort != "urgency":
        overviews, total = store.patient_overviews(text, sort=sort, page=page, per_page=per_page)
        return [rank_one(o, now) for o in overviews], total
    everyone, total = store.patient_overviews(text, sort="family_name", per_page=None)
    ranked = sorted(
        (rank_one(o, now) for o in everyone),
        key=lambda r: (-r.score, r.patient.family_name, r.patient.given_name),
    )
    start = (page - 1) * per_page
    return ranked[start : start + per_page], total
