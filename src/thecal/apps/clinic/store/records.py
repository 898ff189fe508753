"""What the clinic's store hands out: frozen records, the app's roles and the refused login (never ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from thecal.drugs.verdict import StaffRole
from thecal.errors import ThecalError


class AppRole(StrEnum):
    """A clinic user's role: the two staff roles that act on therapy, and two that never program."""

    PHYSICIAN = "physician"
    NURSE = "nurse"
    VIEWER = "viewer"
    ADMIN = "admin"

    @property
    def staff_role(self) -> StaffRole | None:
        """The therapy layer's role for this user, or None for a role that never programs (viewer, admin)."""
        if self is AppRole.PHYSICIAN:
            return StaffRole.PHYSICIAN
        if self is AppRole.NURSE:
            return StaffRole.NURSE
        return None


INDICATIONS = ("cancer", "non_cancer")
OPIOID_STATUSES = ("naive", "tolerant")
PAIN_SOURCES = ("clinic", "patient_app", "trial")  # the sources `add_pain_score` takes
PATIENT_DIARY = "patient_diary"  # the source of a pain score the patient's diary sent (`add_observation` only)


class LoginRefused(ThecalError):
    """A login the store refused: bad credentials, or an account locked out until a time."""

    def __init__(self, reason: str, locked_until: datetime | None = None):
        self.reason = reason
        self.locked_until = locked_until
        text = reason
        if locked_until is not None:
            text += f"; locked until {locked_until.isoformat(timespec='seconds')}"
        super().__init__(text)


@dataclass(frozen=True)
class User:
    """A person who logs in to the clinic's programmer."""

    id: int
    username: str
    full_name: str
    role: AppRole
    failed_logins: int
    locked_until: datetime | None


@dataclass(frozen=True)
class Patient:
    """A patient of the clinic: who, how heavy, and why the pump (indication, opioid status)."""

    id: int
    mrn: str
    family_name: str
    given_name: str
    birth_date: date
    weight_kg: float
    indication: str  # "cancer" | "non_cancer"
    opioid_status: str  # "naive" | "tolerant"
    created_at: datetime


@dataclass(frozen=True)
class Implant:
    """A pump implanted in a patient, with its catheter as it is now (after any revision)."""

    id: int
    patient_id: int
    pump_model: str
    pump_serial: str
    implant_date: date
    catheter_model: str
    catheter_length_cm: float
    catheter_volume_ul_per_cm: float
    tip_level: str
    active: bool


@dataclass(frozen=True)
class CatheterRevision:
    """A catheter revision: the new length and tip level from that day on."""

    id: int
    implant_id: int
    revised_on: date
    new_length_cm: float
    new_tip_level: str
    note: str


@dataclass(frozen=True)
class DrugFill:
    """A reservoir refill: the drugs and their concentrations, the volume put in and the volume drawn out."""

    id: int
    implant_id: int
    at: datetime
    drugs: tuple[tuple[str, float], ...]  # (drug, mg_per_ml)
    volume_ml: float
    aspirated_ml: float | None
    expected_ml: float | None
    discrepancy_acknowledged: bool
    by_user_id: int


@dataclass(frozen=True)
class Visit:
    """A visit of the patient to the clinic, with what was done."""

    id: int
    patient_id: int
    at: datetime
    kind: str
    by_user_id: int
    summary: str


@dataclass(frozen=True)
class PainScore:
    """A pain score 0..10 and where it came from."""

    id: int
    patient_id: int
    at: datetime
    score: int  # 0..10
    source: str  # "clinic" | "patient_app" | "trial" | "patient_diary"
    note: str


@dataclass(frozen=True)
class Note:
    """A free-text note on a patient."""

    id: int
    patient_id: int
    at: datetime
    by_user_id: int
    text: str


@dataclass(frozen=True)
class TrialRecord:
    """A screening trial: the drug, the doses, the pain before and after, and the decision with its rule."""

    id: int
    patient_id: int
    at: datetime
    drug: str
    doses: str
    pain_before: int
    pain_after: int
    decision: str
    rule: str
    by_user_id: int


@dataclass(frozen=True)
class AuditEntry:
    """One line of the append-only audit trail: who, when, what, on which patient and pump, old and new."""

    id: int
    at: datetime
    user_id: int | None
    username: str
    action: str
    patient_id: int | None
    pump_serial: str | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    override_reason: str | None
    detail: str


@dataclass(frozen=True)
class LastInterrogation:
    """An implant's last interrogation in this clinic: when, by whom, its summary, and its highest basal dose's trend.

    The summary is the one its audit entry (`audit_id`) keeps. The trend spans
    every interrogation of the implant on record: how many there were, how many
    gave a highest basal dose, and the oldest and newest of those doses.
    """

    implant_id: int
    audit_id: int
    at: datetime
    username: str
    summary: dict[str, Any]
    interrogations: int
    doses_known: int
    first_dose_ng_per_day: int | None
    last_dose_ng_per_day: int | None


@dataclass(frozen=True)
class PatientToken:
    """A token the clinic issued to a patient's therapy manager for the diary: who issued it, when, its last use.

    The token itself is shown once, when it is issued; the store keeps only its
    SHA-256 and its first characters (`hint`), so that staff can tell tokens apart.
    """

    id: int
    patient_id: int
    hint: str
    issued_at: datetime
    issued_by: str  # the login name of the physician or nurse who issued it
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        """Whether the token is still taken (it has not been revoked)."""
        return self.revoked_at is None


@dataclass(frozen=True)
class PatientObservation:
    """A diary entry the patient's therapy manager sent: pain 0..10 (LOINC 72514-3), activity, side effects, notes.

    `effective_at` is when the patient made the entry (UTC); `effective_local`
    is that time as the patient's device wrote it. The pain score is also the
    patient's pain score `pain_score_id` (source "patient_diary"), so it is
    listed, plotted and exported with every other score.
    """

    id: int
    patient_id: int
    source_id: str
    effective_at: datetime
    effective_local: str
    pain_0_10: int
    activity: str
    side_effects: tuple[str, ...]
    notes: str
    received_at: datetime
    token_id: int
    pain_score_id: int


@dataclass(frozen=True)
class ImplantOverview:
    """An active implant with what the dashboard needs of it: its last interrogation and its last refill, if any."""

    implant: Implant
    last_interrogation: LastInterrogation | None
    last_fill: DrugFill | None


@dataclass(frozen=True)
class PatientOverview:
    """A patient with their active implants (oldest first), each with its last interrogation and last refill."""

    patient: Patient
    implants: tuple[ImplantOverview, ...]
