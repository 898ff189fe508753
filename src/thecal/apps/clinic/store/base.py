"""The store's base: the database it opens and migrates, its transactions, and the audit line every change writes.

Each room of the store (`users`, `patients`, `clinical`, `audit`, `access`, …)
is a class over `StoreBase`; `ClinicStore` (`facade.py`) is all of them. Every
mutator checks its input first (an `InputError` naming the field, the value,
the limit and what to do), then writes the change and its audit entry in one
transaction (`_transaction`), so a refused call leaves nothing half-written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from argon2 import PasswordHasher
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from thecal.apps.clinic.store.models import AuditRow, ImplantRow, PatientRow, UserRow
from thecal.apps.clinic.store.records import User
from thecal.apps.clinic.store.rows import is_id
from thecal.errors import InputError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BEGIN = "thecal_sqlite_begin"  # the execution option that tells how to BEGIN a SQLite transaction

# Limits of what a record holds; generous for people, short of a pasted file.
NAME_CHARS = 200
CODE_CHARS = 64
SHORT_CHARS = 100
LONG_CHARS = 20_000

# A byte-order collation on each database the clinic supports, so that sorting text gives the same order on both.
BYTE_ORDER = {"sqlite": "BINARY", "postgresql": "C"}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def sqlite_url(path: Path) -> str:
    """The URL of a SQLite clinic database file."""
    return f"sqlite:///{Path(path).resolve()}"


class StoreBase:
    """The clinic database's connection, migrations and transactions, and the helpers every room writes with."""

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
    ) -> Self:
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
        if backend not in BYTE_ORDER:
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
            raise integrity_error(exc) from None

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        """One reading transaction: a consistent view of the database."""
        with self._sessions.begin() as session:
            yield session

    # ------------------------------------------------------------------ helpers every room uses
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

    @staticmethod
    def _patient_row(s: Session, patient_id: int) -> PatientRow:
        row = s.get(PatientRow, patient_id) if is_id(patient_id) else None
        if row is None:
            raise InputError(
                "patient_id", patient_id, "is not a patient of this clinic", "choose a patient from the list"
            )
        return row

    @staticmethod
    def _implant_row(s: Session, implant_id: int) -> ImplantRow:
        row = s.get(ImplantRow, implant_id) if is_id(implant_id) else None
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


def integrity_error(exc: IntegrityError) -> InputError:
    """A constraint the database kept (another writer got there first), as an InputError naming the field."""
    message = str(exc.orig)
    if "mrn" in message:
        return InputError("mrn", None, "is the MRN of another patient", "check the MRN; each patient has their own")
    if "pump_serial" in message:
        return InputError("pump_serial", None, "is already recorded for an implant", "check the serial on the label")
    if "username" in message:
        return InputError("username", None, "is taken by another user", "choose another login name")
    return InputError("record", None, f"was refused by the database ({message.splitlines()[0]})", "check the values")
