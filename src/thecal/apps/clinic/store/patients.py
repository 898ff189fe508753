"""Patients and their implants: who, which pump and catheter, and each catheter revision."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from thecal.apps.clinic.store import checks
from thecal.apps.clinic.store.base import BYTE_ORDER, CODE_CHARS, LONG_CHARS, NAME_CHARS, SHORT_CHARS, StoreBase
from thecal.apps.clinic.store.models import ImplantRow, PatientRow, RevisionRow
from thecal.apps.clinic.store.records import INDICATIONS, OPIOID_STATUSES, CatheterRevision, Implant, Patient, User
from thecal.apps.clinic.store.rows import is_id, record
from thecal.errors import InputError

_PATIENT_FIELDS = ("mrn", "family_name", "given_name", "birth_date", "weight_kg", "indication", "opioid_status")
_SORTS: dict[str, InstrumentedAttribute[Any]] = {
    "family_name": PatientRow.family_name,
    "given_name": PatientRow.given_name,
    "mrn": PatientRow.mrn,
    "birth_date": PatientRow.birth_date,
    "weight_kg": PatientRow.weight_kg,
    "created_at": PatientRow.created_at,
    "id": PatientRow.id,
}
_TEXT_SORTS = ("family_name", "given_name", "mrn")
MAX_PER_PAGE = 500


class PatientsRoom(StoreBase):
    """Patients (the MRN unique), their implants (one active at a time) and catheter revisions."""

    def add_patient(
        self,
        *,
        mrn: str,
        family_name: str,
        given_name: str,
        birth_date: date,
        weight_kg: float,
        indication: str,
        opioid_status: str,
        by: User,
    ) -> Patient:
        """Register a patient (the MRN is unique in the clinic)."""
        values = self._patient_values(
            {
                "mrn": mrn,
                "family_name": family_name,
                "given_name": given_name,
                "birth_date": birth_date,
                "weight_kg": weight_kg,
                "indication": indication,
                "opioid_status": opioid_status,
            }
        )
        with self._transaction() as s:
            actor_id, actor_name = self._actor(s, by)
            self._mrn_free(s, values["mrn"])
            row = PatientRow(**values, created_at=self._clock())
            s.add(row)
            s.flush()
            self._append(s, "patient.add", actor_id, actor_name, patient_id=row.id, new=checks.plain(values))
            return record(Patient, row)

    def update_patient(self, patient_id: int, *, by: User, **changes: Any) -> Patient:
        """Change some of a patient's fields; the audit keeps the old and new values of those that changed."""
        unknown = sorted(set(changes) - set(_PATIENT_FIELDS))
        if unknown:
            raise InputError(
                "patient field",
                unknown[0],
                "is not a field of a patient",
                f"change one of: {', '.join(_PATIENT_FIELDS)}",
            )
        values = self._patient_values(changes)
        with self._transaction() as s:
            actor_id, actor_name = self._actor(s, by)
            row = self._patient_row(s, patient_id)
            old = {key: getattr(row, key) for key in values if getattr(row, key) != values[key]}
            new = {key: values[key] for key in old}
            if "mrn" in new:
                self._mrn_free(s, new["mrn"])
            for key, value in new.items():
                setattr(row, key, value)
            if new:
                self._append(
                    s,
                    "patient.update",
                    actor_id,
                    actor_name,
                    patient_id=row.id,
                    old=checks.plain(old),
                    new=checks.plain(new),
                )
            return record(Patient, row)

    def patient(self, patient_id: int) -> Patient | None:
        """The patient with this id, or None."""
        with self._reading() as s:
            row = s.get(PatientRow, patient_id) if is_id(patient_id) else None
            return record(Patient, row) if row is not None else None

    def patient_by_mrn(self, mrn: str) -> Patient | None:
        """The patient with this MRN (exactly as typed), or None."""
        if not isinstance(mrn, str):
            return None
        with self._reading() as s:
            row = s.scalars(select(PatientRow).where(PatientRow.mrn == mrn)).one_or_none()
            return record(Patient, row) if row is not None else None

    def search_patients(
        self,
        text: str = "",
        *,
        sort: str = "family_name",
        descending: bool = False,
        page: int = 1,
        per_page: int = 20,
    ) -> tuple[list[Patient], int]:
        """One page of the patients whose MRN or names hold every word of `text` (any case), and how many match."""
        conditions, order = self._search(text, sort, descending)
        page_ = checks.whole("page", page, minimum=1, maximum=10**9)
        size = checks.whole("per_page", per_page, minimum=1, maximum=MAX_PER_PAGE)
        with self._reading() as s:
            total = s.scalar(select(func.count()).select_from(PatientRow).where(*conditions)) or 0
            rows = s.scalars(
                select(PatientRow).where(*conditions).order_by(*order).offset((page_ - 1) * size).limit(size)
            )
            return [record(Patient, row) for row in rows], total

    def _search(self, text: str, sort: str, descending: bool) -> tuple[list[ColumnElement[bool]], list[Any]]:
        """The conditions for the patients whose MRN or names hold every word of `text`, and the order to list them."""
        words = checks.text("search text", text, max_chars=NAME_CHARS, required=False).split()
        key = checks.choice("sort", sort, list(_SORTS))
        checks.flag("descending", descending)
        conditions: list[ColumnElement[bool]] = []
        for word in words:
            pattern = "%" + word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conditions.append(
                or_(
                    *(
                        func.lower(column).like(pattern, escape="\\")
                        for column in (PatientRow.mrn, PatientRow.family_name, PatientRow.given_name)
                    )
                )
            )
        column = _SORTS[key]
        order: list[Any] = []
        if key in _TEXT_SORTS:
            collation = BYTE_ORDER[self._engine.dialect.name]
            order += [func.lower(column).collate(collation), column.collate(collation)]
        else:
            order.append(column)
        order.append(PatientRow.id)
        return conditions, [item.desc() if descending else item.asc() for item in order]

    def add_implant(
        self,
        patient_id: int,
        *,
        pump_model: str,
        pump_serial: str,
        implant_date: date,
        catheter_model: str,
        catheter_length_cm: float,
        catheter_volume_ul_per_cm: float,
        tip_level: str,
        by: User,
    ) -> Implant:
        """Record a pump implanted in a patient; it becomes the patient's active implant (any earlier one is not)."""
        values: dict[str, Any] = {
            "pump_model": checks.text("pump_model", pump_model, max_chars=SHORT_CHARS),
            "pump_serial": checks.text("pump_serial", pump_serial, max_chars=CODE_CHARS),
            "implant_date": checks.day("implant_date", implant_date, latest=self._clock().date()),
            "catheter_model": checks.text("catheter_model", catheter_model, max_chars=SHORT_CHARS),
            "catheter_length_cm": checks.required_number(
                "catheter_length_cm", catheter_length_cm, unit="cm", minimum=0, maximum=200, above=True
            ),
            "catheter_volume_ul_per_cm": checks.required_number(
                "catheter_volume_ul_per_cm", catheter_volume_ul_per_cm, unit="µL/cm", minimum=0, maximum=100, above=True
            ),
            "tip_level": checks.text("tip_level", tip_level, max_chars=32),
        }
        with self._transaction() as s:
            actor_id, actor_name = self._actor(s, by)
            patient = self._patient_row(s, patient_id)
            if values["implant_date"] < patient.birth_date:
                raise InputError(
                    "implant_date",
                    values["implant_date"],
                    "is before the patient's date of birth",
                    "check the implant date",
                    limit=f"from {patient.birth_date.isoformat()}",
                )
            self._serial_free(s, values["pump_serial"])
            earlier = list(
                s.scalars(select(ImplantRow).where(ImplantRow.patient_id == patient.id, ImplantRow.active.is_(True)))
            )
            for other in earlier:
                other.active = False
            row = ImplantRow(patient_id=patient.id, active=True, **values)
            s.add(row)
            s.flush()
            old = {"active_implants": [other.pump_serial for other in earlier]} if earlier else None
            self._append(
                s,
                "implant.add",
                actor_id,
                actor_name,
                patient_id=patient.id,
                pump_serial=row.pump_serial,
                old=old,
                new=checks.plain(values),
            )
            return record(Implant, row)

    def implants(self, patient_id: int) -> list[Implant]:
        """A patient's implants, oldest first."""
        with self._reading() as s:
            query = select(ImplantRow).where(ImplantRow.patient_id == patient_id)
            if not is_id(patient_id):
                return []
            return [record(Implant, row) for row in s.scalars(query.order_by(ImplantRow.implant_date, ImplantRow.id))]

    def implant_by_serial(self, serial: str) -> Implant | None:
        """The implant of the pump with this serial, or None."""
        if not isinstance(serial, str):
            return None
        with self._reading() as s:
            row = s.scalars(select(ImplantRow).where(ImplantRow.pump_serial == serial)).one_or_none()
            return record(Implant, row) if row is not None else None

    def add_revision(
        self, implant_id: int, *, revised_on: date, new_length_cm: float, new_tip_level: str, note: str, by: User
    ) -> CatheterRevision:
        """Record a catheter revision; the implant's catheter length and tip level become the new ones."""
        revised = checks.day("revised_on", revised_on, latest=self._clock().date())
        length = checks.required_number("new_length_cm", new_length_cm, unit="cm", minimum=0, maximum=200, above=True)
        tip = checks.text("new_tip_level", new_tip_level, max_chars=32)
        note_ = checks.text("note", note, max_chars=LONG_CHARS, required=False, one_line=False)
        with self._transaction() as s:
            actor_id, actor_name = self._actor(s, by)
            implant = self._implant_row(s, implant_id)
            if revised < implant.implant_date:
                raise InputError(
                    "revised_on",
                    revised,
                    "is before the pump was implanted",
                    "check the revision date",
                    limit=f"from {implant.implant_date.isoformat()}",
                )
            old = {"catheter_length_cm": implant.catheter_length_cm, "tip_level": implant.tip_level}
            implant.catheter_length_cm, implant.tip_level = length, tip
            row = RevisionRow(
                implant_id=implant.id,
                revised_on=revised,
                new_length_cm=length,
                new_tip_level=tip,
                note=note_,
                by_user_id=actor_id,
            )
            s.add(row)
            s.flush()
            new = {"catheter_length_cm": length, "tip_level": tip, "revised_on": revised.isoformat(), "note": note_}
            self._append(
                s,
                "implant.revise",
                actor_id,
                actor_name,
                patient_id=implant.patient_id,
                pump_serial=implant.pump_serial,
                old=old,
                new=new,
            )
            return record(CatheterRevision, row)

    def revisions(self, implant_id: int) -> list[CatheterRevision]:
        """An implant's catheter revisions, oldest first."""
        with self._reading() as s:
            query = select(RevisionRow).where(RevisionRow.implant_id == implant_id)
            if not is_id(implant_id):
                return []
            return [
                record(CatheterRevision, row)
                for row in s.scalars(query.order_by(RevisionRow.revised_on, RevisionRow.id))
            ]

    # ------------------------------------------------------------------ helpers
    def _patient_values(self, given: dict[str, Any]) -> dict[str, Any]:
        """The patient fields given, checked."""
        out: dict[str, Any] = {}
        for key, value in given.items():
            if key == "mrn":
                out[key] = checks.text("mrn", value, max_chars=CODE_CHARS)
            elif key in ("family_name", "given_name"):
                out[key] = checks.text(key, value, max_chars=NAME_CHARS)
            elif key == "birth_date":
                out[key] = checks.day("birth_date", value, latest=self._clock().date())
            elif key == "weight_kg":
                out[key] = checks.number("weight_kg", value, unit="kg", minimum=0.5, maximum=500)
            elif key == "indication":
                out[key] = checks.choice("indication", value, INDICATIONS)
            elif key == "opioid_status":
                out[key] = checks.choice("opioid_status", value, OPIOID_STATUSES)
        return out

    @staticmethod
    def _mrn_free(s: Session, mrn: str) -> None:
        if s.scalar(select(PatientRow.id).where(PatientRow.mrn == mrn)) is not None:
            raise InputError("mrn", mrn, "is the MRN of another patient", "check the MRN; each patient has their own")

    @staticmethod
    def _serial_free(s: Session, serial: str) -> None:
        if s.scalar(select(ImplantRow.id).where(ImplantRow.pump_serial == serial)) is not None:
            raise InputError(
                "pump_serial", serial, "is already recorded for an implant", "check the serial on the pump's label"
            )
