"""Telemetry speed: command round trips over loopback TCP and demand-bolus decisions, secure against plain.

One pump daemon (firmware, virtual hardware and NVM files in a temporary
state directory) answers two doors in the same run:

- secure: the real protocol, `PumpEndpoint` behind `LoopbackServer`, with
  AEAD, authentication, replay counters and idempotency records, each
  written durably before the reply;
- plain: the same CBOR request handed straight to the same `dispatch`
  and answered in CBOR, with no sealing, no counters and no reply records.

Both doors execute the same firmware commands and save the same firmware
state, so the ratio between them is what the security layer costs. The
AEAD alone (seal and open of one request frame) and the building of one
state image are timed separately, to tell the cipher's share and the
firmware state's share from the cost of the durable writes.

Round-trip latency: interrogations and demand-bolus requests, one at a time
over one kept TCP connection per door. Decisions per second:
demand-bolus requests straight into the handler with no TCP, so the figure
is the pump's own rate; most are refused by the lockout, which is a decision
too. The firmware alone, without any I/O, is the ceiling.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from thecal.devices.daemon import PumpDaemon, init_state
from thecal.drugs import pump_formulary
from thecal.errors import ThecalError
from thecal.pump.core import (
    DemandLimits,
    Fill,
    Firmware,
    Program,
    RequestDemandBolus,
    SetClock,
    SetDemandLimits,
    TelemetrySession,
)
from thecal.pump.core.commands import Role
from thecal.pump.core.nvm import encode_image
from thecal.pump.core.schedule import DoseSchedule
from thecal.telemetry.client import DEFAULT_ATTEMPTS, ClientSession
from thecal.telemetry.commands import Command, validate
from thecal.telemetry.device_files import DeviceFiles
from thecal.telemetry.errors import LinkLost
from thecal.telemetry.frames import (
    FrameType,
    ReplyMessage,
    ReplyStatus,
    decode_frame,
    decode_reply,
    decode_request,
    encode_reply,
)
from thecal.telemetry.frames import encode_request as encode_plain_request
from thecal.telemetry.link import open_sealed, seal
from thecal.telemetry.transport import InProcessTransport, LoopbackServer, TcpTransport, Transport

ROUND_TRIPS = 200
DECISIONS = 200
IMAGE_ENCODES = 50
DECISION_BLOCK = 20
AEAD_FRAMES = 20_000
FILL = {"volume_nl": 20_000_000, "contents": [{"drug": "morphine", "concentration_ng_per_ml": 10_000_000}]}
CONTINUOUS = {"days": [[{"start_ms": 0, "dose_ng_per_day": 5_000_000}]] * 7}
DEMAND = {"dose_ng": 100_000, "duration_ms": 300_000, "lockout_ms": 3_600_000, "max_per_24h": 4}

Send = Callable[[str], None]


class PlainDoor:
    """The same commands, unsealed: CBOR in, the daemon's dispatch, CBOR out."""

    def __init__(self, daemon: PumpDaemon, role: Role):
        self._daemon = daemon
        self._role = role

    def receive(self, request: bytes) -> bytes:
        """Execute one plain request and return the plain reply."""
        command = decode_request(request)
        try:
            result = self._daemon.dispatch(self._role, command)
            reply = ReplyMessage(command.command_id, ReplyStatus.OK, result, None, "")
        except ThecalError as exc:  # a firmware refusal, a decision like any other
            reply = ReplyMessage(command.command_id, ReplyStatus.REFUSED, {}, None, str(exc))
        return encode_reply(reply)


def _plain_sender(transport: InProcessTransport | TcpTransport) -> Send:
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


def _session(root: Path, role: str, transport: Transport, attempts: int = DEFAULT_ATTEMPTS) -> ClientSession:
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


def _interleaved_latencies_ms(doors: dict[str, Send], name: str, count: int) -> dict[str, list[float]]:
    """Round trips of each door, taken in turn so that both see the same pump state and machine load."""
    out: dict[str, list[float]] = {door: [] for door in doors}
    for send in doors.values():
        send(name)  # warm-up: first connection, first file writes
    for _ in range(count):
        for door, send in doors.items():
            t0 = time.perf_counter()
            send(name)
            out[door].append((time.perf_counter() - t0) * 1000)
    return out


class _Capture:
    """Keeps each sealed frame and delivers none, so frames can be made before the clock starts."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, frame: bytes) -> bytes:
        self.sent.append(frame)
        raise LinkLost("kept for later")


def _interleaved_decisions_per_s(root: Path, daemon: PumpDaemon, plain: PlainDoor, count: int) -> dict[str, float]:
    """The pump's own rate: frames are sealed beforehand, so only the pump's work is timed."""
    capture = _Capture()
    ptm = _session(root, "ptm", capture, attempts=1)
    for _ in range(count):
        ptm.request("demand_bolus")
    sealed = capture.sent
    unsealed = [encode_plain_request(Command("demand_bolus", {}, os.urandom(16))) for _ in range(count)]
    seconds = {"secure": 0.0, "plain": 0.0}
    for i in range(0, count, DECISION_BLOCK):
        t0 = time.perf_counter()
        for frame in sealed[i : i + DECISION_BLOCK]:
            assert decode_frame(daemon.receive(frame)).type is FrameType.REPLY
        t1 = time.perf_counter()
        for request in unsealed[i : i + DECISION_BLOCK]:
            plain.receive(request)
        seconds["secure"] += t1 - t0
        seconds["plain"] += time.perf_counter() - t1
    return {door: count / s for door, s in seconds.items()}


def _percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def _firmware_decisions_per_second(count: int) -> float:
    from thecal.pump.model import load_model

    fw = Firmware(load_model("programmable-20"), pump_formulary())
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
        open_sealed(key, seal(key, FrameType.REQUEST, b"\x00" * 8, counter, plaintext))
    return (time.perf_counter() - t0) / count * 1e6


def _fill_event_log(daemon: PumpDaemon) -> None:
    """A pump in service has a full event log, so every saved state is as large as it gets."""
    firmware = daemon.pump.firmware
    while len(firmware.state.log) < firmware.state.log.capacity:
        # Setting the clock to the time it shows changes nothing but is always logged.
        assert firmware.handle(SetClock(firmware.state.wall_ms)).accepted
    daemon.pump.command(TelemetrySession())  # saved, as after any command


def _image_encode_ms(daemon: PumpDaemon, count: int) -> float:
    """Building the checked state image alone, without writing it: the share of a save that is not I/O."""
    state = daemon.pump.firmware.state
    t0 = time.perf_counter()
    for seq in range(count):
        encode_image(state, seq)
    return (time.perf_counter() - t0) / count * 1000


def run() -> dict[str, float]:
    """Measure and return the figures."""
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="thecal-bench-") as tmp:
        root = Path(tmp) / "pump"
        daemon = _pumped(root)
        _fill_event_log(daemon)
        plain_ptm = PlainDoor(daemon, Role.PTM)
        with LoopbackServer(daemon.receive) as secure_server, LoopbackServer(plain_ptm.receive) as plain_server:
            doors = {
                "secure": _secure_sender(_session(root, "ptm", TcpTransport(secure_server.port))),
                "plain": _plain_sender(TcpTransport(plain_server.port)),
            }
            for name in ("interrogate_status", "demand_bolus"):
                for door, latencies in _interleaved_latencies_ms(doors, name, ROUND_TRIPS).items():
                    figures[f"{door}_{name}_p50_ms"] = _percentile(latencies, 50)
                    figures[f"{door}_{name}_p99_ms"] = _percentile(latencies, 99)
        for door, rate in _interleaved_decisions_per_s(root, daemon, plain_ptm, DECISIONS).items():
            figures[f"{door}_decisions_per_s"] = rate
        figures["image_encode_ms"] = _image_encode_ms(daemon, IMAGE_ENCODES)
    figures["firmware_decisions_per_s"] = _firmware_decisions_per_second(DECISIONS * 50)
    figures["aead_us_per_frame"] = _aead_us_per_frame(AEAD_FRAMES)
    return figures


def report() -> None:
    """Print the figures."""
    r = run()
    print("Telemetry: one pump daemon on loopback TCP, secure protocol against the same commands unsealed")
    print(f"  round trip, {ROUND_TRIPS} each, one at a time:                  p50 ms    p99 ms")
    for name in ("interrogate_status", "demand_bolus"):
        for door in ("secure", "plain"):
            p50, p99 = r[f"{door}_{name}_p50_ms"], r[f"{door}_{name}_p99_ms"]
            print(f"    {name:<19} {door:<7}                          {p50:7.2f}   {p99:7.2f}")
        ratio = r[f"secure_{name}_p50_ms"] / r[f"plain_{name}_p50_ms"]
        print(f"    {name:<19} secure / plain at p50: {ratio:.1f}x")
    secure, plain = r["secure_decisions_per_s"], r["plain_decisions_per_s"]
    print(f"  demand-bolus decisions by the pump, {DECISIONS} in process (no TCP), each durable before its answer:")
    print(f"    secure {secure:,.0f}/s   plain {plain:,.0f}/s   plain / secure: {plain / secure:.1f}x")
    firmware = r["firmware_decisions_per_s"]
    print(f"    firmware alone, no I/O: {firmware:,.0f}/s ({firmware / secure:,.0f}x the secure daemon)")
    print(f"  building one state image with a full event log, no I/O (two per command): {r['image_encode_ms']:.1f} ms")
    print(f"  AEAD alone (ChaCha20-Poly1305 seal + open of one request frame): {r['aead_us_per_frame']:.1f} us")
