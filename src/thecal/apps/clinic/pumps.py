"""The clinic's pumps: one folder per pump serial, its daemon as a process, the proximity step and pairing.

Each pump the clinic reaches has a folder under the clinic's pump root:

    ROOT/SERIAL/pump/         the pump's state directory (`thecal pump init`)
    ROOT/SERIAL/programmer/   the clinic programmer's device directory for this pump
    ROOT/SERIAL/port          the TCP port its running daemon printed
    ROOT/SERIAL/daemon.pid    the process id of its running daemon
    ROOT/SERIAL/daemon.out    what the daemon printed (its listening line, each pairing window opened)

A daemon is `thecal pump serve --state ROOT/SERIAL/pump --port 0 --accel N`,
run as a separate process. It stops itself when the process that started it
is gone, so nothing is left running behind a clinic that crashed. The
proximity step (the programmer head held over the pump) is SIGUSR1 to that
daemon: it opens the pump's pairing window, which admits one pairing. The
clinic reads and programs a pump only through its paired programmer
(`ProgrammerClient`) and the therapy layer (`TherapyService` over
`TelemetryPort`); one request at a time per pump, whatever thread asks.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from thecal.devices.daemon import DEFAULT_CATHETER_VOLUME_NL, DEFAULT_MODEL, check_accel, init_state
from thecal.devices.programmer import ProgrammerClient
from thecal.errors import InputError, ThecalError
from thecal.pump.core.commands import Command, Role
from thecal.pump.model import PumpModel, load_model
from thecal.telemetry.device_files import DeviceFiles, device_store_path
from thecal.telemetry.errors import LinkLost, NothingListening, RejectCode, Rejected
from thecal.telemetry.keys import Keystore, PeerRecord
from thecal.telemetry.pairing import PAIRING_WINDOW_MS
from thecal.telemetry.persistence import FileStore
from thecal.telemetry.transport import DEFAULT_IDLE_TIMEOUT_S, TcpTransport
from thecal.therapy import (
    ClinicSettings,
    LogRecord,
    PatientFacts,
    PatientView,
    PortError,
    PumpSnapshot,
    Sent,
    TelemetryPort,
    TherapyService,
)
from thecal.units import device_label

__all__ = ["ClinicError", "ClinicPumps", "LockedTelemetryPort", "PumpLink"]

STATE_DIR = "pump"
PROGRAMMER_DIR = "programmer"
PORT_FILE = "port"
PID_FILE = "daemon.pid"
OUTPUT_FILE = "daemon.out"

START_TIMEOUT_S = 60.0  # a daemon imports, opens its memory and listens; a loaded machine may take a while
WINDOW_TIMEOUT_S = 10.0  # the daemon notes SIGUSR1 and says the window is open within its 0.2 s loop
STOP_TIMEOUT_S = 10.0
POLL_S = 0.02
REOPEN_AFTER_S = DEFAULT_IDLE_TIMEOUT_S / 2

_LISTENING = re.compile(r"pump listening on 127\.0\.0\.1:(\d+) ")
_WINDOW_OPEN = "the pairing window is open"
# The daemon's process: it stops itself (SIGTERM, its own clean shutdown) once its parent is gone.
_LAUNCH = """\
import os, signal, sys, threading, time
parent = int(sys.argv[1])
def watch():
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)
threading.Thread(target=watch, daemon=True).start()
from thecal.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


class ClinicError(InputError):
    """A pump the clinic cannot reach as asked: unknown serial, daemon not running, pairing window shut."""


@dataclass(frozen=True)
class PumpLink:
    """Where one of the clinic's pumps is: its state, the clinic programmer for it, and its daemon's port."""

    serial: str
    state_dir: Path
    programmer_dir: Path
    port: int | None  # None: its daemon is not running


class _Transport(TcpTransport):
    """A connection to a pump daemon, opened afresh after a pause long enough for the daemon to have hung up."""

    def __init__(self, port: int):
        super().__init__(port)
        self._last_used = time.monotonic()

    def send(self, frame: bytes) -> bytes:
        """The reply to `frame`, on a connection the daemon still holds open."""
        if time.monotonic() - self._last_used > REOPEN_AFTER_S:
            self.close()  # the daemon drops an idle connection; a new one spares the session a lost exchange
        try:
            return super().send(frame)
        finally:
            self._last_used = time.monotonic()


class LockedTelemetryPort(TelemetryPort):
    """The telemetry port to one pump through a clinician programmer, one request at a time whatever thread asks."""

    def __init__(self, client: ProgrammerClient, lock: threading.RLock):
        super().__init__(client)
        self.programmer = client
        self._lock = lock

    def interrogate(self) -> PumpSnapshot:
        """The clinician's view of the pump now."""
        with self._lock:
            status = self._status()
        model = status.get("model")
        if not isinstance(model, str):
            raise PortError("the pump's status names no pump model; interrogate again with a clinician programmer")
        return PumpSnapshot.from_status(status, _model(model))

    def patient_view(self) -> PatientView:
        """The patient's view of the pump now."""
        with self._lock:
            return super().patient_view()

    def send(self, command: Command) -> Sent:
        """Send one command and say how it ended."""
        with self._lock:
            return super().send(command)

    def event_log(self, from_seq: int) -> tuple[LogRecord, ...]:
        """The pump's event-log entries from `from_seq` on."""
        with self._lock:
            return super().event_log(from_seq)


@functools.lru_cache(maxsize=16)
def _model(name: str) -> PumpModel:
    """A pump model by the name a pump reports, read once: every interrogation needs it."""
    return load_model(name)


class ClinicPumps:
    """The clinic's pumps under one root folder: create, start and stop their daemons, pair, and program them."""

    def __init__(self, root: Path):
        self.root = Path(root).absolute()  # a daemon is known by the state directory it serves, named in full
        self._guard = threading.Lock()
        self._locks: dict[str, threading.RLock] = {}
        self._clients: dict[str, tuple[int, bytes, ProgrammerClient]] = {}
        self._processes: dict[str, subprocess.Popen[bytes]] = {}

    # ------------------------------------------------------------------ where

    def links(self) -> list[PumpLink]:
        """Every pump of the clinic, by serial."""
        if not self.root.is_dir():
            return []
        serials = sorted(p.name for p in self.root.iterdir() if (p / STATE_DIR / "pump.json").is_file())
        return [self.link(serial) for serial in serials]

    def link(self, serial: str) -> PumpLink:
        """Where the pump with this serial is; ClinicError naming the serial when the clinic has no such pump."""
        folder = self._folder(serial)
        if not (folder / STATE_DIR / "pump.json").is_file():
            raise ClinicError(
                "serial",
                serial,
                f"is not a pump of this clinic (none in {self.root})",
                "check the serial on the implant record, or add the pump first",
            )
        return PumpLink(serial, folder / STATE_DIR, folder / PROGRAMMER_DIR, self._running_port(serial))

    def _folder(self, serial: str) -> Path:
        try:
            device_label(serial, "serial")
        except InputError as error:
            raise ClinicError(error.field, error.value, error.problem, error.action, error.limit) from None
        if serial.startswith("."):
            raise ClinicError("serial", serial, "starts with a dot", 'write a serial like "NGP-0001"')
        return self.root / serial

    # ---------------------------------------------------------- the pumps' lives

    def create(
        self,
        serial: str,
        *,
        model: str = DEFAULT_MODEL,
        catheter_volume_nl: int = DEFAULT_CATHETER_VOLUME_NL,
        wall_ms: int | None = None,
        seed: int = 0,
    ) -> PumpLink:
        """A new pump with this serial (its state, keys and a clinic programmer for it); its daemon not started."""
        folder = self._folder(serial)
        if folder.exists():
            raise ClinicError("serial", serial, f"already has a folder in {self.root}", "give the pump's own serial")
        self.root.mkdir(parents=True, exist_ok=True)
        layout = init_state(
            folder / STATE_DIR,
            model=model,
            label=serial,
            catheter_volume_nl=catheter_volume_nl,
            wall_ms=wall_ms,
            seed=seed,
        )
        # The programmer made with the pump belongs to the clinic, not to the implant: it lives beside the pump.
        os.replace(layout.device(Role.CLINICIAN.value), folder / PROGRAMMER_DIR)
        return self.link(serial)

    def start(self, serial: str, *, accel: float) -> PumpLink:
        """Start the pump's daemon (`accel` pump time per real time) and wait until it listens."""
        self.launch(serial, accel=accel)
        return self.wait_started(serial)

    def launch(self, serial: str, *, accel: float) -> None:
        """Start the pump's daemon without waiting for it (several start together; then `wait_started`)."""
        check_accel(accel)
        link = self.link(serial)
        if link.port is not None or self._running_pid(serial) is not None:
            return
        folder = self._folder(serial)
        for name in (PORT_FILE, PID_FILE):
            (folder / name).unlink(missing_ok=True)
        argv = ["pump", "serve", "--state", str(link.state_dir), "--port", "0", "--accel", repr(float(accel))]
        with open(folder / OUTPUT_FILE, "wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-c", _LAUNCH, str(os.getpid()), *argv],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C at the clinic's terminal reaches the clinic, which stops its pumps
            )
        with self._guard:
            self._processes[serial] = process
        (folder / PID_FILE).write_text(f"{process.pid}\n")

    def wait_started(self, serial: str, timeout_s: float = START_TIMEOUT_S) -> PumpLink:
        """Wait until the pump's daemon listens and keep its port; ClinicError with what it said if it does not."""
        folder = self._folder(serial)
        output_path = folder / OUTPUT_FILE
        deadline = time.monotonic() + timeout_s
        while True:
            pid = self._running_pid(serial)
            match = _LISTENING.search(_read_text(output_path))
            if match is not None and pid is not None:
                (folder / PORT_FILE).write_text(f"{match.group(1)}\n")
                return self.link(serial)
            if pid is None or time.monotonic() > deadline:
                self.stop(serial)
                said = _read_text(output_path).strip() or "nothing"
                raise ClinicError(
                    "serial",
                    serial,
                    f"its pump daemon did not start (it said: {said[-600:]})",
                    "read what the daemon said, correct it, and start the pump again",
                )
            time.sleep(POLL_S)

    def stop(self, serial: str) -> None:
        """Stop the pump's daemon if it runs (its memory is committed), and forget its port."""
        folder = self._folder(serial)
        self._drop_client(serial)
        with self._guard:
            process = self._processes.pop(serial, None)
        if process is not None:
            self._end(serial, process)
        else:
            pid = self._running_pid(serial)
            if pid is not None:
                _end_pid(pid)
        for name in (PORT_FILE, PID_FILE):
            (folder / name).unlink(missing_ok=True)

    def stop_all(self) -> None:
        """Stop every daemon this object started, and any other running for its pumps: all asked at once."""
        with self._guard:
            started = dict(self._processes)
        for process in started.values():
            if process.poll() is None:
                process.terminate()
        serials = set(started) | {link.serial for link in self.links() if link.port is not None}
        for serial in sorted(serials):
            self.stop(serial)

    def _end(self, serial: str, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        with self._guard:
            if self._processes.get(serial) is process:
                del self._processes[serial]

    def _running_pid(self, serial: str) -> int | None:
        folder = self.root / serial
        with self._guard:
            process = self._processes.get(serial)
        if process is not None:
            return process.pid if process.poll() is None else None
        try:
            pid = int((folder / PID_FILE).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _serves(pid, folder / STATE_DIR) else None

    def _running_port(self, serial: str) -> int | None:
        if self._running_pid(serial) is None:
            return None
        try:
            return int((self.root / serial / PORT_FILE).read_text().strip())
        except (OSError, ValueError):
            return None

    def _require_port(self, serial: str) -> int:
        port = self.link(serial).port
        if port is None:
            raise ClinicError(
                "serial",
                serial,
                "its pump daemon is not running",
                "start the pump's daemon (thecal clinic demo starts the demo pumps), then try again",
            )
        return port

    # ------------------------------------------------------------- pairing

    def place_head(self, serial: str) -> None:
        """The proximity step: the programmer head over the pump opens its pairing window (SIGUSR1 to its daemon)."""
        self._require_port(serial)
        pid = self._running_pid(serial)
        output_path = self.root / serial / OUTPUT_FILE
        opened_before = _read_text(output_path).count(_WINDOW_OPEN)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)
        deadline = time.monotonic() + WINDOW_TIMEOUT_S
        while _read_text(output_path).count(_WINDOW_OPEN) <= opened_before:
            if self._running_pid(serial) is None:
                self._require_port(serial)  # it stopped: say so
            if time.monotonic() > deadline:
                raise ClinicError(
                    "serial",
                    serial,
                    f"the pump did not open its pairing window within {WINDOW_TIMEOUT_S:g} s",
                    "check that its daemon runs, then place the programmer head over the pump again",
                )
            time.sleep(POLL_S)

    def pair(self, serial: str) -> None:
        """Pair the clinic programmer with the pump inside its pairing window (after `place_head`)."""
        port = self._require_port(serial)
        link = self.link(serial)
        with self._lock(serial):
            self._drop_client(serial)
            transport = TcpTransport(port)
            try:
                DeviceFiles(link.programmer_dir, Role.CLINICIAN).pair(transport, expected_pump_label=serial)
            except Rejected as refused:
                if refused.code is RejectCode.PAIRING_CLOSED:
                    raise ClinicError(
                        "serial",
                        serial,
                        "the pump's pairing window is shut: it opens when the programmer head is placed over the "
                        f"pump, for {PAIRING_WINDOW_MS // 1000} s and one pairing",
                        f"place the programmer head over the pump, then pair within {PAIRING_WINDOW_MS // 1000} s",
                    ) from None
                raise ClinicError(
                    "serial", serial, f"the pump refused pairing ({refused.reason})", "place the head and pair again"
                ) from None
            except (LinkLost, NothingListening) as lost:
                raise ClinicError(
                    "serial",
                    serial,
                    f"the pump could not be reached ({lost})",
                    "check its daemon runs, then pair again",
                ) from None
            finally:
                transport.close()

    def paired(self, serial: str) -> bool:
        """Whether the clinic programmer holds a pairing with this pump."""
        peer = _pump_peer(self.link(serial).programmer_dir)
        return peer is not None and peer.label == serial

    # ------------------------------------------------------------ programming

    def service(self, serial: str, *, patient: PatientFacts, clinic: ClinicSettings | None = None) -> TherapyService:
        """The therapy service for this pump, through the clinic programmer's telemetry."""
        return TherapyService(LockedTelemetryPort(self._client(serial), self._lock(serial)), patient, clinic)

    def interrogate(self, serial: str) -> PumpSnapshot:
        """The clinician's view of the pump now."""
        return LockedTelemetryPort(self._client(serial), self._lock(serial)).interrogate()

    def status(self, serial: str) -> dict[str, object]:
        """The pump's whole interrogation answer as it travelled (battery, ERI time and all), in base units."""
        client = self._client(serial)
        with self._lock(serial):
            reply = client.interrogate()
        if not reply.ok:
            raise PortError(f"pump {serial} could not be read: {reply.describe()}")
        return dict(reply.result)

    def event_log(self, serial: str, from_seq: int = 0) -> list[dict[str, object]]:
        """Every event-log entry the pump keeps from `from_seq` on, read through the clinic programmer."""
        client = self._client(serial)
        with self._lock(serial):
            try:
                return client.read_whole_log(from_seq)
            except RuntimeError as exc:
                raise PortError(f"the event log of pump {serial} could not be read: {exc}") from None

    def close(self) -> None:
        """Close the clinic programmer's sessions (the daemons keep running)."""
        for serial in list(self._clients):
            self._drop_client(serial)

    def _client(self, serial: str) -> ProgrammerClient:
        """The clinic programmer's session with this pump: kept while the daemon's port and the pairing stay."""
        port = self._require_port(serial)
        link = self.link(serial)
        with self._lock(serial):
            peer = _pump_peer(link.programmer_dir)
            if peer is None or peer.label != serial:
                raise ClinicError(
                    "serial",
                    serial,
                    "the clinic programmer is not paired with this pump",
                    "place the programmer head over the pump, then pair",
                )
            cached = self._clients.get(serial)
            if cached is not None and cached[0] == port and cached[1] == peer.link.link_id:
                return cached[2]
            self._drop_client(serial)
            files = DeviceFiles(link.programmer_dir, Role.CLINICIAN)
            client = ProgrammerClient(files.session(_Transport(port)))
            self._clients[serial] = (port, peer.link.link_id, client)
            return client

    def _lock(self, serial: str) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(serial, threading.RLock())

    def _drop_client(self, serial: str) -> None:
        with self._lock(serial):
            cached = self._clients.pop(serial, None)
            if cached is not None:
                with contextlib.suppress(ThecalError, OSError):
                    cached[2].session.close()


def _pump_peer(programmer_dir: Path) -> PeerRecord | None:
    """The pump this programmer is paired with now, read from its keystore alone; None when none."""
    if not programmer_dir.is_dir():
        return None
    pumps = [p for p in Keystore(FileStore(device_store_path(programmer_dir))).peers() if p.role is Role.PUMP]
    return pumps[0] if pumps else None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _serves(pid: int, state_dir: Path) -> bool:
    """Whether process `pid` lives (not a zombie) and is a daemon serving `state_dir`."""
    proc = Path("/proc") / str(pid)
    try:
        stat = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if stat.rpartition(")")[2].split()[:1] == ["Z"]:
        return False
    return str(state_dir).encode() in cmdline and b"serve" in cmdline


def _end_pid(pid: int) -> None:
    """Stop a daemon this object did not start: SIGTERM, then SIGKILL when it does not stop in time."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while Path(f"/proc/{pid}").exists():
        stat = _read_text(Path(f"/proc/{pid}/stat"))
        if stat.rpartition(")")[2].split()[:1] == ["Z"]:
            return  # gone; its parent reaps it
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            return
        time.sleep(POLL_S)
