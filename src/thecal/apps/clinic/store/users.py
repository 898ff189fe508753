"""Users and logins: argon2id password hashes, failures counted, a lockout after the clinic's number of them."""

from __future__ import annotations

from datetime import datetime, timedelta

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from thecal.apps.clinic.store import checks
from thecal.apps.clinic.store.base import NAME_CHARS
from thecal.apps.clinic.store.models import UserRow
from thecal.apps.clinic.store.records import AppRole, LoginRefused, User
from thecal.apps.clinic.store.rows import is_id, user_record
from thecal.apps.clinic.store.settings import LOGIN_LOCKOUT_MINUTES, LOGIN_MAX_FAILURES, SettingsRoom
from thecal.errors import InputError

WRONG_CREDENTIALS = "wrong username or password"
LOCKED_OUT = "account locked after repeated failed logins"


class UsersRoom(SettingsRoom):
    """The people who log in: their accounts, their logins and lockouts (each audited)."""

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
            return user_record(row)

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
            user = user_record(row) if row is not None else None
        if refused is not None:
            raise refused
        assert user is not None
        return user

    def user(self, user_id: int) -> User | None:
        """The user with this id, or None."""
        with self._reading() as s:
            row = s.get(UserRow, user_id) if is_id(user_id) else None
            return user_record(row) if row is not None else None

    def users(self) -> list[User]:
        """Every user, by login name."""
        with self._reading() as s:
            return [user_record(row) for row in s.scalars(select(UserRow).order_by(UserRow.username))]

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
