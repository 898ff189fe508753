"""Each implanted pump's last interrogation, kept from its audit entry, with the trend of its highest basal dose."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from thecal.apps.clinic.store.base import StoreBase
from thecal.apps.clinic.store.models import AuditRow, ImplantRow, LastInterrogationRow
from thecal.apps.clinic.store.records import LastInterrogation
from thecal.apps.clinic.store.rows import last_interrogation_record

# An audit entry of this action with a summary (`new`) is an interrogation of the pump `pump_serial`: the store keeps it
# as that implant's last interrogation too, with the trend of the summary's highest basal dose under this key.
INTERROGATION_ACTION = "pump.interrogate"
INTERROGATION_DOSE_KEY = "max_dose_ng_per_day"


class InterrogationsRoom(StoreBase):
    """The implants' last interrogations: what the dashboard ranks pumps by."""

    def last_interrogation(self, pump_serial: str) -> LastInterrogation | None:
        """The last interrogation of the implanted pump with this serial; None: never interrogated, or not implanted."""
        if not isinstance(pump_serial, str):
            return None
        query = (
            select(LastInterrogationRow, AuditRow.username)
            .join(ImplantRow, ImplantRow.id == LastInterrogationRow.implant_id)
            .join(AuditRow, AuditRow.id == LastInterrogationRow.audit_id)
            .where(ImplantRow.pump_serial == pump_serial)
        )
        with self._reading() as s:
            found = s.execute(query).one_or_none()
            return None if found is None else last_interrogation_record(found[0], found[1])

    @staticmethod
    def _interrogated_implant(s: Session, serial: str, patient_id: int) -> ImplantRow | None:
        """The patient's implant of the pump interrogated, locked until the transaction ends, or None.

        The lock makes two interrogations of one pump at once keep its last
        interrogation one after the other, in the order of their audit entries.
        """
        implant = s.scalars(select(ImplantRow).where(ImplantRow.pump_serial == serial).with_for_update()).one_or_none()
        return implant if implant is not None and implant.patient_id == patient_id else None

    @staticmethod
    def _keep_interrogation(s: Session, implant: ImplantRow, entry: AuditRow) -> None:
        """Keep an interrogation's audit entry as the implant's last interrogation, and count its dose in the trend."""
        summary = entry.new or {}
        dose = _known_dose(summary)
        row = s.get(LastInterrogationRow, implant.id)
        if row is None:
            row = LastInterrogationRow(implant_id=implant.id, interrogations=0, doses_known=0)
            s.add(row)
        row.audit_id, row.at, row.summary = entry.id, entry.at, summary
        row.interrogations += 1
        if dose is not None:
            row.doses_known += 1
            row.last_dose_ng_per_day = dose
            if row.first_dose_ng_per_day is None:
                row.first_dose_ng_per_day = dose


def _known_dose(summary: dict[str, Any]) -> int | None:
    """The summary's highest basal dose in ng/day when it gives one (a whole number above zero), else None."""
    dose = summary.get(INTERROGATION_DOSE_KEY)
    return dose if type(dose) is int and 0 < dose < 2**63 else None
