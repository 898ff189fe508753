"""A programmer's or PTM's own files: its certified identity and its telemetry records.

A device directory holds `identity.key` (the device's certified key pair)
and `telemetry/` (the pumps it is paired with, its replay counters). One
process opens a directory at a time; every record in it is written
atomically, so a device that loses power keeps its pairings and counters.
The counters are a device's (`CounterStore.for_device`): a session writes them
once per block of frames, not once per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from thecal.errors import InputError
from thecal.pump.core.commands import Role
from thecal.telemetry.client import DEFAULT_ATTEMPTS, ClientSession
from thecal.telemetry.counters import CounterStore
from thecal.telemetry.keys import DeviceIdentity, Keystore, PeerRecord
from thecal.telemetry.pairing import pair_with_pump
from thecal.telemetry.persistence import FileStore
from thecal.telemetry.transport import Transport


def device_identity_path(device_dir: Path) -> Path:
    """The identity key file in a device directory."""
    return device_dir / "identity.key"


def device_store_path(device_dir: Path) -> Path:
    """The telemetry records directory in a device directory."""
    return device_dir / "telemetry"


@dataclass(frozen=True)
class DeviceFiles:
    """One device directory, opened for a role the caller expects."""

    root: Path
    role: Role

    def open(self) -> tuple[DeviceIdentity, Keystore, CounterStore]:
        """The identity, keystore and counters; InputError when the directory holds no such device."""
        identity_file = device_identity_path(self.root)
        if not identity_file.exists():
            action = "use a device directory made by `thecal pump init`"
            raise InputError("device", str(self.root), "holds no device identity", action)
        identity = DeviceIdentity.load(identity_file)
        if identity.role is not self.role:
            raise InputError(
                "device",
                str(self.root),
                f"holds a {identity.role.value} identity, not a {self.role.value} one",
                f"use the {self.role.value} device's directory",
            )
        store = FileStore(device_store_path(self.root))
        return identity, Keystore(store), CounterStore.for_device(store)

    def pair(self, transport: Transport, expected_pump_label: str | None = None) -> PeerRecord:
        """Pair with the pump on the other end of `transport`, inside its pairing window."""
        identity, keystore, counters = self.open()
        return pair_with_pump(identity, transport, keystore, counters, expected_pump_label=expected_pump_label)

    def session(self, transport: Transport, attempts: int = DEFAULT_ATTEMPTS) -> ClientSession:
        """A telemetry session with the pump this device is paired with."""
        identity, keystore, counters = self.open()
        pumps = [peer for peer in keystore.peers() if peer.role is Role.PUMP]
        if not pumps:
            raise InputError("device", str(self.root), "is not paired with a pump", "run `thecal pump pair` first")
        return ClientSession(identity, pumps[0], counters, transport, attempts=attempts)
