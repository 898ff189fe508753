"""The paired devices witness the pump's memory: one older than what a device already saw runs nothing."""

from __future__ import annotations

from telemetry_rig import SAMPLE_ARGS, Device, Recorder, Rig, Snapshot, rejection_of

from thecal.telemetry.endpoint import RECOVER
from thecal.telemetry.errors import LinkLost, RejectCode
from thecal.telemetry.frames import ReplyStatus
from thecal.telemetry.transport import Transport


def test_a_pump_memory_restored_from_an_old_copy_runs_nothing_and_says_how_to_recover(
    rig: Rig, clinician: Device
) -> None:
    session = rig.session(clinician)
    assert session.request("clock_set", wall_ms=1).ok
    old = Snapshot(rig.store)
    bolus = session.request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])
    assert bolus.ok

    old.restore(rig.store)  # counters, keys and remembered replies all from before the bolus
    rig.reboot()
    recorder = Recorder(rig.transport())
    again = rig.session(clinician, recorder).send(bolus.command)

    # Without the witness the old memory would not know the bolus and would give it a second time.
    assert rig.pump.names() == ["clock_set", "clinician_bolus"]
    assert again.status is ReplyStatus.REJECTED and again.code == RejectCode.MEMORY_BEHIND
    assert "nothing was executed" in again.reason and RECOVER in again.reason
    assert "restored from an old copy" in again.reason
    signed = rejection_of(rig, recorder.replies[0], recorder.sent[0])  # in the clear, signed, bound to the frame
    assert signed.code == RejectCode.MEMORY_BEHIND
    assert len(rig.memory_behind) == 1 and clinician.identity.key_id.hex() in rig.memory_behind[0]
    assert rig.codes() == [RejectCode.MEMORY_BEHIND]
    assert rig.rejections[0].role == "clinician" and rig.rejections[0].command == "clinician_bolus"


def test_every_request_of_a_device_that_saw_more_is_refused_reads_included(rig: Rig, clinician: Device) -> None:
    old = Snapshot(rig.store)
    assert rig.session(clinician).request("clock_set", wall_ms=1).ok
    old.restore(rig.store)
    rig.reboot()

    for name in ("interrogate_status", "demand_bolus", "therapy_stop"):
        reply = rig.session(clinician).request(name, **SAMPLE_ARGS[name])
        assert reply.code == RejectCode.MEMORY_BEHIND, name

    assert rig.pump.names() == ["clock_set"]
    assert len(rig.memory_behind) == 3


def test_a_memory_that_is_not_behind_is_served_as_before(rig: Rig, clinician: Device, ptm: Device) -> None:
    assert rig.session(clinician).request("clock_set", wall_ms=1).ok
    rig.reboot()

    assert rig.session(clinician).request("clock_set", wall_ms=2).ok
    assert rig.session(ptm).request("demand_bolus").ok
    assert rig.memory_behind == [] and rig.rejections == []


def test_a_refusal_after_an_attempt_that_may_have_run_reads_as_possibly_delivered(rig: Rig, clinician: Device) -> None:
    old = Snapshot(rig.store)
    assert rig.session(clinician).request("clock_set", wall_ms=1).ok  # the device now has seen more than `old`

    class RolledBackAfterTheFirstFrame:
        """The first frame runs and its reply is lost; then the pump's memory is replaced by the old copy."""

        def __init__(self, inner: Transport) -> None:
            self.inner = inner
            self.frames = 0

        def send(self, frame: bytes) -> bytes:
            self.frames += 1
            reply = self.inner.send(frame)
            if self.frames == 1:
                old.restore(rig.store)
                rig.reboot()
                raise LinkLost("reply lost")
            return reply

    reply = rig.session(clinician, RolledBackAfterTheFirstFrame(rig.transport())).request(
        "clinician_bolus", **SAMPLE_ARGS["clinician_bolus"]
    )

    assert rig.pump.names() == ["clock_set", "clinician_bolus"]
    assert reply.status is ReplyStatus.UNKNOWN and reply.possibly_delivered
    assert "memory_behind" in reply.reason and "do not repeat the dose" in reply.reason
