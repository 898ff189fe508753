"""The firmware state in the pump's memory: a small state record per command, and the event log as entries.

The state record is the whole `PumpState` but the settings and the log's
entries (canonical JSON, under a kilobyte): it keeps the log's head (next
sequence number, newest hash, anchor) with the rest. The settings (the
label, the prescription, the periodic and demand settings, the alarm level,
the catheter) change only when a clinician programs or fills, so they have a
record of their own, written only when it changed. Each log entry is
appended once, as its own list entry that the journal keeps up to the log's
capacity. Loading joins the two and walks the hash chain from the anchor to
the head, so a record and a log that do not belong together never load.
"""

from __future__ import annotations

import json

from thecal.pump.core.eventlog import LogEntry
from thecal.pump.core.journal import CorruptMemory, Journal, UnreadableMemory
from thecal.pump.core.state import STATE_FORMAT, PumpState

STATE_RECORD = "pump/state"
SETTINGS_RECORD = "pump/settings"
LOG_LIST = "pump/log"
# What changes only when a clinician programs or fills: its own record, written only when it changed.
SETTINGS_KEYS = ("label", "prescription", "periodic", "demand_limits", "low_reservoir_alarm_nl", "catheter_volume_nl")

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def state_records(state: PumpState) -> tuple[bytes, bytes]:
    """The state record (all but the settings and the log's entries, with the log's head) and the settings record."""
    log = state.log
    head = {"capacity": log.capacity, "anchor": log.anchor.hex(), "next_seq": log.next_seq, "head": log.head().hex()}
    data = {**state.record_data(), "log": head}
    settings = {key: data.pop(key) for key in SETTINGS_KEYS}
    return _CANONICAL.encode(data).encode(), _CANONICAL.encode(settings).encode()


def log_record(entry: LogEntry) -> bytes:
    """One log entry as stored."""
    return _CANONICAL.encode(entry.to_data()).encode()


def rebuild_state(record: bytes, settings: bytes, entries: list[bytes]) -> PumpState:
    """The state from its records and its log entries; CorruptMemory or UnreadableMemory when they do not fit."""
    try:
        data = {**json.loads(record), **json.loads(settings)}
    except (ValueError, TypeError):
        raise CorruptMemory("the pump's state record is not readable") from None
    found = data.get("format") if isinstance(data, dict) else None
    if found != STATE_FORMAT:
        raise UnreadableMemory(
            f"the pump's state record is in state format {found!r}, and this firmware reads format {STATE_FORMAT}; "
            "install the firmware that wrote it, or convert the memory, before the pump runs again"
        )
    kept = [json.loads(entry) for entry in entries]
    data["log"] = {**data["log"], "entries": kept}
    try:
        state = PumpState.from_data(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise UnreadableMemory(f"the pump's state record does not hold a state this firmware reads ({exc!r})") from None
    if not state.log.verify():
        raise CorruptMemory("the pump's event log does not chain from its anchor to the head its state record holds")
    return state


def round_trip(state: PumpState) -> PumpState:
    """The state as the memory would give it back (for tests of the stored form)."""
    return rebuild_state(*state_records(state), [log_record(entry) for entry in state.log])


class PumpMemory:
    """The firmware's state in a journal: staged after every command, loaded at start."""

    def __init__(self, journal: Journal):
        self.journal = journal
        self._saved_next_seq = 0
        self._state: PumpState | None = None  # the state the next commit stages

    def load(self) -> PumpState | None:
        """The state the memory holds, or None when the memory holds no firmware state yet."""
        records = self.journal.image.records
        record, settings = records.get(STATE_RECORD), records.get(SETTINGS_RECORD)
        if record is None or settings is None:
            if record is None and settings is None:
                return None
            raise CorruptMemory("the pump's memory holds a state record without its settings, or settings alone")
        state = rebuild_state(record, settings, self.journal.image.lists.get(LOG_LIST, []))
        self._saved_next_seq = state.log.next_seq
        return state

    def save(self, state: PumpState) -> None:
        """Have the state staged at the next commit, and commit unless held.

        The records are made at the commit, from the state as it stands then (the state record and the log
        entries appended since the last commit, together, so the two always fit): a held phase of many
        commands encodes the state record once.
        """
        self._state = state
        self.journal.stage_at_commit(self._stage)
        self.journal.written()

    def _stage(self) -> None:
        state = self._state
        if state is None:
            return
        log = state.log
        for entry in log.since(self._saved_next_seq):
            self.journal.append(LOG_LIST, log_record(entry), keep=log.capacity)
        self._saved_next_seq = log.next_seq
        record, settings = state_records(state)
        self.journal.put(STATE_RECORD, record)
        if self.journal.image.records.get(SETTINGS_RECORD) != settings:
            self.journal.put(SETTINGS_RECORD, settings)
