"""Rows to the frozen records the store hands out (never ORM objects)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Row

from thecal.apps.clinic.store.models import FillRow, LastInterrogationRow, UserRow
from thecal.apps.clinic.store.records import AppRole, DrugFill, LastInterrogation, User

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_Record = TypeVar("_Record", bound="DataclassInstance")


def is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value < 2**63


def record(kind: type[_Record], row: object) -> _Record:
    """The frozen record of a row whose columns carry the record's field names."""
    return kind(**{f.name: getattr(row, f.name) for f in fields(kind)})


def user_record(row: UserRow) -> User:
    return User(
        id=row.id,
        username=row.username,
        full_name=row.full_name,
        role=AppRole(row.role),
        failed_logins=row.failed_logins,
        locked_until=row.locked_until,
    )


def fill_record(row: FillRow | Row[Any], drugs: Sequence[tuple[str, float]] | None = None) -> DrugFill:
    """The fill as a record; its drugs from the row, or as read beside it (`drugs`)."""
    return DrugFill(
        id=row.id,
        implant_id=row.implant_id,
        at=row.at,
        drugs=tuple(drugs) if drugs is not None else tuple((drug.drug, drug.mg_per_ml) for drug in row.drugs),
        volume_ml=row.volume_ml,
        aspirated_ml=row.aspirated_ml,
        expected_ml=row.expected_ml,
        discrepancy_acknowledged=row.discrepancy_acknowledged,
        by_user_id=row.by_user_id,
    )


def last_interrogation_record(row: LastInterrogationRow | Row[Any], username: str) -> LastInterrogation:
    return LastInterrogation(
        implant_id=row.implant_id,
        audit_id=row.audit_id,
        at=row.at,
        username=username,
        summary=row.summary,
        interrogations=row.interrogations,
        doses_known=row.doses_known,
        first_dose_ng_per_day=row.first_dose_ng_per_day,
        last_dose_ng_per_day=row.last_dose_ng_per_day,
    )
