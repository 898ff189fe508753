"""The pump's non-volatile memory: a journal of keyed, numbered records, and a monotonic counter beside it.

Theory of operation. The memory holds an *image*: named records (the firmware
state, the telemetry counters, the keystore) and named bounded lists (the
event log, the remembered replies). Every change is staged, and a commit writes
all changes staged since the last one as **one record**, appended to the active
*segment*. A record is

    header  magic "TJ" | format | kind | sequence number (u64) | body length (u32) | CRC-32 of these
    body    a count (u16), then items: op (u8) | name (u8 length + ASCII) | keep (u32) | data (u32 length + bytes)
    MAC     16 bytes: keyed BLAKE2b of header and body under the pump's memory key

An item puts a record, or appends to a list (which keeps its newest `keep`
entries). Sequence numbers rise by one from record to
record. A segment starts with a *checkpoint*: a record holding the whole image.
When the active segment is full, the next commit is written as a checkpoint
into the other segment, which is erased first: the memory stays bounded, like a
device's, and the older segment stays whole until the new one verifies.

Beside the journal the pump keeps a **monotonic counter** (two slots, each a
keyed sequence number, written alternately as a secure element's counter
would be). Once a record is appended, the counter is raised to its sequence
number. A commit may leave that raise for later (`settle`): the daemon
acknowledges a command once its record is durable, and raises the counter
after the reply has left, off the round trip. Either way the raise is done
before the next record is appended, so the counter is never more than one
behind. So at start the journal must end at the counter's value, or one above
it when the power failed between the append and the raise (the record is
whole, so it counts). A journal that ends before the counter is an older copy or lost
writes, even when it was cut cleanly at a record's end; a counter further
behind was replaced. Either is a fault, as is a record whose MAC does not
verify, a gap in the numbering, or a memory that holds nothing: only
`Journal.create` (the pump's `init`) ever starts a memory. A power loss can
only cut the last write short; such a torn tail (an incomplete record at the
end, the counter not yet raised to it) is the one damage that is repaired, by
discarding it.

Writes go to a `Medium`: append bytes to a segment, cut a segment back to a
length, and read it; every call is durable when it returns, and a power loss in
an append leaves any prefix of the appended bytes.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

MAGIC = b"TJ"
JOURNAL_FORMAT = 1
COUNTER_MAGIC = b"TC"
MAC_BYTES = 16
SEGMENTS = (0, 1)
COUNTER_SLOTS = (0, 1)
DEFAULT_SEGMENT_BYTES = 4 * 1024 * 1024  # assumption: two 4 MiB segments of flash for the pump's memory

_HEADER = struct.Struct(">2sBBQI")
_HEADER_CRC = struct.Struct(">I")
HEADER_BYTES = _HEADER.size + _HEADER_CRC.size
_COUNTER = struct.Struct(">2sQ")
_U16 = struct.Struct(">H")
_ITEM = struct.Struct(">BB")
_U32 = struct.Struct(">I")


class RecordKind(IntEnum):
    """What a record holds: the whole image, or the changes of one commit."""

    CHECKPOINT = 1
    COMMIT = 2


_KINDS = frozenset(int(kind) for kind in RecordKind)


class Op(IntEnum):
    """What an item does to the image."""

    PUT = 1
    APPEND = 2


class Medium(Protocol):
    """Two segments and two counter slots of non-volatile memory."""

    def read(self, segment: int) -> bytes:
        """The bytes of a segment (empty when never written)."""
        ...

    def append(self, segment: int, data: bytes) -> None:
        """Append to a segment, durably; a power loss may leave any prefix of data appended."""
        ...

    def cut(self, segment: int, length: int) -> None:
        """Discard a segment's bytes from `length` on, durably (0 erases it)."""
        ...

    def read_counter(self, slot: int) -> bytes:
        """The bytes of a counter slot (empty when never written)."""
        ...

    def write_counter(self, slot: int, data: bytes) -> None:
        """Replace a counter slot, durably; a power loss may leave any prefix of data."""
        ...


class MemoryFault(Exception):
    """The memory cannot be trusted: the pump must not run therapy from it.

    `code` names the fault for the pump's status and log; the message says what
    was found and how a clinician recovers the pump.
    """

    code = "memory_fault"

    def __init__(self, found: str):
        self.found = found
        super().__init__(
            f"pump memory fault ({self.code}): {found}; the pump delivers nothing from this memory. "
            "A clinician recovers the pump with `thecal pump recover --state DIR --reason TEXT` "
            "(the pump then starts stopped, unprogrammed and unpaired, with a pump-fault alarm to clear)"
        )


class BlankMemory(MemoryFault):
    """The memory holds nothing: it was erased or deleted, or never made by init."""

    code = "memory_blank"


class CorruptMemory(MemoryFault):
    """A record does not verify, or the numbering has a gap: the memory was damaged or altered."""

    code = "memory_corrupt"


class MemoryBehind(MemoryFault):
    """The journal ends before the counter: an older copy of the memory, or writes lost."""

    code = "memory_behind"


class CounterBehind(MemoryFault):
    """The monotonic counter is behind the journal: the counter was replaced."""

    code = "counter_behind"


class UnreadableMemory(MemoryFault):
    """The memory verifies, but this firmware cannot read what it holds (another format)."""

    code = "memory_unreadable"


@dataclass
class Image:
    """What the memory holds: named records and named bounded lists of entries, oldest first."""

    records: dict[str, bytes] = field(default_factory=dict)
    lists: dict[str, list[bytes]] = field(default_factory=dict)
    keeps: dict[str, int] = field(default_factory=dict)

    def apply(self, op: Op, name: str, data: bytes, keep: int) -> None:
        """Apply one item."""
        if op is Op.PUT:
            self.records[name] = data
        else:
            entries = self.lists.setdefault(name, [])
            entries.append(data)
            if len(entries) > keep:
                del entries[: len(entries) - keep]
            self.keeps[name] = keep

    def items(self) -> Iterator[tuple[Op, str, bytes, int]]:
        """The whole image as items, as a checkpoint holds it."""
        for name, data in sorted(self.records.items()):
            yield Op.PUT, name, data, 0
        for name, entries in sorted(self.lists.items()):
            keep = self.keeps[name]
            for entry in entries:
                yield Op.APPEND, name, entry, keep


Item = tuple[Op, str, bytes, int]


# ------------------------------------------------------------------ records


def _mac(key: bytes, covered: bytes) -> bytes:
    return hashlib.blake2b(covered, key=key, digest_size=MAC_BYTES).digest()


def encode_items(items: list[Item]) -> bytes:
    """The body of a record."""
    parts = [_U16.pack(len(items))]
    for op, name, data, keep in items:
        raw = name.encode("ascii")
        parts.append(_ITEM.pack(op, len(raw)) + raw + _U32.pack(keep) + _U32.pack(len(data)))
        parts.append(data)
    return b"".join(parts)


def decode_items(body: bytes) -> list[Item]:
    """The items of a verified body; CorruptMemory if it does not parse whole."""
    try:
        (count,) = _U16.unpack_from(body)
        at = _U16.size
        items: list[Item] = []
        for _ in range(count):
            op, name_length = _ITEM.unpack_from(body, at)
            at += _ITEM.size
            name = body[at : at + name_length].decode("ascii")
            at += name_length
            (keep,) = _U32.unpack_from(body, at)
            (length,) = _U32.unpack_from(body, at + 4)
            at += 8
            data = body[at : at + length]
            if len(data) != length:
                raise ValueError("item data cut short")
            at += length
            items.append((Op(op), name, data, keep))
        if at != len(body):
            raise ValueError("bytes after the last item")
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise CorruptMemory(f"a record that verifies does not parse ({exc})") from None
    return items


def encode_record(key: bytes, kind: RecordKind, seq: int, items: list[Item]) -> bytes:
    """One record: header with its CRC, body, MAC."""
    body = encode_items(items)
    header = _HEADER.pack(MAGIC, JOURNAL_FORMAT, kind, seq, len(body))
    header += _HEADER_CRC.pack(zlib.crc32(header))
    return header + body + _mac(key, header + body)


@dataclass(frozen=True)
class Record:
    """A verified record and where it ends in its segment."""

    kind: RecordKind
    seq: int
    items: list[Item]
    end: int


@dataclass(frozen=True)
class Segment:
    """What a segment holds: its verified records, and whether a torn record follows them."""

    records: list[Record]
    torn_at: int | None  # offset of an incomplete record at the very end, if any


def read_segment(key: bytes, data: bytes, segment: int, records: list[Record] | None = None) -> Segment:
    """Every record of a segment; CorruptMemory on anything but a torn record at the end.

    The verified records read before a fault are left in `records`, when given (for salvage).
    """
    records = [] if records is None else records
    at = 0
    while at < len(data):
        rest = len(data) - at
        if rest < HEADER_BYTES:
            return Segment(records, at)  # a header cut short by a power loss
        header = data[at : at + _HEADER.size]
        (crc,) = _HEADER_CRC.unpack_from(data, at + _HEADER.size)
        if zlib.crc32(header) != crc:
            raise CorruptMemory(f"segment {segment}: the record header at byte {at} is damaged")
        magic, fmt, kind, seq, length = _HEADER.unpack(header)
        if magic != MAGIC or kind not in _KINDS:
            raise CorruptMemory(f"segment {segment}: byte {at} does not start a journal record")
        kind = RecordKind(kind)
        if fmt != JOURNAL_FORMAT:
            raise UnreadableMemory(
                f"segment {segment} holds journal format {fmt}, and this firmware reads format {JOURNAL_FORMAT}; "
                "install the firmware that wrote it"
            )
        end = at + HEADER_BYTES + length + MAC_BYTES
        if end > len(data):
            return Segment(records, at)  # the body or MAC cut short by a power loss
        body = data[at + HEADER_BYTES : end - MAC_BYTES]
        if _mac(key, header + data[at + _HEADER.size : at + HEADER_BYTES] + body) != data[end - MAC_BYTES : end]:
            raise CorruptMemory(
                f"segment {segment}: record {seq} at byte {at} does not verify under this pump's memory key "
                "(damaged, forged, or written by another pump)"
            )
        if records and seq != records[-1].seq + 1:
            raise CorruptMemory(f"segment {segment}: record {seq} follows record {records[-1].seq}")
        if not records and kind is not RecordKind.CHECKPOINT:
            raise CorruptMemory(f"segment {segment} does not start with a checkpoint")
        if records and kind is RecordKind.CHECKPOINT:
            raise CorruptMemory(f"segment {segment}: a second checkpoint at record {seq}")
        records.append(Record(kind, seq, decode_items(body), end))
        at = end
    return Segment(records, None)


def encode_counter(key: bytes, value: int) -> bytes:
    """One counter slot: its value and MAC."""
    raw = _COUNTER.pack(COUNTER_MAGIC, value)
    return raw + _mac(key, raw)


def read_counter(key: bytes, data: bytes) -> int | None:
    """The value in a counter slot, or None when it holds no complete verified value (torn or never written)."""
    if len(data) != _COUNTER.size + MAC_BYTES:
        return None
    raw = data[: _COUNTER.size]
    if _mac(key, raw) != data[_COUNTER.size :]:
        return None
    magic, value = _COUNTER.unpack(raw)
    return int(value) if magic == COUNTER_MAGIC else None


def readable_records(key: bytes, data: bytes, segment: int) -> list[Record]:
    """The records of a segment that verify, from its checkpoint up to the first damage."""
    records: list[Record] = []
    with suppress(MemoryFault):
        read_segment(key, data, segment, records)
    return records


def scan_records(key: bytes, data: bytes) -> list[Record]:
    """Every record anywhere in a damaged segment that still verifies, found by searching past the damage."""
    found: list[Record] = []
    at = data.find(MAGIC)
    while 0 <= at <= len(data) - HEADER_BYTES:
        header = data[at : at + _HEADER.size]
        (crc,) = _HEADER_CRC.unpack_from(data, at + _HEADER.size)
        _, fmt, kind, seq, length = _HEADER.unpack(header)
        end = at + HEADER_BYTES + length + MAC_BYTES
        if zlib.crc32(header) == crc and fmt == JOURNAL_FORMAT and kind in _KINDS and end <= len(data):
            body = data[at + HEADER_BYTES : end - MAC_BYTES]
            if _mac(key, data[at : at + HEADER_BYTES] + body) == data[end - MAC_BYTES : end]:
                with suppress(MemoryFault):
                    found.append(Record(RecordKind(kind), seq, decode_items(body), end))
                    at = data.find(MAGIC, end)
                    continue
        at = data.find(MAGIC, at + 1)
    return found


@dataclass(frozen=True)
class Salvage:
    """What a recovery can still read of a memory in fault."""

    highest: int  # the highest sequence number or counter value seen anywhere
    records: list[Record]  # every record anywhere that still verifies, in sequence order


def salvage(medium: Medium, key: bytes) -> Salvage:
    """Whatever still verifies in a damaged memory."""
    everything: list[Record] = []
    highest = max((read_counter(key, medium.read_counter(s)) or 0 for s in COUNTER_SLOTS), default=0)
    for segment in SEGMENTS:
        everything.extend(scan_records(key, medium.read(segment)))
    everything.sort(key=lambda record: record.seq)
    if everything:
        highest = max(highest, everything[-1].seq)
    return Salvage(highest, everything)


# ------------------------------------------------------------------ journal


class Journal:
    """The pump's memory: stage changes to the image, commit them as one record, verified at every start."""

    def __init__(self, medium: Medium, key: bytes, image: Image, *, active: int, seq: int, size: int, limit: int):
        self._medium = medium
        self._key = key
        self.image = image
        self._active = active
        self._seq = seq
        self._size = size
        self._limit = limit
        self._staged: list[Item] = []
        self._deferred: list[Callable[[], None]] = []
        self._held = 0
        self._counter_lags = False  # the last record's counter raise was left for `settle`
        self.commits = 0  # records written since this journal was opened
        self.discarded = 0  # bytes of a torn write discarded when the journal was opened

    @classmethod
    def create(
        cls, medium: Medium, key: bytes, image: Image | None = None, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES
    ) -> Journal:
        """Start a memory: a first checkpoint of `image`. Refused when the medium holds a memory already."""
        if any(medium.read(s) for s in SEGMENTS) or any(medium.read_counter(s) for s in COUNTER_SLOTS):
            raise ValueError("this medium already holds a pump memory; only an empty medium is started anew")
        return cls.restart(medium, key, image or Image(), after_seq=0, segment_bytes=segment_bytes)

    @classmethod
    def restart(
        cls, medium: Medium, key: bytes, image: Image, *, after_seq: int, segment_bytes: int = DEFAULT_SEGMENT_BYTES
    ) -> Journal:
        """Write `image` as a new memory whose numbering continues after `after_seq` (init, or recovery)."""
        journal = cls(medium, key, image, active=1, seq=after_seq, size=0, limit=segment_bytes)
        journal._checkpoint()
        for segment in SEGMENTS:
            if segment != journal._active:
                medium.cut(segment, 0)
        return journal

    @classmethod
    def open(cls, medium: Medium, key: bytes, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> Journal:
        """The memory as last committed; MemoryFault when it cannot be trusted."""
        raw = {s: medium.read(s) for s in SEGMENTS}
        counters = [read_counter(key, medium.read_counter(s)) for s in COUNTER_SLOTS]
        counter = max((c for c in counters if c is not None), default=None)
        if not any(raw.values()):
            if counter is None:
                raise BlankMemory("the memory holds nothing (erased, deleted, or never made by `thecal pump init`)")
            raise MemoryBehind(f"the journal is empty, but the memory's counter stands at {counter}")
        # The newest whole checkpoint picks the active segment; the other one is superseded, and what it holds
        # (an older segment, or a checkpoint the power cut short) is not read further.
        readable = {segment: readable_records(key, data, segment) for segment, data in raw.items()}
        started = [s for s in SEGMENTS if readable[s]]
        if not started:
            raise CorruptMemory("neither segment starts with a whole checkpoint that verifies")
        active = max(started, key=lambda s: readable[s][0].seq)
        chosen = read_segment(key, raw[active], active)  # the active segment must be whole, but for a torn tail
        last = chosen.records[-1].seq
        if counter is None:
            raise CounterBehind(f"the memory's counter holds no valid value, and the journal ends at record {last}")
        if counter > last:
            raise MemoryBehind(
                f"the journal ends at record {last}, but the memory's counter stands at {counter}: "
                "an older copy of the memory, or writes lost"
            )
        if counter < last - 1:
            raise CounterBehind(f"the memory's counter stands at {counter}, behind the journal's record {last}")
        if chosen.torn_at is not None and counter != last:
            raise CorruptMemory(f"bytes after record {last} that no write in flight explains")
        image = Image()
        for record in chosen.records:
            for op, name, data, keep in record.items:
                image.apply(op, name, data, keep)
        size = chosen.records[-1].end
        discarded = len(raw[active]) - size
        if discarded:
            medium.cut(active, size)  # discard the write the power cut short, before anything is appended
        journal = cls(medium, key, image, active=active, seq=last, size=size, limit=segment_bytes)
        journal.discarded = discarded
        if counter < last:
            journal._raise_counter(last)  # the record was whole; only the counter's raise was lost
        return journal

    # ------------------------------------------------------------ changes

    @property
    def seq(self) -> int:
        """The sequence number of the last committed record."""
        return self._seq

    @property
    def pending(self) -> bool:
        """Whether changes are staged that no commit has written yet."""
        return bool(self._staged or self._deferred)

    def put(self, name: str, data: bytes) -> None:
        """Stage a record's new bytes (a record put again before the commit is written once, as last put)."""
        staged = self._staged
        for i, (op, staged_name, _, _) in enumerate(staged):
            if op is Op.PUT and staged_name == name:
                del staged[i]
                break
        self._stage(Op.PUT, name, data, 0)

    def append(self, name: str, data: bytes, keep: int) -> None:
        """Stage an entry appended to a list that keeps its newest `keep` entries."""
        if keep < 1:
            raise ValueError("a list keeps at least one entry")
        self._stage(Op.APPEND, name, data, keep)

    def stage_at_commit(self, stage: Callable[[], None]) -> None:
        """Have `stage` stage its changes just before the next commit.

        A saver called after every step of a held phase then encodes its record once, at the commit, from the
        state as it stands then, instead of once a step.
        """
        if stage not in self._deferred:
            self._deferred.append(stage)

    def _stage(self, op: Op, name: str, data: bytes, keep: int) -> None:
        raw = name.encode("ascii")
        if not 0 < len(raw) < 256:
            raise ValueError(f"a memory name is 1 to 255 ASCII characters, not {name!r}")
        self.image.apply(op, name, data, keep)
        self._staged.append((op, name, bytes(data), keep))

    @contextmanager
    def held(self) -> Iterator[None]:
        """Inside, `written` commits nothing: the holder commits what was staged once, after (one write a phase)."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1

    def written(self) -> None:
        """A saver staged its changes: commit them now, unless a holder will."""
        if not self._held:
            self.commit()

    def commit(self, *, settle_later: bool = False) -> int | None:
        """Write everything staged as one record; its sequence number, or None when nothing was staged.

        The record is durable when this returns. With `settle_later`, the counter is raised to it by the next
        `settle` (or the next commit, which settles first) instead of now.
        """
        deferred, self._deferred = self._deferred, []
        for stage in deferred:
            stage()
        if not self._staged:
            return None
        self.settle()  # the counter is never two records behind
        items, self._staged = self._staged, []
        record = encode_record(self._key, RecordKind.COMMIT, self._seq + 1, items)
        if self._size + len(record) > self._limit:
            return self._checkpoint()  # the image already holds the staged items
        self._medium.append(self._active, record)
        if not settle_later:
            self._raise_counter(self._seq + 1)
        self._seq += 1
        self._size += len(record)
        self._counter_lags = settle_later
        self.commits += 1
        return self._seq

    def settle(self) -> None:
        """Raise the counter to the last record, when a commit left that for later."""
        if self._counter_lags:
            self._raise_counter(self._seq)
            self._counter_lags = False

    def _checkpoint(self) -> int:
        """Write the whole image as the first record of the other segment, which becomes the active one."""
        target = 1 - self._active
        record = encode_record(self._key, RecordKind.CHECKPOINT, self._seq + 1, list(self.image.items()))
        self._medium.cut(target, 0)
        self._medium.append(target, record)
        self._raise_counter(self._seq + 1)
        self._active, self._seq, self._size = target, self._seq + 1, len(record)
        self.commits += 1
        return self._seq

    def _raise_counter(self, value: int) -> None:
        self._medium.write_counter(value % 2, encode_counter(self._key, value))
