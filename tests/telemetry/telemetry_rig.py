"""Test helpers: a pump endpoint with a fake dispatcher, paired devices, a clock, eavesdroppers."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

from thecal.pump.core.commands import Role
from thecal.telemetry.client import ClientSession
from thecal.telemetry.commands import Command
from thecal.telemetry.counters import DEVICE_BLOCK, CounterStore
from thecal.telemetry.endpoint import PumpEndpoint, SecurityEvent
from thecal.telemetry.errors import LinkLost, RejectCode, Rejection
from thecal.telemetry.frames import FrameType, RejectMessage, decode_frame
from thecal.telemetry.keys import Authority, DeviceIdentity, Keystore, PeerRecord
from thecal.telemetry.pairing import pair_with_pump
from thecal.telemetry.persistence import FileStore, MemoryStore, Persistence
from thecal.telemetry.rejects import read_reject
from thecal.telemetry.replies import ReplyCache
from thecal.telemetry.transport import InProcessTransport, Transport

FULL_STATUS: dict[str, object] = {
    "wall_ms": 1_700_000_000_000,
    "mode": "running",
    "alarms": ["low_reservoir"],
    "demand": {"dose_ng": 100_000, "duration_ms": 300_000, "lockout_ms": 3_600_000, "max_per_24h": 4},
    "demand_next_allowed_wall_ms": 1_700_000_600_000,
    "demand_left_24h": 3,
    "demand_not_now": {"code": "locked_out", "until_wall_ms": 1_700_000_600_000},
    "log_next_seq": 42,
    "reservoir_nl": 4_200_000,
    "label": [{"drug": "morphine", "concentration_ng_per_ml": 10_000_000}],
    "prescription": [[[0, 5_000_000]]] * 7,
}


@dataclass
class FakePump:
    """Records every command it is asked to execute and answers with a counter."""

    calls: list[tuple[str, Command]] = field(default_factory=list)
    fail_with: Exception | None = None

    def __call__(self, role: str, command: Command) -> dict[str, object]:
        self.calls.append((role, command))
        if self.fail_with is not None:
            raise self.fail_with
        if command.name == "interrogate_status":
            return dict(FULL_STATUS)
        return {"executed": command.name, "execution": len(self.calls)}

    def names(self) -> list[str]:
        """Names of the executed commands, in order."""
        return [command.name for _, command in self.calls]


@dataclass
class Clock:
    """Monotonic milliseconds that move only when told."""

    now_ms: int = 0

    def __call__(self) -> int:
        return self.now_ms


@dataclass
class Device:
    """A programmer or PTM: its identity, its own persistent state, and the counters its running process holds."""

    identity: DeviceIdentity
    store: Persistence = field(default_factory=MemoryStore)
    block: int = DEVICE_BLOCK
    _counters: CounterStore | None = None

    @property
    def keystore(self) -> Keystore:
        """The device's keystore, as loaded from its store now."""
        return Keystore(self.store)

    @property
    def counters(self) -> CounterStore:
        """The device's counters: one object while the device runs, as a process keeps one per store."""
        if self._counters is None:
            self._counters = CounterStore.for_device(self.store, block=self.block)
        return self._counters

    def restart(self) -> None:
        """Switch the device off and on: what it held in memory is saved, then loaded again."""
        if self._counters is not None:
            self._counters.flush()
        self._counters = None

    def crash(self) -> None:
        """The device loses power: its store keeps only what was written, and its counters load again from it."""
        # A copy of what was written, so that nothing the lost process still holds can reach it.
        if isinstance(self.store, MemoryStore):
            left = MemoryStore()
            left.records, left.lists = dict(self.store.records), {k: list(v) for k, v in self.store.lists.items()}
            self.store = left
        elif isinstance(self.store, FileStore):
            directory = self.store.directory
            copy = directory.with_name(f"{directory.name}-after-crash")
            while copy.exists():
                copy = copy.with_name(f"{copy.name}-again")
            shutil.copytree(directory, copy)
            self.store = FileStore(copy)
        else:
            raise TypeError(f"cannot copy a {type(self.store).__name__}")
        self._counters = None


class Rig:
    """One pump endpoint, its persistent store, the fake pump behind it, and what it reported."""

    def __init__(
        self, store: Persistence | None = None, authority: Authority | None = None, label: str = "SN-0001"
    ) -> None:
        self.authority = authority or Authority.generate()
        self.pump_identity = DeviceIdentity.create(self.authority, Role.PUMP, label)
        self.store: Persistence = store if store is not None else MemoryStore()
        self.pump = FakePump()
        self.rejections: list[Rejection] = []
        self.events: list[SecurityEvent] = []
        self.memory_behind: list[str] = []
        self.clock = Clock()
        self.endpoint = self.reboot()

    def reboot(self, replies: ReplyCache | None = None) -> PumpEndpoint:
        """A new endpoint over the same persistent store, as after a power cycle."""
        self.endpoint = PumpEndpoint(
            self.pump_identity,
            Keystore(self.store),
            CounterStore(self.store),
            self.pump,
            self.rejections.append,
            clock=self.clock,
            on_security_event=self.events.append,
            on_memory_behind=self.memory_behind.append,
            replies=replies,
        )
        return self.endpoint

    def transport(self) -> Transport:
        """A transport that reaches whatever endpoint is current."""
        return InProcessTransport(lambda frame: self.endpoint.receive(frame))

    def device(self, role: Role, label: str, store: Persistence | None = None) -> Device:
        """A new device certified by this rig's authority."""
        return Device(DeviceIdentity.create(self.authority, role, label), store or MemoryStore())

    def pair(self, device: Device, transport: Transport | None = None) -> PeerRecord:
        """Open the window with a proximity step and pair the device."""
        self.endpoint.proximity_detected()
        return pair_with_pump(device.identity, transport or self.transport(), device.keystore, device.counters)

    def session(self, device: Device, transport: Transport | None = None, attempts: int = 4) -> ClientSession:
        """A telemetry session of an already paired device."""
        pump = device.keystore.get(self.pump_identity.key_id)
        assert pump is not None, "pair the device first"
        return ClientSession(device.identity, pump, device.counters, transport or self.transport(), attempts=attempts)

    def codes(self) -> list[RejectCode]:
        """The codes of every rejection the endpoint reported."""
        return [rejection.code for rejection in self.rejections]


SAMPLE_ARGS: dict[str, dict[str, object]] = {
    "interrogate_status": {},
    "read_event_log": {"from_seq": 0, "max_entries": 10},
    "program_therapy": {
        "days": [
            [{"start_ms": 0, "dose_ng_per_day": 5_000_000}, {"start_ms": 28_800_000, "dose_ng_per_day": 7_000_000}]
        ]
        * 7
    },
    "therapy_stop": {},
    "therapy_resume": {},
    "refill_update": {
        "volume_nl": 20_000_000,
        "contents": [{"drug": "morphine", "concentration_ng_per_ml": 10_000_000}],
        "aspirated_nl": 2_100_000,
        "bridge": True,
    },
    "catheter_set": {"volume_nl": 99_000},
    "low_reservoir_alarm_set": {"threshold_nl": 2_000_000},
    "clinician_bolus": {"dose_ng": 500_000, "duration_ms": 600_000},
    "priming_bolus": {"volume_nl": 200_000, "duration_ms": 1_800_000},
    "bolus_cancel": {},
    "periodic_bolus_set": {
        "dose_ng": 200_000,
        "duration_ms": 600_000,
        "interval_ms": 21_600_000,
        "first_wall_ms": 1_700_000_000_000,
    },
    "periodic_bolus_stop": {},
    "alarm_clear": {"alarm": "motor_stall"},
    "alarm_tone_test": {},
    "ptm_settings": {"dose_ng": 100_000, "duration_ms": 300_000, "lockout_ms": 3_600_000, "max_per_24h": 4},
    "ptm_off": {},
    "demand_bolus": {},
    "clock_set": {"wall_ms": 1_700_000_000_000},
    "revoke_key": {"key_id": "00112233aabbccdd"},
    "list_keys": {},
}


class Recorder:
    """Passes frames on and keeps a copy of each frame and reply, as an eavesdropper would."""

    def __init__(self, inner: Transport):
        self._inner = inner
        self.sent: list[bytes] = []
        self.replies: list[bytes] = []

    def send(self, frame: bytes) -> bytes:
        self.sent.append(frame)
        reply = self._inner.send(frame)
        self.replies.append(reply)
        return reply


class Snapshot:
    """A copy of everything in an in-memory store, to put back later as an old copy would be."""

    def __init__(self, store: Persistence) -> None:
        assert isinstance(store, MemoryStore)
        self.records = dict(store.records)
        self.lists = {name: list(entries) for name, entries in store.lists.items()}

    def restore(self, store: Persistence) -> None:
        """Replace the store's content with this copy."""
        assert isinstance(store, MemoryStore)
        store.records = dict(self.records)
        store.lists = {name: list(entries) for name, entries in self.lists.items()}


class Capture:
    """Keeps every frame and delivers none: a way to obtain valid frames the pump has not seen."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, frame: bytes) -> bytes:
        self.sent.append(frame)
        raise LinkLost("captured, not delivered")


def unsent_frame(rig: Rig, device: Device, name: str = "clinician_bolus") -> bytes:
    """A valid request frame from a paired device that the pump has not received."""
    capture = Capture()
    rig.session(device, capture, attempts=1).request(name, **SAMPLE_ARGS[name])
    return capture.sent[0]


def rejection_of(rig: Rig, reply: bytes, refused: bytes) -> RejectMessage:
    """The signed rejection in a reply frame, checked against the pump's key; fails the test otherwise."""
    frame = decode_frame(reply)
    assert frame.type is FrameType.REJECT, f"expected a rejection, got {frame.type.name}"
    message, verified = read_reject(frame, refused, rig.pump_identity.public_key)
    assert verified
    return message
