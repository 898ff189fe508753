"""A state machine over the protocol: lossy links, retries, replays and reboots in any order.

Invariants: no command id is ever executed twice; a reply that says "ok" means
it executed exactly once; a replayed frame is always refused and never
dispatched; an unknown outcome of a dose is reported as possibly delivered.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from telemetry_rig import SAMPLE_ARGS, Recorder, Rig

from thecal.pump.core.commands import Role
from thecal.telemetry.client import Reply
from thecal.telemetry.errors import RejectCode
from thecal.telemetry.frames import FrameType, ReplyStatus, decode_frame
from thecal.telemetry.transport import Fate, LossyLink, ScriptedLoss

fates = st.lists(st.sampled_from(Fate), max_size=4)


class TelemetryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.rig = Rig()
        self.clinician = self.rig.device(Role.CLINICIAN, "programmer-1")
        self.ptm = self.rig.device(Role.PTM, "ptm-1")
        self.rig.pair(self.clinician)
        self.rig.pair(self.ptm)
        self.recorder = Recorder(self.rig.transport())
        self.replies: list[Reply] = []

    def _send(self, device_is_ptm: bool, script: list[Fate], name: str) -> None:
        device = self.ptm if device_is_ptm else self.clinician
        link = LossyLink(self.recorder, ScriptedLoss(script))
        reply = self.rig.session(device, link).request(name, **SAMPLE_ARGS[name])
        self.replies.append(reply)

    @rule(script=fates, name=st.sampled_from(["clinician_bolus", "priming_bolus", "clock_set", "ptm_settings"]))
    def clinician_command(self, script: list[Fate], name: str) -> None:
        self._send(False, script, name)

    @rule(script=fates)
    def patient_presses(self, script: list[Fate]) -> None:
        self._send(True, script, "demand_bolus")

    @precondition(lambda self: any(reply.status is ReplyStatus.UNKNOWN for reply in self.replies))
    @rule(data=st.data())
    def resend_an_unknown_command(self, data: st.DataObject) -> None:
        unknown = [reply for reply in self.replies if reply.status is ReplyStatus.UNKNOWN]
        earlier = data.draw(st.sampled_from(unknown))
        device = self.ptm if earlier.command.name == "demand_bolus" else self.clinician
        reply = self.rig.session(device, self.recorder).send(earlier.command)
        assert reply.ok
        self.replies.append(reply)

    @precondition(lambda self: self.recorder.sent)
    @rule(data=st.data())
    def replay_a_captured_frame(self, data: st.DataObject) -> None:
        frame = data.draw(st.sampled_from(self.recorder.sent))
        calls = len(self.rig.pump.calls)
        rejections = len(self.rig.rejections)

        reply = self.rig.endpoint.receive(frame)

        assert decode_frame(reply).type is FrameType.REJECT
        assert self.rig.rejections[rejections].code == RejectCode.REPLAYED_COUNTER
        assert len(self.rig.pump.calls) == calls

    @rule()
    def reboot_the_pump(self) -> None:
        self.rig.reboot()

    @invariant()
    def no_command_executes_twice(self) -> None:
        executions = Counter(command.command_id for _, command in self.rig.pump.calls)
        assert all(count == 1 for count in executions.values())
        for reply in self.replies:
            if reply.ok:
                assert executions[reply.command.command_id] == 1
            if reply.status is ReplyStatus.UNKNOWN and reply.command.name.endswith("bolus"):
                assert reply.possibly_delivered


TelemetryMachine.TestCase.settings = settings(max_examples=50, stateful_step_count=15, deadline=None)
test_telemetry_protocol = TelemetryMachine.TestCase
