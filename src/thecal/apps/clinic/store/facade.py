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

`ClinicStore` is the rooms of the store put together, each a module with one job:

| room | module |
|---|---|
| the database, migrations, transactions | `base.py` |
| users and logins; clinic settings | `users.py`, `settings.py` |
| patients, implants, catheter revisions; the dashboard's read | `patients.py`, `overviews.py` |
| fills, visits, pain scores, notes, screening trials | `clinical.py` |
| the audit trail; pumps' last interrogations | `audit.py`, `interrogations.py` |
| patients' diary tokens and the observations they send | `access.py` |
"""

from __future__ import annotations

from thecal.apps.clinic.store.access import AccessRoom
from thecal.apps.clinic.store.audit import AuditRoom
from thecal.apps.clinic.store.base import MIGRATIONS, sqlite_url
from thecal.apps.clinic.store.clinical import ClinicalRoom
from thecal.apps.clinic.store.interrogations import INTERROGATION_ACTION, INTERROGATION_DOSE_KEY
from thecal.apps.clinic.store.overviews import OverviewsRoom
from thecal.apps.clinic.store.settings import LOGIN_LOCKOUT_MINUTES, LOGIN_MAX_FAILURES
from thecal.apps.clinic.store.users import LOCKED_OUT, WRONG_CREDENTIALS, UsersRoom


class ClinicStore(UsersRoom, OverviewsRoom, ClinicalRoom, AuditRoom, AccessRoom):
    """The clinic database: users and logins, patients, implants, their clinical record, settings and the audit."""


__all__ = [
    "INTERROGATION_ACTION",
    "INTERROGATION_DOSE_KEY",
    "LOCKED_OUT",
    "LOGIN_LOCKOUT_MINUTES",
    "LOGIN_MAX_FAILURES",
    "MIGRATIONS",
    "WRONG_CREDENTIALS",
    "ClinicStore",
    "sqlite_url",
]
