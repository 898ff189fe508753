"""Test helpers: a pump state directory, a daemon serving it on loopback TCP, and its devices."""

from __future__ import annotations

from dataclasses import dataclass, field

from thecal.devices.daemon import PumpDaemon, StateLayout
from thecal.pump.core.commands import Role
from thecal.telemetry.client import ClientSession
from thecal.telemetry.counters import CounterStore
from thecal.telemetry.device_files import DeviceFiles
from thecal.telemetry.keys import DeviceIdentity, Keystore, PeerRecord
from thecal.telemetry.transport import LoopbackServer, TcpTransport

START_WALL_MS = 1_700_000_000_000  # a Tuesday, 22:13 UTC

MORPHINE_FILL = {
    "volume_nl": 20_000_000,
    "contents": [{"drug": "morphine", "concentration_ng_per_ml": 10_000_000}],
}
# 0.1 mg of morphine a press, at most 4 a day, an hour apart: 10 uL at 10 mg/mL.
DEMAND_LIMITS = {"dose_ng": 100_000, "duration_ms": 300_000, "lockout_ms": 3_600_000, "max_per_24h": 4}


def continuous(dose_ng_per_day: int) -> dict[str, object]:
    """Arguments of program_therapy for one daily dose of the lead drug around the clock."""
    return {"days": [[{"start_ms": 0, "dose_ng_per_day": dose_ng_per_day}]] * 7}


class FakeTime:
    """Seconds of real time that move only when told."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


@dataclass
class RunningPump:
    """A daemon from a state directory, served on loopback TCP."""

    layout: StateLayout
    daemon: PumpDaemon
    server: LoopbackServer
    time: FakeTime
    extra_servers: list[LoopbackServer] = field(default_factory=list)

    @property
    def port(self) -> int:
        """The TCP port the pump answers on."""
        return self.server.port

    def stop(self) -> None:
        """Stop serving, as before a power cycle."""
        for server in (self.server, *self.extra_servers):
            server.close()
        self.daemon.close()

    def files(self, role: str) -> DeviceFiles:
        """The directory of a device made at init."""
        return DeviceFiles(self.layout.device(role), Role(role))

    def device(self, role: str) -> tuple[DeviceIdentity, Keystore, CounterStore]:
        """A device made at init, loaded from its files as a fresh process would."""
        return self.files(role).open()

    def pair(self, role: str) -> PeerRecord:
        """Open the window with a proximity step and pair the device of this role."""
        self.daemon.proximity_detected()
        return self.files(role).pair(TcpTransport(self.port), expected_pump_label="SN-0001")

    def session(self, role: str) -> ClientSession:
        """A client of an already paired device over TCP."""
        return self.files(role).session(TcpTransport(self.port))


def start(layout: StateLayout, accel: float = 1440.0, fake_time: FakeTime | None = None) -> RunningPump:
    """Start a daemon over the state directory on a free port."""
    fake_time = fake_time or FakeTime()
    daemon = PumpDaemon(layout.root, accel=accel, time_source=fake_time)
    server = daemon.server(0).start()
    return RunningPump(layout, daemon, server, fake_time)
