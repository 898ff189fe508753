"""The event log: bounded, hash-chained, and any edit of a kept entry shows."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thecal.drugs import pump_formulary
from thecal.pump.core import CancelBolus, Fill, Firmware
from thecal.pump.core.eventlog import GENESIS, EventLog, LogEntry
from thecal.pump.core.nvm import round_trip
from thecal.pump.model import load_model

details = st.lists(
    st.tuples(st.sampled_from(["volume_nl", "alarm", "why", "code"]), st.one_of(st.integers(-5, 10**15), st.text())),
    max_size=3,
).map(tuple)
entries = st.lists(st.tuples(st.integers(0, 10**12), st.sampled_from(["fill", "alarm", "refused"]), details))


def _log(capacity: int, n: int) -> tuple[EventLog, list[LogEntry]]:
    log = EventLog(capacity)
    appended = [log.append(1_000 * i, "event", (("i", i), ("text", f"entry {i}"))) for i in range(n)]
    return log, appended


def _rebuilt(data: dict) -> EventLog:
    return EventLog.from_data(data)


def test_a_full_log_drops_the_oldest_and_still_verifies() -> None:
    """With capacity 5 and 23 entries, the newest 5 remain, chain from the dropped one and verify."""
    log, appended = _log(5, 23)
    assert len(log) == 5
    assert [e.seq for e in log] == [18, 19, 20, 21, 22]
    assert list(log) == appended[18:]
    assert log.dropped == 18
    assert log.anchor == appended[17].hash
    assert log.head() == appended[22].hash
    assert log.verify()


def test_sequence_numbers_continue_across_the_drop_and_a_round_trip() -> None:
    """After drops and a save and load, the next entry gets the next sequence number and the log verifies."""
    log, _ = _log(4, 10)
    again = EventLog.from_data(log.to_data())
    assert again.verify() and again.next_seq == 10 and again.dropped == 6
    entry = again.append(99_000, "fill", (("volume_nl", 20_000_000),))
    assert entry.seq == 10
    assert [e.seq for e in again] == [7, 8, 9, 10]
    assert again.verify()
    assert again.since(9) == list(again)[2:]


def _tampered(data: dict, index: int, field: str) -> dict:
    """A copy of the log data with one field of one kept entry changed."""
    data = {**data, "entries": [list(e) for e in data["entries"]]}
    e = data["entries"][index]
    if field == "seq":
        e[0] += 1
    elif field == "at_ms":
        e[1] += 1
    elif field == "kind":
        e[2] = e[2] + "x"
    elif field == "detail_value":
        e[3] = [[k, v + 1 if isinstance(v, int) else v + "x"] for k, v in e[3]] or [["added", 1]]
    elif field == "detail_key":
        e[3] = [[k + "x", v] for k, v in e[3]] or [["added", 1]]
    elif field == "detail_removed":
        e[3] = e[3][1:] if e[3] else [["added", 1]]
    elif field == "hash":
        digest = bytearray(bytes.fromhex(e[4]))
        digest[index % 32] ^= 0x01
        e[4] = digest.hex()
    elif field == "order":
        other = index + 1 if index + 1 < len(data["entries"]) else index - 1
        data["entries"][index], data["entries"][other] = data["entries"][other], data["entries"][index]
    elif field == "deleted":
        del data["entries"][index]
    else:
        raise AssertionError(field)
    return data


FIELDS = ["seq", "at_ms", "kind", "detail_value", "detail_key", "detail_removed", "hash", "order", "deleted"]


@pytest.mark.parametrize("field", FIELDS)
def test_changing_any_field_of_any_kept_entry_breaks_verification(field: str) -> None:
    """For each kept entry of a wrapped log, changing this field makes verify() false."""
    log, _ = _log(6, 20)
    data = log.to_data()
    assert EventLog.from_data(data).verify()
    for index in range(len(log)):
        assert not _rebuilt(_tampered(data, index, field)).verify(), f"entry {index}: {field} change not seen"


def test_deleting_any_kept_entry_breaks_verification() -> None:
    """Removing the oldest kept, any middle or the newest entry makes verify() false."""
    log, _ = _log(6, 20)
    data = log.to_data()
    for index in range(len(log)):
        assert not _rebuilt(_tampered(data, index, "deleted")).verify(), f"deleting entry {index} not seen"


def test_a_log_whose_newest_entries_were_cut_off_does_not_verify() -> None:
    """Cutting the newest 1 to 3 entries shows, whether or not the stored next sequence number is cut back too."""
    log, _ = _log(6, 20)
    data = log.to_data()
    for cut in (1, 2, 3):
        kept = data["entries"][:-cut]
        assert not _rebuilt({**data, "entries": kept}).verify(), f"{cut} newest entries cut, not seen"
        # Made to look whole: the next sequence number follows the last kept entry. The stored head still differs.
        relabelled = {**data, "entries": kept, "next_seq": kept[-1][0] + 1}
        assert not _rebuilt(relabelled).verify(), f"{cut} newest entries cut and relabelled, not seen"


def test_a_log_with_every_entry_cut_off_does_not_verify() -> None:
    """An empty window where entries were written is a cut-off log, not an empty one."""
    log, _ = _log(3, 5)
    assert not _rebuilt({**log.to_data(), "entries": []}).verify()
    assert EventLog(3).verify() and EventLog.from_data(EventLog(3).to_data()).verify()


def test_a_changed_anchor_breaks_verification() -> None:
    """The anchor left by dropped entries is covered by the chain."""
    log, _ = _log(3, 9)
    data = log.to_data()
    anchor = bytearray(bytes.fromhex(data["anchor"]))
    anchor[0] ^= 0x80
    assert not _rebuilt({**data, "anchor": anchor.hex()}).verify()
    assert not _rebuilt({**data, "anchor": GENESIS.hex()}).verify()


@settings(max_examples=150, deadline=None)
@given(
    capacity=st.integers(1, 8),
    items=entries,
    pick=st.integers(0, 10**6),
    field=st.sampled_from(FIELDS),
)
def test_random_logs_verify_and_any_tampering_shows(
    capacity: int, items: list[tuple[int, str, tuple]], pick: int, field: str
) -> None:
    """Any log of any capacity verifies, keeps the newest entries, and any one-field edit breaks it."""
    log = EventLog(capacity)
    appended = [log.append(at, kind, detail) for at, kind, detail in items]
    assert log.verify()
    assert list(log) == appended[-capacity:] if appended else list(log) == []
    assert log.next_seq == len(items)
    if not appended or (field == "order" and len(log) < 2):
        return
    data = log.to_data()
    index = pick % len(log)
    tampered = _tampered(data, index, field)
    if tampered == data:
        return  # the edit changed nothing (for instance swapping two identical entries)
    assert not _rebuilt(tampered).verify()


def test_the_firmware_log_wraps_keeps_counting_and_survives_memory() -> None:
    """A pump with a small log keeps its newest entries, counts on, verifies, and round-trips through NVM."""
    model = dataclasses.replace(load_model("programmable-20"), event_log_entries=16)
    fw = Firmware(model, pump_formulary())
    fw.handle(Fill(20_000_000, (("morphine", 10_000_000),)))
    for _ in range(60):
        assert not fw.handle(CancelBolus()).accepted  # no bolus runs: each refusal is logged
    log = fw.state.log
    assert len(log) == 16 and log.next_seq == 62 and log.dropped == 46
    assert log.verify()
    restored = round_trip(fw.state)
    assert restored.log.verify() and restored.log.head() == log.head()
    again = Firmware(model, pump_formulary(), restored)
    again.handle(CancelBolus())
    assert [e.seq for e in again.state.log][-1] == 62 and again.state.log.verify()
