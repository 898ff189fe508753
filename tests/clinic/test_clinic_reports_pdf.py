"""The visit summary PDF: a real PDF, its pages, every quantity with its unit, doses as doses, literal free text."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from matplotlib.text import Text
from tests.clinic.test_clinic_reports_record import (
    GENERATED_AT,
    PainScore,
    sample_implant,
    sample_patient,
    sample_record,
)

from thecal.apps.clinic.reports.pdf import visit_summary_figures, visit_summary_pdf
from thecal.apps.clinic.reports.record import DoseSeries, PatientRecord, Prescription, SettingRow

CLINIC = "Northside Pain Clinic"


def _pdf(record: PatientRecord) -> bytes:
    return visit_summary_pdf(record, clinic_name=CLINIC, generated_at=GENERATED_AT)


def _page_count(data: bytes) -> int:
    """Pages counted in the PDF's own objects (matplotlib writes them uncompressed), without a PDF library."""
    return len(re.findall(rb"/Type /Page\b", data))


def _words(record: PatientRecord) -> list[str]:
    """The text drawn on each page, read from the figures (quicker than writing and reading back a PDF)."""
    pages = visit_summary_figures(record, clinic_name=CLINIC, generated_at=GENERATED_AT)
    return [" ".join(" ".join(t.get_text() for t in fig.findobj(Text)).split()) for fig in pages]


def _text(data: bytes) -> list[str]:
    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(io.BytesIO(data))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


@pytest.fixture(scope="module")
def sample_pdf() -> bytes:
    """The sample record's summary, made once for the tests that only read it."""
    return _pdf(sample_record())


@pytest.fixture(scope="module")
def sample_pages(sample_pdf: bytes) -> list[str]:
    """The text of each page of the sample summary."""
    return _text(sample_pdf)


def test_the_summary_is_a_pdf_of_four_pages(sample_pdf: bytes) -> None:
    data = sample_pdf
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    assert _page_count(data) == 4


def test_the_pdf_names_the_patient_and_the_clinic_in_its_metadata(sample_pdf: bytes) -> None:
    pypdf = pytest.importorskip("pypdf")
    meta = pypdf.PdfReader(io.BytesIO(sample_pdf)).metadata
    assert meta is not None
    assert "MRN-0042" in (meta.title or "")
    assert meta.author == CLINIC


def test_every_page_carries_the_patient_and_its_page_number(sample_pages: list[str]) -> None:
    pages = sample_pages
    for n, page in enumerate(pages, start=1):
        assert "MRN MRN-0042" in page
        assert f"page {n} of {len(pages)}" in page


def test_the_title_page_shows_patient_implant_drug_and_concentration_with_units(sample_pages: list[str]) -> None:
    first = sample_pages[0]
    for expected in (
        "LINDQVIST, Astrid",
        "64.5 kg",
        "cancer pain",
        "opioid-tolerant",
        "programmable-40, serial TV40-000317",
        "52 cm × 2.2 µL/cm = 114.4 µL",
        "morphine 25 mg/mL + bupivacaine 7.5 mg/mL",
        "2.5 mg/day at 25 mg/mL = 0.1 mL/day",
        "worst case 2.9 mg/day",
    ):
        assert expected in first, expected


def test_the_settings_table_marks_the_changed_rows_in_words(sample_pages: list[str]) -> None:
    second = sample_pages[1]
    assert "4 of 8 settings changed" in second
    assert "Morphine, continuous 2 2.5 mg/day CHANGED" in second
    assert "PTM lockout 4 4 h" in second
    assert "PTM lockout 4 4 h CHANGED" not in second


def test_the_refill_record_shows_expected_aspirated_and_the_flag(sample_pages: list[str]) -> None:
    second = sample_pages[1]
    assert "Expected in reservoir 5.6 mL" in second
    assert "Aspirated 3.1 mL" in second
    assert "-2.50 mL (aspirated − expected); flag threshold 2 mL" in second
    assert "FLAGGED: the discrepancy of 2.50 mL is over 2 mL (acknowledged at the refill)" in second
    assert "1000 mg morphine, 300 mg bupivacaine" in second


def test_an_unflagged_refill_says_no_flag() -> None:
    fills = [replace(f, aspirated_ml=f.expected_ml) for f in sample_record().fills]
    second = _words(sample_record(fills=fills))[1]
    assert "FLAGGED" not in second
    assert "+0.00 mL" in second


def test_alarms_and_the_event_log_are_listed(sample_pages: list[str]) -> None:
    third = sample_pages[2]
    assert "1 active, 1 cleared" in third
    assert "motor stall critical ACTIVE" in third
    assert "reservoir filled: 40 mL morphine 25 mg/mL" in third
    assert "400" in third and "417" in third


def test_the_plot_page_labels_its_axes_with_units(sample_pages: list[str]) -> None:
    last = sample_pages[3]
    for label in ("dose (mg/day)", "reservoir (mL)", "presses (count)", "pain (0-10)", "dose given", "refused"):
        assert label in last, label


def test_ziconotide_is_shown_in_mcg_as_a_dose() -> None:
    record = sample_record(
        fills=[replace(sample_record().fills[-1], drugs=(("ziconotide", 0.1),))],
        prescriptions=[Prescription("ziconotide", "mcg", 2.4, 0.1)],
        delivered=[DoseSeries("ziconotide", "mcg", ((GENERATED_AT.date(), 2.4),))],
        settings=[SettingRow.compare("Ziconotide, continuous", 1.2, 2.4, "mcg/day")],
    )
    pages = _words(record)
    text = " ".join(pages)
    assert "ziconotide 100 mcg/mL" in text
    assert "2.4 mcg/day at 100 mcg/mL = 0.024 mL/day" in text
    assert "4000 mcg ziconotide" in text  # 40 mL at 100 mcg/mL
    assert "dose (mcg/day)" in pages[-1]
    assert "0.1 mg/mL" not in text


def test_two_dose_units_get_two_axes() -> None:
    record = sample_record(
        delivered=[
            DoseSeries("morphine", "mg", ((GENERATED_AT.date(), 2.5),)),
            DoseSeries("clonidine", "mcg", ((GENERATED_AT.date(), 60.0),)),
        ]
    )
    last = _words(record)[-1]
    assert "dose (mg/day)" in last and "dose (mcg/day)" in last
    assert "clonidine (mcg/day)" in last


def test_free_text_is_printed_literally_not_as_markup() -> None:
    odd = "O'Brien $x^2$ \\alpha <script>"
    record = sample_record(patient=sample_patient(family_name=odd), visit=replace(sample_record().visit, summary=odd))
    record = replace(record, implants=[sample_implant()])
    first = _text(_pdf(record))[0]
    assert "$X^2$" in first  # the family name, upper-cased, dollar signs and all
    assert "$x^2$ \\alpha <script>" in first


def test_a_long_event_log_runs_onto_more_pages() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    events = [
        {"seq": n, "at": start + timedelta(hours=n), "kind": "delivery", "detail": f"stroke batch {n}"}
        for n in range(150)
    ]
    pages = _words(sample_record(events=events))
    assert len(pages) > 4
    assert all(f"page {n} of {len(pages)}" in page for n, page in enumerate(pages, start=1))
    assert "stroke batch 149" in " ".join(pages)


def test_a_record_with_only_a_patient_still_makes_a_summary() -> None:
    text = " ".join(_words(PatientRecord(sample_patient())))
    for words in ("No implant on record", "no fill on record", "No refill on record", "No alarm on record"):
        assert words in text, words
    assert "no pain score on record" in text


def test_the_same_record_gives_the_same_bytes(sample_pdf: bytes) -> None:
    assert _pdf(sample_record()) == sample_pdf


def test_the_figures_can_be_drawn_to_png() -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    pages = visit_summary_figures(sample_record(), clinic_name=CLINIC, generated_at=GENERATED_AT)
    out = io.BytesIO()
    FigureCanvasAgg(pages[-1]).print_png(out)
    assert out.getvalue().startswith(b"\x89PNG")


def test_making_a_report_does_not_load_pyplot() -> None:
    code = (
        "import sys\n"
        "from tests.clinic.test_clinic_reports_record import sample_record, GENERATED_AT\n"
        "from thecal.apps.clinic.reports.pdf import visit_summary_pdf\n"
        "visit_summary_pdf(sample_record(), clinic_name='c', generated_at=GENERATED_AT)\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr


def test_pain_scores_from_an_unknown_source_still_plot() -> None:
    scores = [PainScore(1, 7, GENERATED_AT, 5, "phone call", "")]
    last = _words(sample_record(pain_scores=scores))[-1]
    assert "phone call" in last


def test_control_and_direction_override_characters_are_shown_not_obeyed() -> None:
    first = _words(sample_record(patient=sample_patient(given_name="Ann\u202eevil\x07")))[0]
    assert "Ann\ufffdevil\ufffd" in first
