"""The clinic's database: SQLAlchemy models, Alembic migrations and the `ClinicStore` the app reaches it by.

`ClinicStore` (`facade.py`) is the store's rooms put together, one module each (see `facade.py`).
"""

from thecal.apps.clinic.store.facade import (
    INTERROGATION_ACTION,
    LOGIN_LOCKOUT_MINUTES,
    LOGIN_MAX_FAILURES,
    ClinicStore,
    sqlite_url,
)
from thecal.apps.clinic.store.records import (
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
    PatientObservation,
    PatientOverview,
    PatientToken,
    TrialRecord,
    User,
    Visit,
)

__all__ = [
    "INTERROGATION_ACTION",
    "LOGIN_LOCKOUT_MINUTES",
    "LOGIN_MAX_FAILURES",
    "AppRole",
    "AuditEntry",
    "CatheterRevision",
    "ClinicStore",
    "DrugFill",
    "Implant",
    "ImplantOverview",
    "LastInterrogation",
    "LoginRefused",
    "Note",
    "PainScore",
    "Patient",
    "PatientObservation",
    "PatientOverview",
    "PatientToken",
    "TrialRecord",
    "User",
    "Visit",
    "sqlite_url",
]
