"""The clinic database's Alembic migrations, run by `ClinicStore.migrate` (no alembic.ini needed)."""
