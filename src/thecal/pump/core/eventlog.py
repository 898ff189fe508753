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

The canonical bytes are the entry as compact JSON, `[seq,at_ms,"kind",[["key",
value],...]]`, ASCII only. Stored logs carry hashes over exactly these bytes,
so they can never change. The JSON encoder defines them; `canonical_bytes`
puts them together from integers and from texts the encoder quoted (each text
once, remembered), and leaves any other value to the encoder whole. The
entries the firmware writes by the thousand (a bolus's start and end) have an
`EntryShape`: their kind, keys and texts are fixed, so their bytes are one
template, made once from the encoder's own quoting, with only the integers
filled in; the entry keeps those integers, and makes its detail from the shape
when it is first read. Tests hold all three equal.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from hashlib import sha256

GENESIS = b"\x00" * 32

Detail = tuple[tuple[str, int | str], ...]


class LogEntry:
    """One logged event: its sequence number, pump time, kind, details and chain hash.

    A plain slotted record. An entry of a known shape (`EntryShape`) keeps only its integers, and its detail is
    made from them the first time someone reads it: the firmware writes such entries by the thousand, and most
    are never read one by one.
    """

    __slots__ = ("_detail", "_shape", "at_ms", "hash", "kind", "seq")

    def __init__(self, seq: int, at_ms: int, kind: str, detail: Detail, hash: bytes) -> None:
        self.seq = seq
        self.at_ms = at_ms
        self.kind = kind
        self._detail: Detail | tuple[int, ...] = detail
        self._shape: EntryShape | None = None
        self.hash = hash

    @property
    def detail(self) -> Detail:
        """The details, as (key, value) pairs in their logged order."""
        shape = self._shape
        if shape is None:
            return self._detail  # type: ignore[return-value]
        detail = self._detail = shape.detail(self._detail)  # type: ignore[arg-type]
        self._shape = None
        return detail

    def __eq__(self, other: object) -> bool:
        if type(other) is not LogEntry:
            return NotImplemented
        return (self.seq, self.at_ms, self.kind, self.detail, self.hash) == (
            other.seq,
            other.at_ms,
            other.kind,
            other.detail,
            other.hash,
        )

    __hash__ = None  # type: ignore[assignment]  # equal by value, and mutable like the record it was

    def __repr__(self) -> str:
        return (
            f"LogEntry(seq={self.seq!r}, at_ms={self.at_ms!r}, kind={self.kind!r}, detail={self.detail!r}, "
            f"hash={self.hash!r})"
        )

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


# Compact JSON without spaces: the definition of the canonical bytes an entry's hash covers.
_CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)
# Texts (kinds, keys and text values) repeat: each is quoted by the encoder once and remembered, up to a bound.
_QUOTED: dict[str, str] = {}
_QUOTED_MAX = 4096


def canonical_bytes(seq: int, at_ms: int, kind: str, detail: Detail) -> bytes:
    """The bytes an entry's hash covers: `(seq, at_ms, kind, detail)` as compact ASCII JSON."""
    if type(seq) is int and type(at_ms) is int:
        q = _QUOTED
        try:
            # Exact integers as they are; every text as the encoder quoted it. Anything else (True, None, a
            # number that is not a plain int) is no key of `q`, and goes to the encoder whole.
            items = ",".join(
                [f"[{q[k]},{v}]" if type(v) is int else f"[{q[k]},{q[v]}]" for k, v in detail]  # type: ignore[index]
            )
            return f"[{seq},{at_ms},{q[kind]},[{items}]]".encode()
        except (KeyError, TypeError):
            _remember_texts(kind, detail)
    return _CANONICAL.encode((seq, at_ms, kind, detail)).encode()


def _remember_texts(kind: str, detail: Detail) -> None:
    """Quote the texts of an entry once, for the next entries that use them."""
    for text in (kind, *(k for k, _ in detail), *(v for _, v in detail)):
        if type(text) is str and text not in _QUOTED and len(_QUOTED) < _QUOTED_MAX:
            _QUOTED[text] = _CANONICAL.encode(text)


class EntryShape:
    """Entries of one kind whose detail is the same texts followed by integers under the same keys.

    `texts` are the (key, text) pairs that open the detail; `int_keys` name the integers that follow, in order.
    The canonical bytes of such an entry are a template with the integers filled in: each text is quoted by the
    encoder when the shape is made, so the bytes are the ones `canonical_bytes` writes for the same entry.
    """

    __slots__ = ("_template", "int_keys", "kind", "texts")

    def __init__(self, kind: str, texts: Detail, int_keys: tuple[str, ...]) -> None:
        def quoted(text: str) -> str:
            # A quoted text is ASCII JSON; '%' is the template's one special character.
            return _CANONICAL.encode(text).replace("%", "%%")

        if any(type(v) is not str for _, v in texts):
            raise TypeError("the fixed values of an entry shape are texts")
        self.kind = kind
        self.texts = texts
        self.int_keys = int_keys
        pairs = [f"[{quoted(k)},{quoted(str(v))}]" for k, v in texts] + [f"[{quoted(k)},%d]" for k in int_keys]
        self._template = f"[%d,%d,{quoted(kind)},[{','.join(pairs)}]]".encode("ascii")

    def detail(self, ints: tuple[int, ...]) -> Detail:
        """The detail of an entry of this shape with these integers."""
        return self.texts + tuple(zip(self.int_keys, ints, strict=True))

    def canonical_bytes(self, seq: int, at_ms: int, ints: tuple[int, ...]) -> bytes:
        """The bytes an entry of this shape hashes: `canonical_bytes(seq, at_ms, kind, detail(ints))`."""
        return self._template % (seq, at_ms, *ints)


def entry_hash(previous: bytes, seq: int, at_ms: int, kind: str, detail: Detail) -> bytes:
    """The chain hash of an entry: SHA-256 of the previous hash and the entry's canonical bytes."""
    return sha256(previous + canonical_bytes(seq, at_ms, kind, detail)).digest()


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
        entries = self._entries
        previous = entries[-1].hash if entries else self.anchor
        seq = self._next_seq
        digest = sha256(previous + canonical_bytes(seq, at_ms, kind, detail)).digest()
        entry = LogEntry(seq, at_ms, kind, detail, digest)
        self._next_seq = seq + 1
        self._head = digest
        entries.append(entry)
        if len(entries) > self.capacity:
            self.anchor = entries.popleft().hash
        return entry

    def append_shaped(self, at_ms: int, shape: EntryShape, ints: tuple[int, ...]) -> LogEntry:
        """`append(at_ms, shape.kind, shape.detail(ints))` for an entry of a known shape: the bytes come from the
        template, and the detail is made only when someone reads it."""
        entries = self._entries
        seq = self._next_seq
        digest = sha256((entries[-1].hash if entries else self.anchor) + shape._template % (seq, at_ms, *ints)).digest()
        entry = LogEntry(seq, at_ms, shape.kind, ints, digest)  # type: ignore[arg-type]  # the detail, from the shape
        entry._shape = shape
        self._next_seq = seq + 1
        self._head = digest
        entries.append(entry)
        if len(entries) > self.capacity:
            self.anchor = entries.popleft().hash
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
        # Sequence numbers are consecutive, so the wanted entries are the newest `count`: a save after each
        # command reads a few entries off the end instead of walking the whole log.
        entries = self._entries
        count = min(len(entries), self._next_seq - max(seq, 0))
        return [entries[i] for i in range(len(entries) - count, len(entries))] if count > 0 else []

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
