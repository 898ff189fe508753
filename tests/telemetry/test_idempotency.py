"""A command id executes at most once; retries get the first reply; an unknown bolus counts as delivered."""

from __future__ import annotations

from pathlib import Path

import pytest
from telemetry_rig import SAMPLE_ARGS, Device, Rig

from thecal.errors import InputError
from thecal.pump.core.commands import Role
from thecal.telemetry.client import POSSIBLY_DELIVERED
from thecal.telemetry.commands import COMMANDS, Command
from thecal.telemetry.errors import LinkLost, RejectCode
from thecal.telemetry.frames import ReplyStatus
from thecal.telemetry.persistence import FileStore
from thecal.telemetry.replies import ReplyCache
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
