"""The append-only audit trail: every change, programming session, override, view and export, never changed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from thecal.apps.clinic.store import checks
from thecal.apps.clinic.store.base import CODE_CHARS, LONG_CHARS
from thecal.apps.clinic.store.interrogations import INTERROGATION_ACTION, InterrogationsRoom
from thecal.apps.clinic.store.models import AuditRow
from thecal.apps.clinic.store.records import AuditEntry, User
from thecal.apps.clinic.store.rows import is_id, record
from thecal.errors import InputError


class AuditRoom(InterrogationsRoom):
    """Appending to the audit trail and reading it (the database's triggers refuse UPDATE and DELETE on it)."""

    def audit(
        self,
        action: str,
        *,
        by: User | None,
        patient_id: int | None = None,
        pump_serial: str | None = None,
        old: dict[str, Any] | None = None,
        new: dict[str, Any] | None = None,
        override_reason: str | None = None,
        detail: str = "",
    ) -> AuditEntry:
        """Append an entry to the audit trail (a programming session, an override, a view): it can never change.

        An interrogation (`INTERROGATION_ACTION`, with the patient, the pump and a summary as `new`) of a pump
        implanted in that patient also becomes the implant's last interrogation (`last_interrogation`), in the
        same transaction.
        """
        action_ = checks.text("action", action, max_chars=CODE_CHARS)
        if patient_id is not None and not is_id(patient_id):
            raise InputError("patient_id", patient_id, "is not a patient id", "give a patient's id or none")
        serial = None if pump_serial is None else checks.text("pump_serial", pump_serial, max_chars=CODE_CHARS)
        for field, value in (("old", old), ("new", new)):
            if value is not None and not isinstance(value, dict):
                raise InputError(field, value, "must be a table of names and values", f"give {field} as a dict or none")
        reason = (
            None
            if override_reason is None
            else checks.text("override_reason", override_reason, max_chars=LONG_CHARS, one_line=False)
        )
        detail_ = checks.text("detail", detail, max_chars=LONG_CHARS, required=False, one_line=False)
        with self._transaction() as s:
            actor_id, actor_name = self._actor(s, by)
            implant = None
            if action_ == INTERROGATION_ACTION and patient_id is not None and serial is not None and new is not None:
                implant = self._interrogated_implant(s, serial, patient_id)
            row = self._append(
                s,
                action_,
                actor_id,
                actor_name,
                patient_id=patient_id,
                pump_serial=serial,
                old=checks.plain(old) if old is not None else None,
                new=checks.plain(new) if new is not None else None,
                override_reason=reason,
                detail=detail_,
            )
            if implant is not None and row.new is not None:
                self._keep_interrogation(s, implant, row)
            return record(AuditEntry, row)

    def audit_trail(self, *, patient_id: int | None = None, limit: int = 200) -> list[AuditEntry]:
        """The audit entries, newest (last appended) first, of one patient or of the whole clinic."""
        limit_ = checks.whole("limit", limit, minimum=1, maximum=100_000)
        query = select(AuditRow)
        if patient_id is not None:
            query = query.where(AuditRow.patient_id == patient_id)
        query = query.order_by(AuditRow.id.desc()).limit(limit_)  # the order they were appended in
        with self._reading() as s:
            return [record(AuditEntry, row) for row in s.scalars(query)]
