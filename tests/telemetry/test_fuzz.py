"""Hostile bytes: whatever arrives, the decoder only ever refuses, and the dispatcher is never reached."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from telemetry_rig import Rig, unsent_frame

from thecal.pump.core.commands import Role
from thecal.telemetry.errors import Rejected
from thecal.telemetry.frames import FrameType, ReplyStatus, decode_frame

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# One rig for all examples: nothing may ever be accepted, so its state cannot leak between examples.
RIG = Rig()
CLINICIAN = RIG.device(Role.CLINICIAN, "programmer-1")
RIG.pair(CLINICIAN)
RIG.endpoint.proximity_detected()  # pairing frames are fuzzed with the window open, the hardest case
VALID = unsent_frame(RIG, CLINICIAN)


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_are_refused_by_the_decoder_and_nothing_else(data: bytes) -> None:
    try:
        decode_frame(data)
    except Rejected:
        return


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_reach_the_dispatcher(data: bytes) -> None:
    reply = RIG.endpoint.receive(data)

    assert decode_frame(reply).type is FrameType.REJECT
    assert RIG.pump.calls == []


def _mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    buffer = bytearray(data)
    for kind, position, value in edits:
        at = position % (len(buffer) + 1)
        if kind == 0 and buffer:
            buffer[at % len(buffer)] ^= 1 << (value % 8)  # flip a bit
        elif kind == 1 and buffer:
            buffer[at % len(buffer)] = value  # replace a byte
        elif kind == 2:
            buffer.insert(at, value)  # insert a byte
        elif kind == 3:
            del buffer[at : at + 1 + value % 8]  # delete a run
        else:
            del buffer[at:]  # truncate
    return bytes(buffer)


edits = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6)


@FUZZ
@given(edits)
def test_mutated_valid_frames_are_refused_and_never_dispatched(changes: list[tuple[int, int, int]]) -> None:
    mutated = _mutate(VALID, changes)
    assume(mutated != VALID)

    reply = RIG.endpoint.receive(mutated)

    assert decode_frame(reply).type is FrameType.REJECT
    assert RIG.pump.calls == []


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=120), min_size=4, max_size=4))
def test_a_client_treats_garbage_replies_as_lost_and_never_raises(replies: list[bytes]) -> None:
    class Garbage:
        def __init__(self) -> None:
            self.replies = list(replies)

        def send(self, frame: bytes) -> bytes:
            return self.replies.pop()

    reply = RIG.session(CLINICIAN, Garbage()).request("clinician_bolus", dose_ng=10_000, duration_ms=1_000)

    assert reply.status is ReplyStatus.UNKNOWN and reply.possibly_delivered
