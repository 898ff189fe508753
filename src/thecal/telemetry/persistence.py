"""Where telemetry state lives between power cycles: named byte records.

Counters, remembered replies and the keystore each save one small record. The
file store replaces a record atomically (write a temporary file, flush it to
disk, rename it over the old one, flush the directory), so a power loss leaves
either the old record or the new one, never half of each. Files are 0600:
the keystore holds link keys.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")


class Persistence(Protocol):
    """A place that keeps named records across reboots."""

    def load(self, name: str) -> bytes | None:
        """The record's bytes, or None if it was never saved."""
        ...

    def save(self, name: str, data: bytes) -> None:
        """Replace the record; when this returns, the new bytes survive a power loss."""
        ...


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(f"record name {name!r} must match {_NAME.pattern}")


class MemoryStore:
    """Records in memory; a reboot is simulated by handing the same store to new objects."""

    def __init__(self) -> None:
        self.records: dict[str, bytes] = {}

    def load(self, name: str) -> bytes | None:
        """The record's bytes, or None."""
        _check_name(name)
        return self.records.get(name)

    def save(self, name: str, data: bytes) -> None:
        """Replace the record."""
        _check_name(name)
        self.records[name] = bytes(data)


class FileStore:
    """Records as files in one directory, each replaced atomically, readable by the owner only."""

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def load(self, name: str) -> bytes | None:
        """The record's bytes, or None."""
        _check_name(name)
        try:
            return (self.directory / f"{name}.cbor").read_bytes()
        except FileNotFoundError:
            return None

    def save(self, name: str, data: bytes) -> None:
        """Replace the record atomically and durably."""
        _check_name(name)
        write_atomically(self.directory / f"{name}.cbor", data)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace a file with data, mode 0600, so that a crash leaves the old or the new content."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:  # mkstemp creates the file 0600
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # makes the rename itself durable
    finally:
        os.close(directory)
