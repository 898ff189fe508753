"""The clinical record: drug fills, visits, pain scores, notes and screening trials."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from thecal.apps.clinic.store import checks
from thecal.apps.clinic.store.base import CODE_CHARS, LONG_CHARS, NAME_CHARS, SHORT_CHARS, StoreBase
from thecal.apps.clinic.store.models import FillDrugRow, FillRow, NoteRow, PainScoreRow, TrialRow, VisitRow
from thecal.apps.clinic.store.records import PAIN_SOURCES, DrugFill, Note, PainScore, TrialRecord, User, Visit
from thecal.apps.clinic.store.rows import fill_record, is_id, record
from thecal.errors import InputError

MAX_DRUGS_PER_FILL = 4


class ClinicalRoom(StoreBase):
    """What happens to a patient between programming sessions: fills, visits, pain scores, notes, trials."""

    def record_fill(
        self,
        implant_id: int,
        *,
        at: datetime,
        drugs: tuple[tuple[str, float], ...],
        volume_ml: float,
        aspirated_ml: float | None,
        expected_ml: float | None,
        discrepancy_acknowledged: bool,
        by: User,
    ) -> DrugFill:
        """Record a reservoir refill: the drugs as typed with their mg/mL, the volume in and the volume drawn out."""
        when = checks.moment("at", at)
        mix = _drugs(drugs)
        volume = checks.required_number("volume_ml", volume_ml, unit="mL", minimum=0, maximum=100, above=True)
        aspirated = checks.number("aspirated_ml", aspirated_ml, unit="mL", minimum=0, maximum=100, optional=True)
        expected = checks.number("expected_ml", expected_ml, unit="mL", minimum=0, maximum=100, optional=True)
        acknowledged = checks.flag("discrepancy_acknowledged", discrepancy_acknowledged)
        with self._transaction() as s:
            actor_id, actor_name = self._actor(s, by)
            implant = self._implant_row(s, implant_id)
            row = FillRow(
                implant_id=implant.id,
                at=when,
                volume_ml=volume,
                aspirated_ml=aspirated,
                expected_ml=expected,
                discrepancy_acknowledged=acknowledged,
                by_user_id=actor_id,
                drugs=[FillDrugRow(position=i, drug=name, mg_per_ml=mg) for i, (name, mg) in enumerate(mix)],
            )
            s.add(row)
            s.flush()
            new = {
                "at": when.isoformat(),
                "drugs": [{"drug": name, "mg_per_ml": mg} for name, mg in mix],
                "volume_ml": volume,
                "aspirated_ml": aspirated,
                "expected_ml": expected,
                "discrepancy_acknowledged": acknowledged,
            }
            self._append(
                s,
                "fill.record",
                actor_id,
                actor_name,
                patient_id=implant.patient_id,
                pump_serial=implant.pump_serial,
                new=new,
            )
            return fill_record(row)

    def fills(self, implant_id: int) -> list[DrugFill]:
        """An implant's refills, oldest first."""
        with self._reading() as s:
            query = select(FillRow).where(FillRow.implant_id == implant_id).order_by(FillRow.at, FillRow.id)
            return [fill_record(row) for row in s.scalars(query)] if is_id(implant_id) else []

    def add_visit(self, patient_id: int, *, at: datetime, kind: str, summary: str, by: User) -> Visit:
        """Record a visit of the patient."""
        when = checks.moment("at", at)
        kind_ = checks.text("kind", kind, max_chars=CODE_CHARS)
        summary_ = checks.text("summary", summary, max_chars=LONG_CHARS, required=False, one_line=False)
        with self._transaction() as s:
            actor_id, actor_name = self._actor(s, by)
            patient = self._patient_row(s, patient_id)
            row = VisitRow(patient_id=patient.id, at=when, kind=kind_, by_user_id=actor_id, summary=summary_)
            s.add(row)
            s.flush()
            new = {"at": when.isoformat(), "kind": kind_, "summary": summary_}
            self._append(s, "visit.add", actor_id, actor_name, patient_id=patient.id, new=new)
            return record(Visit, row)

    def visits(self, patient_id: int) -> list[Visit]:
        """A patient's visits, oldest first."""
        with self._reading() as s:
            query = select(VisitRow).where(VisitRow.patient_id == patient_id).order_by(VisitRow.at, VisitRow.id)
            return [record(Visit, row) for row in s.scalars(query)] if is_id(patient_id) else []

    def add_pain_score(
        self, patient_id: int, *, at: datetime, score: int, source: str, note: str = "", by: User | None
    ) -> PainScore:
        """Record a pain score 0..10 from the clinic, the patient's app or a trial."""
        when = checks.moment("at", at)
        score_ = checks.whole("score", score, minimum=0, maximum=10)
        source_ = checks.choice("source", source, PAIN_SOURCES)
        note_ = checks.text("note", note, max_chars=LONG_CHARS, required=False, one_line=False)
        with self._transaction() as s:
            actor_id, actor_name = self._actor(s, by, nobody=source_)
            patient = self._patient_row(s, patient_id)
            row = PainScoreRow(
                patient_id=patient.id, at=when, score=score_, source=source_, note=note_, by_user_id=actor_id
            )
            s.add(row)
            s.flush()
            new = {"at": when.isoformat(), "score": score_, "source": source_, "note": note_}
            self._append(s, "pain_score.add", actor_id, actor_name, patient_id=patient.id, new=new)
            return record(PainScore, row)

    def pain_scores(self, patient_id: int) -> list[PainScore]:
        """A patient's pain scores, oldest first."""
        with self._reading() as s:
            query = select(PainScoreRow).where(PainScoreRow.patient_id == patient_id)
            query = query.order_by(PainScoreRow.at, PainScoreRow.id)
            return [record(PainScore, row) for row in s.scalars(query)] if is_id(patient_id) else []

    def add_note(self, patient_id: int, *, text: str, by: User) -> Note:
        """Add a note to a patient's record, timed now."""
        text_ = checks.text("text", text, max_chars=LONG_CHARS, one_line=False)
        with self._transaction() as s:
            actor_id, actor_name = self._actor(s, by)
            patient = self._patient_row(s, patient_id)
            row = NoteRow(patient_id=patient.id, at=self._clock(), by_user_id=actor_id, text=text_)
            s.add(row)
            s.flush()
            self._append(s, "note.add", actor_id, actor_name, patient_id=patient.id, new={"text": text_})
            return record(Note, row)

    def notes(self, patient_id: int) -> list[Note]:
        """A patient's notes, oldest first."""
        with self._reading() as s:
            query = select(NoteRow).where(NoteRow.patient_id == patient_id).order_by(NoteRow.at, NoteRow.id)
            return [record(Note, row) for row in s.scalars(query)] if is_id(patient_id) else []

    def add_trial(
        self,
        patient_id: int,
        *,
        at: datetime,
        drug: str,
        doses: str,
        pain_before: int,
        pain_after: int,
        decision: str,
        rule: str,
        by: User,
    ) -> TrialRecord:
        """Record a screening trial: the drug, the doses, the pain before and after, and the decision with its rule."""
        values = {
            "at": checks.moment("at", at),
            "drug": checks.text("drug", drug, max_chars=SHORT_CHARS),
            "doses": checks.text("doses", doses, max_chars=LONG_CHARS, one_line=False),
            "pain_before": checks.whole("pain_before", pain_before, minimum=0, maximum=10),
            "pain_after": checks.whole("pain_after", pain_after, minimum=0, maximum=10),
            "decision": checks.text("decision", decision, max_chars=NAME_CHARS),
            "rule": checks.text("rule", rule, max_chars=LONG_CHARS, required=False, one_line=False),
        }
        with self._transaction() as s:
            actor_id, actor_name = self._actor(s, by)
            patient = self._patient_row(s, patient_id)
            row = TrialRow(patient_id=patient.id, by_user_id=actor_id, **values)
            s.add(row)
            s.flush()
            self._append(s, "trial.add", actor_id, actor_name, patient_id=patient.id, new=checks.plain(values))
            return record(TrialRecord, row)

    def trials(self, patient_id: int) -> list[TrialRecord]:
        """A patient's screening trials, oldest first."""
        with self._reading() as s:
            query = select(TrialRow).where(TrialRow.patient_id == patient_id).order_by(TrialRow.at, TrialRow.id)
            return [record(TrialRecord, row) for row in s.scalars(query)] if is_id(patient_id) else []


def _drugs(drugs: object) -> tuple[tuple[str, float], ...]:
    """The drugs of a fill, each named and with its concentration in mg/mL; at least one, none twice."""
    if isinstance(drugs, str | bytes) or not isinstance(drugs, tuple | list) or not drugs:
        raise InputError("drugs", drugs, "must list at least one drug", "give each drug with its mg/mL")
    if len(drugs) > MAX_DRUGS_PER_FILL:
        raise InputError(
            "drugs", drugs, "lists too many drugs", "check the admixture", limit=f"at most {MAX_DRUGS_PER_FILL}"
        )
    out: list[tuple[str, float]] = []
    for i, item in enumerate(drugs):
        if isinstance(item, str | bytes) or not isinstance(item, tuple | list) or len(item) != 2:
            raise InputError(f"drugs[{i}]", item, "must be a drug and its mg/mL", "give (drug, mg_per_ml)")
        name = checks.text(f"drugs[{i}] drug", item[0], max_chars=SHORT_CHARS)
        mg = checks.required_number(f"drugs[{i}] mg_per_ml", item[1], unit="mg/mL", minimum=0, maximum=1000, above=True)
        if any(name == seen for seen, _ in out):
            raise InputError(f"drugs[{i}] drug", name, "is listed twice", "give each drug of the admixture once")
        out.append((name, mg))
    return tuple(out)
