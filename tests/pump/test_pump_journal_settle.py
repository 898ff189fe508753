"""The journal's commit off the round trip: a counter raised after the reply, and a record encoded once a commit.

A daemon acknowledges a command once its record is durable and raises the
memory's counter after the reply has gone (`commit(settle_later=True)`, then
`settle`). These tests hold the invariant that makes that safe: the counter is
never more than one record behind, so a power loss at any moment still opens,
and an older copy of the journal is still found out.
"""

from __future__ import annotations

import pytest

from thecal.pump.core.eventlog import EventLog
from thecal.pump.core.journal import Journal, MemoryBehind, read_counter, scan_records
from thecal.pump.device import MemoryMedium

KEY = bytes(range(32))


def _counter(medium: MemoryMedium) -> int:
    values = [read_counter(KEY, data) for data in medium.counters]
    return max(v for v in values if v is not None)


def _copy(medium: MemoryMedium) -> MemoryMedium:
    twin = MemoryMedium()
    twin.segments, twin.counters = list(medium.segments), list(medium.counters)
    return twin


def _journal() -> tuple[MemoryMedium, Journal]:
    medium = MemoryMedium()
    return medium, Journal.create(medium, KEY)


def test_a_commit_left_to_settle_is_durable_and_its_counter_follows_on_settle() -> None:
    medium, journal = _journal()
    journal.put("a", b"1")
    seq = journal.commit(settle_later=True)
    assert seq == journal.seq and _counter(medium) == seq - 1
    assert Journal.open(_copy(medium), KEY).image.records["a"] == b"1"  # a power loss now keeps the record
    journal.settle()
    assert _counter(medium) == seq
    journal.settle()  # nothing left to raise: no write
    assert _counter(medium) == seq


def test_the_counter_is_never_two_records_behind() -> None:
    medium, journal = _journal()
    for value in range(5):
        journal.put("a", bytes([value]))
        seq = journal.commit(settle_later=True)
        assert seq is not None and _counter(medium) == seq - 1


def test_opening_after_a_power_loss_before_the_settle_raises_the_counter() -> None:
    medium, journal = _journal()
    journal.put("a", b"1")
    seq = journal.commit(settle_later=True)
    reopened = Journal.open(medium, KEY)
    assert reopened.seq == seq and _counter(medium) == seq


def test_an_older_copy_is_still_refused_while_a_counter_raise_waits() -> None:
    medium, journal = _journal()
    older = _copy(medium)
    for value in range(2):
        journal.put("a", bytes([value]))
        journal.commit(settle_later=True)
    medium.segments = list(older.segments)  # two records back: the waiting raise cannot hide that
    with pytest.raises(MemoryBehind):
        Journal.open(medium, KEY)


def test_a_record_put_twice_before_a_commit_is_written_once_as_last_put() -> None:
    medium, journal = _journal()
    journal.put("state", b"first")
    journal.append("log", b"entry", keep=4)
    journal.put("state", b"second")
    journal.commit()
    last = max((r for segment in medium.segments for r in scan_records(KEY, segment)), key=lambda r: r.seq)
    assert [(name, data) for _, name, data, _ in last.items] == [("log", b"entry"), ("state", b"second")]
    assert Journal.open(medium, KEY).image.records["state"] == b"second"


def test_a_saver_staged_at_commit_runs_once_and_sees_the_latest_state() -> None:
    medium, journal = _journal()
    state = {"value": 0}
    runs: list[int] = []

    def stage() -> None:
        runs.append(state["value"])
        journal.put("state", str(state["value"]).encode())

    with journal.held():
        for value in range(1, 4):
            state["value"] = value
            journal.stage_at_commit(stage)
            journal.written()
        assert journal.pending and runs == []
    journal.commit()
    assert runs == [3] and not journal.pending
    assert Journal.open(medium, KEY).image.records["state"] == b"3"


@pytest.mark.parametrize("capacity", [1, 5, 64])
def test_since_gives_the_entries_from_a_sequence_number_as_a_walk_of_the_whole_log_would(capacity: int) -> None:
    log = EventLog(capacity)
    for at_ms in range(3 * capacity + 2):
        log.append(at_ms, "tick")
        for seq in range(-2, log.next_seq + 3):
            assert log.since(seq) == [e for e in log if e.seq >= seq]


class _PowerLost(Exception):
    pass


class _CutMedium(MemoryMedium):
    """A memory whose `cut_write`-th write loses power after `cut_after` bytes."""

    def __init__(self, cut_write: int, cut_after: int) -> None:
        super().__init__()
        self.cut_write, self.cut_after, self.seen = cut_write, cut_after, 0

    def _torn(self) -> bool:
        self.seen += 1
        return self.seen - 1 == self.cut_write

    def append(self, segment: int, data: bytes) -> None:
        if self._torn():
            self.segments[segment] += data[: self.cut_after]
            raise _PowerLost
        super().append(segment, data)

    def write_counter(self, slot: int, data: bytes) -> None:
        if self._torn():
            self.counters[slot] = data[: self.cut_after] + self.counters[slot][self.cut_after :]
            raise _PowerLost
        super().write_counter(slot, data)


def _acknowledge_three(medium: MemoryMedium, attempted: list[bytes], acknowledged: list[bytes]) -> None:
    """Commit three values as the daemon does: durable, then the reply, then the counter raise."""
    journal = Journal.create(medium, KEY)
    for value in (b"A", b"B", b"C"):
        attempted.append(value)
        journal.put("v", value)
        journal.commit(settle_later=True)
        acknowledged.append(value)  # the reply goes here
        journal.settle()


@pytest.mark.parametrize("cut_after", [0, 1, 7, 20, 10_000])
def test_power_lost_in_any_write_of_commits_settled_later_keeps_the_last_acknowledged_value(cut_after: int) -> None:
    made = _CutMedium(-1, 0)
    Journal.create(made, KEY)  # `init`: a memory cut short here was never a pump's
    writes = _CutMedium(-1, 0)
    _acknowledge_three(writes, [], [])
    for cut_write in range(made.seen, writes.seen):
        medium = _CutMedium(cut_write, cut_after)
        attempted: list[bytes] = []
        acknowledged: list[bytes] = []
        with pytest.raises(_PowerLost):
            _acknowledge_three(medium, attempted, acknowledged)
        opened = Journal.open(medium, KEY).image.records.get("v")
        # The last acknowledged value, or the one whose write the power cut (when its record was whole).
        assert opened in {acknowledged[-1] if acknowledged else None, attempted[-1]}
