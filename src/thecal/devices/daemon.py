"""The pump daemon: a virtual pump with its memory on disk, reachable only through telemetry.

Theory of operation. A state directory holds everything one implanted pump
remembers: its certified key, the firmware state in two slot files
(`nvm/`), the telemetry records (`telemetry/`: paired keys, counters,
remembered replies) and a line-per-event file of telemetry refusals and
pairings with their full reasons (`daemon.log`). `PumpDaemon` joins a
`VirtualPump` to a `PumpEndpoint`: every frame goes through the endpoint, and
only commands that pass all of its checks reach `dispatch`, which turns the
telemetry command into a firmware command with the one mapping
(`thecal.telemetry.pump_commands`). The pump holds the formulary of the drug
library (`thecal.drugs.pump_formulary`), so it refuses what passes a drug's
hard limit whoever sent it. An interrogation is the firmware's own status,
the demand window included. Before each command the pump runs
up to the present pump time, then a `TelemetrySession` is charged to the
battery and the state is saved, so every answer, reads included, describes
state that is already on disk (principle 6). A write is acknowledged only
after `VirtualPump.command` saved the firmware state and the endpoint saved
the reply; a crash in between leaves the command id pending, and a retry is
answered "unknown" instead of being executed again (principle 5). Refused
frames, pairings and revocations go into the pump's own event log too
(`TelemetryRejected`, `PeerChanged`), without touching therapy.

Pump time runs from where the saved state left off, at `accel` times real
time: the pump is not running while the daemon is stopped, as a pump without
power would not be. See docs/daemon.md.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from thecal.devices.nvm_file import FileMedium
from thecal.drugs import pump_formulary
from thecal.errors import InputError
from thecal.pump.core import Fill, Logged, Outcome, PeerChanged, TelemetryRejected, TelemetrySession
from thecal.pump.core.commands import Role, SetCatheter
from thecal.pump.device import VirtualPump
from thecal.pump.hardware.fluid import solution
from thecal.pump.model import load_model
from thecal.telemetry.commands import Command
from thecal.telemetry.counters import CounterStore
from thecal.telemetry.device_files import device_identity_path
from thecal.telemetry.endpoint import PumpEndpoint, SecurityEvent
from thecal.telemetry.errors import Rejection
from thecal.telemetry.keys import Authority, DeviceIdentity, Keystore
from thecal.telemetry.pairing import PAIRING_WINDOW_MS, monotonic_ms
from thecal.telemetry.persistence import FileStore
from thecal.telemetry.pump_commands import PumpRefused, from_telemetry
from thecal.telemetry.replies import ReplyCache
from thecal.telemetry.transport import LoopbackServer, LossModel, LossyHandler

DEFAULT_MODEL = "programmable-20"
DEFAULT_LABEL = "SN-0001"
DEFAULT_CATHETER_VOLUME_NL = 99_000  # 45 cm at 2.2 uL/cm, the scenario default
DEVICE_ROLES = (Role.CLINICIAN, Role.PTM)


@dataclass(frozen=True)
class StateLayout:
    """Where a pump's state directory keeps each of its parts."""

    root: Path

    @property
    def config(self) -> Path:
        """The pump's model, catheter and seed."""
        return self.root / "pump.json"

    @property
    def pump_key(self) -> Path:
        """The pump's certified identity."""
        return self.root / "pump.key"

    @property
    def authority_key(self) -> Path:
        """The enrolment authority (kept here only because this is a virtual installation)."""
        return self.root / "authority.key"

    @property
    def nvm(self) -> Path:
        """The firmware's two memory slots."""
        return self.root / "nvm"

    @property
    def telemetry(self) -> Path:
        """Paired keys, counters and remembered replies."""
        return self.root / "telemetry"

    @property
    def daemon_log(self) -> Path:
        """Telemetry refusals and pairings, one JSON object per line."""
        return self.root / "daemon.log"

    def device(self, role: str) -> Path:
        """The directory of the programmer (clinician) or PTM made at init."""
        return self.root / "devices" / role


def init_state(
    root: Path | str,
    *,
    model: str = DEFAULT_MODEL,
    label: str = DEFAULT_LABEL,
    catheter_volume_nl: int = DEFAULT_CATHETER_VOLUME_NL,
    wall_ms: int | None = None,
    seed: int = 0,
) -> StateLayout:
    """Create a pump state directory: authority, pump identity, a clinician and a PTM identity, first state.

    The pump is told the implanted catheter's volume, so it knows its dead volume from the first command.
    """
    layout = StateLayout(Path(root))
    if layout.config.exists():
        raise InputError("--state", str(root), "already holds a pump", "choose an empty directory")
    pump_model = load_model(model)  # an unknown model is refused before anything is written
    layout.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    authority = Authority.generate()
    authority.save(layout.authority_key)
    DeviceIdentity.create(authority, Role.PUMP, label).save(layout.pump_key)
    for role in DEVICE_ROLES:
        device = layout.device(role.value)
        device.mkdir(mode=0o700, parents=True, exist_ok=True)
        DeviceIdentity.create(authority, role, f"{role.value}-1").save(device_identity_path(device))
    start_wall = local_wall_ms() if wall_ms is None else wall_ms
    pump = VirtualPump(
        pump_model,
        formulary=pump_formulary(),
        catheter_volume_nl=catheter_volume_nl,
        seed=seed,
        wall_ms=start_wall,
        medium=FileMedium(layout.nvm),
    )
    # Saved with the command: the power-on entry, the wall clock and the catheter survive the first restart.
    _result(pump.command(SetCatheter(catheter_volume_nl)), pump.now_ms)
    config = {"model": model, "catheter_volume_nl": catheter_volume_nl, "seed": seed}
    layout.config.write_text(json.dumps(config, indent=1) + "\n")
    return layout


def local_wall_ms() -> int:
    """Now on the clinic's wall clock: milliseconds since the epoch read as local time, as the pump keeps it."""
    now = datetime.now().astimezone()
    offset = now.utcoffset() or timedelta(0)
    return int((now.timestamp() + offset.total_seconds()) * 1000)


class PumpClock:
    """Pump time in ms: it starts at `start_ms` and runs `accel` times as fast as real time."""

    def __init__(self, start_ms: int, accel: float, source: Callable[[], float] = time.monotonic):
        if not accel > 0:
            raise InputError("--accel", accel, "must be above zero", "give a factor such as 1 or 1440")
        self._start_ms = start_ms
        self._accel = accel
        self._source = source
        self._anchor = source()

    def now_ms(self) -> int:
        """The pump time now."""
        return self._start_ms + int((self._source() - self._anchor) * self._accel * 1000)


class PumpDaemon:
    """One pump from a state directory, answering telemetry frames."""

    def __init__(
        self,
        root: Path | str,
        *,
        accel: float = 1.0,
        time_source: Callable[[], float] = time.monotonic,
        endpoint_clock: Callable[[], int] = monotonic_ms,
        pairing_window_ms: int = PAIRING_WINDOW_MS,
    ):
        self.layout = StateLayout(Path(root))
        if not self.layout.config.exists():
            raise InputError("--state", str(root), "holds no pump", "create one with `thecal pump init --state DIR`")
        config = json.loads(self.layout.config.read_text())
        self.model = load_model(str(config["model"]))
        self.pump = VirtualPump(
            self.model,
            formulary=pump_formulary(),
            catheter_volume_nl=int(config["catheter_volume_nl"]),
            seed=int(config["seed"]),
            medium=FileMedium(self.layout.nvm),
        )
        # The hardware's reservoir is not in the saved state; the calculated one, of what the label says, is the
        # best estimate of it.
        status = self.pump.firmware.status()
        label = status["label"]
        reservoir_nl = status["reservoir_nl"]
        if isinstance(label, list) and label and isinstance(reservoir_nl, int):
            contents = tuple((str(e["drug"]), int(e["concentration_ng_per_ml"])) for e in label)
            self.pump.reservoir = solution(reservoir_nl, contents)
        self.clock = PumpClock(self.pump.now_ms, accel, time_source)
        self._lock = threading.Lock()
        store = FileStore(self.layout.telemetry)
        counters = CounterStore(store)
        self.endpoint = PumpEndpoint(
            DeviceIdentity.load(self.layout.pump_key),
            Keystore(store),
            counters,
            self.dispatch,
            self._on_reject,
            replies=ReplyCache(store),
            clock=endpoint_clock,
            pairing_window_ms=pairing_window_ms,
            on_security_event=self._on_security_event,
        )

    # ------------------------------------------------------------ telemetry

    def receive(self, frame: bytes) -> bytes:
        """Handle one telemetry frame and return the reply frame."""
        with self._lock:
            return self.endpoint.receive(frame)

    def proximity_detected(self) -> None:
        """The magnet or telemetry head is over the pump: open the pairing window."""
        with self._lock:
            self.endpoint.proximity_detected()

    def server(self, port: int = 0, loss: LossModel | None = None, seed: int = 0) -> LoopbackServer:
        """A loopback TCP server for this pump (not yet started), losing frames as `loss` decides."""
        if loss is None:
            return LoopbackServer(self.receive, port)
        return LoopbackServer(LossyHandler(self.receive, loss, seed), port)

    def _on_reject(self, rejection: Rejection) -> None:
        # Called by the endpoint inside `receive`, under the lock. The pump's event log keeps the code and who
        # claimed to send it; the daemon's log adds the full reason, which the pump's memory has no room for.
        self._record_on_pump(
            TelemetryRejected(
                rejection.code.value, rejection.key_id or "", rejection.role or "", rejection.command or ""
            )
        )
        self._append_log(
            {
                "event": "rejected",
                "code": rejection.code.value,
                "reason": rejection.reason,
                "key_id": rejection.key_id,
                "role": rejection.role,
                "command": rejection.command,
            }
        )

    def _on_security_event(self, event: SecurityEvent) -> None:
        self._record_on_pump(PeerChanged(event.kind, event.key_id, event.role or "", event.by_key_id or ""))
        self._append_log(
            {
                "event": event.kind,
                "key_id": event.key_id,
                "role": event.role,
                "label": event.label,
                "by": event.by_key_id,
            }
        )

    def _record_on_pump(self, command: TelemetryRejected | PeerChanged) -> None:
        """Log a telemetry event on the pump at the present pump time; therapy is not touched."""
        self.pump.advance(max(self.clock.now_ms(), self.pump.now_ms))
        self.pump.command(command)

    def _append_log(self, record: dict[str, object]) -> None:
        pump_ms = max(self.clock.now_ms(), self.pump.now_ms)
        line = json.dumps({"real_ms": int(time.time() * 1000), "pump_ms": pump_ms, **record}, sort_keys=True)
        with self.layout.daemon_log.open("a") as stream:
            stream.write(line + "\n")

    # ------------------------------------------------------------- dispatch

    def dispatch(self, role: Role, command: Command) -> dict[str, object]:
        """Execute a telemetry command on the pump; raise PumpRefused when the firmware refuses it."""
        self.pump.advance(max(self.clock.now_ms(), self.pump.now_ms))
        # Charging the exchange also saves the state, so a read never reports what a restart could undo.
        self.pump.command(TelemetrySession())
        name, args = command.name, command.args
        if name == "interrogate_status":
            return self.status()
        if name == "read_event_log":
            return self.event_log(_int(args, "from_seq"), _int(args, "max_entries"))
        firmware_command = from_telemetry(name, args, role)
        if isinstance(firmware_command, Fill):
            _, outcome = self.pump.refill(firmware_command)
        else:
            outcome = self.pump.command(firmware_command)
        return _result(outcome, self.pump.now_ms)

    def status(self) -> dict[str, object]:
        """The interrogation answer: the firmware's status, with the battery as an integer."""
        firmware = self.pump.firmware
        result = firmware.status()
        # The telemetry encoding carries no floats, so the battery goes as parts per million.
        result.pop("battery_used_fraction", None)
        result["battery_used_ppm"] = firmware.state.battery_used_pc * 1_000_000 // self.model.battery_capacity_pc
        return result

    def event_log(self, from_seq: int, max_entries: int) -> dict[str, object]:
        """Up to `max_entries` event-log entries from sequence number `from_seq` on."""
        log = self.pump.firmware.state.log
        entries = [
            {"seq": e.seq, "at_ms": e.at_ms, "kind": e.kind, "detail": dict(e.detail), "hash": e.hash.hex()}
            for e in log.since(from_seq)[:max_entries]
        ]
        return {"entries": entries, "next_seq": log.next_seq, "dropped": log.dropped}


def _int(args: dict[str, object], key: str) -> int:
    value = args[key]
    if type(value) is not int:  # the command table lets only integers through; anything else is a fault here
        raise TypeError(f"{key} must be an integer after the command table, got {type(value).__name__}")
    return value


def _result(outcome: Outcome, now_ms: int) -> dict[str, object]:
    """The reply result of an accepted command; PumpRefused for a refused one."""
    if not outcome.accepted:
        if outcome.refusal is None:
            raise RuntimeError("the firmware refused a command without saying why")
        raise PumpRefused(outcome.refusal)
    logged = [action.entry.seq for action in outcome.actions if isinstance(action, Logged)]
    return {**outcome.info, "now_ms": now_ms, "log_seqs": logged}
