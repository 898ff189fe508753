"""Where telemetry state lives between power cycles: named records and named append-only lists.

A record is replaced whole (counters, the keystore). A list grows by one small
entry at a time and keeps only its newest entries (remembered replies): a
commit writes one entry, not the whole list. The protocol is four methods,
`load`, `save`, `load_list` and `append`; the pump's own memory implements the
same four.

The file store replaces a record atomically (write a temporary file, flush it
to disk, rename it over the old one, flush the directory), so a power loss
leaves either the old record or the new one, never half of each. A list is one
file of framed entries, each with its length, how many entries the list keeps,
and CRC-32 checks: a power loss in the middle of an append leaves a torn last
entry, which was never acknowledged and is dropped (and cut off at the next
append); damage anywhere else is an error, never a shorter list. Once a list
file holds twice the entries it keeps, it is rewritten atomically with the
newest ones. Files are 0600: the keystore holds link keys.
"""

from __future__ import annotations

import os
import re
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from thecal.telemetry.errors import StoreDamaged

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")
# One list entry on disk: a head (length of the data, how many entries the list keeps, CRC-32 of those two),
# the data, and a CRC-32 of head and data.
_ENTRY_FIELDS = struct.Struct(">II")
_CRC = struct.Struct(">I")
_HEAD_BYTES = _ENTRY_FIELDS.size + _CRC.size
MAX_ENTRY_BYTES = 1 << 20


class Persistence(Protocol):
    """A place that keeps named records and named lists across reboots."""

    def load(self, name: str) -> bytes | None:
        """The record's bytes, or None if it was never saved."""
        ...

    def save(self, name: str, data: bytes) -> None:
        """Replace the record; when this returns, the new bytes survive a power loss."""
        ...

    def load_list(self, name: str) -> list[bytes]:
        """The list's entries, oldest first (at most `keep` of the last append); empty if never appended to."""
        ...

    def append(self, name: str, data: bytes, keep: int) -> None:
        """Add an entry and keep only the newest `keep`; when this returns, the entry survives a power loss."""
        ...


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(f"record name {name!r} must match {_NAME.pattern}")


def _check_entry(data: bytes, keep: int) -> None:
    if keep < 1:
        raise ValueError(f"a list keeps at least 1 entry, not {keep}")
    if len(data) > MAX_ENTRY_BYTES:
        raise ValueError(f"a list entry is at most {MAX_ENTRY_BYTES} bytes, this one {len(data)}")


class MemoryStore:
    """Records and lists in memory; a reboot is simulated by handing the same store to new objects."""

    def __init__(self) -> None:
        self.records: dict[str, bytes] = {}
        self.lists: dict[str, list[bytes]] = {}

    def load(self, name: str) -> bytes | None:
        """The record's bytes, or None."""
        _check_name(name)
        return self.records.get(name)

    def save(self, name: str, data: bytes) -> None:
        """Replace the record."""
        _check_name(name)
        self.records[name] = bytes(data)

    def load_list(self, name: str) -> list[bytes]:
        """The list's entries, oldest first."""
        _check_name(name)
        return list(self.lists.get(name, []))

    def append(self, name: str, data: bytes, keep: int) -> None:
        """Add an entry and keep the newest `keep`."""
        _check_name(name)
        _check_entry(data, keep)
        entries = self.lists.setdefault(name, [])
        entries.append(bytes(data))
        del entries[:-keep]


class FileStore:
    """Records as files in one directory, each replaced atomically, and lists appended to; owner-only."""

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # What this object last saw of each list file (its valid length and entry count), so that an append does
        # not read the file again; a size that differs (another writer, a torn entry) means reading it again.
        self._lists: dict[str, _ListFile] = {}

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

    def load_list(self, name: str) -> list[bytes]:
        """The list's entries, oldest first; StoreDamaged if an entry other than a torn last one is damaged."""
        _check_name(name)
        try:
            content = (self.directory / f"{name}.list").read_bytes()
        except FileNotFoundError:
            return []
        parsed = _parse_list(name, content)
        return parsed.entries[-parsed.keep :] if parsed.entries else []

    def append(self, name: str, data: bytes, keep: int) -> None:
        """Add an entry durably; once the file holds twice `keep` entries, rewrite it with the newest."""
        _check_name(name)
        _check_entry(data, keep)
        path = self.directory / f"{name}.list"
        entry = _encode_entry(data, keep)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            size = os.fstat(descriptor).st_size
            known = self._lists.get(name)
            if known is None or known.size != size:
                known = _parse_list(name, _read_all(descriptor, size)).file()
                if known.size != size:  # a torn entry from a power loss mid-append: it was never acknowledged
                    os.ftruncate(descriptor, known.size)
                    os.fsync(descriptor)
            if known.count + 1 >= 2 * keep:
                stored = _parse_list(name, _read_all(descriptor, known.size)).entries
                entries = stored[len(stored) - (keep - 1) :] if keep > 1 else []
                content = b"".join(_encode_entry(kept, keep) for kept in entries) + entry
                write_atomically(path, content)
                self._lists[name] = _ListFile(len(content), len(entries) + 1)
                return
            os.lseek(descriptor, known.size, os.SEEK_SET)
            _write_all(descriptor, entry)
            os.fsync(descriptor)
            self._lists[name] = _ListFile(known.size + len(entry), known.count + 1)
        finally:
            os.close(descriptor)
        if known.size == 0:
            _sync_directory(path.parent)  # a new file: make its name durable too


@dataclass(frozen=True)
class _ListFile:
    size: int  # bytes of whole, valid entries
    count: int


@dataclass(frozen=True)
class _ParsedList:
    entries: list[bytes]
    keep: int
    size: int

    def file(self) -> _ListFile:
        return _ListFile(self.size, len(self.entries))


def _encode_entry(data: bytes, keep: int) -> bytes:
    fields = _ENTRY_FIELDS.pack(len(data), keep)
    head = fields + _CRC.pack(zlib.crc32(fields))
    return head + data + _CRC.pack(zlib.crc32(head + data))


def _parse_list(name: str, content: bytes) -> _ParsedList:
    """The entries of a list file; a torn last entry is left out, damage before it is StoreDamaged.

    A power loss in the middle of an append leaves, after the last whole entry, a prefix of the new one or
    zeros. The head has its own check, so a length that passes it can be trusted to tell a torn entry (it
    reaches past the end of the file, or it ends there and fails its check) from a damaged one.
    """
    entries: list[bytes] = []
    keep = 1
    offset = 0
    while offset < len(content):
        rest = content[offset:]
        if len(rest) < _HEAD_BYTES:
            break  # a torn head at the end
        length, entry_keep = _ENTRY_FIELDS.unpack_from(rest)
        (head_crc,) = _CRC.unpack_from(rest, _ENTRY_FIELDS.size)
        if head_crc != zlib.crc32(rest[: _ENTRY_FIELDS.size]) or entry_keep < 1:
            if not rest.strip(b"\x00"):
                break  # zeros where the new entry was being written
            raise StoreDamaged(name, f"the head of list entry {len(entries) + 1} at byte {offset} fails its check")
        end = _HEAD_BYTES + length + _CRC.size
        if end > len(rest):
            break  # the last entry was torn while it was written
        (crc,) = _CRC.unpack_from(rest, end - _CRC.size)
        if crc != zlib.crc32(rest[: end - _CRC.size]):
            if end == len(rest):
                break  # the last entry was torn while it was written
            raise StoreDamaged(name, f"list entry {len(entries) + 1} at byte {offset} fails its check")
        entries.append(rest[_HEAD_BYTES : end - _CRC.size])
        keep = entry_keep
        offset += end
    return _ParsedList(entries, keep, offset)


def _read_all(descriptor: int, size: int) -> bytes:
    os.lseek(descriptor, 0, os.SEEK_SET)
    chunks = bytearray()
    while len(chunks) < size:
        chunk = os.read(descriptor, size - len(chunks))
        if not chunk:
            break
        chunks += chunk
    return bytes(chunks)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _sync_directory(directory: Path) -> None:
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)  # makes a new name or a rename in it durable
    finally:
        os.close(handle)


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
    _sync_directory(path.parent)
