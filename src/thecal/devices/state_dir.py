"""A pump's state directory: where each part lives, its owner-only files, its lock and its configuration.

Everything in a state directory is created readable by its owner only
(directories 0700, files 0600, whatever the umask), because the memory and the
keys in it are the pump's. One process at a time may serve a directory: the
lock file is held with an exclusive `flock` for as long as the process runs.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from thecal.errors import InputError

CONFIG_KEYS = ("model", "catheter_volume_nl", "seed")


@dataclass(frozen=True)
class StateLayout:
    """Where a pump's state directory keeps each of its parts."""

    root: Path

    @property
    def config(self) -> Path:
        """A readable copy of the pump's model, catheter and seed (the memory holds the original)."""
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
        """The pump's non-volatile memory: journal segments and counter slots."""
        return self.root / "nvm"

    @property
    def daemon_log(self) -> Path:
        """Telemetry refusals, pairings and faults, one JSON object per line."""
        return self.root / "daemon.log"

    @property
    def lock(self) -> Path:
        """Held by the one process serving this directory."""
        return self.root / "serve.lock"

    def device(self, role: str) -> Path:
        """The directory of the programmer (clinician) or PTM made at init."""
        return self.root / "devices" / role


def make_private_dir(path: Path) -> None:
    """Create a directory (and its parents) that only its owner can enter."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)  # mkdir's mode is masked by the umask only downwards; an existing one is set too


def write_private(path: Path, text: str) -> None:
    """Write a new owner-only text file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as stream:
        stream.write(text)


def append_private(path: Path, line: str) -> None:
    """Append a line to an owner-only file, creating it 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as stream:
        stream.write(line + "\n")


def read_config(layout: StateLayout) -> dict[str, object]:
    """The pump's configuration from pump.json; InputError naming the file when it is missing or damaged."""
    path = layout.config
    if not path.exists():
        raise InputError("--state", str(layout.root), "holds no pump", "create one with `thecal pump init --state DIR`")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise InputError(
            "pump.json", str(path), f"cannot be read ({exc})", "restore it: it must match the pump's memory"
        ) from None
    if not isinstance(config, dict) or set(config) != set(CONFIG_KEYS):
        raise InputError(
            "pump.json",
            str(path),
            f"does not hold exactly {', '.join(CONFIG_KEYS)}",
            "restore it from the pump's memory",
        )
    return config


def config_text(config: dict[str, object]) -> str:
    """The configuration as stored, byte for byte the same for the same values."""
    return json.dumps(config, indent=1, sort_keys=True) + "\n"


class DirectoryLock:
    """The exclusive lock of one state directory, held until `release`."""

    def __init__(self, layout: StateLayout):
        self._fd = os.open(layout.lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self._fd, 32).decode("ascii", "replace").strip() or "another process"
            os.close(self._fd)
            raise InputError(
                "--state",
                str(layout.root),
                f"is served by another process (pid {holder})",
                "stop that `thecal pump serve` first: one process per pump",
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, str(os.getpid()).encode(), 0)

    def release(self) -> None:
        """Let another process serve the directory."""
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1
