"""The handset's own small database (SQLite in its device directory): one-time press ids and the pain diary.

A press id is issued with each page that shows the Request dose button and
consumed, once, before anything is sent (`claim`): a second submit of the same
form, a double click or a reload finds it consumed and shows the first result.
A press whose result was never written (the app stopped while sending) reads as
not confirmed, never as not sent.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from thecal.errors import InputError

DB_FILE = "patient_app.sqlite3"
SIDE_EFFECTS = ("drowsiness", "nausea", "itching", "confusion", "dizziness", "constipation", "sweating", "headache")
ACTIVITIES = ("resting", "sleeping", "walking", "housework", "working", "exercise", "other")
NOTES_MAX_CHARACTERS = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS press (
    id TEXT PRIMARY KEY,
    issued_ms INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('issued', 'sending', 'done')),
    result TEXT
);
CREATE TABLE IF NOT EXISTS diary (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    pain INTEGER NOT NULL CHECK (pain BETWEEN 0 AND 10),
    activity TEXT NOT NULL,
    side_effects TEXT NOT NULL,
    notes TEXT NOT NULL,
    sent_ms INTEGER
);
"""


@dataclass(frozen=True)
class PressRow:
    """One press id: whether it is still unused, being sent, or done with its result."""

    id: str
    issued_ms: int
    state: str
    result: dict[str, object] | None


@dataclass(frozen=True)
class DiaryEntry:
    """One diary entry: pain 0–10, activity, side effects, notes; the local time; when it reached the clinic."""

    id: int
    at_ms: int
    pain: int
    activity: str
    side_effects: tuple[str, ...]
    notes: str
    sent_ms: int | None = None


def check_entry(pain: object, activity: object, side_effects: list[str], notes: object) -> tuple[int, str, str]:
    """The diary fields checked, or an InputError naming the field, the value and what to choose."""
    try:
        score = int(str(pain))
    except ValueError:
        raise InputError("pain", pain, "is not a pain score", "choose a number from 0 (no pain) to 10") from None
    if not 0 <= score <= 10 or str(pain).strip() != str(score):
        raise InputError("pain", pain, "is outside 0 to 10", "choose a number from 0 (no pain) to 10")
    if activity not in ACTIVITIES:
        raise InputError("activity", activity, "is not one of the activities", f"choose one of {', '.join(ACTIVITIES)}")
    unknown = [s for s in side_effects if s not in SIDE_EFFECTS]
    if unknown:
        raise InputError("side effects", unknown[0], "is not on the list", f"tick from {', '.join(SIDE_EFFECTS)}")
    text = str(notes or "").strip()
    if len(text) > NOTES_MAX_CHARACTERS:
        raise InputError(
            "notes", f"{len(text)} characters", f"is longer than {NOTES_MAX_CHARACTERS}", "shorten the notes"
        )
    return score, str(activity), text


class HandsetStore:
    """The SQLite file of one handset: press ids and the diary; safe to use from the server's threads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ------------------------------------------------------------------ presses

    def issue(self, now_ms: int) -> str:
        """A new one-time press id."""
        token = secrets.token_urlsafe(18)
        with self._tx() as db:
            db.execute("INSERT INTO press (id, issued_ms, state) VALUES (?, ?, 'issued')", (token, now_ms))
        return token

    def claim(self, token: str) -> bool:
        """Consume an unused press id: True exactly once per id, before anything is sent."""
        with self._tx() as db:
            cursor = db.execute("UPDATE press SET state = 'sending' WHERE id = ? AND state = 'issued'", (token,))
            return cursor.rowcount == 1

    def finish(self, token: str, result: dict[str, object]) -> None:
        """Keep what a press did under its id."""
        with self._tx() as db:
            db.execute("UPDATE press SET state = 'done', result = ? WHERE id = ?", (json.dumps(result), token))

    def press(self, token: str) -> PressRow | None:
        """One press id and its result, or None for an id never issued."""
        with self._lock:
            row = self._db.execute("SELECT id, issued_ms, state, result FROM press WHERE id = ?", (token,)).fetchone()
        return None if row is None else PressRow(row[0], row[1], row[2], None if row[3] is None else json.loads(row[3]))

    def presses_done(self) -> list[PressRow]:
        """Every press that was sent or may have been, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, issued_ms, state, result FROM press WHERE state != 'issued' ORDER BY rowid"
            ).fetchall()
        return [PressRow(r[0], r[1], r[2], None if r[3] is None else json.loads(r[3])) for r in rows]

    # -------------------------------------------------------------------- diary

    def add_entry(self, at_ms: int, pain: int, activity: str, side_effects: tuple[str, ...], notes: str) -> DiaryEntry:
        """Keep one diary entry."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO diary (at_ms, pain, activity, side_effects, notes) VALUES (?, ?, ?, ?, ?)",
                (at_ms, pain, activity, json.dumps(list(side_effects)), notes),
            )
            entry_id = int(cursor.lastrowid or 0)
        return DiaryEntry(entry_id, at_ms, pain, activity, side_effects, notes)

    def entries(self) -> list[DiaryEntry]:
        """Every diary entry, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, at_ms, pain, activity, side_effects, notes, sent_ms FROM diary ORDER BY at_ms, id"
            ).fetchall()
        return [DiaryEntry(r[0], r[1], r[2], r[3], tuple(json.loads(r[4])), r[5], r[6]) for r in rows]

    def unsent(self) -> list[DiaryEntry]:
        """The entries not yet taken by the clinic, oldest first."""
        return [e for e in self.entries() if e.sent_ms is None]

    def mark_sent(self, entry_id: int, now_ms: int) -> None:
        """Note that the clinic took an entry."""
        with self._tx() as db:
            db.execute("UPDATE diary SET sent_ms = ? WHERE id = ?", (now_ms, entry_id))
