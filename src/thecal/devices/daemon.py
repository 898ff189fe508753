"""The pump daemon: a virtual pump with its memory on disk, reachable only through telemetry.

Theory of operation. A state directory holds everything one implanted pump
has: its certified key (`pump.key`), a copy of its configuration
(`pump.json`), its non-volatile memory (`nvm/`: the journal of
`thecal.pump.core.journal` with its monotonic counter) and a line-per-event
file of telemetry refusals and pairings with their full reasons
(`daemon.log`). The memory holds the firmware state (a small record per
command and the event log as entries, `thecal.pump.core.nvm`) and the
telemetry records (paired keys and revocations, counters, remembered replies,
`JournalRecords`), all under one keyed, numbered journal.

`PumpDaemon` joins a `VirtualPump` to a `PumpEndpoint`: every frame goes
through the endpoint, and only commands that pass all of its checks reach
`dispatch`, which turns the telemetry command into a firmware command with the
one mapping (`thecal.telemetry.pump_commands`). The pump holds the formulary of
the drug library (`thecal.drugs.pump_formulary`), so it refuses what passes a
drug's hard limit whoever sent it. Before each command the pump runs up to the
present pump time and charges the exchange to the battery.

**One write per frame.** While a frame is handled the journal is held: the
counter it moves, the reply it leaves, the state record and the new log
entries are staged, and committed as one record before the reply leaves. So
every answer, reads included, describes state that is already in memory, and a
crash before the commit leaves nothing of the frame behind (a retry runs it
for the first time). A frame refused before its sender was authenticated costs
no write of its own: its count waits in memory for the next commit, unless
the pump's refusal budget logs it (`REJECTIONS_LOGGED_PER_DAY`), and only a
logged refusal reaches `daemon.log`.

**Faults, never a silent reset.** A memory that is missing, damaged, forged,
older than its counter, or older than what a paired device has already seen
from the pump, puts the daemon in fault: it runs no therapy and answers every
frame with a signed refusal that says what was found and how a clinician
recovers the pump (`recover_pump`). Only `init_state` creates a memory. One
process serves a state directory at a time (an exclusive lock).

Pump time runs from where the saved state left off, at `accel` times real
time: the pump is not running while the daemon is stopped, as a pump without
power would not be. See docs/daemon.md.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from thecal.devices.memory import CONFIG_RECORD, JournalRecords, memory_key
from thecal.devices.nvm_file import FileMedium
from thecal.devices.state_dir import (
    DirectoryLock,
    StateLayout,
    append_private,
    config_text,
    make_private_dir,
    read_config,
    write_private,
)
from thecal.drugs import pump_formulary
from thecal.errors import InputError
from thecal.pump.core import Fill, Logged, Outcome, PeerChanged, TelemetryRejected, TelemetrySession
from thecal.pump.core.commands import Role, SetCatheter
from thecal.pump.core.journal import BlankMemory, Journal, MemoryBehind, MemoryFault
from thecal.pump.core.nvm import STATE_RECORD, PumpMemory
from thecal.pump.device import VirtualPump
from thecal.pump.hardware.fluid import solution
from thecal.pump.model import load_model
from thecal.telemetry.commands import Command
from thecal.telemetry.counters import CounterStore
from thecal.telemetry.device_files import device_identity_path
from thecal.telemetry.endpoint import PumpEndpoint, SecurityEvent
from thecal.telemetry.errors import LinkLost, RejectCode, Rejection
from thecal.telemetry.keys import Authority, DeviceIdentity, Keystore
from thecal.telemetry.pairing import PAIRING_WINDOW_MS, monotonic_ms
from thecal.telemetry.pump_commands import PumpRefused, from_telemetry
from thecal.telemetry.rejects import reject_frame
from thecal.telemetry.replies import ReplyCache
from thecal.telemetry.transport import LoopbackServer, LossModel, LossyHandler

__all__ = ["DaemonTransport", "HandClock", "PumpClock", "PumpDaemon", "StateLayout", "init_state", "local_wall_ms"]

DEFAULT_MODEL = "programmable-20"
DEFAULT_LABEL = "SN-0001"
DEFAULT_CATHETER_VOLUME_NL = 99_000  # 45 cm at 2.2 uL/cm, the scenario default
DEVICE_ROLES = (Role.CLINICIAN, Role.PTM)
MIN_ACCEL = 0.001
MAX_ACCEL = 86_400.0  # one pump day per real second: beyond it a frame's own latency is hours of pump time


def init_state(
    root: Path | str,
    *,
    model: str = DEFAULT_MODEL,
    label: str = DEFAULT_LABEL,
    catheter_volume_nl: int = DEFAULT_CATHETER_VOLUME_NL,
    wall_ms: int | None = None,
    seed: int = 0,
) -> StateLayout:
    """Create a pump state directory: authority, pump identity, a clinician and a PTM identity, a new memory.

    The pump is told the implanted catheter's volume, so it knows its dead volume from the first command.
    This is the only way a pump memory is ever started.
    """
    layout = StateLayout(Path(root))
    if layout.config.exists() or layout.nvm.exists() or layout.pump_key.exists():
        raise InputError("--state", str(root), "already holds a pump", "choose an empty directory")
    pump_model = load_model(model)  # an unknown model is refused before anything is written
    make_private_dir(layout.root)
    authority = Authority.generate()
    authority.save(layout.authority_key)
    identity = DeviceIdentity.create(authority, Role.PUMP, label)
    identity.save(layout.pump_key)
    for role in DEVICE_ROLES:
        device = layout.device(role.value)
        make_private_dir(device.parent)
        make_private_dir(device)
        DeviceIdentity.create(authority, role, f"{role.value}-1").save(device_identity_path(device))
    config = {"model": model, "catheter_volume_nl": catheter_volume_nl, "seed": seed}
    make_private_dir(layout.nvm)
    medium = FileMedium(layout.nvm)
    journal = Journal.create(medium, memory_key(identity))
    journal.put(CONFIG_RECORD, config_text(config).encode())
    start_wall = local_wall_ms() if wall_ms is None else wall_ms
    pump = VirtualPump(
        pump_model,
        formulary=pump_formulary(),
        catheter_volume_nl=catheter_volume_nl,
        seed=seed,
        wall_ms=start_wall,
        memory=PumpMemory(journal),
    )
    # Committed with the command: the configuration, the power-on entry, the wall clock and the catheter.
    _result(pump.command(SetCatheter(catheter_volume_nl)), pump.now_ms)
    medium.close()
    write_private(layout.config, config_text(config))
    return layout


def local_wall_ms() -> int:
    """Now on the clinic's wall clock: milliseconds since the epoch read as local time, as the pump keeps it."""
    now = datetime.now().astimezone()
    offset = now.utcoffset() or timedelta(0)
    return int((now.timestamp() + offset.total_seconds()) * 1000)


def check_accel(accel: float) -> None:
    """Refuse a pump-time factor that is not finite or out of range, before anything is opened."""
    if not (math.isfinite(accel) and MIN_ACCEL <= accel <= MAX_ACCEL):
        raise InputError(
            "--accel",
            accel,
            f"must be a finite factor from {MIN_ACCEL:g} to {MAX_ACCEL:g} (one pump day per real second)",
            "give a factor such as 1 (real time) or 1440 (a pump day a minute)",
        )


class PumpClock:
    """Pump time in ms: it starts at `start_ms` and runs `accel` times as fast as real time."""

    def __init__(self, start_ms: int, accel: float, source: Callable[[], float] = time.monotonic):
        check_accel(accel)
        self._start_ms = start_ms
        self._accel = accel
        self._source = source
        self._anchor = source()

    def now_ms(self) -> int:
        """The pump time now."""
        return self._start_ms + int((self._source() - self._anchor) * self._accel * 1000)


def load_identity(layout: StateLayout) -> DeviceIdentity:
    """The pump's certified identity; InputError when the key file is missing or damaged."""
    if not layout.pump_key.is_file():
        raise InputError(
            "pump.key",
            str(layout.pump_key),
            "is missing",
            "restore the pump's key file: without it the pump can neither prove who it is nor read its memory",
        )
    return DeviceIdentity.load(layout.pump_key)


class PumpDaemon:
    """One pump from a state directory, answering telemetry frames; in fault when its memory cannot be trusted."""

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
        config = read_config(self.layout)
        self._accel = accel
        self._time_source = time_source
        check_accel(accel)
        self.identity = load_identity(self.layout)
        self.model = load_model(str(config["model"]))
        self._lock = threading.Lock()
        self._directory_lock = DirectoryLock(self.layout)
        self.fault: MemoryFault | None = None
        self._medium: FileMedium | None = None
        self._running = False  # the pump runs once its memory was read whole
        self._defer_commit = False
        try:
            self._medium = FileMedium(self.layout.nvm)
            self.journal = Journal.open(self._medium, memory_key(self.identity))
            if self.journal.discarded:
                self._append_log({"event": "torn_write_discarded", "bytes": self.journal.discarded})
            self._check_config(config)
            self._start_pump(config)
        except MemoryFault as fault:
            self._enter_fault(fault)
        except BaseException:
            self._directory_lock.release()
            raise
        self.endpoint = (
            PumpEndpoint(
                self.identity,
                Keystore(self._records),
                CounterStore(self._records),
                self.dispatch,
                self._on_reject,
                replies=ReplyCache(self._records),
                clock=endpoint_clock,
                pairing_window_ms=pairing_window_ms,
                on_security_event=self._on_security_event,
                on_memory_behind=self._on_memory_behind,
            )
            if self.fault is None
            else None
        )

    def _check_config(self, config: dict[str, object]) -> None:
        stored = self.journal.image.records.get(CONFIG_RECORD)
        if stored is None:
            raise BlankMemory("the memory holds no pump configuration")
        if stored.decode() != config_text(config):
            raise InputError(
                "pump.json",
                str(self.layout.config),
                f"says {config_text(config).strip()}, but the pump's memory says {stored.decode().strip()}",
                "restore pump.json: an implanted pump's model, catheter and seed never change",
            )

    def _start_pump(self, config: dict[str, object]) -> None:
        memory = PumpMemory(self.journal)
        if memory.journal.image.records.get(STATE_RECORD) is None:
            raise BlankMemory("the memory holds no firmware state")
        self.pump = VirtualPump(
            self.model,
            formulary=pump_formulary(),
            catheter_volume_nl=int(config["catheter_volume_nl"]),  # type: ignore[call-overload]
            seed=int(config["seed"]),  # type: ignore[call-overload]
            memory=memory,
        )
        # The hardware's reservoir is not in the saved state; the calculated one, of what the label says, is the
        # best estimate of it.
        status = self.pump.firmware.status()
        label = status["label"]
        reservoir_nl = status["reservoir_nl"]
        if isinstance(label, list) and label and isinstance(reservoir_nl, int):
            contents = tuple((str(e["drug"]), int(e["concentration_ng_per_ml"])) for e in label)
            self.pump.reservoir = solution(reservoir_nl, contents)
        self.clock = PumpClock(self.pump.now_ms, self._accel, self._time_source)
        self._records = JournalRecords(self.journal)
        self._running = True

    def close(self) -> None:
        """Commit what waits in memory and let another process serve the directory."""
        with self._lock:
            if self.fault is None:
                self.journal.commit()  # commits what is staged, if anything, and settles the counter either way
                self.journal.settle()
            if self._medium is not None:
                self._medium.close()
            self._directory_lock.release()

    # ------------------------------------------------------------ telemetry

    def receive(self, frame: bytes) -> bytes | None:
        """Handle one telemetry frame and return the reply frame (None: nothing may be answered)."""
        with self._lock:
            if self.fault is not None:
                return reject_frame(self.identity, RejectCode.PUMP_FAULT, str(self.fault), frame)
            assert self.endpoint is not None
            self._defer_commit = False
            try:
                with self.journal.held():
                    reply = self.endpoint.receive(frame)
                if self.fault is not None:
                    return reply  # the endpoint's own refusal of the frame that found the fault; nothing is written
                if self.journal.pending and not self._defer_commit:
                    # Durable before the reply; the counter follows once the reply is out (`settle`).
                    self.journal.commit(settle_later=True)
            except OSError as exc:  # the memory could not be written: nothing may be acknowledged
                self._enter_fault(MemoryFault(f"a write to the memory failed ({exc})"))
                return None
            return reply

    def tick(self) -> None:
        """Advance the pump to the clock's time with no frame arriving, so alarms and the end of a dose appear live.

        What the advance logged or sounded is committed at once; plain delivery between events is committed with
        the next frame or event (a power loss before then restarts the pump from the last record, as if it had
        been off for that time).
        """
        with self._lock:
            if self.fault is not None or not self._running or self.pump.memory is None:
                return
            events_before = (len(self.pump.log_entries), len(self.pump.tones))
            try:
                with self.journal.held():
                    self.pump.advance(max(self.clock.now_ms(), self.pump.now_ms))
                    if (len(self.pump.log_entries), len(self.pump.tones)) != events_before:
                        self.pump.memory.save(self.pump.firmware.state)
                if self.journal.pending:
                    self.journal.commit()
            except OSError as exc:
                self._enter_fault(MemoryFault(f"a write to the memory failed ({exc})"))

    def settle(self) -> None:
        """After a reply has gone: raise the memory's counter to the record that reply acknowledged."""
        with self._lock:
            if self.fault is not None:
                return
            try:
                self.journal.settle()
            except OSError as exc:
                self._enter_fault(MemoryFault(f"a write to the memory's counter failed ({exc})"))

    def proximity_detected(self) -> None:
        """The magnet or telemetry head is over the pump: open the pairing window."""
        with self._lock:
            if self.endpoint is not None:
                self.endpoint.proximity_detected()

    def server(self, port: int = 0, loss: LossModel | None = None, seed: int = 0) -> LoopbackServer:
        """A loopback TCP server for this pump (not yet started), losing frames as `loss` decides."""
        handler = self.receive if loss is None else LossyHandler(self.receive, loss, seed)
        return LoopbackServer(handler, port, after_reply=self.settle)

    def _enter_fault(self, fault: MemoryFault) -> None:
        self.fault = fault
        self._append_log({"event": "pump_fault", "code": fault.code, "found": fault.found, "message": str(fault)})

    def _on_memory_behind(self, detail: str) -> None:
        # Called by the endpoint before anything executes: the memory is older than a paired device has seen.
        self._enter_fault(MemoryBehind(detail))

    def _on_reject(self, rejection: Rejection) -> None:
        # Called by the endpoint inside `receive`. The pump's event log keeps the code and who claimed to send
        # it, on a budget; the daemon's log adds the full reason of each logged one.
        outcome = self._record_on_pump(
            TelemetryRejected(
                rejection.code.value, rejection.key_id or "", rejection.role or "", rejection.command or ""
            )
        )
        logged = [a.entry for a in outcome.actions if isinstance(a, Logged)]
        if rejection.role is None and not logged:
            self._defer_commit = True  # an unauthenticated refusal the budget did not log: no write of its own
            return
        unlogged = logged[0].get("unlogged_before", 0) if logged else 0
        self._append_log(
            {
                "event": "rejected",
                "code": rejection.code.value,
                "reason": rejection.reason,
                "key_id": rejection.key_id,
                "role": rejection.role,
                "command": rejection.command,
                "unlogged_before": unlogged,
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

    def _record_on_pump(self, command: TelemetryRejected | PeerChanged) -> Outcome:
        """Log a telemetry event on the pump at the present pump time; therapy is not touched."""
        self.pump.advance(max(self.clock.now_ms(), self.pump.now_ms))
        return self.pump.command(command)

    def _append_log(self, record: dict[str, object]) -> None:
        pump_ms = max(self.clock.now_ms(), self.pump.now_ms) if self._running else None
        line = json.dumps({"real_ms": int(time.time() * 1000), "pump_ms": pump_ms, **record}, sort_keys=True)
        append_private(self.layout.daemon_log, line)

    # ------------------------------------------------------------- dispatch

    def dispatch(self, role: Role, command: Command) -> dict[str, object]:
        """Execute a telemetry command on the pump; raise PumpRefused when the firmware refuses it.

        Inside a frame its writes are committed with the frame's; called on its own, they are one commit.
        """
        try:
            with self.journal.held():
                return self._dispatch(role, command)
        finally:
            self.journal.written()

    def _dispatch(self, role: Role, command: Command) -> dict[str, object]:
        self.pump.advance(max(self.clock.now_ms(), self.pump.now_ms))
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


class HandClock:
    """A time source for a daemon in this process (seconds), moved on by hand: a pump living a past, or a test."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


class DaemonTransport:
    """Frames straight to a daemon in this process, its memory's counter settled after each reply as its server does."""

    def __init__(self, daemon: PumpDaemon):
        self._daemon = daemon

    def send(self, frame: bytes) -> bytes:
        """The daemon's reply; LinkLost if it gave none."""
        reply = self._daemon.receive(frame)
        if reply is None:
            raise LinkLost("the in-process pump gave no reply")
        self._daemon.settle()
        return reply
