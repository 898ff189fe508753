"""The clinic's settings: text by key, the store's own (login) settings whole numbers in their range."""

from __future__ import annotations

from sqlalchemy.orm import Session

from thecal.apps.clinic.store import checks
from thecal.apps.clinic.store.base import LONG_CHARS, SHORT_CHARS, StoreBase
from thecal.apps.clinic.store.models import SettingRow
from thecal.apps.clinic.store.records import User
from thecal.errors import InputError

# The clinic settings the store itself reads, with their defaults and the range a clinic may set.
LOGIN_MAX_FAILURES = "login.max_failures"
LOGIN_LOCKOUT_MINUTES = "login.lockout_minutes"
_INTEGER_SETTINGS: dict[str, tuple[int, int, int]] = {  # key: (default, minimum, maximum)
    LOGIN_MAX_FAILURES: (5, 1, 100),
    LOGIN_LOCKOUT_MINUTES: (15, 1, 24 * 60),
}


class SettingsRoom(StoreBase):
    """The clinic settings."""

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
