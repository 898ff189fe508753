"""Telemetry speed and memory cost: round trips, durable decisions, and the writes that refused frames cause.

One pump daemon (firmware, virtual hardware and its memory in a temporary
state directory) answers two doors in the same run. For the round trips it
runs in a process of its own, as `thecal pump serve` does, so client and
pump never wait for each other's interpreter lock:

- secure: the real protocol, the daemon's own loopback server, with AEAD,
  authentication, replay counters and remembered replies, all made durable
  before the reply (the programmer or PTM saves its counters once per block
  of 1,024 frames);
- plain: the same CBOR request handed straight to the same `dispatch` and
  answered in CBOR, with no sealing, no counters and no reply records; what
  the command changed is committed to the pump's memory in one commit before
  the answer, as the secure door commits once a frame.

Both doors execute the same firmware commands on the same pump, so the ratio
between them is what the security layer costs. A pump in service has a full
event log, so before anything is measured the log is filled to its capacity
(clock settings through `dispatch`: each is logged and changes nothing else).

Round trips: interrogations and demand-bolus requests, one at a time over
one kept TCP connection per door, the doors taken in turn so both see the
same pump and machine load. Decisions per second: demand-bolus requests
straight into the handler with no TCP, so the figure is the pump's own rate;
most are refused by the lockout, which is a decision too. The firmware alone,
with no I/O, is the ceiling. Both are repeated and the medians printed.

Memory writes of refused frames: random garbage, frames naming a key the
pump never paired, and replays of frames it already accepted are fed to
`daemon.receive`, the kinds in turn; the fsyncs Python code made, the
kernel's count of write calls and bytes, and the growth of `daemon.log` are
what they cost. The pump logs only so many refusals a day, so what matters is
whether the rest cost nothing.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

from benchmarks.memory_choice import FsyncCount, filesystem_of, os_writes, percentile
from thecal.devices.daemon import DEFAULT_MODEL, PumpDaemon, StateLayout, init_state
from thecal.drugs import pump_formulary
from thecal.errors import ThecalError
from thecal.pump.core import DemandLimits, Fill, Firmware, Program, RequestDemandBolus, SetDemandLimits
from thecal.pump.core.commands import Role
from thecal.pump.core.schedule import DoseSchedule
from thecal.pump.model import load_model
from thecal.telemetry.client import DEFAULT_ATTEMPTS, ClientSession
from thecal.telemetry.commands import Command, validate
from thecal.telemetry.device_files import DeviceFiles
from thecal.telemetry.errors import LinkLost
from thecal.telemetry.frames import (
    KEY_ID_BYTES,
    FrameType,
    ReplyMessage,
    ReplyStatus,
    decode_frame,
    decode_reply,
    decode_request,
    encode_frame,
    encode_reply,
)
from thecal.telemetry.frames import encode_request as encode_plain_request
from thecal.telemetry.link import open_sealed, seal
from thecal.telemetry.transport import InProcessTransport, LoopbackServer, TcpTransport, Transport

REPETITIONS = 3
ROUND_TRIPS = 1000  # of each command, per door, per repetition
ROUND_TRIP_COMMANDS = ("interrogate_status", "demand_bolus")
DECISIONS = 500  # per door, per repetition
DECISION_BLOCK = 20
FIRMWARE_DECISIONS = 50_000
AEAD_FRAMES = 20_000
SYNC_SAMPLES = 10  # requests of each command whose fsyncs are counted
REFUSED_FRAMES = 1000
FILL_BLOCK = 256  # clock settings to a commit while the event log is filled
REPLAYED_ORIGINALS = 10  # accepted frames, each replayed many times
REFUSED_KINDS = ("garbage", "unknown_key", "replay")
REFUSED_KIND_NAMES = {
    "garbage": "random garbage",
    "unknown_key": "frames naming an unknown key",
    "replay": "replays of accepted frames",
    "all": "all refused frames",
}
FILL = {"volume_nl": 20_000_000, "contents": [{"drug": "morphine", "concentration_ng_per_ml": 10_000_000}]}
CONTINUOUS = {"days": [[{"start_ms": 0, "dose_ng_per_day": 5_000_000}]] * 7}
DEMAND = {"dose_ng": 100_000, "duration_ms": 300_000, "lockout_ms": 3_600_000, "max_per_24h": 4}

Send = Callable[[str], None]


class PlainDoor:
    """The same commands, unsealed: CBOR in, the daemon's dispatch, CBOR out, durable in one commit."""

    def __init__(self, daemon: PumpDaemon, role: Role):
        self._daemon = daemon
        self._role = role

    def receive(self, request: bytes) -> bytes:
        """Execute one plain request and return the plain reply once what it changed is in memory."""
        command = decode_request(request)
        # One commit, durable before the answer with the counter raised after it, as the secure door makes for
        # a frame: the doors then differ by the security layer only, not by how their writes are made.
        journal = self._daemon.journal
        with journal.held():
            try:
                result = self._daemon.dispatch(self._role, command)
                reply = ReplyMessage(command.command_id, ReplyStatus.OK, result, None, "")
            except ThecalError as exc:  # a firmware refusal, a decision like any other
                reply = ReplyMessage(command.command_id, ReplyStatus.REFUSED, {}, None, str(exc))
        journal.commit(settle_later=True)
        return encode_reply(reply)


# ---------------------------------------------------------------- the pump


def _session(root: Path, role: str, transport: Transport, attempts: int = DEFAULT_ATTEMPTS) -> ClientSession:
    # A new session reads the device's counters afresh, so sessions made one after another never reuse one.
    return DeviceFiles(root / "devices" / role, Role(role)).session(transport, attempts)


def _pumped(root: Path) -> PumpDaemon:
    """A daemon with both devices paired, filled, programmed and with demand doses enabled."""
    init_state(root)
    daemon = PumpDaemon(root)
    for role in ("clinician", "ptm"):
        daemon.proximity_detected()
        DeviceFiles(root / "devices" / role, Role(role)).pair(InProcessTransport(daemon.receive))
    clinician = _session(root, "clinician", InProcessTransport(daemon.receive))
    for name, args in (("refill_update", FILL), ("program_therapy", CONTINUOUS), ("ptm_settings", DEMAND)):
        assert clinician.request(name, **args).ok
    return daemon


def _dispatch(daemon: PumpDaemon, name: str, **args: object) -> dict[str, object]:
    command = Command(name, args, os.urandom(16))
    validate(command)
    return daemon.dispatch(Role.CLINICIAN, command)


def _log_entries_held(daemon: PumpDaemon) -> int:
    page = _dispatch(daemon, "read_event_log", from_seq=0, max_entries=1)
    next_seq, dropped = page["next_seq"], page["dropped"]
    assert isinstance(next_seq, int) and isinstance(dropped, int)
    return next_seq - dropped


def fill_event_log(daemon: PumpDaemon) -> tuple[int, int]:
    """Fill the pump's event log to its capacity; return (entries held, capacity).

    Each clock setting is logged and, set to the time the pump showed a moment before, changes nothing else
    (the wall clock moves back by the milliseconds of one command).
    """
    capacity = load_model(DEFAULT_MODEL).event_log_entries
    status = _dispatch(daemon, "interrogate_status")
    wall_ms, now_ms = status["wall_ms"], status["now_ms"]
    assert isinstance(wall_ms, int) and isinstance(now_ms, int)
    offset_ms = wall_ms - now_ms
    held = _log_entries_held(daemon)
    while held < capacity:
        with daemon.journal.held():  # setting up, not measured: many entries to a commit
            for _ in range(min(FILL_BLOCK, capacity - held)):
                result = _dispatch(daemon, "clock_set", wall_ms=offset_ms + now_ms)
                assert isinstance(result["now_ms"], int)
                now_ms = result["now_ms"]
        daemon.journal.commit()
        held = _log_entries_held(daemon)
    return held, capacity


# ------------------------------------------------------------ round trips


def _plain_sender(transport: TcpTransport) -> Send:
    def send(name: str) -> None:
        command = Command(name, {}, os.urandom(16))
        validate(command)
        reply = decode_reply(transport.send(encode_plain_request(command)))
        assert reply.command_id == command.command_id

    return send


def _secure_sender(session: ClientSession) -> Send:
    def send(name: str) -> None:
        reply = session.request(name)
        assert reply.status in (ReplyStatus.OK, ReplyStatus.REFUSED), reply.describe()

    return send


def _interleaved_latencies_ms(doors: dict[str, Send], name: str, count: int) -> dict[str, list[float]]:
    """Round trips of each door, taken in turn so that both see the same pump state and machine load."""
    out: dict[str, list[float]] = {door: [] for door in doors}
    for send in doors.values():
        send(name)  # warm-up: first connection, first writes
    for _ in range(count):
        for door, send in doors.items():
            t0 = time.perf_counter()
            send(name)
            out[door].append((time.perf_counter() - t0) * 1000)
    return out


def _serve_doors(root: Path, ports: Queue[tuple[int, int]], stop: Event) -> None:
    """The pump daemon in a process of its own, answering both doors until `stop` is set."""
    daemon = PumpDaemon(root)
    try:
        plain_ptm = PlainDoor(daemon, Role.PTM)
        plain_door = LoopbackServer(plain_ptm.receive, after_reply=daemon.settle)
        with daemon.server(0) as secure_server, plain_door as plain_server:
            ports.put((secure_server.port, plain_server.port))
            stop.wait()
    finally:
        daemon.close()


def _round_trips_from_another_process(root: Path, repetitions: int) -> list[dict[str, float]]:
    """`repetitions` of `_round_trips`, the daemon (closed by the caller) serving from a process of its own."""
    context = multiprocessing.get_context("spawn")
    ports: Queue[tuple[int, int]] = context.Queue()
    stop = context.Event()
    pump = context.Process(target=_serve_doors, args=(root, ports, stop), name="thecal-bench-pump")
    pump.start()
    try:
        secure_port, plain_port = ports.get(timeout=60)
        return [_round_trips(root, secure_port, plain_port) for _ in range(repetitions)]
    finally:
        stop.set()
        pump.join(timeout=30)
        if pump.is_alive():
            pump.kill()


def _round_trips(root: Path, secure_port: int, plain_port: int) -> dict[str, float]:
    """One repetition: p50 and p99 of each command through each door."""
    secure_link, plain_link = TcpTransport(secure_port), TcpTransport(plain_port)
    doors = {"secure": _secure_sender(_session(root, "ptm", secure_link)), "plain": _plain_sender(plain_link)}
    figures: dict[str, float] = {}
    try:
        for name in ROUND_TRIP_COMMANDS:
            for door, latencies in _interleaved_latencies_ms(doors, name, ROUND_TRIPS).items():
                figures[f"{door}_{name}_p50_ms"] = percentile(latencies, 50)
                figures[f"{door}_{name}_p99_ms"] = percentile(latencies, 99)
    finally:
        secure_link.close()
        plain_link.close()
    return figures


# -------------------------------------------------------------- decisions


class _Capture:
    """Keeps each sealed frame and delivers none, so frames can be made before the clock starts."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, frame: bytes) -> bytes:
        self.sent.append(frame)
        raise LinkLost("kept for later")


def _reply_type(reply: bytes | None) -> FrameType:
    assert reply is not None, "the pump answered nothing: its memory could not be written"
    return decode_frame(reply).type


def _sealed_requests(root: Path, name: str, count: int) -> list[bytes]:
    capture = _Capture()
    ptm = _session(root, "ptm", capture, attempts=1)
    for _ in range(count):
        ptm.request(name)
    return capture.sent


def _decisions_per_s(root: Path, daemon: PumpDaemon, plain: PlainDoor, count: int) -> dict[str, float]:
    """One repetition of the pump's own rate: frames are sealed beforehand, so only the pump's work is timed.

    Sealing them is timed too: what the PTM does for each request (seal it; its counters are saved once per
    1,024 frames).
    """
    t0 = time.perf_counter()
    sealed = _sealed_requests(root, "demand_bolus", count)
    ptm_request_ms = (time.perf_counter() - t0) / count * 1000
    unsealed = [encode_plain_request(Command("demand_bolus", {}, os.urandom(16))) for _ in range(count)]
    seconds = {"secure": 0.0, "plain": 0.0}
    for i in range(0, count, DECISION_BLOCK):
        t0 = time.perf_counter()
        for frame in sealed[i : i + DECISION_BLOCK]:
            assert _reply_type(daemon.receive(frame)) is FrameType.REPLY
        t1 = time.perf_counter()
        for request in unsealed[i : i + DECISION_BLOCK]:
            plain.receive(request)
        seconds["secure"] += t1 - t0
        seconds["plain"] += time.perf_counter() - t1
    return {**{f"{door}_decisions_per_s": count / s for door, s in seconds.items()}, "ptm_request_ms": ptm_request_ms}


def _firmware_decisions_per_s(count: int) -> float:
    fw = Firmware(load_model(DEFAULT_MODEL), pump_formulary())
    for command in (
        Fill(20_000_000, (("morphine", 10_000_000),)),
        Program(DoseSchedule.continuous(5_000_000)),
        SetDemandLimits(DemandLimits(100_000, 300_000, 3_600_000, 4)),
    ):
        assert fw.handle(command).accepted
    t0 = time.perf_counter()
    for _ in range(count):
        fw.handle(RequestDemandBolus())
    return count / (time.perf_counter() - t0)


def _aead_us_per_frame(count: int) -> float:
    key = os.urandom(32)
    plaintext = encode_plain_request(Command("demand_bolus", {}, os.urandom(16)))
    t0 = time.perf_counter()
    for counter in range(1, count + 1):
        open_sealed(key, seal(key, FrameType.REQUEST, b"\x00" * KEY_ID_BYTES, counter, plaintext))
    return (time.perf_counter() - t0) / count * 1e6


def _syncs_per_request(root: Path, daemon: PumpDaemon, plain: PlainDoor, count: int) -> dict[str, float]:
    """fsync/fdatasync calls a request costs, the PTM's and the pump's apart: where a secure round trip waits."""
    pump, after = FsyncCount(), FsyncCount()

    def pump_side(frame: bytes) -> bytes | None:
        with pump.counting():  # inside the count of everything, so the pump's calls are in both
            reply = daemon.receive(frame)
        with after.counting():  # as the server does once the reply has gone
            daemon.settle()
        return reply

    ptm = _session(root, "ptm", InProcessTransport(pump_side))
    assert ptm.request("interrogate_status").ok  # the block of counters is reserved: count the steady state
    figures: dict[str, float] = {}
    for name in ROUND_TRIP_COMMANDS:
        pump.calls = after.calls = 0
        with FsyncCount().counting() as everything:
            for _ in range(count):
                assert ptm.request(name).status in (ReplyStatus.OK, ReplyStatus.REFUSED)
        figures[f"secure_{name}_pump_syncs"] = pump.calls / count
        figures[f"secure_{name}_after_syncs"] = after.calls / count
        figures[f"secure_{name}_ptm_syncs"] = (everything.calls - pump.calls - after.calls) / count
        plain_calls = 0
        for _ in range(count):
            with FsyncCount().counting() as unsealed:
                plain.receive(encode_plain_request(Command(name, {}, os.urandom(16))))
            plain_calls += unsealed.calls
            daemon.settle()
        figures[f"plain_{name}_syncs"] = plain_calls / count
    return figures


# --------------------------------------------------------- refused frames


def _refused_frames(root: Path, daemon: PumpDaemon, count: int) -> list[tuple[str, bytes]]:
    """`count` frames the pump must refuse, the kinds taken in turn, all made before anything is counted.

    In turn, because the pump logs only so many refusals a day: whichever kind came first would take them all.
    """
    rng = random.Random(12)
    kinds = [REFUSED_KINDS[i % len(REFUSED_KINDS)] for i in range(count)]
    stranger = os.urandom(KEY_ID_BYTES)
    # Frames the pump has accepted once: every later copy is a replay.
    originals = _sealed_requests(root, "interrogate_status", REPLAYED_ORIGINALS)
    for frame in originals:
        assert _reply_type(daemon.receive(frame)) is FrameType.REPLY

    def make(kind: str, i: int) -> bytes:
        if kind == "garbage":
            return rng.randbytes(rng.randint(1, 256))
        if kind == "unknown_key":
            request = encode_plain_request(Command("interrogate_status", {}, os.urandom(16)))
            return encode_frame(seal(os.urandom(32), FrameType.REQUEST, stranger, i + 1, request))
        return originals[i % len(originals)]

    return [(kind, make(kind, i)) for i, kind in enumerate(kinds)]


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _memory_writes_of_refusals(root: Path, daemon: PumpDaemon, count: int) -> dict[str, float]:
    """Feed refused frames to the daemon one by one; count fsyncs, OS writes and daemon.log growth of each kind."""
    frames = _refused_frames(root, daemon, count)
    daemon_log = StateLayout(root).daemon_log
    names = ("frames", "frames_written", "fsyncs", "os_write_calls", "os_bytes", "log_bytes")
    sums: dict[str, dict[str, float]] = {kind: dict.fromkeys(names, 0) for kind in (*REFUSED_KINDS, "all")}
    kernel_counts = os_writes() is not None
    for kind, frame in frames:
        log_before, io_before = _file_size(daemon_log), os_writes()
        with FsyncCount().counting() as fsyncs:
            assert _reply_type(daemon.receive(frame)) is FrameType.REJECT
        io_after = os_writes()
        counts: dict[str, float] = {
            "frames": 1,
            "frames_written": int(fsyncs.calls > 0),
            "fsyncs": fsyncs.calls,
            "log_bytes": _file_size(daemon_log) - log_before,
        }
        if io_before is not None and io_after is not None:
            written = io_after - io_before
            counts.update(os_write_calls=written.calls, os_bytes=written.bytes)
        for name, value in counts.items():
            sums[kind][name] += value
            sums["all"][name] += value
    figures: dict[str, float] = {}
    for kind, values in sums.items():
        for name, value in values.items():
            absent = not kernel_counts and name.startswith("os_")
            figures[f"refused_{kind}_{name}"] = math.nan if absent else value
    return figures


# -------------------------------------------------------------- the run


def _medians(repetitions: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(rep[key] for rep in repetitions) for key in repetitions[0]}


def run() -> dict[str, float]:
    """Measure and return the figures: medians over REPETITIONS, and the counts of the refused frames."""
    figures: dict[str, float] = {}
    decisions: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="thecal-bench-") as tmp:
        root = Path(tmp) / "pump"
        daemon = _pumped(root)
        try:
            figures["log_entries"], figures["log_capacity"] = fill_event_log(daemon)
        finally:
            daemon.close()
        trips = _round_trips_from_another_process(root, REPETITIONS)
        daemon = PumpDaemon(root)
        try:
            plain_ptm = PlainDoor(daemon, Role.PTM)
            for _ in range(REPETITIONS):
                rates = _decisions_per_s(root, daemon, plain_ptm, DECISIONS)
                rates["firmware_decisions_per_s"] = _firmware_decisions_per_s(FIRMWARE_DECISIONS)
                decisions.append(rates)
            figures.update(_syncs_per_request(root, daemon, plain_ptm, SYNC_SAMPLES))
            figures.update(_medians(trips))
            figures.update(_medians(decisions))
            figures["log_entries_after"] = _log_entries_held(daemon)
            figures.update(_memory_writes_of_refusals(root, daemon, REFUSED_FRAMES))
        finally:
            daemon.close()
    for door in ("secure", "plain"):
        figures[f"firmware_over_{door}"] = figures["firmware_decisions_per_s"] / figures[f"{door}_decisions_per_s"]
    figures["aead_us_per_frame"] = _aead_us_per_frame(AEAD_FRAMES)
    return figures


def report() -> None:
    """Print the figures."""
    r = run()
    where = filesystem_of(Path(tempfile.gettempdir()))
    print("Telemetry: one pump daemon, the secure protocol against the same commands unsealed")
    print(
        f"  before measuring, the pump's event log was filled to {r['log_entries']:,.0f} of its"
        f" {r['log_capacity']:,.0f} entries (clock settings through dispatch); state on {where}"
    )
    print(f"  medians of {REPETITIONS} repetitions; the two doors taken in turn")
    print(
        f"  round trip over loopback TCP to the daemon in its own process, {ROUND_TRIPS:,} of each command per door"
        " per repetition:"
    )
    print(f"    {'command':<19} {'door':<7} {'p50 ms':>8} {'p99 ms':>8}")
    for name in ROUND_TRIP_COMMANDS:
        for door in ("secure", "plain"):
            p50, p99 = r[f"{door}_{name}_p50_ms"], r[f"{door}_{name}_p99_ms"]
            print(f"    {name:<19} {door:<7} {p50:8.2f} {p99:8.2f}")
        ratio = r[f"secure_{name}_p50_ms"] / r[f"plain_{name}_p50_ms"]
        print(f"    {name:<19} secure / plain at p50: {ratio:.2f}x")
    print(
        f"  fsync/fdatasync calls per request (mean of {SYNC_SAMPLES}) a round trip waits for, and the pump's"
        " counter raise after the reply:"
    )
    for name in ROUND_TRIP_COMMANDS:
        ptm, pump, after = (r[f"secure_{name}_{who}_syncs"] for who in ("ptm", "pump", "after"))
        print(
            f"    {name:<19} secure: PTM {ptm:.1f} + pump {pump:.1f}, after {after:.1f}"
            f"    plain: {r[f'plain_{name}_syncs']:.1f}"
        )
    print(f"  demand-bolus decisions, {DECISIONS:,} per door per repetition, in process (no TCP):")
    print(f"    {'':<38} {'per s':>9} {'firmware alone / this':>22}")
    for door, words in (("secure", "secure, durable before its answer"), ("plain", "plain, durable before its answer")):
        print(f"    {words:<38} {r[f'{door}_decisions_per_s']:9,.0f} {r[f'firmware_over_{door}']:21,.0f}x")
    print(f"    {'firmware alone, no I/O':<38} {r['firmware_decisions_per_s']:9,.0f}")
    print(
        f"  the PTM's own share of a secure request (seal it; counters saved once per 1,024 frames): "
        f"{r['ptm_request_ms']:.2f} ms"
    )
    print(f"  AEAD alone (ChaCha20-Poly1305 seal + open of one request frame): {r['aead_us_per_frame']:.1f} us")
    total = r["refused_all_frames"]
    print(f"  memory writes caused by {total:,.0f} refused frames fed to daemon.receive, the kinds in turn:")
    head = ("count", "written", "fsyncs", "write calls", "bytes written", "daemon.log B")
    print(f"    {'frames':<30} {head[0]:>6} {head[1]:>8} {head[2]:>7} {head[3]:>12} {head[4]:>14} {head[5]:>13}")
    for kind in (*REFUSED_KINDS, "all"):
        frames, written, fsyncs, calls, written_bytes, logged = (
            r[f"refused_{kind}_{name}"]
            for name in ("frames", "frames_written", "fsyncs", "os_write_calls", "os_bytes", "log_bytes")
        )
        print(
            f"    {REFUSED_KIND_NAMES[kind]:<30} {frames:6,.0f} {written:8,.0f} {fsyncs:7,.0f} {calls:12,.0f}"
            f" {written_bytes:14,.0f} {logged:13,.0f}"
        )
    print(
        "    (written: frames that caused any fsync; fsyncs: calls of os.fsync/os.fdatasync; write calls and bytes:"
        " the kernel's count for the process, daemon.log included)"
    )
