"""A programmer's or PTM's counters: reserved a block at a time, never reused or lowered, whatever a crash leaves."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telemetry_rig import Device, Recorder, Rig

from thecal.pump.core.commands import Role
from thecal.telemetry import codec
from thecal.telemetry.client import ClientSession
from thecal.telemetry.counters import DEVICE_BLOCK, CounterStore
from thecal.telemetry.errors import RejectCode, Rejected, StoreDamaged
from thecal.telemetry.frames import decode_frame
from thecal.telemetry.persistence import FileStore, MemoryStore, Persistence

LINK = b"L" * 8
OTHER_LINK = b"M" * 8


class PowerCut(BaseException):
    """Power is lost in the middle of a write; nothing may swallow it."""


@dataclass
class CountingStore:
    """A store in memory that counts the records written, and can lose power at the next write."""

    inner: MemoryStore = field(default_factory=MemoryStore)
    saves: int = 0
    cut_at_next_save: bool = False

    def load(self, name: str) -> bytes | None:
        return self.inner.load(name)

    def save(self, name: str, data: bytes) -> None:
        if self.cut_at_next_save:
            raise PowerCut
        self.saves += 1
        self.inner.save(name, data)

    def load_list(self, name: str) -> list[bytes]:
        return self.inner.load_list(name)

    def append(self, name: str, data: bytes, keep: int) -> None:
        self.inner.append(name, data, keep)


def stored(store: Persistence) -> dict[str, list[int] | None]:
    """The counter record as it is in the store."""
    data = store.load("counters")
    assert data is not None
    record = codec.decode(data, "counter record")
    assert isinstance(record, dict)
    return record


def on_disk(store: Persistence, link: bytes = LINK) -> list[int]:
    """[received, reserved] of a link as the record on disk holds them."""
    pair = stored(store)[link.hex()]
    assert pair is not None, "the link is retired"
    return pair


def copy_of(store: MemoryStore) -> MemoryStore:
    """What a crash leaves: the records as written, out of reach of the objects of the lost process."""
    left = MemoryStore()
    left.records = dict(store.records)
    left.lists = {name: list(entries) for name, entries in store.lists.items()}
    return left


def test_a_device_writes_its_counters_once_per_block() -> None:
    store = CountingStore()
    counters = CounterStore.for_device(store, block=4)
    counters.start(LINK, received=1, sent=0)
    after_start = store.saves

    sent = [counters.next_sent(LINK) for _ in range(10)]

    assert sent == list(range(1, 11))
    assert store.saves - after_start == 3  # blocks 1-4, 5-8, 9-12
    assert on_disk(store.inner) == [1, 12]


def test_a_pump_store_still_saves_every_counter_before_it_is_used() -> None:
    store = CountingStore()
    counters = CounterStore(store)
    counters.start(LINK, received=0, sent=0)

    for n in range(1, 4):
        before = store.saves
        assert counters.next_sent(LINK) == n
        assert counters.accept(LINK, 10 * n) == 10 * (n - 1)
        assert store.saves - before == 2
        assert on_disk(store.inner) == [10 * n, n]


def test_a_device_restarted_after_a_crash_mid_block_resumes_above_every_counter_it_used() -> None:
    store = MemoryStore()
    counters = CounterStore.for_device(store, block=DEVICE_BLOCK)
    counters.start(LINK, received=0, sent=0)
    used = [counters.next_sent(LINK) for _ in range(5)]

    after = CounterStore.for_device(copy_of(store))  # the process is gone; its block is as it left it on disk

    assert after.last_sent(LINK) == DEVICE_BLOCK
    assert after.next_sent(LINK) == DEVICE_BLOCK + 1 > max(used)


def test_a_power_cut_while_a_block_is_reserved_hands_out_nothing_from_it() -> None:
    store = CountingStore()
    counters = CounterStore.for_device(store, block=3)
    counters.start(LINK, received=0, sent=0)
    used = [counters.next_sent(LINK) for _ in range(3)]
    store.cut_at_next_save = True

    with pytest.raises(PowerCut):
        counters.next_sent(LINK)

    assert on_disk(store.inner) == [0, 3]  # the old record, whole
    assert CounterStore.for_device(copy_of(store.inner), block=3).next_sent(LINK) == 4 > max(used)
    store.cut_at_next_save = False
    assert counters.next_sent(LINK) == 4 and on_disk(store.inner)[1] >= 4  # a failed write handed out nothing


@st.composite
def _histories(draw: st.DrawFn) -> tuple[int, list[str]]:
    block = draw(st.integers(1, 5))
    steps = draw(st.lists(st.sampled_from(["send", "receive", "crash", "restart", "flush"]), max_size=60))
    return block, steps


@settings(max_examples=200, deadline=None)
@given(_histories())
def test_whatever_crashes_and_restarts_a_counter_is_never_reused_and_nothing_goes_back(
    history: tuple[int, list[str]],
) -> None:
    block, steps = history
    store = MemoryStore()
    counters = CounterStore.for_device(store, block=block)
    counters.start(LINK, received=0, sent=0)
    sent: list[int] = []
    seen = 0  # the highest reply counter the device ever accepted (the pump's only rise)
    held = 0  # the one the running device holds
    saved_received = 0
    for step in steps:
        if step == "send":
            counter = counters.next_sent(LINK)
            assert not sent or counter > sent[-1]  # never reused, never back, across every crash
            assert on_disk(store)[1] >= counter  # reserved on disk before it is handed out
            sent.append(counter)
        elif step == "receive":
            seen += 1
            assert counters.accept(LINK, seen) == held
            held = seen
        elif step == "crash":
            store = copy_of(store)
            counters = CounterStore.for_device(store, block=block)
            held = counters.last_received(LINK)
            assert held <= seen  # lower than what the device saw, never higher
        elif step == "restart":
            counters.flush()
            counters = CounterStore.for_device(store, block=block)
            assert counters.last_received(LINK) == held
        else:
            counters.flush()
        assert on_disk(store)[0] >= saved_received  # the saved received counter never goes back
        saved_received = on_disk(store)[0]


def test_two_stores_over_one_device_directory_never_hand_out_the_same_counter() -> None:
    store = MemoryStore()
    first = CounterStore.for_device(store, block=2)
    first.start(LINK, received=0, sent=0)
    second = CounterStore.for_device(store, block=2)  # a pairing and a session of one directory in one process

    handed = [counters.next_sent(LINK) for counters in (first, second, first, second, first, first, second)]

    assert len(set(handed)) == len(handed)


def test_a_link_another_store_of_the_device_started_or_retired_stays_so() -> None:
    store = MemoryStore()
    session = CounterStore.for_device(store)
    session.start(LINK, received=0, sent=0)
    pairing = CounterStore.for_device(store)
    pairing.start(OTHER_LINK, received=1, sent=0)  # paired again while the session's store is still open
    pairing.forget(LINK)

    session.accept(LINK, 3)
    session.flush()  # its write neither brings the old link back nor drops the new one

    assert stored(store) == {LINK.hex(): None, OTHER_LINK.hex(): [1, 0]}
    assert not session.known(LINK) and session.retired_links() == [LINK]


def test_the_accepted_counter_is_kept_in_memory_and_saved_on_flush_or_when_the_store_is_dropped() -> None:
    store = CountingStore()
    counters = CounterStore.for_device(store)
    counters.start(LINK, received=1, sent=0)
    counters.next_sent(LINK)
    writes = store.saves

    counters.accept(LINK, 7)
    assert store.saves == writes and on_disk(store.inner)[0] == 1
    counters.flush()
    assert store.saves == writes + 1 and on_disk(store.inner)[0] == 7
    counters.flush()  # nothing new: nothing written
    assert store.saves == writes + 1

    counters.accept(LINK, 9)
    del counters
    gc.collect()
    assert on_disk(store.inner)[0] == 9


def test_a_damaged_counter_record_is_an_error_for_a_device_too() -> None:
    store = MemoryStore()
    store.save("counters", codec.encode({LINK.hex(): [1, 2, 3]}))

    with pytest.raises(StoreDamaged):
        CounterStore.for_device(store)


def test_a_device_counter_at_the_end_of_the_range_is_exhausted_not_wrapped() -> None:
    store = MemoryStore()
    counters = CounterStore.for_device(store, block=4)
    counters.start(LINK, received=0, sent=2**64 - 3)

    assert [counters.next_sent(LINK) for _ in range(2)] == [2**64 - 2, 2**64 - 1]
    with pytest.raises(Rejected) as refused:
        counters.next_sent(LINK)
    assert refused.value.code == RejectCode.COUNTER_EXHAUSTED


def test_a_session_needs_a_devices_counters(rig: Rig, clinician: Device) -> None:
    pump = clinician.keystore.get(rig.pump_identity.key_id)
    assert pump is not None

    with pytest.raises(ValueError, match="for_device"):
        ClientSession(clinician.identity, pump, CounterStore(clinician.store), rig.transport())


def test_a_programmer_crashed_mid_block_is_served_on_restart_with_fresh_counters(tmp_path: Path) -> None:
    rig = Rig()
    clinician = rig.device(Role.CLINICIAN, "programmer-1", FileStore(tmp_path / "programmer"))
    rig.pair(clinician)
    recorder = Recorder(rig.transport())
    for n in range(5):
        assert rig.session(clinician, recorder).request("clock_set", wall_ms=n).ok
    before = [decode_frame(frame).counter for frame in recorder.sent]

    clinician.crash()  # its directory as the crash left it, mid-block
    for n in range(5):
        assert rig.session(clinician, recorder).request("clock_set", wall_ms=10 + n).ok

    after = [decode_frame(frame).counter for frame in recorder.sent[len(before) :]]
    assert min(after) > max(before) and after == sorted(set(after))
    assert rig.rejections == [] and rig.memory_behind == []  # a lower witness is never a false alarm
