"""The clinic's store: every read and write of the clinic database, one transaction per call, each change audited.

The web pages, the demo and the reports reach the database only through
`ClinicStore`. It hands out frozen records (`records.py`), never ORM objects;
every mutator checks its input first (an `InputError` naming the field, the
value, the limit and what to do), then writes the change and its audit entry
in one transaction, so a refused call leaves nothing half-written. The audit is
append-only: the store has no call that changes or removes an entry, and the
database's own triggers refuse UPDATE and DELETE on it. The store decides
nothing about doses and nothing about who may do what: that is the therapy
layer's and the web app's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, Engine, Row, Select, create_engine, event, func, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from thecal.apps.clinic.store import checks
from thecal.apps.clinic.store.models import (
    AuditRow,
    FillDrugRow,
    FillRow,
    ImplantRow,
    LastInterrogationRow,
    NoteRow,
    PainScoreRow,
    PatientRow,
    RevisionRow,
    SettingRow,
    TrialRow,
    UserRow,
    VisitRow,
)
from thecal.apps.clinic.store.records import (
    INDICATIONS,
    OPIOID_STATUSES,
    PAIN_SOURCES,
    AppRole,
    AuditEntry,
    CatheterRevision,
    DrugFill,
    Implant,
    ImplantOverview,
    LastInterrogation,
    LoginRefused,
    Note,
    PainScore,
    Patient,
    PatientOverview,
    TrialRecord,
    User,
    Visit,
)
from thecal.errors import InputError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_Record = TypeVar("_Record", bound="DataclassInstance")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BEGIN = "thecal_sqlite_begin"  # the execution option that tells how to BEGIN a SQLite transaction

# The clinic settings the store itself reads, with their defaults and the range a clinic may set.
LOGIN_MAX_FAILURES = "login.max_failures"
LOGIN_LOCKOUT_MINUTES = "login.lockout_minutes"
_INTEGER_SETTINGS: dict[str, tuple[int, int, int]] = {  # key: (default, minimum, maximum)
    LOGIN_MAX_FAILURES: (5, 1, 100),
    LOGIN_LOCKOUT_MINUTES: (15, 1, 24 * 60),
}

# An audit entry of this action with a summary (`new`) is an interrogation of the pump `pump_serial`: the store keeps it
# as that implant's last interrogation too, with the trend of the summary's highest basal dose under this key.
INTERROGATION_ACTION = "pump.interrogate"
INTERROGATION_DOSE_KEY = "max_dose_ng_per_day"

WRONG_CREDENTIALS = "wrong username or password"
LOCKED_OUT = "account locked after repeated failed logins"

# Limits of what a record holds; generous for people, short of a pasted file.
NAME_CHARS = 200
CODE_CHARS = 64
SHORT_CHARS = 100
LONG_CHARS = 20_000
MAX_DRUGS_PER_FILL = 4
MAX_PER_PAGE = 500

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
# A byte-order collation on each database, so that sorting text gives the same order on both.
_BYTE_ORDER = {"sqlite": "BINARY", "postgresql": "C"}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def sqlite_url(path: Path) -> str:
    """The URL of a SQLite clinic database file."""
    return f"sqlite:///{Path(path).resolve()}"


class ClinicStore:
    """The clinic database: users and logins, patients, implants, their clinical record, settings and the audit."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = _utc_now,
        password_hasher: PasswordHasher | None = None,
    ):
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._clock = clock
        self._hasher = password_hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    # ------------------------------------------------------------------ life cycle
    @classmethod
    def open(
        cls,
        url: str,
        *,
        clock: Callable[[], datetime] | None = None,
        password_hasher: PasswordHasher | None = None,
    ) -> ClinicStore:
        """A store over the database at `url` (sqlite:///file.db or postgresql+psycopg://...); no tables are made."""
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise InputError(
                "database URL",
                url,
                f"is not a database URL ({exc})",
                "give sqlite:///path.db or postgresql+psycopg://…",
            ) from None
        backend = parsed.get_backend_name()
        if backend not in _BYTE_ORDER:
            raise InputError(
                "database URL",
                parsed.render_as_string(hide_password=True),
                f"names the database {backend!r}, which the clinic does not support",
                "use SQLite (sqlite:///path.db) or PostgreSQL (postgresql+psycopg://user@host/db)",
            )
        try:
            engine = create_engine(parsed, pool_pre_ping=backend == "postgresql")
        except (NoSuchModuleError, ImportError) as exc:
            raise InputError(
                "database URL",
                parsed.render_as_string(hide_password=True),
                f"needs a database driver that is not installed ({exc})",
                "use postgresql+psycopg:// for PostgreSQL (psycopg 3 is installed)",
            ) from None
        if backend == "sqlite":
            event.listen(engine, "connect", _sqlite_connect)
            event.listen(engine, "begin", _sqlite_begin)
        return cls(engine, clock=clock or _utc_now, password_hasher=password_hasher)

    def migrate(self) -> None:
        """Bring the database to the newest schema (alembic upgrade head)."""
        self._alembic(lambda config: command.upgrade(config, "head"))

    def downgrade_all(self) -> None:
        """Remove every table the migrations made (alembic downgrade base)."""
        self._alembic(lambda config: command.downgrade(config, "base"))

    def schema_revision(self) -> str | None:
        """The migration the database is at, or None when it has no clinic tables yet."""
        with self._connected() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def close(self) -> None:
        """Close every connection the store holds."""
        self._engine.dispose()

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for tests and tools that inspect the database itself)."""
        return self._engine

    def _alembic(self, run: Callable[[Config], None]) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self._connected() as connection, connection.begin():
            config.attributes["connection"] = connection
            run(config)

    @contextmanager
    def _connected(self) -> Iterator[Any]:
        try:
            connection = self._engine.connect()
        except OperationalError as exc:
            raise InputError(
                "database URL",
                self._engine.url.render_as_string(hide_password=True),
                f"cannot be reached ({str(exc.orig).strip().splitlines()[0] if exc.orig else exc})",
                "start the database server, or give the URL of one that runs",
            ) from None
        with connection:
            yield connection

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """One writing transaction: everything in it is written together or not at all.

        On SQLite it takes the write lock at once (BEGIN IMMEDIATE), so two writers wait for each other
        instead of both reading and then failing to write.
        """
        try:
            with self._sessions.begin() as session:
                session.connection(execution_options={SQLITE_BEGIN: "IMMEDIATE"})
                yield session
        except IntegrityError as exc:
            raise _integrity_error(exc) from None

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        """One reading transaction: a consistent view of the database."""
        with self._sessions.begin() as session:
            yield session

    # ------------------------------------------------------------------ users and logins
    def add_user(self, username: str, full_name: str, role: AppRole, password: str, *, by: User | None) -> User:
        """Create a user with a hashed password (at least 10 characters)."""
        name = checks.username(username)
        full = checks.text("full_name", full_name, max_chars=NAME_CHARS)
        role_ = AppRole(checks.choice("role", str(role) if isinstance(role, AppRole) else role, list(AppRole)))
        password_hash = self._hasher.hash(checks.password(password))  # before the transaction: hashing takes a while
        with self._transaction() as s:
            actor_id, actor_name = self._actor(s, by)
            if s.scalar(select(UserRow.id).where(UserRow.username == name)) is not None:
                raise InputError("username", name, "is taken by another user", "choose another login name")
            row = UserRow(
                username=name,
                full_name=full,
                role=role_.value,
                password_hash=password_hash,
                failed_logins=0,
                locked_until=None,
                created_at=self._clock(),
            )
            s.add(row)
            s.flush()
            new = {"username": name, "full_name": full, "role": role_.value}
            self._append(s, "user.add", actor_id, actor_name, new=new, detail=f"user {row.id}")
            return _user(row)

    def login(self, username: str, password: str, now: datetime) -> User:
        """The user whose password this is; LoginRefused for bad credentials or a locked account (each audited)."""
        when = checks.moment("now", now)
        refused: LoginRefused | None = None
        dummy = self._dummy()
        with self._transaction() as s:
            max_failures = self._integer_setting(s, LOGIN_MAX_FAILURES)
            lockout_minutes = self._integer_setting(s, LOGIN_LOCKOUT_MINUTES)
            row = None
            if isinstance(username, str) and checks.USERNAME.fullmatch(username):
                row = s.scalars(select(UserRow).where(UserRow.username == username).with_for_update()).one_or_none()
            typed = checks.printable(username if isinstance(username, str) else repr(username))[:NAME_CHARS]
            if row is None:
                self._verify(dummy, password)  # the same work as for a real user: no hint the name is unknown
                self._append(s, "login.failure", None, typed, detail="unknown username", at=when)
                refused = LoginRefused(WRONG_CREDENTIALS)
            elif row.locked_until is not None and when < row.locked_until:
                detail = f"refused during lockout, password not checked; locked until {row.locked_until.isoformat()}"
                self._append(s, "login.locked", row.id, row.username, detail=detail, at=when)
                refused = LoginRefused(LOCKED_OUT, row.locked_until)
            else:
                if row.locked_until is not None:  # the lockout is over: a fresh count
                    row.locked_until = None
                    row.failed_logins = 0
                if self._verify(row.password_hash, password):
                    row.failed_logins = 0
                    if self._hasher.check_needs_rehash(row.password_hash):
                        row.password_hash = self._hasher.hash(password)
                    self._append(s, "login.success", row.id, row.username, at=when)
                else:
                    row.failed_logins += 1
                    detail = f"wrong password, failure {row.failed_logins} of {max_failures}"
                    self._append(s, "login.failure", row.id, row.username, detail=detail, at=when)
                    if row.failed_logins >= max_failures:
                        row.locked_until = when + timedelta(minutes=lockout_minutes)
                        detail = f"locked for {lockout_minutes} min until {row.locked_until.isoformat()}"
                        self._append(s, "login.lockout", row.id, row.username, detail=detail, at=when)
                        refused = LoginRefused(LOCKED_OUT, row.locked_until)
                    else:
                        refused = LoginRefused(WRONG_CREDENTIALS)
            user = _user(row) if row is not None else None
        if refused is not None:
            raise refused
        assert user is not None
        return user

    def user(self, user_id: int) -> User | None:
        """The user with this id, or None."""
        with self._reading() as s:
            row = s.get(UserRow, user_id) if _is_id(user_id) else None
            return _user(row) if row is not None else None

    def users(self) -> list[User]:
        """Every user, by login name."""
        with self._reading() as s:
            return [_user(row) for row in s.scalars(select(UserRow).order_by(UserRow.username))]

    def _verify(self, password_hash: str, password: object) -> bool:
        if not isinstance(password, str) or len(password) > checks.PASSWORD_MAX_CHARACTERS:
            return False
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash("not the password of anyone")
        return self._dummy_hash

    # ------------------------------------------------------------------ patients and implants
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
            return _record(Patient, row)

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
            return _record(Patient, row)

    def patient(self, patient_id: int) -> Patient | None:
        """The patient with this id, or None."""
        with self._reading() as s:
            row = s.get(PatientRow, patient_id) if _is_id(patient_id) else None
            return _record(Patient, row) if row is not None else None

    def patient_by_mrn(self, mrn: str) -> Patient | None:
        """The patient with this MRN (exactly as typed), or None."""
        if not isinstance(mrn, str):
            return None
        with self._reading() as s:
            row = s.scalars(select(PatientRow).where(PatientRow.mrn == mrn)).one_or_none()
            return _record(Patient, row) if row is not None else None

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
            return [_record(Patient, row) for row in rows], total

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
                patients = [_record(Patient, row) for row in s.execute(query)]
                total = len(patients)
                # Every match: the implants are selected by the search itself, not by a list of thousands of ids.
                chosen: Select[Any] | list[int] = select(PatientRow.id).where(*conditions)
            else:
                total = s.scalar(select(func.count()).select_from(PatientRow).where(*conditions)) or 0
                patients = [_record(Patient, row) for row in s.execute(query.offset((page_ - 1) * size).limit(size))]
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
            row.implant_id: _last_interrogation(row, row.username)
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
            row.implant_id: _fill(row, drugs.get(row.id, []))
            for row in s.execute(select(FillRow.__table__).where(FillRow.id.in_(last_fill_ids)))
        }
        by_patient: dict[int, list[ImplantOverview]] = {}
        for row in implants:
            by_patient.setdefault(row.patient_id, []).append(
                ImplantOverview(_record(Implant, row), interrogations.get(row.id), last_fills.get(row.id))
            )
        return [PatientOverview(p, tuple(by_patient.get(p.id, ()))) for p in patients]

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
            collation = _BYTE_ORDER[self._engine.dialect.name]
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
            return _record(Implant, row)

    def implants(self, patient_id: int) -> list[Implant]:
        """A patient's implants, oldest first."""
        with self._reading() as s:
            query = select(ImplantRow).where(ImplantRow.patient_id == patient_id)
            if not _is_id(patient_id):
                return []
            return [_record(Implant, row) for row in s.scalars(query.order_by(ImplantRow.implant_date, ImplantRow.id))]

    def implant_by_serial(self, serial: str) -> Implant | None:
        """The implant of the pump with this serial, or None."""
        if not isinstance(serial, str):
            return None
        with self._reading() as s:
            row = s.scalars(select(ImplantRow).where(ImplantRow.pump_serial == serial)).one_or_none()
            return _record(Implant, row) if row is not None else None

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
            return _record(CatheterRevision, row)

    def revisions(self, implant_id: int) -> list[CatheterRevision]:
        """An implant's catheter revisions, oldest first."""
        with self._reading() as s:
            query = select(RevisionRow).where(RevisionRow.implant_id == implant_id)
            if not _is_id(implant_id):
                return []
            return [
                _record(CatheterRevision, row)
                for row in s.scalars(query.order_by(RevisionRow.revised_on, RevisionRow.id))
            ]

    # ------------------------------------------------------------------ clinical record
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
            return _fill(row)

    def fills(self, implant_id: int) -> list[DrugFill]:
        """An implant's refills, oldest first."""
        with self._reading() as s:
            query = select(FillRow).where(FillRow.implant_id == implant_id).order_by(FillRow.at, FillRow.id)
            return [_fill(row) for row in s.scalars(query)] if _is_id(implant_id) else []

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
            return _record(Visit, row)

    def visits(self, patient_id: int) -> list[Visit]:
        """A patient's visits, oldest first."""
        with self._reading() as s:
            query = select(VisitRow).where(VisitRow.patient_id == patient_id).order_by(VisitRow.at, VisitRow.id)
            return [_record(Visit, row) for row in s.scalars(query)] if _is_id(patient_id) else []

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
            return _record(PainScore, row)

    def pain_scores(self, patient_id: int) -> list[PainScore]:
        """A patient's pain scores, oldest first."""
        with self._reading() as s:
            query = select(PainScoreRow).where(PainScoreRow.patient_id == patient_id)
            query = query.order_by(PainScoreRow.at, PainScoreRow.id)
            return [_record(PainScore, row) for row in s.scalars(query)] if _is_id(patient_id) else []

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
            return _record(Note, row)

    def notes(self, patient_id: int) -> list[Note]:
        """A patient's notes, oldest first."""
        with self._reading() as s:
            query = select(NoteRow).where(NoteRow.patient_id == patient_id).order_by(NoteRow.at, NoteRow.id)
            return [_record(Note, row) for row in s.scalars(query)] if _is_id(patient_id) else []

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
            return _record(TrialRecord, row)

    def trials(self, patient_id: int) -> list[TrialRecord]:
        """A patient's screening trials, oldest first."""
        with self._reading() as s:
            query = select(TrialRow).where(TrialRow.patient_id == patient_id).order_by(TrialRow.at, TrialRow.id)
            return [_record(TrialRecord, row) for row in s.scalars(query)] if _is_id(patient_id) else []

    # ------------------------------------------------------------------ audit
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
        if patient_id is not None and not _is_id(patient_id):
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
            return _record(AuditEntry, row)

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
            return None if found is None else _last_interrogation(found[0], found[1])

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

    def audit_trail(self, *, patient_id: int | None = None, limit: int = 200) -> list[AuditEntry]:
        """The audit entries, newest (last appended) first, of one patient or of the whole clinic."""
        limit_ = checks.whole("limit", limit, minimum=1, maximum=100_000)
        query = select(AuditRow)
        if patient_id is not None:
            query = query.where(AuditRow.patient_id == patient_id)
        query = query.order_by(AuditRow.id.desc()).limit(limit_)  # the order they were appended in
        with self._reading() as s:
            return [_record(AuditEntry, row) for row in s.scalars(query)]

    # ------------------------------------------------------------------ clinic settings
    def setting(self, key: str, default: str) -> str:
        """A clinic setting as text, or `default` when the clinic has not set it."""
        with self._reading() as s:
            row = s.get(SettingRow, key) if isinstance(key, str) else None
            return row.value if row is not None else default

    def set_setting(self, key: str, value: str, *, by: User) -> None:
        """Set a clinic setting (the login settings must be whole numbers in their range)."""
        key_ = checks.text("setting key", key, max_chars=SHORT_CHARS)
        value_ = checks.text(key_, value, max_chars=LONG_CHARS, required=False, one_line=False)
        if key_ in _INTEGER_SETTINGS:
            _default, low, high = _INTEGER_SETTINGS[key_]
            if not value_.strip().isdigit() or not low <= int(value_) <= high:
                raise InputError(
                    key_, value, "must be a whole number in range", "give a whole number", f"{low} to {high}"
                )
        with self._transaction() as s:
            actor_id, actor_name = self._actor(s, by)
            row = s.get(SettingRow, key_)
            old = None if row is None else {key_: row.value}
            if row is None:
                s.add(SettingRow(key=key_, value=value_, updated_at=self._clock()))
            else:
                row.value, row.updated_at = value_, self._clock()
            self._append(s, "setting.set", actor_id, actor_name, old=old, new={key_: value_})

    def _integer_setting(self, s: Session, key: str) -> int:
        default, low, high = _INTEGER_SETTINGS[key]
        row = s.get(SettingRow, key)
        try:
            value = int(row.value) if row is not None else default
        except ValueError:
            return default
        return value if low <= value <= high else default

    # ------------------------------------------------------------------ helpers
    def _actor(self, s: Session, by: User | None, *, nobody: str = "system") -> tuple[int | None, str]:
        """The id and name of the user acting, checked against the database; (None, nobody) when nobody is."""
        if by is None:
            return None, nobody
        if not isinstance(by, User):
            raise InputError("by", by, "is not a user of the clinic", "act as a logged-in user")
        row = s.get(UserRow, by.id)
        if row is None:
            raise InputError("by", by.username, "is not a user of this clinic", "log in as a user of this clinic")
        return row.id, row.username

    def _append(
        self,
        s: Session,
        action: str,
        user_id: int | None,
        username: str,
        *,
        patient_id: int | None = None,
        pump_serial: str | None = None,
        old: dict[str, Any] | None = None,
        new: dict[str, Any] | None = None,
        override_reason: str | None = None,
        detail: str = "",
        at: datetime | None = None,
    ) -> AuditRow:
        row = AuditRow(
            at=at or self._clock(),
            user_id=user_id,
            username=username,
            action=action,
            patient_id=patient_id,
            pump_serial=pump_serial,
            old=old,
            new=new,
            override_reason=override_reason,
            detail=detail,
        )
        s.add(row)
        s.flush()
        return row

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

    @staticmethod
    def _patient_row(s: Session, patient_id: int) -> PatientRow:
        row = s.get(PatientRow, patient_id) if _is_id(patient_id) else None
        if row is None:
            raise InputError(
                "patient_id", patient_id, "is not a patient of this clinic", "choose a patient from the list"
            )
        return row

    @staticmethod
    def _implant_row(s: Session, implant_id: int) -> ImplantRow:
        row = s.get(ImplantRow, implant_id) if _is_id(implant_id) else None
        if row is None:
            raise InputError(
                "implant_id", implant_id, "is not an implant of this clinic", "choose the patient's implant"
            )
        return row


# ---------------------------------------------------------------------- module helpers
def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    """Let SQLAlchemy, not the driver, begin transactions (so DDL and reads are transactional too); foreign keys on;
    write-ahead logging, so that readers do not wait for a writer; a wait rather than an error when the file is busy."""
    dbapi_connection.isolation_level = None
    # SQLite's own lower() knows only ASCII: "Ñúñez" would not be found as "ñúñez" as it is on PostgreSQL.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _lower(value: object) -> object:
    """Unicode lower case for SQLite, as PostgreSQL's lower() gives."""
    return value.lower() if isinstance(value, str) else value


def _sqlite_begin(connection: Any) -> None:
    """Begin a SQLite transaction: deferred to read, IMMEDIATE to write."""
    mode = connection.get_execution_options().get(SQLITE_BEGIN, "")
    connection.exec_driver_sql(f"BEGIN {mode}".strip())


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value < 2**63


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


def _integrity_error(exc: IntegrityError) -> InputError:
    """A constraint the database kept (another writer got there first), as an InputError naming the field."""
    message = str(exc.orig)
    if "mrn" in message:
        return InputError("mrn", None, "is the MRN of another patient", "check the MRN; each patient has their own")
    if "pump_serial" in message:
        return InputError("pump_serial", None, "is already recorded for an implant", "check the serial on the label")
    if "username" in message:
        return InputError("username", None, "is taken by another user", "choose another login name")
    return InputError("record", None, f"was refused by the database ({message.splitlines()[0]})", "check the values")


def _record(kind: type[_Record], row: object) -> _Record:
    """The frozen record of a row whose columns carry the record's field names."""
    return kind(**{f.name: getattr(row, f.name) for f in fields(kind)})


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        username=row.username,
        full_name=row.full_name,
        role=AppRole(row.role),
        failed_logins=row.failed_logins,
        locked_until=row.locked_until,
    )


def _fill(row: FillRow | Row[Any], drugs: Sequence[tuple[str, float]] | None = None) -> DrugFill:
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


def _last_interrogation(row: LastInterrogationRow | Row[Any], username: str) -> LastInterrogation:
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


def _known_dose(summary: dict[str, Any]) -> int | None:
    """The summary's highest basal dose in ng/day when it gives one (a whole number above zero), else None."""
    dose = summary.get(INTERROGATION_DOSE_KEY)
    return dose if type(dose) is int and 0 < dose < 2**63 else None
