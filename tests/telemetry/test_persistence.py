"""State that must survive power loss: atomic 0600 files, keys nobody else can read, counters that never reset."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thecal.errors import InputError
from thecal.pump.core.commands import Role
from thecal.telemetry.counters import CounterStore
from thecal.telemetry.errors import RejectCode, Rejected, StoreDamaged
from thecal.telemetry.keys import Authority, DeviceIdentity, Keystore, PeerRecord
from thecal.telemetry.link import LinkKeys
from thecal.telemetry.persistence import FileStore, MemoryStore, Persistence
from thecal.telemetry.replies import Remembered, ReplyCache

LINK = b"L" * 8


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_file_store_keeps_records_private_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "state")
    store.save("counters", b"one")
    store.save("counters", b"two")

    assert FileStore(tmp_path / "state").load("counters") == b"two"
    assert store.load("never-saved") is None
    assert mode(tmp_path / "state") == 0o700
    assert mode(tmp_path / "state" / "counters.cbor") == 0o600
    assert os.listdir(tmp_path / "state") == ["counters.cbor"]


def test_a_write_that_fails_halfway_leaves_the_old_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FileStore(tmp_path)
    store.save("counters", b"old")

    def power_loss(source: str, target: str) -> None:
        raise OSError("power lost before the rename")

    monkeypatch.setattr(os, "replace", power_loss)
    with pytest.raises(OSError, match="power lost"):
        store.save("counters", b"new")

    assert store.load("counters") == b"old"
    assert os.listdir(tmp_path) == ["counters.cbor"]


def test_record_names_cannot_escape_the_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="record name"):
        FileStore(tmp_path).save("../keys", b"x")


def test_identity_files_are_0600_never_overwritten_and_load_back(tmp_path: Path) -> None:
    authority = Authority.generate()
    identity = DeviceIdentity.create(authority, Role.CLINICIAN, "programmer-1")
    path = tmp_path / "programmer.key"
    identity.save(path)

    loaded = DeviceIdentity.load(path)

    assert mode(path) == 0o600
    assert (loaded.key_id, loaded.role, loaded.label) == (identity.key_id, Role.CLINICIAN, "programmer-1")
    assert loaded.sign(b"x") == identity.sign(b"x")  # Ed25519 is deterministic: the same private key
    with pytest.raises(InputError, match="already exists"):
        DeviceIdentity.create(authority, Role.CLINICIAN, "programmer-2").save(path)


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "authority.key"
    Authority.generate().save(path)
    os.chmod(path, 0o644)

    with pytest.raises(InputError, match="chmod 600"):
        Authority.load(path)


def test_each_device_gets_its_own_keys() -> None:
    authority = Authority.generate()
    ids = {DeviceIdentity.create(authority, Role.PTM, "ptm").key_id for _ in range(10)}

    assert len(ids) == 10


def test_an_authority_file_loads_back_and_certifies_the_same(tmp_path: Path) -> None:
    authority = Authority.generate()
    authority.save(tmp_path / "authority.key")
    loaded = Authority.load(tmp_path / "authority.key")

    assert loaded.public_key == authority.public_key
    assert mode(tmp_path / "authority.key") == 0o600


def test_a_damaged_counter_record_is_an_error_never_a_reset() -> None:
    store = MemoryStore()
    store.save("counters", b"\xff\x00garbage")

    with pytest.raises(StoreDamaged, match="pair the devices again"):
        CounterStore(store)


def test_a_damaged_keystore_is_an_error() -> None:
    store = MemoryStore()
    store.save("keystore", b"\xa0")

    with pytest.raises(StoreDamaged):
        Keystore(store)


def test_the_keystore_remembers_peers_and_revocations() -> None:
    store = MemoryStore()
    record = PeerRecord(b"K" * 8, Role.PTM, "ptm-1", b"P" * 32, LinkKeys(LINK, b"a" * 32, b"b" * 32))
    Keystore(store).add(record)
    Keystore(store).revoke(b"R" * 8)

    reloaded = Keystore(store)

    assert reloaded.get(b"K" * 8) == record
    assert reloaded.is_revoked(b"R" * 8) and not reloaded.is_revoked(b"K" * 8)
    with pytest.raises(Rejected) as refused:
        reloaded.add(PeerRecord(b"R" * 8, Role.PTM, "x", b"P" * 32, LinkKeys(LINK, b"a" * 32, b"b" * 32)))
    assert refused.value.code == RejectCode.KEY_REVOKED


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 2**64 - 1), max_size=20))
def test_counters_accept_only_rising_values_and_survive_reloading(counters: list[int]) -> None:
    store = MemoryStore()
    CounterStore(store).start(LINK, received=0, sent=0)
    highest = 0
    for counter in counters:
        fresh = counter > highest
        try:
            CounterStore(store).accept(LINK, counter)  # a new object each time: every frame after a reboot
        except Rejected as refused:
            assert not fresh and refused.code == RejectCode.REPLAYED_COUNTER
        else:
            assert fresh
            highest = counter
    assert CounterStore(store).last_received(LINK) == highest


def test_sent_counters_are_saved_before_use() -> None:
    store = MemoryStore()
    CounterStore(store).start(LINK, received=0, sent=0)

    assert [CounterStore(store).next_sent(LINK) for _ in range(3)] == [1, 2, 3]


def test_a_link_without_counters_cannot_prove_freshness() -> None:
    with pytest.raises(Rejected) as refused:
        CounterStore(MemoryStore()).accept(LINK, 5)

    assert refused.value.code == RejectCode.REPLAYED_COUNTER


def test_a_file_store_keeps_lists_private_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "state")
    store.append("replies-a", b"one", keep=3)

    assert mode(tmp_path / "state" / "replies-a.list") == 0o600
    assert os.listdir(tmp_path / "state") == ["replies-a.list"]


@pytest.fixture(params=["memory", "file"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Persistence]:
    """A way to open the same store again, as after a reboot: in memory or in files."""
    memory = MemoryStore()
    return (lambda: memory) if request.param == "memory" else (lambda: FileStore(tmp_path / "state"))


def test_a_list_keeps_its_newest_entries_oldest_first(any_store: Callable[[], Persistence]) -> None:
    for n in range(25):
        any_store().append("replies-a", f"entry {n}".encode(), keep=4)
    any_store().append("replies-b", b"other", keep=4)

    assert any_store().load_list("replies-a") == [f"entry {n}".encode() for n in range(21, 25)]
    assert any_store().load_list("replies-b") == [b"other"]
    assert any_store().load_list("never-appended") == []


def test_a_list_name_cannot_escape_the_directory(any_store: Callable[[], Persistence]) -> None:
    with pytest.raises(ValueError, match="record name"):
        any_store().append("../replies", b"x", keep=2)
    with pytest.raises(ValueError, match="at least 1"):
        any_store().append("replies", b"x", keep=0)


def test_a_list_file_stays_bounded_whatever_the_number_of_appends(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    for n in range(100):
        store.append("replies-a", bytes([n]) * 50, keep=8)
        assert len(store.load_list("replies-a")) == min(n + 1, 8)

    assert (tmp_path / "replies-a.list").stat().st_size < 2 * 8 * (50 + 16)
    assert sorted(os.listdir(tmp_path)) == ["replies-a.list"]


def _entries_in_file(tmp_path: Path, count: int) -> tuple[FileStore, Path]:
    store = FileStore(tmp_path)
    for n in range(count):
        store.append("replies-a", f"entry {n}".encode(), keep=10)
    return store, tmp_path / "replies-a.list"


@pytest.mark.parametrize("cut", [1, 5, 11, 19])
def test_an_append_torn_by_a_power_loss_is_dropped_and_cut_off_by_the_next(tmp_path: Path, cut: int) -> None:
    _, path = _entries_in_file(tmp_path, 3)
    whole = path.read_bytes()
    FileStore(tmp_path).append("replies-a", b"the torn one", keep=10)
    path.write_bytes(path.read_bytes()[: len(whole) + cut])  # the power went after `cut` bytes of the entry

    assert FileStore(tmp_path).load_list("replies-a") == [b"entry 0", b"entry 1", b"entry 2"]
    FileStore(tmp_path).append("replies-a", b"after the reboot", keep=10)
    assert FileStore(tmp_path).load_list("replies-a") == [b"entry 0", b"entry 1", b"entry 2", b"after the reboot"]


def test_zeros_where_an_entry_was_being_written_are_a_torn_append(tmp_path: Path) -> None:
    _, path = _entries_in_file(tmp_path, 2)
    path.write_bytes(path.read_bytes() + bytes(40))

    assert FileStore(tmp_path).load_list("replies-a") == [b"entry 0", b"entry 1"]


@pytest.mark.parametrize("where", ["head", "data"])
def test_a_damaged_entry_before_the_last_is_an_error_never_a_shorter_list(tmp_path: Path, where: str) -> None:
    _, path = _entries_in_file(tmp_path, 3)
    damaged = bytearray(path.read_bytes())
    damaged[1 if where == "head" else 14] ^= 0x01  # in the first entry: its length, or its data
    path.write_bytes(bytes(damaged))

    with pytest.raises(StoreDamaged, match="replies-a"):
        FileStore(tmp_path).load_list("replies-a")
    with pytest.raises(StoreDamaged):
        FileStore(tmp_path).append("replies-a", b"more", keep=10)


def test_the_reply_cache_is_bounded_per_link_and_persisted() -> None:
    store = MemoryStore()
    cache = ReplyCache(store, per_peer=2)
    for n in range(3):
        cache.lookup(b"A" * 8, bytes([n]) * 16, accepted_before=0)
        cache.begin(b"A" * 8, bytes([n]) * 16, 10 + n, b"d" * 16)
        cache.finish(b"A" * 8, bytes([n]) * 16, f"reply {n}".encode())
    cache.lookup(b"B" * 8, b"z" * 16, accepted_before=0)
    cache.begin(b"B" * 8, b"z" * 16, 7, b"d" * 16)

    reloaded = ReplyCache(store, per_peer=2)

    assert reloaded.lookup(b"A" * 8, bytes([0]) * 16, accepted_before=99) is None
    assert reloaded.horizon(b"A" * 8) == 10  # the first counter of the one command pushed out
    assert reloaded.lookup(b"A" * 8, bytes([2]) * 16, accepted_before=99) == Remembered(b"d" * 16, b"reply 2")
    assert reloaded.lookup(b"B" * 8, b"z" * 16, accepted_before=99) == Remembered(b"d" * 16, None)
    assert reloaded.horizon(b"B" * 8) == 0
    assert list(store.lists) == ["replies-" + (b"A" * 8).hex(), "replies-" + (b"B" * 8).hex()]


def test_a_link_with_no_list_takes_everything_accepted_before_as_possibly_forgotten() -> None:
    cache = ReplyCache(MemoryStore())

    assert cache.lookup(b"A" * 8, b"x" * 16, accepted_before=41) is None
    assert cache.horizon(b"A" * 8) == 41


def test_a_damaged_reply_entry_is_an_error() -> None:
    store = MemoryStore()
    store.append("replies-" + LINK.hex(), b"\xa0", keep=4)

    with pytest.raises(StoreDamaged, match="replies-"):
        ReplyCache(store).lookup(LINK, b"x" * 16, accepted_before=0)


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(st.tuples(st.integers(1, 1000), st.booleans(), st.booleans()), min_size=1, max_size=40),
    per_peer=st.integers(1, 4),
)
def test_a_command_that_began_is_remembered_or_at_or_below_the_horizon(
    steps: list[tuple[int, bool, bool]], per_peer: int
) -> None:
    # First counters in any order: a command whose first frame was lost may begin after later ones.
    store = MemoryStore()
    cache = ReplyCache(store, per_peer=per_peer)
    began: dict[bytes, int] = {}
    for n, (first, finishes, reboot) in enumerate(steps):
        if reboot:
            cache = ReplyCache(store, per_peer=per_peer)
        command_id = n.to_bytes(16, "big")
        assert cache.lookup(LINK, command_id, accepted_before=0) is None
        cache.begin(LINK, command_id, first, b"d" * 16)
        if finishes:
            cache.finish(LINK, command_id, b"reply")
        began[command_id] = first

    reloaded = ReplyCache(store, per_peer=per_peer)
    for command_id, first in began.items():
        remembered = reloaded.lookup(LINK, command_id, accepted_before=0)
        assert remembered is not None or first <= reloaded.horizon(LINK)  # never taken for a new command
    for command_id in list(began)[-per_peer:]:
        assert reloaded.lookup(LINK, command_id, accepted_before=0) is not None  # the last per_peer always are
