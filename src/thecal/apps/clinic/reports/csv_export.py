"""CSV export of the clinic's patients, fills and pain scores, safe to open in a spreadsheet.

One header row; the unit of every quantity in its column name; times in ISO
8601. Text that a spreadsheet would run as a formula (starting with = + - @,
or a tab or carriage return) is written with a leading apostrophe, so a
patient named "=HYPERLINK(...)" stays a name. Numbers the export writes
itself (a negative refill difference) stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from thecal.apps.clinic.reports.record import (
    DrugFillLike,
    ImplantLike,
    PainScoreLike,
    PatientLike,
    reconcile,
)

# What a spreadsheet reads as the start of a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | bool | date | datetime | None


def neutralised(text: str) -> str:
    """Text a spreadsheet shows as text: a leading ' when it would otherwise start a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | float):
        return repr(value)
    return neutralised(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


PATIENT_COLUMNS = (
    "patient_id",
    "mrn",
    "family_name",
    "given_name",
    "birth_date",
    "weight_kg",
    "indication",
    "opioid_status",
)


def patients_csv(patients: Iterable[PatientLike]) -> str:
    """The patients as CSV: one row each, weight in kg, date of birth in ISO 8601."""
    rows = (
        (p.id, p.mrn, p.family_name, p.given_name, p.birth_date, p.weight_kg, p.indication, p.opioid_status)
        for p in patients
    )
    return _table(PATIENT_COLUMNS, rows)


FILL_COLUMNS_BEFORE_DRUGS = ("fill_id", "implant_id", "pump_serial", "at")
FILL_COLUMNS_AFTER_DRUGS = (
    "volume_mL",
    "expected_mL",
    "aspirated_mL",
    "difference_mL",
    "flag_threshold_mL",
    "flagged",
    "discrepancy_acknowledged",
    "by_user_id",
)


def fills_csv(fills: Iterable[DrugFillLike], implants: Iterable[ImplantLike] = ()) -> str:
    """The reservoir fills as CSV: each drug with its concentration (mg/mL) and amount (mg), and the reconciliation.

    `implants` gives each fill its pump serial and the pump model's flag
    threshold; a fill whose implant is not given gets the strictest threshold.
    The difference is aspirated − expected (negative: less came back).
    """
    fill_list = list(fills)
    by_id = {implant.id: implant for implant in implants}
    width = max((len(fill.drugs) for fill in fill_list), default=1) or 1
    header = list(FILL_COLUMNS_BEFORE_DRUGS)
    for n in range(1, width + 1):
        header += [f"drug_{n}", f"drug_{n}_mg_per_mL", f"drug_{n}_amount_mg"]
    header += FILL_COLUMNS_AFTER_DRUGS
    rows: list[list[Cell]] = []
    for fill in fill_list:
        implant = by_id.get(fill.implant_id)
        check = reconcile(fill, implant.pump_model if implant else None)
        row: list[Cell] = [fill.id, fill.implant_id, implant.pump_serial if implant else None, fill.at]
        for n in range(width):
            if n < len(fill.drugs):
                drug, mg_per_ml = fill.drugs[n]
                row += [drug, mg_per_ml, round(mg_per_ml * fill.volume_ml, 6)]
            else:
                row += [None, None, None]
        row += [
            fill.volume_ml,
            fill.expected_ml,
            fill.aspirated_ml,
            check.difference_ml,
            check.flag_ml,
            check.flagged,
            fill.discrepancy_acknowledged,
            fill.by_user_id,
        ]
        rows.append(row)
    return _table(header, rows)


PAIN_COLUMNS = ("pain_score_id", "patient_id", "at", "score_0_to_10", "source", "note")


def pain_scores_csv(scores: Iterable[PainScoreLike]) -> str:
    """The pain scores as CSV: the 0-10 score, when, where it came from and the note."""
    rows = ((s.id, s.patient_id, s.at, s.score, s.source, s.note) for s in scores)
    return _table(PAIN_COLUMNS, rows)
