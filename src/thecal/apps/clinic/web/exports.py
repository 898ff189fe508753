"""The clinic's reports reached from the app: a patient's record gathered from the store and the pump, and its exports.

`patient_record` bundles what a report needs (`thecal.apps.clinic.reports`):
the store's patient, implants, fills, visits and pain scores, and, read from
the patient's pump through the clinic programmer (an interrogation and the
event log, nothing sent that changes the pump), the settings it holds, the
alarms, an excerpt of the event log and the series for the plots. The series
come from the pump's event log: the reservoir at every fill (before and after)
and now, the dose delivered per day over each interval between fills (what
left the reservoir, at the concentration in it), every bolus, and every press
of the patient's handset (given or refused). When the pump cannot be reached,
the same series come from what the store holds (the fills as recorded, the
last interrogation kept in the audit trail), and the report says so.

Every export is kept in the audit trail (`report.pdf`, `export.csv`,
`export.fhir`), with what was read. A physician, a nurse or a viewer may
export; an admin manages users and settings and does not read the record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from thecal.apps.clinic.reports.record import (
    Alarm,
    Bolus,
    DoseSeries,
    PatientRecord,
    Prescription,
    PtmPress,
    SettingRow,
)
from thecal.apps.clinic.store import AppRole, AuditEntry, DrugFill, Patient, User
from thecal.apps.clinic.web import facts, views
from thecal.apps.clinic.web.core import PROGRAM_ACTION, Desk, require
from thecal.errors import InputError, ThecalError
from thecal.pump.core.alarms import RULES
from thecal.pump.core.alarms import Alarm as PumpAlarm
from thecal.therapy import PumpSnapshot, words
from thecal.therapy.settings import library_drug
from thecal.units import NL_PER_ML

READERS = (AppRole.PHYSICIAN, AppRole.NURSE, AppRole.VIEWER)
PDF_ACTION = "report.pdf"
CSV_ACTION = "export.csv"
FHIR_ACTION = "export.fhir"
EVENTS_READ_MAX = 2_048  # the most entries a pump model keeps
EVENTS_SHOWN = 40  # the excerpt of the event log in the visit summary
PATIENTS_PAGE = 100
NG_PER_MG = 1_000_000
BOLUS_KINDS = ("clinician", "priming", "periodic", "demand")  # a bridge pushes the old solution: no bolus of its own


@dataclass(frozen=True)
class Download:
    """A file for the browser: its bytes, media type and the name to save it under."""

    content: bytes
    media_type: str
    filename: str

    def disposition(self) -> str:
        """The Content-Disposition header that saves it under its name."""
        return f'attachment; filename="{self.filename}"'


@dataclass
class Gathered:
    """A patient's record for the reports, and where its pump figures came from (in words, for the audit)."""

    record: PatientRecord
    source: str
    serial: str | None = None
    notes: list[str] = field(default_factory=list)


def safe_name(text: str) -> str:
    """Text fit for a file name: letters, digits, dot, dash and underscore only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:40] or "patient"


def pump_datetime(wall_ms: int) -> datetime:
    """A moment of a pump's wall clock (local time, as the pump keeps it) as an aware time of this clinic."""
    return (datetime(1970, 1, 1) + timedelta(milliseconds=wall_ms)).astimezone()


def _patient(desk: Desk, patient_id: int) -> Patient:
    patient = desk.store.patient(patient_id)
    if patient is None:
        raise InputError("patient", patient_id, "is not a patient of this clinic", "choose one on the dashboard")
    return patient


# ----------------------------------------------------------------------------- the pump


@dataclass(frozen=True)
class _Anchor:
    """What the reservoir held at a fill: before (None when not known) and after, and the solution put in."""

    at: datetime
    before_nl: int | None
    after_nl: int
    drugs: tuple[tuple[str, int], ...]  # (drug, ng per mL)
    primed_nl: int = 0  # what priming boluses put into the tubing and catheter before the next fill


def _detail(entry: dict[str, Any]) -> dict[str, Any]:
    detail = entry.get("detail")
    if isinstance(detail, dict):
        return dict(detail)
    if isinstance(detail, list):
        return {str(kv[0]): kv[1] for kv in detail if isinstance(kv, list | tuple) and len(kv) == 2}
    return {}


def _fill_drugs(detail: dict[str, Any]) -> tuple[tuple[str, int], ...]:
    return tuple(
        (key.removesuffix("_ng_per_ml"), value)
        for key, value in detail.items()
        if key.endswith("_ng_per_ml") and type(value) is int and value > 0
    )


def _mass_unit(drug: str) -> str:
    known = library_drug(drug)
    return known.mass_unit if known is not None else "mg"


def _mass(drug: str, ng: float) -> float:
    """A mass of a drug in the unit its doses are written in (mg, or mcg for ziconotide)."""
    return ng / (NG_PER_MG if _mass_unit(drug) == "mg" else 1_000)


def _delivered(anchors: Sequence[_Anchor], now: tuple[datetime, int] | None) -> list[DoseSeries]:
    """The dose per day each drug delivered over each interval between fills (and from the last fill to now).

    What left the reservoir over an interval is what it held after one fill less what it held before the next
    (or now); less what priming boluses put into the tubing and catheter (it stays there, as their dead volume),
    at the concentration put in at the fill, that is a mass, spread over the interval's days.
    """
    points: dict[str, list[tuple[date, float]]] = {}
    ordered = sorted(anchors, key=lambda a: a.at)
    ends: list[tuple[datetime, int | None]] = [(a.at, a.before_nl) for a in ordered[1:]]
    if now is not None:
        ends.append(now)
    for start, (end_at, end_nl) in zip(ordered, ends, strict=False):
        days = (end_at - start.at).total_seconds() / 86_400
        if end_nl is None or days <= 0:
            continue
        used_nl = max(start.after_nl - end_nl - start.primed_nl, 0)
        for drug, ng_per_ml in start.drugs:
            per_day = _mass(drug, used_nl * ng_per_ml / NL_PER_ML) / days
            series = points.setdefault(drug, [])
            series[:] = [p for p in series if p[0] != start.at.date()]
            series.append((start.at.date(), round(per_day, 6)))
    if now is not None:
        for series in points.values():
            if series and series[-1][0] < now[0].date():
                series.append((now[0].date(), series[-1][1]))  # the last interval's step reaches today
    return [DoseSeries(drug, _mass_unit(drug), tuple(series)) for drug, series in points.items() if series]


def _reservoir(anchors: Sequence[_Anchor], now: tuple[datetime, int] | None) -> list[tuple[datetime, float]]:
    out: list[tuple[datetime, float]] = []
    for anchor in anchors:
        if anchor.before_nl is not None:
            out.append((anchor.at, anchor.before_nl / NL_PER_ML))
        out.append((anchor.at + timedelta(seconds=1), anchor.after_nl / NL_PER_ML))
    if now is not None:
        out.append((now[0], now[1] / NL_PER_ML))
    return out


def _prescriptions(snapshot: PumpSnapshot, program_at: datetime | None) -> list[Prescription]:
    """Each drug of the pump's label with the highest daily total of the week, and the handset's dose."""
    label, rx = snapshot.label, snapshot.prescription
    if not label or rx is None:
        return []
    lead_ng_per_ml = label[0][1]
    highest_ng = max(views.daily_total_ng(rx, day) for day in range(7))
    out = []
    for drug, ng_per_ml in label:
        share = ng_per_ml / lead_ng_per_ml
        demand = snapshot.demand
        out.append(
            Prescription(
                drug,
                _mass_unit(drug),
                _mass(drug, highest_ng * share),
                ng_per_ml / NG_PER_MG,
                since=program_at,
                ptm_bolus_dose=None if demand is None else _mass(drug, demand.dose_ng * share),
                ptm_max_per_day=None if demand is None else demand.max_per_24h,
            )
        )
    return out


def _alarms(log: Sequence[dict[str, Any]], active: Iterable[str], to_time: Any) -> list[Alarm]:
    """Every alarm the log excerpt shows raised, cleared or still active; an active alarm not in it, undated."""
    still = set(active)
    raised: list[tuple[datetime | None, str]] = []
    out: list[Alarm] = []
    for entry in log:
        detail = _detail(entry)
        name = str(detail.get("alarm", ""))
        if entry.get("kind") == "alarm" and name:
            raised.append((to_time(entry), name))
        elif entry.get("kind") == "alarm_cleared" and name:
            words = f"cleared {_when(to_time(entry))} by {detail.get('by', '')}"
            out += [Alarm(at, name, _severity(name), False, words) for at, n in raised if n == name]
            raised = [r for r in raised if r[1] != name]
    for at, name in raised:
        out.append(Alarm(at, name, _severity(name), name in still, _words(name)))
        still.discard(name)
    for name in sorted(still):
        out.append(Alarm(None, name, _severity(name), True, _words(name) + " (raised before the log excerpt)"))
    return sorted(out, key=lambda a: (a.at is None, a.at or datetime.min.replace(tzinfo=UTC)))


def _severity(name: str) -> str:
    return "critical" if words.alarm_is_critical(name) else "non-critical"


def _words(name: str) -> str:
    try:
        return RULES[PumpAlarm(name)].words
    except ValueError:
        return name.replace("_", " ")


def _when(at: datetime | None) -> str:
    return "at an unknown time" if at is None else f"on {at:%Y-%m-%d %H:%M}"


def _from_pump(snapshot: PumpSnapshot, log: list[dict[str, Any]]) -> dict[str, Any]:
    """The record's pump values from an interrogation and the event log."""
    offset = snapshot.wall_ms - snapshot.now_ms

    def to_time(entry: dict[str, Any]) -> datetime | None:
        at = entry.get("at_ms")
        return pump_datetime(at + offset) if type(at) is int else None

    anchors: list[_Anchor] = []
    boluses: list[Bolus] = []
    presses: list[PtmPress] = []
    program_at: datetime | None = None
    label: tuple[tuple[str, int], ...] = ()
    for entry in log:
        kind, detail, at = entry.get("kind"), _detail(entry), to_time(entry)
        if at is None:
            continue
        if kind == "fill" and type(detail.get("volume_nl")) is int:
            before = detail.get("expected_nl")
            label = _fill_drugs(detail)
            first = not anchors and before == 0
            anchors.append(
                _Anchor(at, None if first or type(before) is not int else before, detail["volume_nl"], label)
            )
        elif kind == "program":
            program_at = at
        elif kind == "bolus_start" and detail.get("kind") == "priming" and anchors:
            volume = detail.get("volume_nl")
            if type(volume) is int:
                last = anchors[-1]
                anchors[-1] = replace(last, primed_nl=last.primed_nl + volume)
        if kind == "bolus_start" and detail.get("kind") in BOLUS_KINDS and label:
            volume = detail.get("volume_nl")
            if type(volume) is int:
                drug, ng_per_ml = label[0]
                dose = _mass(drug, volume * ng_per_ml / NL_PER_ML)
                boluses.append(Bolus(at, str(detail["kind"]), drug, round(dose, 6), _mass_unit(drug)))
            if detail.get("kind") == "demand":
                presses.append(PtmPress(at, True))
        elif kind == "refused" and detail.get("command") == "RequestDemandBolus":
            presses.append(PtmPress(at, False, str(detail.get("code", "")).replace("_", " ")))
    now = (pump_datetime(snapshot.wall_ms), snapshot.reservoir_nl) if snapshot.label else None
    events = [
        {
            "seq": entry.get("seq", ""),
            "at": to_time(entry),
            "kind": str(entry.get("kind", "")).replace("_", " "),
            "detail": ", ".join(f"{k}: {v}" for k, v in _detail(entry).items()),
        }
        for entry in log[-EVENTS_SHOWN:]
    ]
    return {
        "prescriptions": _prescriptions(snapshot, program_at),
        "alarms": _alarms(log, snapshot.alarms, to_time),
        "events": events,
        "boluses": boluses,
        "delivered": _delivered(anchors, now),
        "reservoir_ml": _reservoir(anchors, now),
        "ptm_presses": presses,
    }


def _from_store(fills: Sequence[DrugFill], last_read: AuditEntry | None) -> dict[str, Any]:
    """The record's series from the fills as recorded and the last interrogation the audit trail keeps."""
    anchors = [
        _Anchor(
            f.at,
            None if f.expected_ml is None else round(f.expected_ml * NL_PER_ML),
            round(f.volume_ml * NL_PER_ML),
            tuple((drug, round(mg_per_ml * NG_PER_MG)) for drug, mg_per_ml in f.drugs),
        )
        for f in sorted(fills, key=lambda f: f.at)
    ]
    now = None
    alarms: list[Alarm] = []
    if last_read is not None and last_read.new is not None:
        reservoir = last_read.new.get("reservoir_nl")
        if type(reservoir) is int:
            now = (last_read.at, reservoir)
        found = last_read.new.get("alarms")
        for name in found if isinstance(found, list) else []:
            alarms.append(
                Alarm(last_read.at, str(name), _severity(str(name)), True, _words(str(name)) + " (at the last reading)")
            )
    return {
        "alarms": alarms,
        "delivered": _delivered(anchors, now),
        "reservoir_ml": _reservoir(anchors, now),
    }


def _settings(desk: Desk, serial: str, snapshot: PumpSnapshot | None) -> list[SettingRow]:
    """Every setting the pump holds; those the last day of programming changed, before and after, marked."""
    entries = [
        e
        for e in desk.store.audit_trail(limit=500)
        if e.action == PROGRAM_ACTION and e.pump_serial == serial and (e.new or {}).get("status") == "done"
    ]
    changed: dict[str, tuple[str, str]] = {}
    if entries:
        day = entries[0].at.date()
        for entry in reversed([e for e in entries if e.at.date() == day]):  # oldest first
            for name, old in (entry.old or {}).items():
                new = (entry.new or {}).get(name)
                first = changed.get(name, (str(old), ""))[0]
                changed[name] = (first, str(new))
    mass = _mass_unit(snapshot.label[0][0]) if snapshot is not None and snapshot.label else "mg"
    rows: list[SettingRow] = []
    if snapshot is not None:
        for row in views.settings_rows(snapshot):
            if row.name in changed:
                before, after = changed.pop(row.name)
                rows.append(SettingRow(row.name, before, after, _unit(row.name, mass), before != after))
            else:
                rows.append(SettingRow(row.name, row.new_text, row.new_text, _unit(row.name, mass), False))
    for name, (before, after) in changed.items():
        rows.append(SettingRow(name, before, after, _unit(name, mass), before != after))
    return rows


def _unit(name: str, mass: str) -> str:
    """The units a setting's words are written in: a dose in the drug's unit, with its volume."""
    if name.startswith("basal"):
        return f"{mass}/day (mL/day)"
    if name.startswith(("demand", "periodic")):
        return f"{mass} (mL)"
    if name.startswith("drug"):
        return f"{mass}/mL"
    return "mL"


def patient_record(desk: Desk, patient_id: int) -> Gathered:
    """One patient's record for the reports: the store's records, and the pump read now when it can be."""
    store = desk.store
    patient = _patient(desk, patient_id)
    implants = store.implants(patient.id)
    fills = [f for i in implants for f in store.fills(i.id)]
    visits = store.visits(patient.id)
    current = [i for i in implants if i.active] or implants
    implant = max(current, key=lambda i: (i.implant_date, i.id)) if current else None
    base: dict[str, Any] = {
        "patient": patient,
        "implants": implants,
        "fills": fills,
        "pain_scores": store.pain_scores(patient.id),
        "visits": visits,
        "visit": max(visits, key=lambda v: (v.at, v.id)) if visits else None,
    }
    if implant is None:
        return Gathered(PatientRecord(**base), "no implanted pump on record")
    serial = implant.pump_serial
    implant_fills = [f for f in fills if f.implant_id == implant.id]
    reads = [
        e
        for e in store.audit_trail(patient_id=patient.id)
        if e.action == facts.INTERROGATE_ACTION and e.pump_serial == serial
    ]
    last_read = reads[0] if reads else None
    snapshot, log, why = _read_pump(desk, serial)
    if snapshot is not None:
        values = _from_pump(snapshot, log)
        source = f"pump {serial} read for this report: its settings and {len(log)} event-log entries"
    else:
        values = _from_store(implant_fills, last_read)
        values["events"] = [{"seq": "", "at": None, "kind": "not read", "detail": why}]
        read_at = f" (last interrogation {last_read.at:%Y-%m-%d %H:%M} UTC)" if last_read is not None else ""
        source = f"pump {serial} not reached ({why}): series from the fills recorded in the clinic{read_at}"
    values["settings"] = _settings(desk, serial, snapshot)
    return Gathered(PatientRecord(**base, **values), source, serial)


def _read_pump(desk: Desk, serial: str) -> tuple[PumpSnapshot | None, list[dict[str, Any]], str]:
    """An interrogation and the event log of a pump, or None and why not; nothing that changes the pump is sent."""
    running = {link.serial for link in desk.pumps.links() if getattr(link, "port", None) is not None}
    if serial not in running:
        return None, [], "its daemon is not running"
    try:
        if not desk.pumps.paired(serial):
            return None, [], "the programmer is not paired with it"
        with desk.pump(serial):
            snapshot = desk.service(serial).port.interrogate()
            next_seq = snapshot.status.get("log_next_seq")
            start = max(0, next_seq - EVENTS_READ_MAX) if type(next_seq) is int else 0
            log = desk.pumps.event_log(serial, start)
    except (ThecalError, RuntimeError, OSError) as error:
        return None, [], f"it could not be read: {error}"
    return snapshot, log, ""


# ----------------------------------------------------------------------------- the exports


def visit_summary(desk: Desk, patient_id: int, user: User, *, clinic_name: str, at: datetime) -> Download:
    """The visit summary as PDF, audited."""
    from thecal.apps.clinic.reports.pdf import visit_summary_pdf

    require(user, *READERS, what="export a patient's record")
    gathered = patient_record(desk, patient_id)
    content = visit_summary_pdf(gathered.record, clinic_name=clinic_name, generated_at=at)
    patient = gathered.record.patient
    desk.store.audit(
        PDF_ACTION,
        by=user,
        patient_id=patient.id,
        pump_serial=gathered.serial,
        detail=f"visit summary (PDF, {len(content)} bytes); {gathered.source}",
    )
    return Download(content, "application/pdf", f"visit-summary-{safe_name(patient.mrn)}-{at:%Y-%m-%d}.pdf")


def fhir_bundle(desk: Desk, patient_id: int, user: User, *, at: datetime) -> dict[str, Any]:
    """The patient's record as a validated FHIR R4B bundle with its codes checked, audited."""
    from thecal.apps.clinic.reports.fhir import patient_bundle

    require(user, *READERS, what="export a patient's record")
    gathered = patient_record(desk, patient_id)
    bundle = patient_bundle(gathered.record, generated_at=at)
    kinds: dict[str, int] = {}
    for entry in bundle.get("entry", []):
        kind = entry["resource"]["resourceType"]
        kinds[kind] = kinds.get(kind, 0) + 1
    desk.store.audit(
        FHIR_ACTION,
        by=user,
        patient_id=gathered.record.patient.id,
        pump_serial=gathered.serial,
        new={"resources": kinds},
        detail=f"FHIR R4B bundle, validated and codes checked; {gathered.source}",
    )
    return bundle


def fhir_filename(desk: Desk, patient_id: int, at: datetime) -> str:
    """The name a patient's FHIR export is saved under."""
    return f"fhir-{safe_name(_patient(desk, patient_id).mrn)}-{at:%Y-%m-%d}.json"


CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
FHIR_MEDIA_TYPE = "application/fhir+json"


def patients_csv(desk: Desk, user: User, *, text: str, at: datetime) -> Download:
    """Every patient matching the dashboard's search, as CSV, audited."""
    from thecal.apps.clinic.reports import csv_export

    require(user, *READERS, what="export the patients list")
    everyone: list[Patient] = []
    page = 1
    while True:
        batch, total = desk.store.search_patients(text, sort="family_name", page=page, per_page=PATIENTS_PAGE)
        everyone += batch
        if not batch or len(everyone) >= total:
            break
        page += 1
    content = csv_export.patients_csv(everyone).encode("utf-8")
    searched = f" matching {text!r}" if text else ""
    desk.store.audit(CSV_ACTION, by=user, detail=f"patients list (CSV): {len(everyone)} patients{searched}")
    return Download(content, CSV_MEDIA_TYPE, f"patients-{at:%Y-%m-%d}.csv")


def patient_csv(desk: Desk, patient_id: int, what: str, user: User, *, at: datetime) -> Download:
    """A patient's fills or pain scores as CSV, audited."""
    from thecal.apps.clinic.reports import csv_export

    require(user, *READERS, what="export a patient's record")
    patient = _patient(desk, patient_id)
    store = desk.store
    if what == "fills":
        implants = store.implants(patient.id)
        rows = [f for i in implants for f in store.fills(i.id)]
        content = csv_export.fills_csv(rows, implants)
    elif what == "pain-scores":
        rows = store.pain_scores(patient.id)  # type: ignore[assignment]
        content = csv_export.pain_scores_csv(store.pain_scores(patient.id))
    else:
        raise InputError("export", what, "is not an export of a patient", "choose fills or pain-scores")
    store.audit(CSV_ACTION, by=user, patient_id=patient.id, detail=f"{what.replace('-', ' ')} (CSV): {len(rows)} rows")
    return Download(content.encode("utf-8"), CSV_MEDIA_TYPE, f"{what}-{safe_name(patient.mrn)}-{at:%Y-%m-%d}.csv")
