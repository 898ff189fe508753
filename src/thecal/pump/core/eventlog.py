"""The pump's event log: append-only, hash-chained, bounded like a device's memory.

Each entry's hash covers the previous entry's hash and the entry's own
canonical bytes, so any edit, reordering or deletion inside the kept window
breaks the chain. When the memory is full the oldest entry is dropped and its
hash becomes the anchor the next oldest entry chains from: the window still
verifies, and the sequence numbers show how many entries were dropped.

The log also keeps its head, apart from the entries: the next sequence number
and the hash of the newest entry. Verification walks the chain from the
anchor and must arrive at that head, so a log whose newest entries were cut
off does not verify either.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

GENESIS = b"\x00" * 32

Detail = tuple[tuple[str, int | str], ...]


@dataclass(frozen=True)
class LogEntry:
    """One logged event: its sequence number, pump time, kind, details and chain hash."""

    seq: int
    at_ms: int
    kind: str
    detail: Detail
    hash: bytes

    def get(self, key: str, default: int | str | None = None) -> int | str | None:
        """A detail value by key."""
        for k, v in self.detail:
            if k == key:
                return v
        return default

    def to_data(self) -> list[object]:
        """Plain values for storage and JSON."""
        return [self.seq, self.at_ms, self.kind, [list(kv) for kv in self.detail], self.hash.hex()]

    @classmethod
    def from_data(cls, data: list[object]) -> LogEntry:
        """Rebuild from `to_data`."""
        seq, at_ms, kind, detail, digest = data
        return cls(
            int(seq),  # type: ignore[call-overload]
            int(at_ms),  # type: ignore[call-overload]
            str(kind),
            tuple((str(k), v) for k, v in detail),  # type: ignore[attr-defined]
            bytes.fromhex(str(digest)),
        )


# Compact JSON without spaces: the canonical bytes an entry's hash covers.
_CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)


def entry_hash(previous: bytes, seq: int, at_ms: int, kind: str, detail: Detail) -> bytes:
    """The chain hash of an entry: SHA-256 of the previous hash and the entry as compact JSON."""
    body = _CANONICAL.encode((seq, at_ms, kind, detail)).encode()
    return hashlib.sha256(previous + body).digest()


class EventLog:
    """A bounded, hash-chained, append-only log."""

    def __init__(self, capacity: int, anchor: bytes = GENESIS, entries: list[LogEntry] | None = None):
        if capacity < 1:
            raise ValueError("an event log holds at least one entry")
        self.capacity = capacity
        self.anchor = anchor
        self._entries: deque[LogEntry] = deque(entries or (), maxlen=None)
        # The head as these entries give it; `from_data` restores the head that was stored with them.
        self._next_seq = self._entries[-1].seq + 1 if self._entries else 0
        self._head = self._entries[-1].hash if self._entries else anchor

    def append(self, at_ms: int, kind: str, detail: Detail = ()) -> LogEntry:
        """Add an entry at the end, dropping the oldest when memory is full."""
        previous = self._entries[-1].hash if self._entries else self.anchor
        entry = LogEntry(self._next_seq, at_ms, kind, detail, entry_hash(previous, self._next_seq, at_ms, kind, detail))
        self._next_seq += 1
        self._head = entry.hash
        self._entries.append(entry)
        if len(self._entries) > self.capacity:
            self.anchor = self._entries.popleft().hash
        return entry

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def next_seq(self) -> int:
        """The sequence number the next entry will get; it never goes backwards."""
        return self._next_seq

    @property
    def dropped(self) -> int:
        """How many of the oldest entries memory no longer holds."""
        return self._entries[0].seq if self._entries else self._next_seq

    def head(self) -> bytes:
        """The hash of the newest entry ever appended (the anchor while none was)."""
        return self._head

    def since(self, seq: int) -> list[LogEntry]:
        """Entries with a sequence number of at least `seq`."""
        return [e for e in self._entries if e.seq >= seq]

    def verify(self) -> bool:
        """True when the kept entries chain from the anchor without a break and end at the head."""
        previous = self.anchor
        expected_seq = self.dropped
        for e in self._entries:
            if e.seq != expected_seq or e.hash != entry_hash(previous, e.seq, e.at_ms, e.kind, e.detail):
                return False
            previous = e.hash
            expected_seq += 1
        return previous == self._head and expected_seq == self._next_seq

    def to_data(self) -> dict[str, object]:
        """Plain values for storage."""
        return {
            "capacity": self.capacity,
            "anchor": self.anchor.hex(),
            "next_seq": self._next_seq,
            "head": self._head.hex(),
            "entries": [e.to_data() for e in self._entries],
        }

    @classmethod
    def from_data(cls, data: dict[str, object]) -> EventLog:
        """Rebuild from `to_data`."""
        log = cls(
            int(data["capacity"]),  # type: ignore[call-overload]
            bytes.fromhex(str(data["anchor"])),
            [LogEntry.from_data(e) for e in data["entries"]],  # type: ignore[attr-defined]
        )
        log._next_seq = int(data["next_seq"])  # type: ignore[call-overload]
        log._head = bytes.fromhex(str(data["head"]))
        return log
