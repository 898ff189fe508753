"""Non-volatile memory on disk: the two slots of a `Medium` as two files in a directory.

Each slot file is overwritten in place and flushed to disk before the write
returns. There is deliberately no write-to-temporary-and-rename: a real pump's
memory has no atomic rename, and the two-slot scheme of `TwoSlotStore` is what
survives a write torn at any byte, so the file medium models the hardware
faithfully (a kill during a write may leave a slot file with any prefix).
"""

from __future__ import annotations

import os
from pathlib import Path

SLOT_FILES = ("slot0.bin", "slot1.bin")


class FileMedium:
    """Two slots of non-volatile memory kept as files `slot0.bin` and `slot1.bin` in a directory."""

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, slot: int) -> Path:
        if slot not in (0, 1):
            raise ValueError(f"there are two slots, 0 and 1, not {slot}")
        return self.directory / SLOT_FILES[slot]

    def read_slot(self, slot: int) -> bytes:
        """The bytes stored in a slot (empty when never written)."""
        try:
            return self._path(slot).read_bytes()
        except FileNotFoundError:
            return b""

    def write_slot(self, slot: int, data: bytes) -> None:
        """Replace a slot's bytes in place and make them durable before returning."""
        path = self._path(slot)
        existed = path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if not existed:
            # A newly created file is only durable once its directory entry is.
            directory = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
