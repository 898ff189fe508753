"""`thecal pump serve` whose memory writes pause half-way, so that a kill lands inside a write.

Run as `python paused_writes.py pump serve ...`: the same daemon, with each
append and counter write of its memory written as two halves, each made
durable, with a pause between them. A SIGKILL in the pause leaves exactly what
a power loss in the middle of the write would.
"""

from __future__ import annotations

import os
import sys
import time

from thecal.cli.main import main
from thecal.devices import nvm_file

PAUSE_S = 0.004


def _in_halves(fd: int, data: bytes, offset: int) -> None:
    half = len(data) // 2
    nvm_file._write_all(fd, data[:half], offset)
    os.fdatasync(fd)
    time.sleep(PAUSE_S)
    nvm_file._write_all(fd, data[half:], offset + half)
    os.fdatasync(fd)


def append(self: nvm_file.FileMedium, segment: int, data: bytes) -> None:
    fd = self._fd(nvm_file.SEGMENT_FILES[segment])
    _in_halves(fd, data, os.lseek(fd, 0, os.SEEK_END))
    self.writes += 1


def write_counter(self: nvm_file.FileMedium, slot: int, data: bytes) -> None:
    fd = self._fd(nvm_file.COUNTER_FILES[slot])
    _in_halves(fd, data, 0)
    self.writes += 1


nvm_file.FileMedium.append = append  # type: ignore[method-assign]
nvm_file.FileMedium.write_counter = write_counter  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
