"""A command id executes at most once; retries get the first reply; an unknown bolus counts as delivered."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from telemetry_rig import SAMPLE_ARGS, Capture, Device, Rig

from thecal.errors import InputError
from thecal.pump.core.commands import Role
from thecal.telemetry.client import POSSIBLY_DELIVERED, command_id_key, device_command_id, first_counter_in
from thecal.telemetry.commands import COMMANDS, Command
from thecal.telemetry.errors import LinkLost, RejectCode
from thecal.telemetry.frames import (
    FrameType,
    ReplyStatus,
    decode_frame,
    decode_reply,
    encode_frame,
    encode_request,
    read_request,
)
from thecal.telemetry.link import open_sealed, seal
from thecal.telemetry.persistence import FileStore, MemoryStore
from thecal.telemetry.replies import DEFAULT_PER_PEER, ReplyCache, list_name
from thecal.telemetry.transport import Fate, LossyLink, ScriptedLoss, Transport

DRUG_COMMANDS = sorted(name for name, spec in COMMANDS.items() if spec.delivers_drug)


class PowerCut(BaseException):
    """The pump loses power in the middle of a command; nothing in the endpoint may swallow it."""


def lossy(rig: Rig, *fates: Fate) -> LossyLink:
    return LossyLink(rig.transport(), ScriptedLoss(fates))


def test_a_lost_reply_is_retried_with_the_same_id_and_executes_once(rig: Rig, clinician: Device) -> None:
    link = lossy(rig, Fate.DROP_REPLY)

    reply = rig.session(clinician, link).request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])

    assert reply.ok and reply.attempts == 2
    assert rig.pump.names() == ["clinician_bolus"]
    assert reply.result == {"executed": "clinician_bolus", "execution": 1}
    assert link.history == [Fate.DROP_REPLY, Fate.DELIVER]


def test_the_same_id_sent_again_later_returns_the_same_reply(rig: Rig, clinician: Device) -> None:
    session = rig.session(clinician)
    first = session.request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])

    again = session.send(first.command)

    assert (again.status, again.result) == (first.status, first.result)
    assert rig.pump.names() == ["clinician_bolus"]


def test_a_lost_request_is_retried_and_executes_once(rig: Rig, clinician: Device) -> None:
    link = lossy(rig, Fate.DROP_REQUEST, Fate.DROP_REQUEST)

    reply = rig.session(clinician, link).request("priming_bolus", **SAMPLE_ARGS["priming_bolus"])

    assert reply.ok and reply.attempts == 3
    assert rig.pump.names() == ["priming_bolus"]


@pytest.mark.parametrize("name", DRUG_COMMANDS)
def test_an_unconfirmed_dose_is_possibly_delivered(rig: Rig, clinician: Device, ptm: Device, name: str) -> None:
    device = ptm if name == "demand_bolus" else clinician
    link = lossy(rig, *[Fate.DROP_REPLY] * 4)

    reply = rig.session(device, link).request(name, **SAMPLE_ARGS[name])

    assert reply.status is ReplyStatus.UNKNOWN
    assert reply.possibly_delivered
    assert POSSIBLY_DELIVERED in reply.describe()
    assert "fail" not in reply.describe()
    assert rig.pump.names() == [name]


def test_an_unconfirmed_setting_is_unknown_not_delivered(rig: Rig, clinician: Device) -> None:
    reply = rig.session(clinician, lossy(rig, *[Fate.DROP_REQUEST] * 4)).request("clock_set", wall_ms=9)

    assert reply.status is ReplyStatus.UNKNOWN and not reply.possibly_delivered
    assert "outcome unknown" in reply.describe()
    assert rig.pump.calls == []


def test_an_unknown_bolus_resent_when_the_link_is_back_is_not_delivered_twice(rig: Rig, clinician: Device) -> None:
    unknown = rig.session(clinician, lossy(rig, *[Fate.DROP_REPLY] * 4)).request(
        "clinician_bolus", **SAMPLE_ARGS["clinician_bolus"]
    )
    assert unknown.possibly_delivered

    confirmed = rig.session(clinician).send(unknown.command)

    assert confirmed.ok and confirmed.result == {"executed": "clinician_bolus", "execution": 1}
    assert rig.pump.names() == ["clinician_bolus"]


def test_a_remembered_reply_survives_a_pump_reboot(tmp_path: Path) -> None:
    rig = Rig(FileStore(tmp_path / "pump"))
    clinician = rig.device(Role.CLINICIAN, "programmer-1")
    rig.pair(clinician)
    unknown = rig.session(clinician, lossy(rig, *[Fate.DROP_REPLY] * 4)).request(
        "clinician_bolus", **SAMPLE_ARGS["clinician_bolus"]
    )

    rig.reboot()
    confirmed = rig.session(clinician).send(unknown.command)

    assert confirmed.ok and rig.pump.names() == ["clinician_bolus"]


def test_a_command_cut_off_by_power_loss_reads_as_possibly_delivered_after_reboot(rig: Rig, clinician: Device) -> None:
    rig.pump.fail_with = PowerCut()
    command = Command.create("clinician_bolus", SAMPLE_ARGS["clinician_bolus"])
    with pytest.raises(PowerCut):
        rig.session(clinician).send(command)
    rig.pump.fail_with = None

    rig.reboot()
    reply = rig.session(clinician).send(command)

    assert reply.status is ReplyStatus.UNKNOWN and reply.possibly_delivered
    assert "restarted" in reply.reason
    assert len(rig.pump.calls) == 1


def test_a_dispatcher_fault_is_unknown_and_never_retried_into_a_second_dose(rig: Rig, clinician: Device) -> None:
    rig.pump.fail_with = RuntimeError("motor driver bug")
    session = rig.session(clinician)
    first = session.request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])
    rig.pump.fail_with = None

    second = session.send(first.command)

    assert first.status is ReplyStatus.UNKNOWN and first.possibly_delivered
    assert (second.status, second.reason) == (first.status, first.reason)
    assert len(rig.pump.calls) == 1


def test_a_refusal_by_the_pump_is_passed_on_in_words(rig: Rig, clinician: Device) -> None:
    rig.pump.fail_with = InputError("dose_ng", 5_000_000, "exceeds the bolus limit", "lower the dose", "1 mg")

    reply = rig.session(clinician).request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])

    assert reply.status is ReplyStatus.REFUSED
    assert "exceeds the bolus limit" in reply.reason
    assert reply.result["limit"] == "1 mg"
    assert rig.rejections == []


def test_a_reused_id_for_a_different_command_is_refused(rig: Rig, clinician: Device) -> None:
    session = rig.session(clinician)
    first = session.request("clinician_bolus", dose_ng=100_000, duration_ms=60_000)
    reused = Command("clinician_bolus", {"dose_ng": 900_000, "duration_ms": 60_000}, first.command.command_id)

    reply = session.send(reused)

    assert reply.status is ReplyStatus.REJECTED and reply.code == RejectCode.COMMAND_ID_REUSED
    assert rig.codes() == [RejectCode.COMMAND_ID_REUSED]
    assert [command.args["dose_ng"] for _, command in rig.pump.calls] == [100_000]


def test_reads_are_answered_afresh_on_retry(rig: Rig, clinician: Device) -> None:
    reply = rig.session(clinician, lossy(rig, Fate.DROP_REPLY)).request("read_event_log", from_seq=0, max_entries=5)

    assert reply.ok
    assert rig.pump.names() == ["read_event_log", "read_event_log"]


def test_one_peer_cannot_push_another_peers_replies_out(rig: Rig, clinician: Device, ptm: Device) -> None:
    rig.reboot(replies=ReplyCache(rig.store, per_peer=2))
    bolus = rig.session(clinician).request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])
    patient = rig.session(ptm)
    for _ in range(5):
        patient.request("demand_bolus")

    again = rig.session(clinician).send(bolus.command)

    assert again.result == bolus.result
    assert rig.pump.names().count("clinician_bolus") == 1


def test_a_reply_to_another_command_is_never_taken_for_this_one(rig: Rig, clinician: Device) -> None:
    class Mixup:
        """Intercepts the reply to the first command and hands it back as the answer to the second."""

        def __init__(self, inner: Transport) -> None:
            self.inner = inner
            self.stolen: list[bytes] = []
            self.used = False

        def send(self, frame: bytes) -> bytes:
            reply = self.inner.send(frame)
            if not self.stolen:
                self.stolen.append(reply)
                raise LinkLost("reply intercepted")
            if not self.used:
                self.used = True
                return self.stolen[0]
            return reply

    mixup = Mixup(rig.transport())
    bolus = rig.session(clinician, mixup, attempts=1).request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])

    clock = rig.session(clinician, mixup).request("clock_set", wall_ms=77)

    assert bolus.possibly_delivered
    assert clock.ok and clock.result == {"executed": "clock_set", "execution": 2} and clock.attempts == 2
    assert rig.pump.names() == ["clinician_bolus", "clock_set"]


def test_an_old_signed_rejection_is_never_taken_as_the_answer_to_a_dose(rig: Rig, clinician: Device) -> None:
    garbage = b"\x85\x01\x01"
    old_rejection = rig.endpoint.receive(garbage)

    class Liar:
        """Delivers the first frame but answers it with an old, genuinely signed rejection."""

        def __init__(self, inner: Transport) -> None:
            self.inner = inner
            self.lied = False

        def send(self, frame: bytes) -> bytes:
            reply = self.inner.send(frame)
            if not self.lied:
                self.lied = True
                return old_rejection
            return reply

    reply = rig.session(clinician, Liar(rig.transport())).request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])

    assert reply.ok and reply.attempts == 2
    assert rig.pump.names() == ["clinician_bolus"]


def _went_down(device: Device, how: str) -> None:
    if how == "restart":
        device.restart()
    else:
        device.crash()


def _later_commands(rig: Rig, device: Device, count: int) -> None:
    session = rig.session(device)
    for n in range(count):
        assert session.request("clock_set", wall_ms=n).ok


def test_a_resent_bolus_is_answered_from_memory_while_among_the_last_commands_of_its_device(
    rig: Rig, clinician: Device
) -> None:
    bolus = rig.session(clinician).request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])
    _later_commands(rig, clinician, DEFAULT_PER_PEER - 1)  # the bolus is still one of the last 64

    again = rig.session(clinician).send(bolus.command)

    assert again.ok and again.result == bolus.result
    assert rig.pump.names().count("clinician_bolus") == 1


def test_a_resent_bolus_older_than_the_horizon_is_refused_as_too_old_never_run_again(
    rig: Rig, clinician: Device
) -> None:
    bolus = rig.session(clinician).request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])
    _later_commands(rig, clinician, DEFAULT_PER_PEER)  # now the last 64 are all later ones
    rig.reboot()

    again = rig.session(clinician).send(bolus.command)

    assert rig.pump.names().count("clinician_bolus") == 1
    assert again.status is ReplyStatus.UNKNOWN and again.possibly_delivered
    assert again.code == RejectCode.COMMAND_TOO_OLD
    assert "interrogate the pump" in again.reason and f"last {DEFAULT_PER_PEER}" in again.reason
    assert rig.codes() == [RejectCode.COMMAND_TOO_OLD]


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_a_lost_reply_list_never_lets_a_resent_bolus_run_twice(tmp_path: Path, kind: str) -> None:
    rig = Rig(MemoryStore() if kind == "memory" else FileStore(tmp_path / "pump"))
    clinician = rig.device(Role.CLINICIAN, "programmer-1")
    pump = rig.pair(clinician)
    bolus = rig.session(clinician).request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])

    if isinstance(rig.store, MemoryStore):
        del rig.store.lists[list_name(pump.link.link_id)]
    else:
        (tmp_path / "pump" / f"{list_name(pump.link.link_id)}.list").unlink()
    rig.reboot()
    again = rig.session(clinician).send(bolus.command)
    fresh = rig.session(clinician).request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])

    assert again.status is ReplyStatus.UNKNOWN and again.code == RejectCode.COMMAND_TOO_OLD
    assert again.possibly_delivered
    assert fresh.ok  # a new command is not a retry: it runs
    assert rig.pump.names() == ["clinician_bolus", "clinician_bolus"]


def test_a_command_keeps_its_first_counter_when_sent_again_from_another_session(rig: Rig, clinician: Device) -> None:
    command = Command.create("clinician_bolus", SAMPLE_ARGS["clinician_bolus"])
    first_try, second_try = Capture(), Capture()

    unknown = rig.session(clinician, first_try, attempts=2).send(command)
    rig.session(clinician, second_try, attempts=1).send(command)  # the caller's own object, not the reply's

    pump = clinician.keystore.get(rig.pump_identity.key_id)
    assert pump is not None
    first_frame, *later = (decode_frame(frame) for frame in first_try.sent + second_try.sent)
    assert unknown.command.first_counter == first_frame.counter
    for frame in later:
        assert frame.counter > first_frame.counter
        assert read_request(open_sealed(pump.link.client_to_pump, frame)).command.first_counter == first_frame.counter


def test_a_bolus_whose_reply_was_lost_is_never_run_twice_however_many_commands_follow(
    rig: Rig, clinician: Device
) -> None:
    command = Command.create("clinician_bolus", SAMPLE_ARGS["clinician_bolus"])
    unknown = rig.session(clinician, lossy(rig, *[Fate.DROP_REPLY] * 4)).send(command)
    assert unknown.possibly_delivered
    _later_commands(rig, clinician, DEFAULT_PER_PEER + 5)

    again = rig.session(clinician).send(command)  # from a new session, with the object made before sending

    assert again.status is ReplyStatus.UNKNOWN and again.code == RejectCode.COMMAND_TOO_OLD
    assert rig.pump.names().count("clinician_bolus") == 1


def test_a_first_counter_this_device_has_no_record_of_is_never_sent(rig: Rig, clinician: Device) -> None:
    command = Command.create("clinician_bolus", SAMPLE_ARGS["clinician_bolus"])

    reply = rig.session(clinician).send(dataclasses.replace(command, first_counter=10_000))

    assert reply.status is ReplyStatus.UNKNOWN and reply.code == RejectCode.COMMAND_TOO_OLD
    assert reply.possibly_delivered and reply.attempts == 0
    assert "no record" in reply.reason and "earlier link" in reply.reason
    assert rig.pump.calls == []


def test_the_pump_takes_a_first_counter_above_the_frames_own_for_one_of_an_earlier_link(
    rig: Rig, clinician: Device
) -> None:
    pump = clinician.keystore.get(rig.pump_identity.key_id)
    assert pump is not None
    link = pump.link.link_id
    counter = clinician.counters.next_sent(link)
    command = dataclasses.replace(
        Command.create("clinician_bolus", SAMPLE_ARGS["clinician_bolus"]), first_counter=counter + 10_000
    )
    plaintext = encode_request(command, clinician.counters.last_received(link))
    frame = encode_frame(
        seal(pump.link.client_to_pump, FrameType.REQUEST, clinician.identity.key_id, counter, plaintext)
    )

    reply = decode_reply(open_sealed(pump.link.pump_to_client, decode_frame(rig.endpoint.receive(frame))))

    assert reply.status is ReplyStatus.UNKNOWN and reply.code == RejectCode.COMMAND_TOO_OLD
    assert "earlier link" in reply.reason
    assert rig.pump.calls == []


@pytest.mark.parametrize("how", ["restart", "crash"])
def test_a_command_rebuilt_from_its_id_after_the_device_went_down_is_never_run_twice(
    rig: Rig, clinician: Device, how: str
) -> None:
    unknown = rig.session(clinician, lossy(rig, *[Fate.DROP_REPLY] * 4)).request(
        "clinician_bolus", **SAMPLE_ARGS["clinician_bolus"]
    )
    assert unknown.possibly_delivered
    _went_down(clinician, how)
    _later_commands(rig, clinician, DEFAULT_PER_PEER + 5)  # the pump has forgotten the bolus
    rebuilt = Command(unknown.command.name, unknown.command.args, unknown.command.command_id)  # no first counter

    again = rig.session(clinician).send(rebuilt)

    assert again.status is ReplyStatus.UNKNOWN and again.code == RejectCode.COMMAND_TOO_OLD
    assert rig.pump.names().count("clinician_bolus") == 1
    assert isinstance(clinician.store, MemoryStore) and clinician.store.lists == {}  # found with nothing listed


@pytest.mark.parametrize("how", ["restart", "crash"])
def test_a_command_first_sent_before_pairing_again_is_known_as_such_after_the_device_went_down(
    rig: Rig, clinician: Device, how: str
) -> None:
    bolus = rig.session(clinician).request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])
    rig.pair(clinician)
    _went_down(clinician, how)

    again = rig.session(clinician).send(Command(bolus.command.name, bolus.command.args, bolus.command.command_id))

    assert again.status is ReplyStatus.UNKNOWN and again.code == RejectCode.COMMAND_TOO_OLD
    assert again.attempts == 0 and "paired with the pump again" in again.reason
    assert rig.pump.names() == ["clinician_bolus"]


def test_a_link_whose_counters_were_lost_is_still_known_as_an_earlier_one_once_paired_again(
    rig: Rig, clinician: Device
) -> None:
    bolus = rig.session(clinician).request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])
    clinician.crash()
    assert isinstance(clinician.store, MemoryStore)
    del clinician.store.records["counters"]  # the device cannot talk on the link any more: it pairs again
    rig.pair(clinician)

    again = rig.session(clinician).send(Command(bolus.command.name, bolus.command.args, bolus.command.command_id))

    assert again.status is ReplyStatus.UNKNOWN and again.attempts == 0
    assert "paired with the pump again" in again.reason
    assert rig.pump.names() == ["clinician_bolus"]


def test_an_id_made_by_a_device_holds_its_first_counter_for_that_device_and_link_only(rig: Rig) -> None:
    one, other = (rig.device(Role.CLINICIAN, label).identity for label in ("programmer-1", "programmer-2"))
    key = command_id_key(one)
    command_id = device_command_id(key, b"L" * 8, 1234)

    assert first_counter_in(key, b"L" * 8, command_id) == 1234
    assert command_id_key(one) == key  # the same after a restart
    assert first_counter_in(key, b"M" * 8, command_id) is None
    assert first_counter_in(command_id_key(other), b"L" * 8, command_id) is None
    assert first_counter_in(key, b"L" * 8, command_id[:8] + bytes(8)) is None


def test_a_command_first_sent_before_pairing_again_is_not_sent_on_the_new_link(rig: Rig, clinician: Device) -> None:
    bolus = rig.session(clinician).request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])
    rig.pair(clinician)  # a new link, whose list knows nothing of the bolus

    for command in (bolus.command, dataclasses.replace(bolus.command, first_counter=None)):
        again = rig.session(clinician).send(command)
        assert again.status is ReplyStatus.UNKNOWN and again.possibly_delivered
        assert again.code == RejectCode.COMMAND_TOO_OLD and again.attempts == 0
    assert rig.pump.names() == ["clinician_bolus"]


def test_a_command_listed_by_another_session_of_the_device_keeps_its_first_counter(rig: Rig, clinician: Device) -> None:
    one, other = (rig.session(clinician, Capture(), attempts=1) for _ in range(2))
    one.send(Command.create("clock_set", {"wall_ms": 1}))  # `one` has read the device's list by now
    command = Command.create("clinician_bolus", SAMPLE_ARGS["clinician_bolus"])

    first = other.send(command)
    again = one.send(command)

    assert first.command.first_counter is not None
    assert again.command.first_counter == first.command.first_counter
