"""The pump's non-volatile memory on disk: two journal segments and two counter slots as files in a directory.

A segment only grows by appends (one `write` and one `fdatasync` each) and is
cut back by `ftruncate`; a counter slot is overwritten in place. There is
deliberately no write-to-temporary-and-rename: a pump's flash has no atomic
rename, and the journal (`thecal.pump.core.journal`) is built to survive a
write torn at any byte, so the file medium models the hardware faithfully. The
files are kept open between writes; everything is created owner-only.
"""

from __future__ import annotations

import os
from pathlib import Path

from thecal.pump.core.journal import COUNTER_SLOTS, SEGMENTS

SEGMENT_FILES = tuple(f"journal-{s}.bin" for s in SEGMENTS)
COUNTER_FILES = tuple(f"counter-{s}.bin" for s in COUNTER_SLOTS)


class FileMedium:
    """The memory's segments and counter slots as files in one directory."""

    def __init__(self, directory: Path | str, *, create: bool = False):
        self.directory = Path(directory)
        if create:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._fds: dict[str, int] = {}
        self.writes = 0

    def _fd(self, name: str) -> int:
        fd = self._fds.get(name)
        if fd is None:
            path = self.directory / name
            existed = path.exists()
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            self._fds[name] = fd
            if not existed:
                # A newly created file is only durable once its directory entry is.
                directory = os.open(self.directory, os.O_RDONLY)
                try:
                    os.fsync(directory)
                finally:
                    os.close(directory)
        return fd

    def _read(self, name: str) -> bytes:
        # Whatever stands where the memory should be (nothing, a file instead of the directory, a directory
        # instead of a file) holds no memory: the journal reports that as a fault, never as a new pump.
        try:
            return (self.directory / name).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return b""

    def read(self, segment: int) -> bytes:
        """The bytes of a segment (empty when never written)."""
        return self._read(SEGMENT_FILES[segment])

    def append(self, segment: int, data: bytes) -> None:
        """Append to a segment and make it durable before returning."""
        fd = self._fd(SEGMENT_FILES[segment])
        end = os.lseek(fd, 0, os.SEEK_END)
        _write_all(fd, data, end)
        os.fdatasync(fd)
        self.writes += 1

    def cut(self, segment: int, length: int) -> None:
        """Discard a segment's bytes from `length` on, durably."""
        fd = self._fd(SEGMENT_FILES[segment])
        os.ftruncate(fd, length)
        os.fsync(fd)
        self.writes += 1

    def read_counter(self, slot: int) -> bytes:
        """The bytes of a counter slot (empty when never written)."""
        return self._read(COUNTER_FILES[slot])

    def write_counter(self, slot: int, data: bytes) -> None:
        """Overwrite a counter slot in place and make it durable before returning."""
        fd = self._fd(COUNTER_FILES[slot])
        _write_all(fd, data, 0)
        os.ftruncate(fd, len(data))
        os.fdatasync(fd)
        self.writes += 1

    def close(self) -> None:
        """Close the files kept open."""
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
