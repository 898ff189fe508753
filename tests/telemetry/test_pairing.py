"""Pairing needs the proximity step, proves both keys, binds the certified role, and survives lost frames."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from telemetry_rig import SAMPLE_ARGS, Device, Recorder, Rig, rejection_of

from thecal.pump.core.commands import Role
from thecal.telemetry import codec
from thecal.telemetry.errors import RejectCode, Rejected
from thecal.telemetry.frames import FrameType, ReplyStatus, decode_frame
from thecal.telemetry.keys import Authority, DeviceIdentity, Keystore
from thecal.telemetry.pairing import PAIRING_WINDOW_MS, pair_with_pump
from thecal.telemetry.transport import Fate, LossyLink, ScriptedLoss


def pair(rig: Rig, device: Device) -> None:
    """Pair in whatever window state the rig is in (no proximity step here)."""
    pair_with_pump(device.identity, rig.transport(), device.keystore, device.counters)


def test_pairing_stores_each_side_with_its_certified_role(rig: Rig) -> None:
    programmer = rig.device(Role.CLINICIAN, "programmer-1")
    patient = rig.device(Role.PTM, "ptm-1")

    pump_record = rig.pair(programmer)
    rig.pair(patient)

    pump_keys = Keystore(rig.store)
    assert pump_keys.get(programmer.identity.key_id).role is Role.CLINICIAN  # type: ignore[union-attr]
    assert pump_keys.get(patient.identity.key_id).role is Role.PTM  # type: ignore[union-attr]
    assert (pump_record.role, pump_record.label) == (Role.PUMP, "SN-0001")
    assert pump_record.public_key == rig.pump_identity.public_key
    assert [(event.kind, event.role) for event in rig.events] == [("paired", "clinician"), ("paired", "ptm")]
    assert rig.rejections == []


def test_the_window_closes_after_its_duration(rig: Rig) -> None:
    device = rig.device(Role.CLINICIAN, "programmer-1")
    rig.endpoint.proximity_detected()
    rig.clock.now_ms += PAIRING_WINDOW_MS

    with pytest.raises(Rejected) as refused:
        pair(rig, device)

    assert refused.value.code == RejectCode.PAIRING_CLOSED
    assert f"opens for {PAIRING_WINDOW_MS // 1000} s after a proximity step" in refused.value.reason
    assert not rig.endpoint.pairing_open


def test_the_window_closes_between_hello_and_confirm(rig: Rig) -> None:
    device = rig.device(Role.CLINICIAN, "programmer-1")
    rig.endpoint.proximity_detected()

    class SlowHands:
        """Delivers the hello at once and the confirm after the window has shut."""

        def __init__(self) -> None:
            self.count = 0

        def send(self, frame: bytes) -> bytes:
            self.count += 1
            if self.count == 2:
                rig.clock.now_ms += PAIRING_WINDOW_MS
            return rig.endpoint.receive(frame)

    with pytest.raises(Rejected) as refused:
        pair_with_pump(device.identity, SlowHands(), device.keystore, device.counters)

    assert refused.value.code == RejectCode.PAIRING_CLOSED
    assert Keystore(rig.store).peers() == []


def test_one_proximity_step_admits_one_pairing(rig: Rig) -> None:
    first = rig.device(Role.CLINICIAN, "programmer-1")
    second = rig.device(Role.CLINICIAN, "programmer-2")
    rig.pair(first)

    with pytest.raises(Rejected) as refused:
        pair(rig, second)

    assert refused.value.code == RejectCode.PAIRING_CLOSED
    assert "already paired since the last proximity step" in refused.value.reason  # not "wait", which would not help


def test_a_certificate_from_another_authority_is_refused(rig: Rig) -> None:
    foreign = Rig().device(Role.CLINICIAN, "programmer-from-elsewhere")
    rig.endpoint.proximity_detected()

    with pytest.raises(Rejected) as refused:
        pair(rig, foreign)

    assert refused.value.code == RejectCode.PAIRING_FAILED
    assert "another authority" in refused.value.reason
    assert rig.codes() == [RejectCode.PAIRING_FAILED]


def test_a_ptm_cannot_certify_itself_as_a_clinician(rig: Rig) -> None:
    patient = rig.device(Role.PTM, "ptm-1")
    home_made = Authority.generate().certify(patient.identity.public_key, Role.CLINICIAN, "ptm-1")
    forged = DeviceIdentity.__new__(DeviceIdentity)
    forged.__dict__.update(patient.identity.__dict__, certificate=home_made)
    rig.endpoint.proximity_detected()

    with pytest.raises(Rejected) as refused:
        pair_with_pump(forged, rig.transport(), patient.keystore, patient.counters)

    assert refused.value.code == RejectCode.PAIRING_FAILED
    assert Keystore(rig.store).peers() == []


def test_a_stolen_certificate_without_its_private_key_cannot_pair(rig: Rig) -> None:
    victim = rig.device(Role.CLINICIAN, "programmer-1")
    impostor = DeviceIdentity.__new__(DeviceIdentity)
    impostor.__dict__.update(victim.identity.__dict__, _signing_key=Ed25519PrivateKey.generate())
    rig.endpoint.proximity_detected()

    with pytest.raises(Rejected) as refused:
        pair_with_pump(impostor, rig.transport(), victim.keystore, victim.counters)

    assert refused.value.code == RejectCode.PAIRING_FAILED
    assert "possession" in refused.value.reason
    assert Keystore(rig.store).peers() == []


def test_a_programmer_refuses_a_pump_it_cannot_verify(rig: Rig) -> None:
    fake_pump = Rig(label="SN-FAKE")  # certified by an authority this programmer does not trust
    programmer = rig.device(Role.CLINICIAN, "programmer-1")
    fake_pump.endpoint.proximity_detected()

    with pytest.raises(Rejected) as refused:
        pair_with_pump(programmer.identity, fake_pump.transport(), programmer.keystore, programmer.counters)

    assert refused.value.code == RejectCode.PAIRING_FAILED
    assert programmer.keystore.peers() == []


def test_a_programmer_can_insist_on_the_pump_serial(rig: Rig) -> None:
    programmer = rig.device(Role.CLINICIAN, "programmer-1")
    rig.endpoint.proximity_detected()

    with pytest.raises(Rejected) as refused:
        pair_with_pump(
            programmer.identity,
            rig.transport(),
            programmer.keystore,
            programmer.counters,
            expected_pump_label="SN-9999",
        )

    assert "SN-0001" in refused.value.reason


def test_a_revoked_key_can_never_pair_again(rig: Rig, clinician: Device, ptm: Device) -> None:
    assert rig.session(clinician).request("revoke_key", key_id=ptm.identity.key_id.hex()).ok
    rig.reboot()

    with pytest.raises(Rejected) as refused:
        rig.pair(ptm)

    assert refused.value.code == RejectCode.KEY_REVOKED


def test_lost_pairing_answers_are_recovered_by_resending_the_same_frame(rig: Rig) -> None:
    device = rig.device(Role.CLINICIAN, "programmer-1")
    link = LossyLink(rig.transport(), ScriptedLoss([Fate.DROP_REPLY, Fate.DELIVER, Fate.DROP_REPLY]))
    rig.endpoint.proximity_detected()

    record = pair_with_pump(device.identity, link, device.keystore, device.counters)

    assert [event.kind for event in rig.events] == ["paired"]
    assert rig.session(device).request("clock_set", wall_ms=5).ok
    assert record.key_id == rig.pump_identity.key_id


def test_pairing_again_replaces_the_link_and_old_frames_die_with_it(rig: Rig, clinician: Device) -> None:
    eavesdropper = Recorder(rig.transport())
    assert rig.session(clinician, eavesdropper).request("clock_set", wall_ms=1).ok

    new_record = rig.pair(clinician)

    assert rig.session(clinician).request("clock_set", wall_ms=2).ok
    old = eavesdropper.sent[0]
    assert rejection_of(rig, rig.endpoint.receive(old), old).code == RejectCode.AUTHENTICATION_FAILED
    assert clinician.keystore.get(rig.pump_identity.key_id) == new_record
    assert [command.args["wall_ms"] for _, command in rig.pump.calls] == [1, 2]


def test_a_pairing_frame_with_a_nonzero_counter_is_refused(rig: Rig) -> None:
    device = rig.device(Role.CLINICIAN, "programmer-1")
    rig.endpoint.proximity_detected()
    recorder = Recorder(rig.transport())
    pair_with_pump(device.identity, recorder, device.keystore, device.counters)
    rig.endpoint.proximity_detected()
    items = codec.decode(recorder.sent[0], "frame")
    assert isinstance(items, list)
    bumped = codec.encode([*items[:3], 1, items[4]])

    assert rejection_of(rig, rig.endpoint.receive(bumped), bumped).code == RejectCode.PAIRING_FAILED


def test_the_pump_answers_only_requests_and_pairing(rig: Rig, clinician: Device) -> None:
    recorder = Recorder(rig.transport())
    rig.session(clinician, recorder).request("interrogate_status")
    reply = recorder.replies[0]
    assert decode_frame(reply).type is FrameType.REPLY

    assert rejection_of(rig, rig.endpoint.receive(reply), reply).code == RejectCode.UNEXPECTED_FRAME_TYPE
    still_served = rig.session(clinician).request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])
    assert still_served.status is ReplyStatus.OK


def test_a_certificate_altered_after_signing_is_refused(rig: Rig) -> None:
    patient = rig.device(Role.PTM, "ptm-1")
    promoted = dataclasses.replace(patient.identity.certificate, role=Role.CLINICIAN)
    forged = DeviceIdentity.__new__(DeviceIdentity)
    forged.__dict__.update(patient.identity.__dict__, certificate=promoted)
    rig.endpoint.proximity_detected()

    with pytest.raises(Rejected) as refused:
        pair_with_pump(forged, rig.transport(), patient.keystore, patient.counters)

    assert "signature does not verify" in refused.value.reason
    assert Keystore(rig.store).peers() == []


def test_a_pump_impersonator_with_a_stolen_pump_certificate_is_refused(rig: Rig) -> None:
    impostor = Rig(authority=rig.authority)
    forged = DeviceIdentity.__new__(DeviceIdentity)
    forged.__dict__.update(rig.pump_identity.__dict__, _signing_key=Ed25519PrivateKey.generate())
    impostor.pump_identity = forged
    impostor.reboot()
    programmer = rig.device(Role.CLINICIAN, "programmer-1")
    impostor.endpoint.proximity_detected()

    with pytest.raises(Rejected) as refused:
        pair_with_pump(programmer.identity, impostor.transport(), programmer.keystore, programmer.counters)

    assert "pump did not prove possession" in refused.value.reason
    assert programmer.keystore.peers() == []
