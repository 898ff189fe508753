"""The dashboard's read: a page of patients, each with their active implants' last interrogation and refill."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from thecal.apps.clinic.store import checks
from thecal.apps.clinic.store.models import AuditRow, FillDrugRow, FillRow, ImplantRow, LastInterrogationRow, PatientRow
from thecal.apps.clinic.store.patients import MAX_PER_PAGE, PatientsRoom
from thecal.apps.clinic.store.records import Implant, ImplantOverview, Patient, PatientOverview
from thecal.apps.clinic.store.rows import fill_record, last_interrogation_record, record


class OverviewsRoom(PatientsRoom):
    """The patients as the dashboard ranks them, read in a handful of statements whatever their number."""

    def patient_overviews(
        self,
        text: str = "",
        *,
        sort: str = "family_name",
        descending: bool = False,
        page: int = 1,
        per_page: int | None = 20,
    ) -> tuple[list[PatientOverview], int]:
        """As `search_patients` (every match when `per_page` is None), each patient with their active implants' last
        interrogation and last refill; and how many match.

        A handful of statements whatever the number of patients: the page (and
        its count), then the active implants, their last interrogations and
        their last refills (with the refills' drugs), each for every patient at
        once.
        """
        conditions, order = self._search(text, sort, descending)
        page_ = checks.whole("page", page, minimum=1, maximum=10**9)
        size = None if per_page is None else checks.whole("per_page", per_page, minimum=1, maximum=MAX_PER_PAGE)
        with self._reading() as s:
            # Plain rows, not ORM objects: a clinic's every patient is read here, and the records are all that is kept.
            query = select(PatientRow.__table__).where(*conditions).order_by(*order)
            if size is None:
                patients = [record(Patient, row) for row in s.execute(query)]
                total = len(patients)
                # Every match: the implants are selected by the search itself, not by a list of thousands of ids.
                chosen: Select[Any] | list[int] = select(PatientRow.id).where(*conditions)
            else:
                total = s.scalar(select(func.count()).select_from(PatientRow).where(*conditions)) or 0
                patients = [record(Patient, row) for row in s.execute(query.offset((page_ - 1) * size).limit(size))]
                chosen = [p.id for p in patients]
            if not patients:
                return [], total
            return self._overviews(s, patients, chosen), total

    @staticmethod
    def _overviews(s: Session, patients: Sequence[Patient], chosen: Select[Any] | list[int]) -> list[PatientOverview]:
        """The patients' active implants, last interrogations and last refills: four statements for all of them."""
        active = (ImplantRow.active.is_(True), ImplantRow.patient_id.in_(chosen))
        implants = s.execute(
            select(ImplantRow.__table__).where(*active).order_by(ImplantRow.implant_date, ImplantRow.id)
        ).all()
        interrogations = {
            row.implant_id: last_interrogation_record(row, row.username)
            for row in s.execute(
                select(LastInterrogationRow.__table__, AuditRow.username)
                .join(ImplantRow, ImplantRow.id == LastInterrogationRow.implant_id)
                .join(AuditRow, AuditRow.id == LastInterrogationRow.audit_id)
                .where(*active)
            )
        }
        newest_first = func.row_number().over(
            partition_by=FillRow.implant_id, order_by=(FillRow.at.desc(), FillRow.id.desc())
        )
        numbered = (
            select(FillRow.id, newest_first.label("newest_first"))
            .join(ImplantRow, ImplantRow.id == FillRow.implant_id)
            .where(*active)
            .subquery()
        )
        last_fill_ids = select(numbered.c.id).where(numbered.c.newest_first == 1)
        drugs: dict[int, list[tuple[str, float]]] = {}
        for drug in s.execute(
            select(FillDrugRow.__table__)
            .where(FillDrugRow.fill_id.in_(last_fill_ids))
            .order_by(FillDrugRow.fill_id, FillDrugRow.position)
        ):
            drugs.setdefault(drug.fill_id, []).append((drug.drug, drug.mg_per_ml))
        last_fills = {
            row.implant_id: fill_record(row, drugs.get(row.id, []))
            for row in s.execute(select(FillRow.__table__).where(FillRow.id.in_(last_fill_ids)))
        }
        by_patient: dict[int, list[ImplantOverview]] = {}
        for row in implants:
            by_patient.setdefault(row.patient_id, []).append(
                ImplantOverview(record(Implant, row), interrogations.get(row.id), last_fills.get(row.id))
            )
        return [PatientOverview(p, tuple(by_patient.get(p.id, ()))) for p in patients]
