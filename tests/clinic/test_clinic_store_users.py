"""Users, passwords and logins: argon2 hashes, failures counted, a lockout that refuses even the right password."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from thecal.apps.clinic.store import (
    LOGIN_LOCKOUT_MINUTES,
    LOGIN_MAX_FAILURES,
    AppRole,
    ClinicStore,
    LoginRefused,
    User,
)
from thecal.drugs.verdict import StaffRole
from thecal.errors import InputError

PASSWORD = "a long enough passphrase"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def nurse(clinic_store: ClinicStore) -> User:
    return clinic_store.add_user("nina", "Nina Nurse", AppRole.NURSE, PASSWORD, by=None)


def _actions(store: ClinicStore) -> list[str]:
    return [entry.action for entry in reversed(store.audit_trail())]


def test_add_user_and_read_back(clinic_store: ClinicStore) -> None:
    admin = clinic_store.add_user("admin", "Ada Admin", AppRole.ADMIN, PASSWORD, by=None)
    doctor = clinic_store.add_user("dr.who", "Dr Who", "physician", PASSWORD, by=admin)  # type: ignore[arg-type]
    assert doctor == User(doctor.id, "dr.who", "Dr Who", AppRole.PHYSICIAN, 0, None)
    assert clinic_store.user(doctor.id) == doctor
    assert clinic_store.user(9999) is None
    assert [u.username for u in clinic_store.users()] == ["admin", "dr.who"]
    trail = clinic_store.audit_trail()
    assert trail[0].action == "user.add" and trail[0].username == "admin" and trail[0].user_id == admin.id
    assert trail[0].new == {"username": "dr.who", "full_name": "Dr Who", "role": "physician"}
    assert trail[1].username == "system" and trail[1].user_id is None


def test_the_password_is_stored_as_an_argon2_hash(clinic_store: ClinicStore, nurse: User) -> None:
    with clinic_store.engine.connect() as connection:
        stored = connection.execute(text("SELECT password_hash FROM users WHERE id = :id"), {"id": nurse.id}).scalar()
    assert isinstance(stored, str)
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_app_roles_map_to_staff_roles() -> None:
    assert AppRole.PHYSICIAN.staff_role is StaffRole.PHYSICIAN
    assert AppRole.NURSE.staff_role is StaffRole.NURSE
    assert AppRole.VIEWER.staff_role is None
    assert AppRole.ADMIN.staff_role is None


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("password", {"password": "short9char"[:9]}),
        ("username", {"username": ""}),
        ("username", {"username": "has space"}),
        ("username", {"username": "x" * 65}),
        ("full_name", {"full_name": "   "}),
        ("role", {"role": "surgeon"}),
    ],
)
def test_bad_user_input_is_refused_and_nothing_written(clinic_store: ClinicStore, field: str, kwargs: dict) -> None:
    args = {"username": "newuser", "full_name": "New User", "role": AppRole.NURSE, "password": PASSWORD} | kwargs
    with pytest.raises(InputError) as caught:
        clinic_store.add_user(args["username"], args["full_name"], args["role"], args["password"], by=None)
    assert caught.value.field == field
    assert clinic_store.users() == []
    assert clinic_store.audit_trail() == []


def test_the_password_error_gives_the_limit_and_hides_the_password(clinic_store: ClinicStore) -> None:
    with pytest.raises(InputError) as caught:
        clinic_store.add_user("newuser", "New User", AppRole.NURSE, "secret123", by=None)
    assert caught.value.limit == "at least 10 characters"
    assert "secret123" not in str(caught.value)
    assert clinic_store.add_user("newuser", "New User", AppRole.NURSE, "secret1234", by=None).username == "newuser"


def test_a_duplicate_username_is_refused(clinic_store: ClinicStore, nurse: User) -> None:
    with pytest.raises(InputError) as caught:
        clinic_store.add_user("nina", "Another Nina", AppRole.VIEWER, PASSWORD, by=None)
    assert caught.value.field == "username"
    assert caught.value.value == "nina"
    assert len(clinic_store.users()) == 1


def test_login_success_is_audited(clinic_store: ClinicStore, nurse: User) -> None:
    assert clinic_store.login("nina", PASSWORD, T0) == nurse
    entry = clinic_store.audit_trail()[0]
    assert (entry.action, entry.user_id, entry.username, entry.at) == ("login.success", nurse.id, "nina", T0)


def test_wrong_password_and_unknown_user_are_refused_alike(clinic_store: ClinicStore, nurse: User) -> None:
    with pytest.raises(LoginRefused) as wrong:
        clinic_store.login("nina", "not the password", T0)
    with pytest.raises(LoginRefused) as unknown:
        clinic_store.login("nobody", PASSWORD, T0)
    assert wrong.value.reason == unknown.value.reason
    assert wrong.value.locked_until is None and unknown.value.locked_until is None
    assert clinic_store.user(nurse.id).failed_logins == 1  # type: ignore[union-attr]
    failures = [e for e in clinic_store.audit_trail() if e.action == "login.failure"]
    assert [(e.username, e.user_id) for e in failures] == [("nobody", None), ("nina", nurse.id)]


def test_five_failures_lock_for_fifteen_minutes_then_the_lock_expires(clinic_store: ClinicStore, nurse: User) -> None:
    for attempt in range(1, 5):
        with pytest.raises(LoginRefused) as caught:
            clinic_store.login("nina", "wrong password", T0 + timedelta(seconds=attempt))
        assert caught.value.locked_until is None
        assert clinic_store.user(nurse.id).failed_logins == attempt  # type: ignore[union-attr]
    fifth = T0 + timedelta(seconds=5)
    with pytest.raises(LoginRefused) as caught:
        clinic_store.login("nina", "wrong password", fifth)
    assert caught.value.locked_until == fifth + timedelta(minutes=15)
    assert clinic_store.user(nurse.id).locked_until == fifth + timedelta(minutes=15)  # type: ignore[union-attr]

    # During the lockout even the right password is refused, and not checked.
    almost = fifth + timedelta(minutes=15) - timedelta(seconds=1)
    with pytest.raises(LoginRefused) as caught:
        clinic_store.login("nina", PASSWORD, almost)
    assert caught.value.locked_until == fifth + timedelta(minutes=15)
    locked = clinic_store.audit_trail()[0]
    assert locked.action == "login.locked" and "not checked" in locked.detail

    # When it is over, the right password works and the count starts again.
    assert clinic_store.login("nina", PASSWORD, fifth + timedelta(minutes=15)) == User(
        nurse.id, "nina", "Nina Nurse", AppRole.NURSE, 0, None
    )
    assert _actions(clinic_store) == ["user.add"] + ["login.failure"] * 5 + [
        "login.lockout",
        "login.locked",
        "login.success",
    ]


def test_a_lockout_is_not_checked_against_the_password_hash(clinic_store: ClinicStore, nurse: User) -> None:
    for attempt in range(5):
        with pytest.raises(LoginRefused):
            clinic_store.login("nina", "wrong password", T0 + timedelta(seconds=attempt))
    with clinic_store.engine.begin() as connection:  # a hash nothing verifies against: checking it would fail
        connection.execute(text("UPDATE users SET password_hash = 'garbage' WHERE id = :id"), {"id": nurse.id})
    with pytest.raises(LoginRefused) as caught:
        clinic_store.login("nina", PASSWORD, T0 + timedelta(minutes=1))
    assert caught.value.locked_until is not None


def test_success_resets_the_count(clinic_store: ClinicStore, nurse: User) -> None:
    for attempt in range(4):
        with pytest.raises(LoginRefused):
            clinic_store.login("nina", "wrong password", T0 + timedelta(seconds=attempt))
    assert clinic_store.login("nina", PASSWORD, T0 + timedelta(seconds=10)).failed_logins == 0
    for attempt in range(4):  # four more failures do not lock: the count started again
        with pytest.raises(LoginRefused) as caught:
            clinic_store.login("nina", "wrong password", T0 + timedelta(seconds=20 + attempt))
        assert caught.value.locked_until is None


def test_after_a_lockout_expires_the_count_starts_again(clinic_store: ClinicStore, nurse: User) -> None:
    for attempt in range(5):
        with pytest.raises(LoginRefused):
            clinic_store.login("nina", "wrong password", T0 + timedelta(seconds=attempt))
    later = T0 + timedelta(hours=1)
    with pytest.raises(LoginRefused) as caught:
        clinic_store.login("nina", "wrong again", later)
    assert caught.value.locked_until is None
    assert clinic_store.user(nurse.id).failed_logins == 1  # type: ignore[union-attr]


def test_the_lockout_follows_the_clinic_settings(clinic_store: ClinicStore, nurse: User) -> None:
    admin = clinic_store.add_user("admin", "Ada Admin", AppRole.ADMIN, PASSWORD, by=None)
    clinic_store.set_setting(LOGIN_MAX_FAILURES, "2", by=admin)
    clinic_store.set_setting(LOGIN_LOCKOUT_MINUTES, "60", by=admin)
    with pytest.raises(LoginRefused) as caught:
        clinic_store.login("nina", "wrong password", T0)
    assert caught.value.locked_until is None
    with pytest.raises(LoginRefused) as caught:
        clinic_store.login("nina", "wrong password", T0)
    assert caught.value.locked_until == T0 + timedelta(minutes=60)


@pytest.mark.parametrize("value", ["0", "-1", "five", "101", ""])
def test_login_settings_must_be_whole_numbers_in_range(clinic_store: ClinicStore, nurse: User, value: str) -> None:
    with pytest.raises(InputError) as caught:
        clinic_store.set_setting(LOGIN_MAX_FAILURES, value, by=nurse)
    assert caught.value.field == LOGIN_MAX_FAILURES
    assert caught.value.limit == "1 to 100"
    assert clinic_store.setting(LOGIN_MAX_FAILURES, "5") == "5"


def test_login_needs_an_aware_time(clinic_store: ClinicStore, nurse: User) -> None:
    with pytest.raises(InputError) as caught:
        clinic_store.login("nina", PASSWORD, datetime(2025, 3, 1, 9, 0))
    assert caught.value.field == "now"


@pytest.mark.parametrize("username", ["' OR '1'='1", "nina' --", "nina\x00", ""])
def test_injection_in_the_login_name_finds_nobody(clinic_store: ClinicStore, nurse: User, username: str) -> None:
    with pytest.raises(LoginRefused):
        clinic_store.login(username, PASSWORD, T0)
    assert clinic_store.user(nurse.id).failed_logins == 0  # type: ignore[union-attr]
    assert clinic_store.audit_trail()[0].action == "login.failure"


def test_a_user_from_elsewhere_cannot_act(clinic_store: ClinicStore) -> None:
    stranger = User(42, "ghost", "Ghost", AppRole.ADMIN, 0, None)
    with pytest.raises(InputError) as caught:
        clinic_store.add_user("newuser", "New User", AppRole.NURSE, PASSWORD, by=stranger)
    assert caught.value.field == "by"
    assert clinic_store.users() == []
