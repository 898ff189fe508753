"""The visit summary as a PDF: who and which pump, what changed, the refill, alarms, events, and four plots.

Pages are A4, drawn with matplotlib's object API (Figure, PdfPages) and no
pyplot, so making a report changes no global plotting state and needs no
display. Every page carries the patient's name, MRN and "page n of N". Every
quantity is printed with its unit and a dose as a dose (mg or mcg per day);
a changed setting and a flagged refill are marked in words as well as in
colour. Free text from the record (names, summaries, event details) is
printed as it is: never read as markup.
"""

from __future__ import annotations

import io
import textwrap
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from thecal.apps.clinic.reports.record import (
    MCG_PER_MG,
    Alarm,
    DrugFillLike,
    PatientRecord,
    Prescription,
    SettingRow,
    concentration_text,
    drug_mass_unit,
    number_text,
    reconcile,
)

PAGE_W_IN, PAGE_H_IN = 8.27, 11.69  # A4
MARGIN_IN = 0.6
FOOTER_IN = 0.55
BODY_PT = 9.0
LINE_IN = BODY_PT * 1.45 / 72
TABLE_PT = 8.0
# Generous average character widths of DejaVu Sans, in em: text is wrapped to fit by this estimate.
CHAR_EM, BOLD_CHAR_EM = 0.6, 0.68
CELL_LINES_MAX = 6
HIGHLIGHT = "#ffe08a"
FLAG = "#f4b6b6"
HEADER_FILL = "#e3e8ef"
EVENTS_SHOWN_MAX = 200
LINE_STYLES = ("-", "--", "-.", ":")  # each drug its own line style as well as its own colour
OUTSIDE: dict[str, Any] = {"fontsize": 8, "loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "frameon": False}
INDICATIONS = {"cancer": "cancer pain", "non_cancer": "non-cancer pain"}
OPIOID = {"naive": "opioid-naïve", "tolerant": "opioid-tolerant"}


def when(at: datetime | date | None) -> str:
    """A date or time as the report prints it: ISO order, minutes, and the UTC offset when known."""
    if at is None:
        return "—"
    if not isinstance(at, datetime):
        return at.isoformat()
    text = at.strftime("%Y-%m-%d %H:%M")
    offset = at.utcoffset()
    if offset is None:
        return text
    if not offset:
        return text + " UTC"
    return text + " " + at.strftime("%z")[:3] + ":" + at.strftime("%z")[3:]


def printable(text: str) -> str:
    """Text with control and direction-override characters shown as U+FFFD, so what is printed is what is stored."""
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in text)


def _wrap(text: str, width_in: float, *, size: float = BODY_PT, bold: bool = False, most: int = 0) -> list[str]:
    """Text wrapped to a width (long words broken), at most `most` lines (0: no limit) with an ellipsis when cut."""
    room = max(1, int(width_in / (size * (BOLD_CHAR_EM if bold else CHAR_EM) / 72)))
    lines = textwrap.wrap(" ".join(str(text).split()), room) or [""]
    if most and len(lines) > most:
        lines = lines[:most]
        lines[-1] = lines[-1][: room - 1] + "…"
    return lines


@dataclass(frozen=True)
class Column:
    """A table column: its heading and its share of the page width."""

    heading: str
    share: float


class _Document:
    """A growing list of A4 figures with a writing position on the last one."""

    def __init__(self) -> None:
        self.pages: list[Figure] = []
        self.y_in = 0.0
        self.new_page()

    @property
    def page(self) -> Figure:
        return self.pages[-1]

    def new_page(self) -> None:
        self.pages.append(Figure(figsize=(PAGE_W_IN, PAGE_H_IN)))
        self.y_in = MARGIN_IN

    def room(self, height_in: float) -> None:
        """Start a new page unless `height_in` still fits on this one."""
        if self.y_in + height_in > PAGE_H_IN - MARGIN_IN - FOOTER_IN:
            self.new_page()

    def text(
        self, x_in: float, text: str, *, size: float = BODY_PT, weight: str = "normal", color: str = "black"
    ) -> None:
        """Text at x on the current line (top-aligned); it is printed literally, never as math markup."""
        self.page.text(
            x_in / PAGE_W_IN,
            1 - self.y_in / PAGE_H_IN,
            printable(text),
            fontsize=size,
            fontweight=weight,
            color=color,
            va="top",
            ha="left",
            parse_math=False,
        )

    def box(self, x_in: float, width_in: float, height_in: float, color: str) -> None:
        """A filled box from the current line down."""
        self.page.add_artist(
            Rectangle(
                (x_in / PAGE_W_IN, 1 - (self.y_in + height_in) / PAGE_H_IN),
                width_in / PAGE_W_IN,
                height_in / PAGE_H_IN,
                transform=self.page.transFigure,
                facecolor=color,
                edgecolor="none",
                zorder=-1,
            )
        )

    def title(self, text: str) -> None:
        """The page's big title."""
        self.text(MARGIN_IN, text, size=18, weight="bold")
        self.y_in += 0.42

    def heading(self, text: str) -> None:
        """A section heading, kept on one page with at least a few lines after it."""
        self.room(0.36 + 4 * LINE_IN)
        self.y_in += 0.12
        self.text(MARGIN_IN, text, size=12, weight="bold")
        self.y_in += 0.26

    def pairs(self, items: Sequence[tuple[str, str]], label_in: float = 1.9) -> None:
        """Label: value lines, the value wrapped to the page."""
        value_in = PAGE_W_IN - 2 * MARGIN_IN - label_in
        for label, value in items:
            lines = _wrap(value, value_in) if value.strip() else ["—"]
            self.room(LINE_IN * len(lines))
            self.text(MARGIN_IN, label, weight="bold")
            for line in lines:
                self.text(MARGIN_IN + label_in, line)
                self.y_in += LINE_IN

    def paragraph(self, text: str, *, color: str = "black") -> None:
        """Wrapped text across the page."""
        for line in _wrap(text, PAGE_W_IN - 2 * MARGIN_IN):
            self.room(LINE_IN)
            self.text(MARGIN_IN, line, color=color)
            self.y_in += LINE_IN

    def table(self, columns: Sequence[Column], rows: Sequence[Sequence[str]], marks: Sequence[str | None] = ()) -> None:
        """A table whose cells wrap, continued on the next page under its heading; marks[i] shades row i."""
        width_in = PAGE_W_IN - 2 * MARGIN_IN
        total = sum(c.share for c in columns)
        widths = [width_in * c.share / total for c in columns]
        line_in = TABLE_PT * 1.4 / 72
        pad_in = 0.05

        def row_out(cells: Sequence[str], *, bold: bool, fill: str | None) -> None:
            wrapped = [
                _wrap(cell, w - 0.08, size=TABLE_PT, bold=bold, most=CELL_LINES_MAX)
                for cell, w in zip(cells, widths, strict=True)
            ]
            height = line_in * max(len(lines) for lines in wrapped) + pad_in
            if self.y_in + height > PAGE_H_IN - MARGIN_IN - FOOTER_IN:
                self.new_page()
                heading()
            if fill:
                self.box(MARGIN_IN, width_in, height, fill)
            x = MARGIN_IN
            top = self.y_in
            for lines, w in zip(wrapped, widths, strict=True):
                self.y_in = top + pad_in / 2
                for line in lines:
                    self.text(x + 0.04, line, size=TABLE_PT, weight="bold" if bold else "normal")
                    self.y_in += line_in
                x += w
            self.y_in = top + height

        def heading() -> None:
            row_out([c.heading for c in columns], bold=True, fill=HEADER_FILL)

        self.room(4 * line_in)
        heading()
        for n, row in enumerate(rows):
            mark = marks[n] if n < len(marks) else None
            row_out(row, bold=mark is not None, fill=mark)
        self.y_in += 0.1


def _name(record: PatientRecord) -> str:
    p = record.patient
    return f"{p.family_name.upper()}, {p.given_name}"


def _identity(doc: _Document, record: PatientRecord, clinic_name: str, generated_at: datetime) -> None:
    p = record.patient
    doc.text(MARGIN_IN, clinic_name, size=11, color="#333333")
    doc.y_in += 0.25
    doc.title("Visit summary")
    doc.text(MARGIN_IN, f"Generated {when(generated_at)}", color="#333333")
    doc.y_in += 0.3
    doc.heading("Patient")
    doc.pairs(
        [
            ("Name", _name(record)),
            ("MRN", p.mrn),
            ("Date of birth", p.birth_date.isoformat()),
            ("Weight", f"{number_text(p.weight_kg)} kg"),
            ("Indication", INDICATIONS.get(p.indication, p.indication)),
            ("Opioid status", OPIOID.get(p.opioid_status, p.opioid_status)),
        ]
    )


def _implant(doc: _Document, record: PatientRecord) -> None:
    doc.heading("Implant")
    implant = record.implant
    if implant is None:
        doc.paragraph("No implant on record.")
        return
    catheter_ul = implant.catheter_length_cm * implant.catheter_volume_ul_per_cm
    doc.pairs(
        [
            (
                "Pump",
                f"{implant.pump_model}, serial {implant.pump_serial} ({'active' if implant.active else 'explanted'})",
            ),
            ("Implanted", implant.implant_date.isoformat()),
            ("Catheter", implant.catheter_model),
            (
                "Catheter volume",
                f"{number_text(implant.catheter_length_cm)} cm × {number_text(implant.catheter_volume_ul_per_cm)} µL/cm"
                f" = {number_text(catheter_ul)} µL ({number_text(catheter_ul / 1000)} mL)",
            ),
            ("Catheter tip", implant.tip_level),
        ]
    )


def _drugs_text(fill: DrugFillLike) -> str:
    return " + ".join(f"{drug} {concentration_text(drug, mg_per_ml)}" for drug, mg_per_ml in fill.drugs) or "—"


def _therapy(doc: _Document, record: PatientRecord) -> None:
    doc.heading("Drug and prescription")
    fill = record.last_fill
    items = [("In the pump", f"{_drugs_text(fill)} (filled {when(fill.at)})" if fill else "no fill on record")]
    for rx in record.prescriptions:
        items.append((rx.drug, _prescription_text(rx)))
    doc.pairs(items)


def _prescription_text(rx: Prescription) -> str:
    unit = rx.mass_unit
    text = f"{number_text(rx.dose_per_day)} {unit}/day at {concentration_text(rx.drug, rx.concentration_mg_per_ml)}"
    if rx.concentration_mg_per_ml > 0:
        per_ml = rx.concentration_mg_per_ml * (MCG_PER_MG if unit == "mcg" else 1)
        text += f" = {number_text(rx.dose_per_day / per_ml)} mL/day"
    if rx.ptm_bolus_dose is not None:
        text += f"; patient bolus {number_text(rx.ptm_bolus_dose)} {unit}"
        if rx.ptm_max_per_day is not None:
            worst = rx.dose_per_day + rx.ptm_bolus_dose * rx.ptm_max_per_day
            text += f", at most {rx.ptm_max_per_day} a day (worst case {number_text(worst)} {unit}/day)"
    return text


def _visit(doc: _Document, record: PatientRecord) -> None:
    visit = record.visit
    if visit is None:
        return
    doc.heading("Visit")
    doc.pairs([("Date", when(visit.at)), ("Kind", visit.kind), ("Summary", visit.summary or "—")])


def _settings(doc: _Document, settings: Sequence[SettingRow]) -> None:
    doc.heading("Settings before and after")
    if not settings:
        doc.paragraph("No setting was changed at this visit.")
        return
    changed = sum(row.changed for row in settings)
    doc.paragraph(f"{changed} of {len(settings)} settings changed (marked CHANGED and shaded).")
    doc.table(
        [Column("Setting", 3.2), Column("Before", 1.7), Column("After", 1.7), Column("Unit", 1.2), Column("", 1.1)],
        [(row.name, row.before, row.after, row.unit, "CHANGED" if row.changed else "") for row in settings],
        [HIGHLIGHT if row.changed else None for row in settings],
    )


def _ml(value: float | None) -> str:
    return "not recorded" if value is None else f"{number_text(value)} mL"


def _refill(doc: _Document, record: PatientRecord) -> None:
    doc.heading("Refill record")
    fill = record.last_fill
    if fill is None:
        doc.paragraph("No refill on record.")
        return
    implant = record.implant_of(fill)
    check = reconcile(fill, implant.pump_model if implant else None)
    amounts = []
    for drug, mg_per_ml in fill.drugs:
        unit = drug_mass_unit(drug)
        amount = mg_per_ml * fill.volume_ml * (MCG_PER_MG if unit == "mcg" else 1)
        amounts.append(f"{number_text(amount)} {unit} {drug}")
    items = [
        ("Date", when(fill.at)),
        ("Drug", _drugs_text(fill)),
        ("Volume filled", f"{number_text(fill.volume_ml)} mL ({', '.join(amounts) or '—'})"),
        ("Expected in reservoir", _ml(check.expected_ml)),
        ("Aspirated", _ml(check.aspirated_ml)),
    ]
    if check.difference_ml is None:
        items.append(("Discrepancy", "not known: expected or aspirated volume not recorded"))
    else:
        items.append(
            (
                "Discrepancy",
                f"{check.difference_ml:+.2f} mL (aspirated − expected); flag threshold {number_text(check.flag_ml)} mL",
            )
        )
    doc.pairs(items)
    if check.flagged:
        state = "acknowledged at the refill" if check.acknowledged else "NOT acknowledged"
        warning = (
            f"FLAGGED: the discrepancy of {abs(check.difference_ml or 0):.2f} mL is over "
            f"{number_text(check.flag_ml)} mL "
            f"({state}). Possible pocket fill, over- or under-infusion. Source of the threshold: {check.flag_source}."
        )
        lines = _wrap(warning, PAGE_W_IN - 2 * MARGIN_IN - 0.1, bold=True)
        doc.y_in += 0.06
        doc.room(LINE_IN * (len(lines) + 0.6))
        doc.box(MARGIN_IN, PAGE_W_IN - 2 * MARGIN_IN, LINE_IN * (len(lines) + 0.4), FLAG)
        doc.y_in += LINE_IN * 0.2
        for line in lines:
            doc.text(MARGIN_IN + 0.05, line, weight="bold")
            doc.y_in += LINE_IN
        doc.y_in += LINE_IN * 0.2
    if len(record.fills) > 1:
        doc.y_in += 0.1
        doc.text(MARGIN_IN, "All fills", weight="bold")
        doc.y_in += LINE_IN
        rows, marks = [], []
        for each in record.fills:
            into = record.implant_of(each) or implant
            c = reconcile(each, into.pump_model if into else None)
            diff = "—" if c.difference_ml is None else f"{c.difference_ml:+.2f} mL"
            flag = ("FLAGGED; " + ("acknowledged" if c.acknowledged else "not acknowledged")) if c.flagged else ""
            filled = f"{number_text(each.volume_ml)} mL"
            rows.append((when(each.at), _drugs_text(each), filled, _ml(c.expected_ml), _ml(c.aspirated_ml), diff, flag))
            marks.append(FLAG if c.flagged else None)
        doc.table(
            [
                Column("Date", 1.4),
                Column("Drug", 2.3),
                Column("Filled", 0.8),
                Column("Expected", 1.0),
                Column("Aspirated", 1.1),
                Column("Difference", 1.2),
                Column("Flag", 1.5),
            ],
            rows,
            marks,
        )


def _alarms(doc: _Document, alarms: Sequence[Alarm]) -> None:
    doc.heading("Alarms")
    if not alarms:
        doc.paragraph("No alarm on record.")
        return
    active = sum(a.active for a in alarms)
    doc.paragraph(f"{active} active, {len(alarms) - active} cleared.")
    doc.table(
        [
            Column("Time", 1.9),
            Column("Alarm", 1.8),
            Column("Severity", 1.1),
            Column("State", 0.9),
            Column("Detail", 3.2),
        ],
        [(when(a.at), a.name, a.severity, "ACTIVE" if a.active else "cleared", a.detail) for a in alarms],
        [FLAG if a.active and a.severity == "critical" else HIGHLIGHT if a.active else None for a in alarms],
    )


def _event_time(value: object) -> str:
    if isinstance(value, datetime | date):
        return when(value)
    return "—" if value is None else str(value)


def _events(doc: _Document, events: Sequence[Mapping[str, object]]) -> None:
    doc.heading("Event log excerpt")
    if not events:
        doc.paragraph("No event log read.")
        return
    shown = list(events)[-EVENTS_SHOWN_MAX:]
    if len(shown) < len(events):
        doc.paragraph(f"The last {len(shown)} of {len(events)} events.")
    doc.table(
        [Column("Seq", 0.6), Column("Time", 1.9), Column("Event", 1.6), Column("Detail", 4.8)],
        [
            (str(e.get("seq", "")), _event_time(e.get("at")), str(e.get("kind", "")), str(e.get("detail", "")))
            for e in shown
        ],
    )


def _label(text: str) -> str:
    """Text for a legend, which matplotlib would read as math between two dollar signs: the signs escaped."""
    return printable(text).replace("$", r"\$")


def _no_data(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} on record", transform=ax.transAxes, ha="center", va="center", color="#666666")
    ax.set_yticks([])


def _dates(ax: Axes) -> None:
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def _plots(record: PatientRecord) -> Figure:
    fig = Figure(figsize=(PAGE_W_IN, PAGE_H_IN))
    title = "Delivery, reservoir, PTM use and pain"
    fig.text(MARGIN_IN / PAGE_W_IN, 1 - MARGIN_IN / PAGE_H_IN, title, fontsize=14, fontweight="bold", va="top")
    axes = fig.subplots(4, 1, sharex=True)
    fig.subplots_adjust(left=0.12, right=0.8, top=0.9, bottom=0.1, hspace=0.35)
    dose_ax, reservoir_ax, ptm_ax, pain_ax = axes

    dose_ax.set_title("Delivered dose per day", fontsize=10, loc="left")
    if record.delivered:
        units = sorted({s.unit for s in record.delivered})
        axis_of = {units[0]: dose_ax}
        if len(units) > 1:
            axis_of[units[1]] = dose_ax.twinx()
        lines = []
        for n, series in enumerate(record.delivered):
            ax = axis_of.get(series.unit, dose_ax)
            days = [d for d, _ in series.points]
            values = [v for _, v in series.points]
            (line,) = ax.step(
                days,
                values,
                where="post",
                linestyle=LINE_STYLES[n % len(LINE_STYLES)],
                color=f"C{n % 10}",  # one colour cycle across both axes
                label=_label(series.drug if len(units) == 1 else f"{series.drug} ({series.unit})"),
            )
            lines.append(line)
        for unit, ax in axis_of.items():
            ax.set_ylabel(f"dose ({unit})")
            ax.set_ylim(bottom=0)
        if len(units) > 1:  # the second unit's axis is on the right: the legend goes inside, above the lines
            top = max((v for s in record.delivered if s.unit == units[0] for _, v in s.points), default=1.0)
            dose_ax.set_ylim(0, top * 1.5 or 1)
            dose_ax.legend(handles=lines, fontsize=8, loc="upper left")
        else:
            dose_ax.legend(handles=lines, **OUTSIDE)
    else:
        _no_data(dose_ax, "delivery")

    reservoir_ax.set_title("Reservoir volume (calculated from the programmed delivery)", fontsize=10, loc="left")
    if record.reservoir_ml:
        reservoir_ax.plot([t for t, _ in record.reservoir_ml], [v for _, v in record.reservoir_ml], marker=".")
        reservoir_ax.set_ylabel("reservoir (mL)")
        reservoir_ax.set_ylim(bottom=0)
    else:
        _no_data(reservoir_ax, "reservoir reading")

    ptm_ax.set_title("PTM presses per day: dose given, or refused (lockout or daily maximum)", fontsize=10, loc="left")
    if record.ptm_presses:
        given = Counter(p.at.date() for p in record.ptm_presses if p.given)
        refused = Counter(p.at.date() for p in record.ptm_presses if not p.given)
        days = sorted(set(given) | set(refused))
        ptm_ax.bar(days, [given[d] for d in days], width=0.8, label="dose given", color="#4a78b5")
        ptm_ax.bar(
            days,
            [refused[d] for d in days],
            width=0.8,
            bottom=[given[d] for d in days],
            label="refused",
            color="#ffffff",
            edgecolor="#b5524a",
            hatch="//",
        )
        ptm_ax.set_ylabel("presses (count)")
        ptm_ax.legend(**OUTSIDE)
    else:
        _no_data(ptm_ax, "PTM use")

    pain_ax.set_title("Pain scores (0 = no pain, 10 = worst pain imaginable)", fontsize=10, loc="left")
    if record.pain_scores:
        markers = {"clinic": "o", "patient_app": "s", "patient_diary": "v", "trial": "^"}
        pain_ax.plot([s.at for s in record.pain_scores], [s.score for s in record.pain_scores], color="#999999", lw=0.8)
        for source in sorted({s.source for s in record.pain_scores}):
            picked = [s for s in record.pain_scores if s.source == source]
            marker = markers.get(source, "D")
            times, scores = [s.at for s in picked], [s.score for s in picked]
            pain_ax.plot(times, scores, linestyle="none", marker=marker, label=_label(source.replace("_", " ")))
        pain_ax.legend(**OUTSIDE)
    else:
        _no_data(pain_ax, "pain score")
    pain_ax.set_ylim(-0.5, 10.5)
    pain_ax.set_ylabel("pain (0-10)")
    for ax in axes:
        _dates(ax)
        ax.grid(alpha=0.3)
    return fig


def _footer(fig: Figure, text: str) -> None:
    fig.text(
        MARGIN_IN / PAGE_W_IN,
        (MARGIN_IN * 0.6) / PAGE_H_IN,
        printable(text),
        fontsize=7.5,
        color="#444444",
        parse_math=False,
    )


@contextmanager
def _pdf_settings() -> Iterator[None]:
    # TrueType fonts (42), not Type 3: the text stays selectable and searchable in a PDF reader.
    with matplotlib.rc_context({"pdf.fonttype": 42, "font.family": "DejaVu Sans", "axes.titleweight": "bold"}):
        yield


def visit_summary_figures(record: PatientRecord, *, clinic_name: str, generated_at: datetime) -> list[Figure]:
    """The pages of the visit summary as matplotlib figures (for a PDF, or a PNG of one page)."""
    with _pdf_settings():
        doc = _Document()
        _identity(doc, record, clinic_name, generated_at)
        _implant(doc, record)
        _therapy(doc, record)
        _visit(doc, record)
        doc.new_page()
        _settings(doc, record.settings)
        _refill(doc, record)
        doc.new_page()
        _alarms(doc, record.alarms)
        _events(doc, record.events)
        pages = [*doc.pages, _plots(record)]
        identity = f"{clinic_name} · Visit summary · {_name(record)} · MRN {record.patient.mrn} · {when(generated_at)}"
        for n, fig in enumerate(pages, start=1):
            _footer(fig, f"{identity} · page {n} of {len(pages)}")
    return pages


def visit_summary_pdf(record: PatientRecord, *, clinic_name: str, generated_at: datetime) -> bytes:
    """The visit summary as PDF bytes: patient, implant, drug, settings before/after, refill, alarms, events, plots."""
    pages = visit_summary_figures(record, clinic_name=clinic_name, generated_at=generated_at)
    out = io.BytesIO()
    metadata = {
        "Title": f"Visit summary: {_name(record)}, MRN {record.patient.mrn}",
        "Author": clinic_name,
        "Subject": "Intrathecal drug delivery: visit summary",
        "Creator": "thecal clinician programmer",
        "CreationDate": generated_at,
    }
    with _pdf_settings(), PdfPages(out, metadata=metadata) as pdf:
        for fig in pages:
            pdf.savefig(fig)
    return out.getvalue()
