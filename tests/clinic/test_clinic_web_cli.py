"""`thecal clinic init-db` and `add-user`: a database made by migrations, and a user whose password is never typed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from thecal.apps.clinic.store import AppRole, ClinicStore
from thecal.cli.main import main


def test_init_db_then_add_user_with_the_password_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """init-db makes the schema; add-user reads THECAL_PASSWORD; the user signs in with it."""
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    assert main(["clinic", "init-db", "--db", url]) == 0
    assert "clinic database ready" in capsys.readouterr().out
    monkeypatch.setenv("THECAL_PASSWORD", "a long pass phrase for the test")
    code = main(
        ["clinic", "add-user", "--username", "rivera", "--role", "physician", "--full-name", "Dr R", "--db", url]
    )
    assert code == 0 and "user rivera (physician) added" in capsys.readouterr().out
    store = ClinicStore.open(url)
    try:
        user = store.login("rivera", "a long pass phrase for the test", datetime.now(UTC))
        assert user.role is AppRole.PHYSICIAN and user.full_name == "Dr R"
    finally:
        store.close()


def test_add_user_without_a_password_is_refused_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No THECAL_PASSWORD and no terminal: exit 2, saying what to do."""
    monkeypatch.delenv("THECAL_PASSWORD", raising=False)
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    assert main(["clinic", "add-user", "--username", "x", "--role", "nurse", "--db", url]) == 2
    assert "set THECAL_PASSWORD" in capsys.readouterr().err
