"""Each telemetry attack is refused, reported to on_reject, and never reaches the pump's dispatcher."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from telemetry_rig import SAMPLE_ARGS, Device, Recorder, Rig, Snapshot, rejection_of, unsent_frame

from thecal.pump.core.commands import Role
from thecal.telemetry import codec
from thecal.telemetry.commands import ROLE_PERMISSIONS, Command
from thecal.telemetry.errors import RejectCode, Rejected
from thecal.telemetry.frames import FrameType, ReplyStatus, decode_frame, encode_frame, encode_request
from thecal.telemetry.keys import Keystore, PeerRecord
from thecal.telemetry.link import NONCE_BYTES, TAG_BYTES, open_sealed, seal
from thecal.telemetry.persistence import FileStore
from thecal.telemetry.transport import Fate, LossyLink, ScriptedLoss


def test_a_replayed_frame_is_refused(rig: Rig, clinician: Device) -> None:
    eavesdropper = Recorder(rig.transport())
    assert rig.session(clinician, eavesdropper).request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"]).ok
    captured = eavesdropper.sent[-1]

    reply = rig.endpoint.receive(captured)

    assert rejection_of(rig, reply, captured).code == RejectCode.REPLAYED_COUNTER
    assert rig.codes() == [RejectCode.REPLAYED_COUNTER]
    assert rig.pump.names() == ["clinician_bolus"]


def test_a_flipped_bit_anywhere_in_a_frame_is_refused(rig: Rig, clinician: Device) -> None:
    frame = unsent_frame(rig, clinician)
    for bit in range(len(frame) * 8):
        flipped = bytearray(frame)
        flipped[bit // 8] ^= 1 << (bit % 8)
        reply = rig.endpoint.receive(bytes(flipped))
        assert decode_frame(reply).type is FrameType.REJECT, f"bit {bit} was accepted"
    assert rig.pump.calls == []
    assert len(rig.rejections) == len(frame) * 8
    # The untouched frame is accepted, so the refusals above are due to the flipped bits alone.
    assert decode_frame(rig.endpoint.receive(frame)).type is FrameType.REPLY
    assert rig.pump.names() == ["clinician_bolus"]


def test_a_frame_sealed_with_a_wrong_key_is_refused(rig: Rig, clinician: Device) -> None:
    command = Command.create("clinician_bolus", SAMPLE_ARGS["clinician_bolus"])
    forged = encode_frame(
        seal(os.urandom(32), FrameType.REQUEST, clinician.identity.key_id, 10**6, encode_request(command))
    )

    reply = rig.endpoint.receive(forged)

    assert rejection_of(rig, reply, forged).code == RejectCode.AUTHENTICATION_FAILED
    assert rig.codes() == [RejectCode.AUTHENTICATION_FAILED]
    assert rig.pump.calls == []


def test_a_ptm_cannot_pass_as_a_clinician_by_naming_its_key(rig: Rig, clinician: Device, ptm: Device) -> None:
    ptm_link = ptm.keystore.get(rig.pump_identity.key_id)
    assert ptm_link is not None
    command = Command.create("clinician_bolus", SAMPLE_ARGS["clinician_bolus"])
    forged = encode_frame(
        seal(ptm_link.link.client_to_pump, FrameType.REQUEST, clinician.identity.key_id, 99, encode_request(command))
    )

    reply = rig.endpoint.receive(forged)

    assert rejection_of(rig, reply, forged).code == RejectCode.AUTHENTICATION_FAILED
    assert rig.codes() == [RejectCode.AUTHENTICATION_FAILED]
    assert rig.pump.calls == []


def test_a_revoked_key_is_refused_even_after_a_reboot(rig: Rig, clinician: Device, ptm: Device) -> None:
    revoked = rig.session(clinician).request("revoke_key", key_id=ptm.identity.key_id.hex())
    assert revoked.ok and revoked.result == {"key_id": ptm.identity.key_id.hex(), "was_paired": True}
    assert [event.kind for event in rig.events] == ["paired", "paired", "revoked"]

    rig.reboot()
    reply = rig.session(ptm).request("demand_bolus")

    assert reply.status is ReplyStatus.REJECTED and reply.code == RejectCode.KEY_REVOKED
    assert rig.codes() == [RejectCode.KEY_REVOKED]
    assert rig.pump.calls == []


def test_an_unpaired_device_is_refused(rig: Rig) -> None:
    # A genuine, certified programmer that was paired with a different pump, never with this one.
    other = Rig(authority=rig.authority, label="SN-0002")
    stranger = other.device(Role.CLINICIAN, "programmer-elsewhere")
    other.pair(stranger)
    frame = unsent_frame(other, stranger)

    reply = rig.endpoint.receive(frame)

    assert rejection_of(rig, reply, frame).code == RejectCode.UNKNOWN_KEY
    assert rig.rejections[0].key_id == stranger.identity.key_id.hex()
    assert rig.pump.calls == []


@pytest.mark.parametrize("name", sorted(set(SAMPLE_ARGS) - ROLE_PERMISSIONS[Role.PTM]))
def test_a_ptm_cannot_send_clinician_commands(rig: Rig, ptm: Device, name: str) -> None:
    reply = rig.session(ptm).request(name, **SAMPLE_ARGS[name])

    assert reply.status is ReplyStatus.REJECTED and reply.code == RejectCode.NOT_PERMITTED
    assert "may not send" in reply.reason
    rejection = rig.rejections[-1]
    assert (rejection.code, rejection.role, rejection.command) == (RejectCode.NOT_PERMITTED, "ptm", name)
    assert rig.pump.calls == []


def test_a_counter_rolled_back_after_a_reboot_is_refused(tmp_path: Path) -> None:
    rig = Rig(FileStore(tmp_path / "pump"))
    clinician = rig.device(Role.CLINICIAN, "programmer-1", FileStore(tmp_path / "programmer"))
    rig.pair(clinician)
    # A copy from before the block of counters the session below reserves and uses.
    shutil.copy(tmp_path / "programmer" / "counters.cbor", tmp_path / "counters-backup.cbor")
    eavesdropper = Recorder(rig.transport())
    session = rig.session(clinician, eavesdropper)
    assert session.request("clock_set", wall_ms=1).ok
    assert session.request("clock_set", wall_ms=2).ok
    assert session.request("clock_set", wall_ms=3).ok

    # The pump reboots and reloads its counters: an old captured frame is still old.
    rig.reboot()
    replayed = rig.endpoint.receive(eavesdropper.sent[1])
    assert rejection_of(rig, replayed, eavesdropper.sent[1]).code == RejectCode.REPLAYED_COUNTER

    # The programmer's counter file is restored from an old copy while it is off: its next counter was used.
    clinician.restart()
    shutil.copy(tmp_path / "counters-backup.cbor", tmp_path / "programmer" / "counters.cbor")
    rolled_back = rig.session(clinician).request("clock_set", wall_ms=4)

    assert rolled_back.status is ReplyStatus.REJECTED and rolled_back.code == RejectCode.REPLAYED_COUNTER
    assert rig.codes() == [RejectCode.REPLAYED_COUNTER, RejectCode.REPLAYED_COUNTER]
    assert [command.args["wall_ms"] for _, command in rig.pump.calls] == [1, 2, 3]


@pytest.mark.parametrize(("version", "words"), [(0, "older"), (1, "older"), (3, "newer")])
def test_another_protocol_version_is_refused_with_a_clear_reason(
    rig: Rig, clinician: Device, version: int, words: str
) -> None:
    items = codec.decode(unsent_frame(rig, clinician), "frame")
    assert isinstance(items, list)
    frame = codec.encode([version, *items[1:]])

    reply = rig.endpoint.receive(frame)

    message = rejection_of(rig, reply, frame)
    assert message.code == RejectCode.VERSION_UNSUPPORTED
    assert words in message.reason and "protocol version" in message.reason
    assert rig.codes() == [RejectCode.VERSION_UNSUPPORTED]
    assert rig.pump.calls == []


def test_an_old_version_frame_of_another_shape_still_gets_the_version_reason(rig: Rig) -> None:
    frame = codec.encode([0, "a frame layout this pump never knew"])

    message = rejection_of(rig, rig.endpoint.receive(frame), frame)

    assert message.code == RejectCode.VERSION_UNSUPPORTED
    assert rig.codes() == [RejectCode.VERSION_UNSUPPORTED]


def test_pairing_without_a_proximity_step_is_refused(rig: Rig) -> None:
    from thecal.telemetry.pairing import pair_with_pump

    intruder = rig.device(Role.CLINICIAN, "programmer-in-the-car-park")

    with pytest.raises(Rejected) as refused:
        pair_with_pump(intruder.identity, rig.transport(), intruder.keystore, intruder.counters)

    assert refused.value.code == RejectCode.PAIRING_CLOSED
    assert "proximity" in refused.value.reason
    assert rig.codes() == [RejectCode.PAIRING_CLOSED]
    assert Keystore(rig.store).get(intruder.identity.key_id) is None
    assert rig.pump.calls == []


def _xor(left: bytes, right: bytes) -> bytes:
    assert len(left) == len(right)
    return bytes(a ^ b for a, b in zip(left, right, strict=True))


def _assert_no_nonce_reuse(key: bytes, first_bytes: bytes, second_bytes: bytes) -> None:
    """Two frames sealed under one key and one counter: their nonces differ, so their XOR reveals nothing."""
    first, second = decode_frame(first_bytes), decode_frame(second_bytes)
    assert first.counter == second.counter
    assert first.body[:NONCE_BYTES] != second.body[:NONCE_BYTES]
    plain_first, plain_second = open_sealed(key, first), open_sealed(key, second)
    assert plain_first != plain_second
    cipher_first, cipher_second = (frame.body[NONCE_BYTES:-TAG_BYTES] for frame in (first, second))
    # Under a reused nonce the two XORs would be equal: the keystream cancels out.
    assert _xor(cipher_first, cipher_second) != _xor(plain_first, plain_second)


def _pump_of(rig: Rig, device: Device) -> PeerRecord:
    pump = device.keystore.get(rig.pump_identity.key_id)
    assert pump is not None
    return pump


def test_a_device_counter_file_restored_from_an_old_copy_never_reuses_a_nonce(rig: Rig, clinician: Device) -> None:
    old_counters = clinician.store.load("counters")
    assert old_counters is not None
    eavesdropper = Recorder(rig.transport())
    assert rig.session(clinician, eavesdropper).request("clock_set", wall_ms=1).ok

    clinician.restart()
    clinician.store.save("counters", old_counters)  # the restored file: its next counter was already used
    again = rig.session(clinician, eavesdropper).request("clock_set", wall_ms=2)

    _assert_no_nonce_reuse(_pump_of(rig, clinician).link.client_to_pump, *eavesdropper.sent)
    assert again.status is ReplyStatus.REJECTED and again.code == RejectCode.REPLAYED_COUNTER
    assert [command.args["wall_ms"] for _, command in rig.pump.calls] == [1]


def test_a_pump_counter_record_restored_from_an_old_copy_never_reuses_a_nonce(rig: Rig, clinician: Device) -> None:
    old = Snapshot(rig.store)
    eavesdropper = Recorder(rig.transport())
    lost = rig.session(clinician, LossyLink(eavesdropper, ScriptedLoss([Fate.DROP_REPLY])), attempts=1).request(
        "clock_set", wall_ms=1
    )
    assert lost.status is ReplyStatus.UNKNOWN  # the device never saw the reply, so it cannot tell

    rig.store.save("counters", old.records["counters"])  # only the pump's counters go back
    rig.reboot()
    assert rig.session(clinician, eavesdropper).request("clock_set", wall_ms=2).ok

    _assert_no_nonce_reuse(_pump_of(rig, clinician).link.pump_to_client, *eavesdropper.replies)
