"""The pump's memory, decided by measurement: what one durable commit of a typical command costs, five ways.

A command the pump answers leaves three things that must survive a power
loss before the answer goes out: the firmware state (a record of about 900
bytes), one event-log entry (about 200 bytes) and the reply it would repeat
to a retry (about 300 bytes). Each way below makes those durable as one
commit, in files on the same file system as the rest of the benchmarks:

- journal: one framed record (header, CRC, keyed MAC) appended to an open
  file, then one fdatasync; the hand-written journal's way
  (`thecal.devices.nvm_file`); its checkpoint, the whole image written once
  a segment is full (every few thousand commits), is left out;
- journal + counter: the same, then a 40-byte monotonic counter written in
  place, in two slot files in turn, and fdatasynced: the journal with the
  counter that tells a rolled-back memory from a current one;
- SQLite: the standard library's sqlite3 in WAL mode with synchronous=FULL,
  one transaction per commit: UPSERT the state, INSERT the log entry and the
  reply, and DELETE the log entry and the reply that fall out of the bounded
  log (2,048 entries) and reply list (64), as the pump's memory is bounded;
  WAL checkpoints happen when SQLite's default autocheckpoint says so, and
  their cost falls into the figures like any other commit's;
- SQLite + counter: the same, then the same counter as the journal's, since
  SQLite alone cannot tell a memory rolled back to an older copy either;
- image: the old way, the whole 360 kB memory image rewritten in place and
  fsynced, in two slot files in turn (the old daemon wrote two per command).

The commits of the five ways are taken in turn, one of each, so all see the
same machine and disk load; the run is repeated and the medians are printed.
Besides time, the kernel's own counts (Linux `/proc/self/io`) say how many
write calls and bytes each commit handed to the file system, which covers
SQLite's writes as well as Python's: bytes written is what wears flash.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import statistics
import struct
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

COMMITS = 500
REPETITIONS = 3
STATE_BYTES = 900
LOG_ENTRY_BYTES = 200
REPLY_BYTES = 300
COUNTER_BYTES = 40
IMAGE_BYTES = 360_000
LOG_CAPACITY = 2048  # the pump model's event-log capacity
REPLIES_KEPT = 64  # remembered replies: 32 for each of the two paired devices

WAYS = ("journal", "journal_counter", "sqlite", "sqlite_counter", "image")
WAY_NAMES = {
    "journal": "journal: append 1 record + fdatasync",
    "journal_counter": "journal + 40-byte counter, 2 syncs",
    "sqlite": "SQLite WAL, synchronous=FULL, 1 txn",
    "sqlite_counter": "SQLite as above + 40-byte counter",
    "image": "image: rewrite 360 kB + fsync (old)",
}

_RECORD_HEADER = struct.Struct(">2sQII")  # magic, sequence number, body length, CRC-32 of the body


@dataclass(frozen=True)
class Payload:
    """What one typical command leaves to keep."""

    seq: int
    state: bytes
    log_entry: bytes
    reply: bytes
    command_id: bytes

    @staticmethod
    def make(seq: int) -> Payload:
        """Fresh random bytes of the typical sizes, so nothing is helped by repeated content."""
        return Payload(
            seq, os.urandom(STATE_BYTES), os.urandom(LOG_ENTRY_BYTES), os.urandom(REPLY_BYTES), os.urandom(16)
        )


# ------------------------------------------------------------------ OS counts


@dataclass(frozen=True)
class OsWrites:
    """The kernel's counts of this process's write calls and the bytes they carried (any file or socket)."""

    calls: int
    bytes: int

    def __add__(self, other: OsWrites) -> OsWrites:
        return OsWrites(self.calls + other.calls, self.bytes + other.bytes)

    def __sub__(self, other: OsWrites) -> OsWrites:
        return OsWrites(self.calls - other.calls, self.bytes - other.bytes)


def os_writes() -> OsWrites | None:
    """This process's write counts so far, or None where the kernel does not publish them (not Linux)."""
    try:
        text = Path("/proc/self/io").read_text()
    except OSError:
        return None
    fields = dict(line.split(": ") for line in text.splitlines() if ": " in line)
    return OsWrites(int(fields["syscw"]), int(fields["wchar"]))


def filesystem_of(path: Path) -> str:
    """The file system a path lives on, as "ext4 on /" ("unknown" off Linux): tmpfs would make fsync free."""
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    resolved = str(path.resolve())
    best = ("", "unknown")
    for fields in mounts:
        if len(fields) < 3:
            continue
        mount_point, fs_type = fields[1], fields[2]
        inside = resolved == mount_point or resolved.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best[0]):
            best = (mount_point, fs_type)
    return f"{best[1]} on {best[0] or '?'}"


class FsyncCount:
    """How many times Python code called os.fsync or os.fdatasync while counting; a C library's are not seen."""

    def __init__(self) -> None:
        self.calls = 0

    @contextmanager
    def counting(self) -> Iterator[FsyncCount]:
        """Wrap os.fsync and os.fdatasync with the counter for the duration of the block."""
        names = ("fsync", "fdatasync")
        originals = {name: getattr(os, name) for name in names}

        def wrap(call: Callable[[int], None]) -> Callable[[int], None]:
            def counted(fd: int) -> None:
                self.calls += 1
                call(fd)

            return counted

        for name in names:
            setattr(os, name, wrap(originals[name]))
        try:
            yield self
        finally:
            for name in names:
                setattr(os, name, originals[name])


# ---------------------------------------------------------------- the stores


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CounterSlots:
    """A monotonic counter of 40 bytes in two slot files, overwritten in place in turn, each write synced."""

    def __init__(self, directory: Path, mac_key: bytes):
        self._mac_key = mac_key
        self._fds = tuple(os.open(directory / f"counter-{s}.bin", os.O_WRONLY | os.O_CREAT, 0o600) for s in (0, 1))

    def raise_to(self, seq: int) -> None:
        """Write the keyed sequence number into the slot whose turn it is, durably."""
        value = seq.to_bytes(8, "big")
        slot = value + hashlib.blake2b(value, key=self._mac_key, digest_size=COUNTER_BYTES - 8).digest()
        fd = self._fds[seq % 2]
        os.pwrite(fd, slot, 0)
        os.fdatasync(fd)

    def close(self) -> None:
        """Close the slot files."""
        for fd in self._fds:
            os.close(fd)


class JournalFile:
    """An append-only file of framed records, one write and one fdatasync per commit (as `FileMedium` does)."""

    def __init__(self, directory: Path, with_counter: bool):
        self._mac_key = os.urandom(32)
        self._fd = os.open(directory / "journal.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._counter = CounterSlots(directory, self._mac_key) if with_counter else None
        _fsync_directory(directory)

    def commit(self, p: Payload) -> None:
        """Append the payload as one record and make it durable (then raise the counter, if kept)."""
        body = b"".join(struct.pack(">I", len(part)) + part for part in (p.state, p.log_entry, p.reply))
        header = _RECORD_HEADER.pack(b"TJ", p.seq, len(body), zlib.crc32(body))
        mac = hashlib.blake2b(header + body, key=self._mac_key, digest_size=16).digest()
        os.write(self._fd, header + body + mac)
        os.fdatasync(self._fd)
        if self._counter is not None:
            self._counter.raise_to(p.seq)

    def close(self) -> None:
        """Close the files."""
        os.close(self._fd)
        if self._counter is not None:
            self._counter.close()


class SqliteStore:
    """The same three things in SQLite (WAL, synchronous=FULL), one transaction per commit."""

    def __init__(self, directory: Path, with_counter: bool):
        self._counter = CounterSlots(directory, os.urandom(32)) if with_counter else None
        self._db = sqlite3.connect(directory / "memory.sqlite", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(
            """
            CREATE TABLE state (id INTEGER PRIMARY KEY CHECK (id = 0), data BLOB NOT NULL);
            CREATE TABLE log (seq INTEGER PRIMARY KEY, data BLOB NOT NULL);
            CREATE TABLE replies (seq INTEGER PRIMARY KEY, command_id BLOB NOT NULL UNIQUE, data BLOB NOT NULL);
            """
        )
        # A pump in service: a full log and a full reply list, so every commit also drops the oldest of each.
        # The same bytes in every database, so two of them given the same commits write the same pages.
        rng = random.Random(0)
        with self._transaction():
            self._db.execute("INSERT INTO state VALUES (0, ?)", (rng.randbytes(STATE_BYTES),))
            self._db.executemany(
                "INSERT INTO log VALUES (?, ?)", ((-i, rng.randbytes(LOG_ENTRY_BYTES)) for i in range(LOG_CAPACITY))
            )
            self._db.executemany(
                "INSERT INTO replies VALUES (?, ?, ?)",
                ((-i, rng.randbytes(16), rng.randbytes(REPLY_BYTES)) for i in range(REPLIES_KEPT)),
            )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def commit(self, p: Payload) -> None:
        """One transaction: the new state, the new log entry and reply, the oldest of each dropped."""
        with self._transaction():
            self._db.execute(
                "INSERT INTO state VALUES (0, ?) ON CONFLICT(id) DO UPDATE SET data = excluded.data", (p.state,)
            )
            self._db.execute("INSERT INTO log VALUES (?, ?)", (p.seq, p.log_entry))
            self._db.execute("DELETE FROM log WHERE seq = ?", (p.seq - LOG_CAPACITY,))
            self._db.execute("INSERT INTO replies VALUES (?, ?, ?)", (p.seq, p.command_id, p.reply))
            self._db.execute("DELETE FROM replies WHERE seq = ?", (p.seq - REPLIES_KEPT,))
        if self._counter is not None:
            self._counter.raise_to(p.seq)

    def close(self) -> None:
        """Close the database (and the counter)."""
        self._db.close()
        if self._counter is not None:
            self._counter.close()


class ImageSlots:
    """The old memory: the whole image rewritten in place and fsynced, two slot files in turn."""

    def __init__(self, directory: Path):
        self._paths = (directory / "slot0.bin", directory / "slot1.bin")
        self._image = bytearray(os.urandom(IMAGE_BYTES))
        for path in self._paths:
            path.write_bytes(self._image)
        _fsync_directory(directory)

    def commit(self, p: Payload) -> None:
        """Put the payload into the image and rewrite one slot with all of it."""
        self._image[: STATE_BYTES + LOG_ENTRY_BYTES + REPLY_BYTES] = p.state + p.log_entry + p.reply
        fd = os.open(self._paths[p.seq % 2], os.O_WRONLY | os.O_TRUNC)
        try:
            view = memoryview(self._image)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Nothing stays open."""


Store = JournalFile | SqliteStore | ImageSlots


def _open(way: str, directory: Path) -> Store:
    directory.mkdir(parents=True)
    if way == "image":
        return ImageSlots(directory)
    with_counter = way.endswith("_counter")
    if way.startswith("sqlite"):
        return SqliteStore(directory, with_counter)
    return JournalFile(directory, with_counter)


# ------------------------------------------------------------------ measuring


def percentile(values: list[float], p: int) -> float:
    """The p-th percentile (inclusive method), the same way in every benchmark of this package."""
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def _one_repetition(root: Path, count: int) -> dict[str, dict[str, float]]:
    stores = {way: _open(way, root / way) for way in WAYS}
    times: dict[str, list[float]] = {way: [] for way in WAYS}
    writes = dict.fromkeys(WAYS, OsWrites(0, 0))
    try:
        for seq in range(1, count + 1):
            payload = Payload.make(seq)
            for way, store in stores.items():
                before = os_writes()
                t0 = time.perf_counter()
                store.commit(payload)
                elapsed = time.perf_counter() - t0
                after = os_writes()
                times[way].append(elapsed * 1000)
                if before is not None and after is not None:
                    writes[way] = writes[way] + (after - before)
    finally:
        for store in stores.values():
            store.close()
    known = os_writes() is not None
    return {
        way: {
            "p50_ms": percentile(times[way], 50),
            "p99_ms": percentile(times[way], 99),
            "commits_per_s": count / (sum(times[way]) / 1000),
            "write_calls": writes[way].calls / count if known else float("nan"),
            "bytes_written": writes[way].bytes / count if known else float("nan"),
        }
        for way in WAYS
    }


def run() -> dict[str, float]:
    """Measure every way, REPETITIONS times; figures are the medians, keyed "{way}_{figure}"."""
    per_rep: list[dict[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="thecal-memory-") as tmp:
        for rep in range(REPETITIONS):
            per_rep.append(_one_repetition(Path(tmp) / f"rep{rep}", COMMITS))
    figures: dict[str, float] = {}
    for way in WAYS:
        for name in per_rep[0][way]:
            figures[f"{way}_{name}"] = statistics.median(rep[way][name] for rep in per_rep)
    return figures


def report() -> None:
    """Print the table and which way is cheapest."""
    r = run()
    where = filesystem_of(Path(tempfile.gettempdir()))
    print(
        f"Memory: one durable commit of a typical command (state {STATE_BYTES} B + log entry {LOG_ENTRY_BYTES} B"
        f" + reply {REPLY_BYTES} B)"
    )
    print(
        f"  {COMMITS} commits per way, ways interleaved, {REPETITIONS} repetitions, medians; files in"
        f" {tempfile.gettempdir()} ({where})"
    )
    print(f"    {'way':<38} {'p50 ms':>7} {'p99 ms':>7} {'commits/s':>10} {'writes/commit':>14} {'bytes/commit':>13}")
    for way in WAYS:
        print(
            f"    {WAY_NAMES[way]:<38} {r[f'{way}_p50_ms']:7.2f} {r[f'{way}_p99_ms']:7.2f}"
            f" {r[f'{way}_commits_per_s']:10,.0f} {r[f'{way}_write_calls']:14.1f} {r[f'{way}_bytes_written']:13,.0f}"
        )
    for figure in ("p50_ms", "p99_ms"):
        best = min(WAYS, key=lambda way: r[f"{way}_{figure}"])
        print(f"    lowest {figure.split('_')[0]}: {WAY_NAMES[best]}")
    print("    (writes and bytes: what the kernel counted for the process, SQLite's own writes included)")
