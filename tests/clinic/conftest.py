"""Fixtures: a clinic database on SQLite and on PostgreSQL (a schema of the test's own), and a store over it.

Every test that takes `clinic_db_url` (or `clinic_store`) runs twice, once per
database. PostgreSQL is the server on this machine (127.0.0.1:5432, trust auth,
database `test`); `.ci/run` starts it, so a server that cannot be reached fails
the test instead of skipping it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from argon2 import PasswordHasher

from thecal.apps.clinic.store import ClinicStore

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
DATABASES = ["sqlite", "postgresql"]


def fast_hasher() -> PasswordHasher:
    """Argon2id at its cheapest parameters: the same code path as the clinic's, quick enough for many logins."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES} ({exc}); start it (`.ci/run` does) and run the tests again",
            pytrace=False,
        )


@pytest.fixture(params=DATABASES)
def clinic_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty clinic database: a SQLite file, or a PostgreSQL schema of the test's own (dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'clinic.db'}"
        return
    schema = f"clinic_test_{secrets.token_hex(6)}"
    with _admin() as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    finally:
        with _admin() as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def clinic_store(clinic_db_url: str) -> Iterator[ClinicStore]:
    """A migrated, empty clinic store over each database (cheap password hashing)."""
    store = ClinicStore.open(clinic_db_url, password_hasher=fast_hasher())
    store.migrate()
    try:
        yield store
    finally:
        store.close()
