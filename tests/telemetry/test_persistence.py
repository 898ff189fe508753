"""State that must survive power loss: atomic 0600 files, keys nobody else can read, counters that never reset."""

from __future__ import annotations

import os
import stat
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
from thecal.telemetry.persistence import FileStore, MemoryStore
from thecal.telemetry.replies import ReplyCache

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


def test_the_reply_cache_is_bounded_per_peer_and_persisted() -> None:
    store = MemoryStore()
    cache = ReplyCache(store, per_peer=2)
    for n in range(3):
        cache.begin(b"A" * 8, bytes([n]) * 16, b"d" * 16)
        cache.finish(b"A" * 8, bytes([n]) * 16, f"reply {n}".encode())
    cache.begin(b"B" * 8, b"z" * 16, b"d" * 16)

    reloaded = ReplyCache(store, per_peer=2)

    assert reloaded.lookup(b"A" * 8, bytes([0]) * 16) is None
    assert reloaded.lookup(b"A" * 8, bytes([2]) * 16).reply == b"reply 2"  # type: ignore[union-attr]
    assert reloaded.lookup(b"B" * 8, b"z" * 16).reply is None  # type: ignore[union-attr]
