"""The real loopback TCP transport end to end, and the link-loss simulator."""

from __future__ import annotations

import contextlib
import random
import selectors
import socket
import struct
import threading
import time
from collections import Counter

import pytest
from telemetry_rig import SAMPLE_ARGS, Device, Rig

from thecal.pump.core.commands import Role
from thecal.telemetry.errors import LinkLost, NothingListening
from thecal.telemetry.frames import ReplyStatus
from thecal.telemetry.transport import (
    Fate,
    FixedLoss,
    InProcessTransport,
    LoopbackServer,
    LossyLink,
    RangeLoss,
    ScriptedLoss,
    TcpTransport,
    read_frame,
    write_frame,
)


def test_pairing_and_commands_round_trip_over_loopback_tcp(rig: Rig) -> None:
    clinician = rig.device(Role.CLINICIAN, "programmer-1")
    patient = rig.device(Role.PTM, "ptm-1")
    with LoopbackServer(rig.endpoint.receive) as server:
        tcp = TcpTransport(server.port)
        rig.pair(clinician, tcp)
        rig.pair(patient, tcp)

        status = rig.session(clinician, tcp).request("interrogate_status")
        bolus = rig.session(clinician, tcp).request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])
        demand = rig.session(patient, TcpTransport(server.port)).request("demand_bolus")
        refused = rig.session(patient, tcp).request("program_therapy", **SAMPLE_ARGS["program_therapy"])
        tcp.close()

    assert status.ok and status.result["reservoir_nl"] == 4_200_000
    assert bolus.ok and demand.ok
    assert refused.status is ReplyStatus.REJECTED
    assert [(role, command.name) for role, command in rig.pump.calls] == [
        ("clinician", "interrogate_status"),
        ("clinician", "clinician_bolus"),
        ("ptm", "demand_bolus"),
    ]


def test_a_lossy_tcp_link_never_executes_a_command_twice(rig: Rig) -> None:
    clinician = rig.device(Role.CLINICIAN, "programmer-1")
    rig.pair(clinician)
    with LoopbackServer(rig.endpoint.receive) as server:
        link = LossyLink(TcpTransport(server.port), FixedLoss(request_loss=0.3, reply_loss=0.3), seed=7)
        session = rig.session(clinician, link, attempts=6)
        replies = [session.request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"]) for _ in range(20)]

    executions = Counter(command.command_id for _, command in rig.pump.calls)
    assert Fate.DROP_REQUEST in link.history and Fate.DROP_REPLY in link.history
    assert max(executions.values()) == 1
    for reply in replies:
        assert reply.status in (ReplyStatus.OK, ReplyStatus.UNKNOWN)
        if reply.ok:
            assert executions[reply.command.command_id] == 1
        else:
            assert reply.possibly_delivered


def test_a_closed_server_is_a_lost_link(rig: Rig) -> None:
    with LoopbackServer(rig.endpoint.receive) as server:
        port = server.port
    with pytest.raises(LinkLost):
        TcpTransport(port, timeout_s=0.5).send(b"\x80")


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_port_nobody_listens_on_is_named_and_nothing_counts_as_sent(rig: Rig, clinician: Device) -> None:
    port = _unused_port()

    with pytest.raises(NothingListening) as nobody:
        rig.session(clinician, TcpTransport(port)).request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])

    assert f"nothing is listening on 127.0.0.1:{port}" in str(nobody.value)
    assert "not sent" in str(nobody.value) and "check the port" in str(nobody.value)
    with pytest.raises(NothingListening):
        rig.pair(rig.device(Role.PTM, "ptm-1"), TcpTransport(port))


class GoneAfterTheFirstFrame:
    """The first frame may reach the pump and its reply is lost; then the pump is gone (killed, restarting)."""

    def __init__(self, port: int) -> None:
        self.nobody = TcpTransport(port)
        self.sent = 0

    def send(self, frame: bytes) -> bytes:
        self.sent += 1
        if self.sent == 1:
            raise LinkLost("the reply was lost")
        return self.nobody.send(frame)


def test_a_dose_that_may_have_arrived_stays_possibly_delivered_when_the_pump_then_vanishes(
    rig: Rig, clinician: Device
) -> None:
    link = GoneAfterTheFirstFrame(_unused_port())

    reply = rig.session(clinician, link).request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])

    assert link.sent == 4
    assert reply.status is ReplyStatus.UNKNOWN and reply.possibly_delivered


def test_tcp_is_refused_off_the_loopback_interface() -> None:
    with pytest.raises(ValueError, match="not a loopback address"):
        TcpTransport(4000, host="192.0.2.10")


def test_an_oversized_frame_announcement_drops_the_connection(rig: Rig) -> None:
    with LoopbackServer(rig.endpoint.receive) as server, socket.create_connection(("127.0.0.1", server.port), 2) as s:
        s.sendall(struct.pack(">I", 10**9))
        assert s.recv(1) == b""  # the server hung up instead of waiting for a gigabyte
        assert rig.rejections == [] and rig.pump.calls == []


def test_framing_is_length_prefixed() -> None:
    left, right = socket.socketpair()
    with left, right:
        write_frame(left, b"frame")
        assert right.recv(9) == b"\x00\x00\x00\x05frame"
        write_frame(left, b"again")
        assert read_frame(right) == b"again"


def test_the_loss_simulator_repeats_itself_for_a_seed() -> None:
    def history(seed: int) -> list[Fate]:
        link = LossyLink(InProcessTransport(lambda frame: frame), FixedLoss(0.4, 0.4), seed=seed)
        for _ in range(50):
            with contextlib.suppress(LinkLost):
                link.send(b"x")
        return link.history

    assert history(3) == history(3)
    assert history(3) != history(4)


def test_loss_grows_with_distance() -> None:
    rng = random.Random(1)
    near, middle, far = RangeLoss(30), RangeLoss(125), RangeLoss(400)

    assert {near.fate(rng) for _ in range(200)} == {Fate.DELIVER}
    assert {far.fate(rng) for _ in range(200)} == {Fate.DROP_REQUEST}
    assert middle.loss() == 0.5
    assert len({middle.fate(rng) for _ in range(200)}) == 3


def test_a_script_plays_its_fates_then_delivers() -> None:
    link = LossyLink(InProcessTransport(lambda frame: frame + b"!"), ScriptedLoss([Fate.DROP_REQUEST, Fate.DROP_REPLY]))

    for _ in range(2):
        with pytest.raises(LinkLost):
            link.send(b"x")
    assert link.send(b"x") == b"x!"


def _open_idle(port: int, count: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]


def _readable(sockets: list[socket.socket], timeout_s: float) -> list[object]:
    """The sockets with something to read (or a hang-up) within the timeout; poll, not select, which stops at
    descriptor 1024, and a long test run may hold more."""
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ)
        return [key.fileobj for key, _ in selector.select(timeout_s)]


def _hung_up_by_server(sockets: list[socket.socket], count: int, within_s: float = 20.0) -> list[socket.socket]:
    """Wait until `count` of the sockets see the server hang up; return those."""
    closed: list[socket.socket] = []
    waiting = list(sockets)
    deadline = time.monotonic() + within_s
    while len(closed) < count and time.monotonic() < deadline:
        for sock in _readable(waiting, 0.1):
            with contextlib.suppress(OSError):
                if sock.recv(1) != b"":
                    continue
            closed.append(sock)
            waiting.remove(sock)
    return closed


def _connection_threads() -> int:
    return sum(thread.name == "thecal-telemetry-connection" for thread in threading.enumerate())


def test_connections_beyond_the_limit_are_closed_at_once_without_a_thread(rig: Rig, clinician: Device) -> None:
    threads_before = _connection_threads()  # another test's server may still be winding down
    with LoopbackServer(rig.endpoint.receive, idle_timeout_s=60, max_connections=3) as server:
        idle = _open_idle(server.port, 10)
        try:
            turned_away = _hung_up_by_server(idle, 7)
            held = [sock for sock in idle if sock not in turned_away]

            assert len(turned_away) == 7
            assert server.connections == 3 and _connection_threads() <= threads_before + 3
            assert _readable(held, 0.3) == []  # the three admitted ones are still open
            full = rig.session(clinician, TcpTransport(server.port), attempts=1).request("interrogate_status")
            assert full.status is ReplyStatus.UNKNOWN and rig.pump.calls == []  # turned away too: nothing ran

            held[0].close()  # a place comes free
            reply = None
            for _ in range(100):
                reply = rig.session(clinician, TcpTransport(server.port), attempts=1).request("interrogate_status")
                if reply.ok:
                    break
                time.sleep(0.05)
            assert reply is not None and reply.ok
        finally:
            for sock in idle:
                sock.close()


def test_idle_sockets_are_closed_and_never_lock_a_programmer_out(rig: Rig, clinician: Device) -> None:
    with LoopbackServer(rig.endpoint.receive, idle_timeout_s=0.3, max_connections=8) as server:
        idle = _open_idle(server.port, 66)
        try:
            assert len(_hung_up_by_server(idle, 66)) == 66  # the extra ones at once, the admitted ones when idle

            reply = None
            for _ in range(100):
                reply = rig.session(clinician, TcpTransport(server.port), attempts=1).request("interrogate_status")
                if reply.ok:
                    break
                time.sleep(0.05)
            assert reply is not None and reply.ok
            assert rig.pump.names() == ["interrogate_status"]
        finally:
            for sock in idle:
                sock.close()


def test_a_frame_that_stalls_half_way_is_dropped(rig: Rig) -> None:
    with LoopbackServer(rig.endpoint.receive, idle_timeout_s=0.3) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as stalled:
            stalled.sendall(struct.pack(">I", 100)[:2])  # half a length, then nothing
            assert _hung_up_by_server([stalled], 1) == [stalled]

        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as trickle:
            trickle.sendall(struct.pack(">I", 100))
            sent = 0
            with contextlib.suppress(OSError):  # the server hangs up on the slow sender
                for _ in range(100):  # one byte every 50 ms: the frame would take 5 s, far above the timeout
                    trickle.sendall(b"\x00")
                    sent += 1
                    time.sleep(0.05)
            assert sent < 100
            assert rig.rejections == [] and rig.pump.calls == []


@pytest.mark.parametrize(("argument", "value"), [("idle_timeout_s", 0), ("max_connections", 0)])
def test_server_bounds_are_checked(rig: Rig, argument: str, value: float) -> None:
    with pytest.raises(ValueError, match=argument):
        LoopbackServer(rig.endpoint.receive, **{argument: value})  # type: ignore[arg-type]
