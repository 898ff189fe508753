"""Alembic's environment for the clinic database: runs on the connection the store passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from thecal.apps.clinic.store.models import Base


def run_migrations_online() -> None:
    """Run the migrations on the connection given in `config.attributes["connection"]`."""
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("the clinic's migrations run through ClinicStore.migrate, which passes a connection")
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("the clinic's migrations run online only, through ClinicStore.migrate")
run_migrations_online()
