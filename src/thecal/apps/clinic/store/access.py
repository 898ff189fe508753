"""Patients' diary tokens and the observations they send: what a patient's therapy manager may append, and nothing more.

A physician or nurse issues a token for one patient (the web app decides who
may); the plain token is returned once, to be typed into the patient's therapy
manager, and the store keeps only its SHA-256 (a 32-byte `secrets` token has
256 bits of entropy: a fast hash is enough, no salt or slow hash is needed) and
its first characters as a hint. A token can be revoked; it then finds nobody.
A token reads nothing: it only appends observations to its own patient's record.

An observation is one diary entry: its pain score goes into the patient's pain
scores (source "patient_diary"), so the record's list, chart, CSV and FHIR
export carry it with every other score; the rest of the entry (activity, side
effects, notes, the device's own time) is kept beside it. The same entry sent
again (same patient, same `source_id`) is kept once: the device resends what it
is not sure arrived.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from thecal.apps.clinic.store import checks
from thecal.apps.clinic.store.base import StoreBase
from thecal.apps.clinic.store.models import PainScoreRow, PatientObservationRow, PatientTokenRow, UserRow
from thecal.apps.clinic.store.records import PATIENT_DIARY, PatientObservation, PatientToken, User
from thecal.apps.clinic.store.rows import is_id
from thecal.errors import InputError

TOKEN_BYTES = 32  # 256 bits from `secrets`
HINT_CHARS = 6  # the token's first characters, kept so that staff can tell a patient's tokens apart
MAX_TOKEN_CHARS = 200  # a presented token longer than this is no token of ours: not even hashed
MAX_ACTIVE_TOKENS = 5  # a patient's devices; more usually means old tokens that should be revoked

# Limits of an observation; the patient's app holds less (notes at most 1,000 characters).
SOURCE_ID_CHARS = 100
EFFECTIVE_LOCAL_CHARS = 32
ACTIVITY_CHARS = 40
SIDE_EFFECT_CHARS = 40
MAX_SIDE_EFFECTS = 20
NOTES_CHARS = 2000
EARLIEST_ENTRY = datetime(2000, 1, 1, tzinfo=UTC)
# A device's clock and time zone may run ahead of the clinic's: an entry up to a day "in the future" is taken.
FUTURE_SLACK = timedelta(days=1)

TOKEN_ISSUE = "patient_token.issue"
TOKEN_REVOKE = "patient_token.revoke"
OBSERVATION_RECEIVE = "observation.receive"


def token_sha256(token: str) -> str:
    """The hex SHA-256 of a token: what the store keeps and looks a presented token up by."""
    return hashlib.sha256(token.encode()).hexdigest()


def _plausible(token: object) -> bool:
    """A presented token worth looking up: text, not empty, not huge, printable ASCII."""
    return isinstance(token, str) and 0 < len(token) <= MAX_TOKEN_CHARS and token.isascii() and token.isprintable()


class AccessRoom(StoreBase):
    """Diary tokens (issued, listed, revoked, looked up) and the observations they append."""

    # ------------------------------------------------------------------ tokens
    def issue_patient_token(self, patient_id: int, by: User) -> str:
        """Issue a diary token for a patient; the plain token, shown once (only its hash is kept; audited)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self._transaction() as s:
            actor_id, actor_name = self._actor(s, by)
            if actor_id is None:
                raise InputError("by", by, "is not a user", "issue a token as a logged-in physician or nurse")
            patient = self._patient_row(s, patient_id)
            active = s.scalar(
                select(func.count())
                .select_from(PatientTokenRow)
                .where(PatientTokenRow.patient_id == patient.id, PatientTokenRow.revoked_at.is_(None))
            )
            if (active or 0) >= MAX_ACTIVE_TOKENS:
                raise InputError(
                    "diary tokens",
                    active,
                    "the patient has as many active tokens as the clinic allows",
                    "revoke a token the patient no longer uses, then issue the new one",
                    limit=f"at most {MAX_ACTIVE_TOKENS} active tokens a patient",
                )
            row = PatientTokenRow(
                patient_id=patient.id,
                token_sha256=token_sha256(token),
                hint=token[:HINT_CHARS],
                issued_at=self._clock(),
                issued_by_user_id=actor_id,
            )
            s.add(row)
            s.flush()
            new = {"token_id": row.id, "hint": row.hint}
            self._append(s, TOKEN_ISSUE, actor_id, actor_name, patient_id=patient.id, new=new)
        return token

    def revoke_patient_token(self, token_id: int, by: User, *, patient_id: int | None = None) -> PatientToken:
        """Revoke a diary token (of `patient_id`, when given); it is refused from then on. Revoking twice is a no-op."""
        with self._transaction() as s:
            actor_id, actor_name = self._actor(s, by)
            if actor_id is None:
                raise InputError("by", by, "is not a user", "revoke a token as a logged-in physician or nurse")
            row = s.get(PatientTokenRow, token_id, with_for_update=True) if is_id(token_id) else None
            if row is None or (patient_id is not None and row.patient_id != patient_id):
                raise InputError(
                    "token_id",
                    token_id,
                    "is not a diary token of this patient",
                    "choose a token from the patient's list",
                )
            if row.revoked_at is None:
                row.revoked_at, row.revoked_by_user_id = self._clock(), actor_id
                old = {"token_id": row.id, "hint": row.hint, "revoked": False}
                new = {"token_id": row.id, "hint": row.hint, "revoked": True}
                self._append(s, TOKEN_REVOKE, actor_id, actor_name, patient_id=row.patient_id, old=old, new=new)
            s.flush()
            return self._tokens(s, PatientTokenRow.id == row.id)[0]

    def patient_tokens(self, patient_id: int) -> list[PatientToken]:
        """A patient's diary tokens, newest first, revoked ones included."""
        if not is_id(patient_id):
            return []
        with self._reading() as s:
            return self._tokens(s, PatientTokenRow.patient_id == patient_id)

    def patient_token(self, token: str) -> PatientToken | None:
        """The active (not revoked) token record this plain token is, or None."""
        if not _plausible(token):
            return None
        with self._reading() as s:
            found = self._tokens(
                s, PatientTokenRow.token_sha256 == token_sha256(token), PatientTokenRow.revoked_at.is_(None)
            )
            return found[0] if found else None

    def patient_for_token(self, token: str) -> int | None:
        """The id of the patient an active token was issued for, or None (unknown, revoked, or not a token)."""
        found = self.patient_token(token)
        return None if found is None else found.patient_id

    @staticmethod
    def _tokens(s: Session, *where: Any) -> list[PatientToken]:
        issuer, revoker = aliased(UserRow), aliased(UserRow)
        query = (
            select(PatientTokenRow, issuer.username, revoker.username)
            .join(issuer, issuer.id == PatientTokenRow.issued_by_user_id)
            .outerjoin(revoker, revoker.id == PatientTokenRow.revoked_by_user_id)
            .where(*where)
            .order_by(PatientTokenRow.issued_at.desc(), PatientTokenRow.id.desc())
        )
        return [
            PatientToken(
                id=row.id,
                patient_id=row.patient_id,
                hint=row.hint,
                issued_at=row.issued_at,
                issued_by=issued_by,
                revoked_at=row.revoked_at,
                revoked_by=revoked_by,
                last_used_at=row.last_used_at,
            )
            for row, issued_by, revoked_by in s.execute(query)
        ]

    # ------------------------------------------------------------------ observations
    def add_observation(
        self,
        patient_id: int,
        *,
        token_id: int,
        source_id: str,
        effective_at: datetime,
        effective_local: str,
        pain_0_10: int,
        activity: str,
        side_effects: Sequence[str],
        notes: str,
    ) -> tuple[PatientObservation, bool]:
        """Keep a diary entry sent with an active token of this patient; (the observation, whether it is new).

        The same `source_id` again for the patient returns the entry kept the first time and writes nothing.
        A new entry adds the patient's pain score (source "patient_diary") and an audit entry, in one transaction.
        """
        values = self._observation_values(
            source_id, effective_at, effective_local, pain_0_10, activity, side_effects, notes
        )
        try:
            return self._add_observation(patient_id, token_id, values)
        except InputError as exc:
            # Another request kept the same entry between our look and our write (only PostgreSQL lets both look).
            if exc.field != "source_id":
                raise
            return self._add_observation(patient_id, token_id, values)

    def _add_observation(
        self, patient_id: int, token_id: int, values: dict[str, Any]
    ) -> tuple[PatientObservation, bool]:
        with self._transaction() as s:
            token = s.get(PatientTokenRow, token_id, with_for_update=True) if is_id(token_id) else None
            if token is None or token.revoked_at is not None or token.patient_id != patient_id:
                raise InputError(
                    "token", token_id, "is not an active diary token of this patient", "ask the clinic for a new token"
                )
            received = self._clock()
            token.last_used_at = received
            kept = self._observations(
                s,
                PatientObservationRow.patient_id == patient_id,
                PatientObservationRow.source_id == values["source_id"],
            )
            if kept:
                return kept[0], False
            if values["effective_at"] > received + FUTURE_SLACK:
                raise InputError(
                    "effective_local",
                    values["effective_local"],
                    "is later than the clinic's clock allows",
                    "set the device's date and time, then send the entry again",
                    limit=f"at most {FUTURE_SLACK} after {received.isoformat(timespec='minutes')}",
                )
            score = PainScoreRow(
                patient_id=patient_id,
                at=values["effective_at"],
                score=values["pain_0_10"],
                source=PATIENT_DIARY,
                note=_score_note(values["activity"], values["side_effects"], values["notes"]),
                by_user_id=None,
            )
            s.add(score)
            s.flush()
            row = PatientObservationRow(
                patient_id=patient_id,
                source_id=values["source_id"],
                pain_score_id=score.id,
                effective_local=values["effective_local"],
                activity=values["activity"],
                side_effects=list(values["side_effects"]),
                notes=values["notes"],
                received_at=received,
                token_id=token.id,
            )
            s.add(row)
            try:
                with s.begin_nested():
                    s.flush()
            except IntegrityError:
                raise InputError("source_id", values["source_id"], "was kept by another request", "read it") from None
            new = {
                "source_id": values["source_id"],
                "effective_at": values["effective_at"].isoformat(),
                "pain_0_10": values["pain_0_10"],
                "activity": values["activity"],
                "side_effects": list(values["side_effects"]),
                "notes": values["notes"],
            }
            detail = f"from the patient's diary with token {token.id} ({token.hint}…)"
            self._append(
                s, OBSERVATION_RECEIVE, None, PATIENT_DIARY, patient_id=patient_id, new=new, detail=detail, at=received
            )
            return self._observations(s, PatientObservationRow.id == row.id)[0], True

    def observations(self, patient_id: int) -> list[PatientObservation]:
        """A patient's diary observations, oldest entry first."""
        if not is_id(patient_id):
            return []
        with self._reading() as s:
            return self._observations(s, PatientObservationRow.patient_id == patient_id)

    @staticmethod
    def _observations(s: Session, *where: Any) -> list[PatientObservation]:
        query = (
            select(PatientObservationRow, PainScoreRow.at, PainScoreRow.score)
            .join(PainScoreRow, PainScoreRow.id == PatientObservationRow.pain_score_id)
            .where(*where)
            .order_by(PainScoreRow.at, PatientObservationRow.id)
        )
        return [
            PatientObservation(
                id=row.id,
                patient_id=row.patient_id,
                source_id=row.source_id,
                effective_at=at,
                effective_local=row.effective_local,
                pain_0_10=score,
                activity=row.activity,
                side_effects=tuple(row.side_effects),
                notes=row.notes,
                received_at=row.received_at,
                token_id=row.token_id,
                pain_score_id=row.pain_score_id,
            )
            for row, at, score in s.execute(query)
        ]

    @staticmethod
    def _observation_values(
        source_id: object,
        effective_at: object,
        effective_local: object,
        pain_0_10: object,
        activity: object,
        side_effects: object,
        notes: object,
    ) -> dict[str, Any]:
        """An observation's fields, checked (each error names the field, the value, the limit and what to do)."""
        when = checks.moment("effective_at", effective_at).astimezone(UTC)
        if when < EARLIEST_ENTRY:
            raise InputError(
                "effective_local",
                effective_local,
                "is before the diary could have been kept",
                "set the device's date and time, then send the entry again",
                limit=f"from {EARLIEST_ENTRY.date().isoformat()}",
            )
        if isinstance(side_effects, str) or not isinstance(side_effects, Sequence):
            raise InputError("side_effects", side_effects, "must be a list of words", 'send a list, e.g. ["nausea"]')
        if len(side_effects) > MAX_SIDE_EFFECTS:
            raise InputError(
                "side_effects",
                f"{len(side_effects)} items",
                "lists too many side effects",
                "send each side effect once",
                limit=f"at most {MAX_SIDE_EFFECTS}",
            )
        effects = tuple(
            checks.text(f"side_effects[{i}]", effect, max_chars=SIDE_EFFECT_CHARS)
            for i, effect in enumerate(side_effects)
        )
        return {
            "source_id": checks.text("source_id", source_id, max_chars=SOURCE_ID_CHARS),
            "effective_at": when,
            "effective_local": checks.text("effective_local", effective_local, max_chars=EFFECTIVE_LOCAL_CHARS),
            "pain_0_10": checks.whole("pain_0_10", pain_0_10, minimum=0, maximum=10),
            "activity": checks.text("activity", activity, max_chars=ACTIVITY_CHARS, required=False),
            "side_effects": effects,
            "notes": checks.text("notes", notes, max_chars=NOTES_CHARS, required=False, one_line=False),
        }


def _score_note(activity: str, side_effects: Sequence[str], notes: str) -> str:
    """The note of a diary entry's pain score: its activity, side effects and notes in words."""
    parts = [f"activity: {activity}"] if activity.strip() else []
    if side_effects:
        parts.append(f"side effects: {', '.join(side_effects)}")
    if notes.strip():
        parts.append(f"notes: {notes.strip()}")
    return "; ".join(parts) if parts else "no activity, side effect or note given"
