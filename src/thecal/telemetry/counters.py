"""Per-link frame counters that only go up and are never reused, whatever a crash leaves on disk.

For each link a side keeps the highest counter it accepted from the other side
and the last counter it sent. A frame is fresh only if its counter is above the
accepted one. A missing or damaged record is an error, never a silent reset to
zero. Counters do not make the nonces (those are random, see `link`), so a
counter file restored from an old copy makes frames look stale, never breaks
the cipher.

The record holds, per link, the received counter and the sent counter
*reserved*: every counter ever handed out on the link is at or below it. When
it is written depends on who keeps it:

- the pump, `CounterStore(store)`: every change is saved at once, before the
  frame that depends on it is acted on or sealed; the pump's journal commits
  it with the frame, so this costs no write of its own;
- a programmer or PTM, `CounterStore.for_device(store)`: sent counters are
  reserved a block at a time (`DEVICE_BLOCK`), one durable write per block,
  and handed out from memory; a store loaded after a restart or a crash resumes
  above the reserved value, so a counter is never reused and never goes back.
  The received counter is kept in memory and saved with the next reservation,
  by `flush()`, or when the store is dropped: a reply is bound to its command
  id, so a received counter lost in a crash cannot make an old reply answer a
  new command. A device's store also keeps the ids of the links it paired on
  before (`retired_links`), so a command first sent on one of them is never
  taken for one of the present link.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass

from thecal.telemetry import codec
from thecal.telemetry.errors import RejectCode, Rejected, StoreDamaged
from thecal.telemetry.frames import MAX_COUNTER
from thecal.telemetry.persistence import Persistence

# Frames a programmer or PTM sends per durable write of its counters. What is left of a block when the device
# restarts is skipped, never reused: restarted a hundred times a day for fifty years, a device uses under 2^31
# of the 2^64 counters of a link.
DEVICE_BLOCK = 1024

_log = logging.getLogger(__name__)

# On disk: link id in hex -> [received, reserved], or null for a link a device paired on before.
_Stored = dict[str, list[int] | None]


@dataclass
class _Link:
    received: int
    sent: int  # the last counter handed out; after loading, the reserved value, which the next one is above
    block_end: int  # the last counter this process may hand out before it reserves again
    reserved: int  # the highest counter reserved on disk, by this process or another
    saved_received: int  # the received counter as last written

    @classmethod
    def loaded(cls, received: int, reserved: int) -> _Link:
        return cls(received, reserved, reserved, reserved, received)


class _Record:
    """One store's counters as this process holds them, and their writing."""

    def __init__(self, persistence: Persistence, name: str, *, device: bool) -> None:
        self.persistence = persistence
        self.name = name
        self.device = device
        self.links: dict[str, _Link] = {}
        self.retired: set[str] = set()
        for key, value in self.read().items():
            if value is None:
                self.retired.add(key)
            else:
                self.links[key] = _Link.loaded(*value)

    def read(self) -> _Stored:
        """The record as it is on disk; StoreDamaged if it cannot be read."""
        data = self.persistence.load(self.name)
        if data is None:
            return {}
        try:
            stored = codec.decode(data, "counter record")
        except Rejected as exc:
            raise StoreDamaged(self.name, exc.reason) from None
        if not isinstance(stored, dict) or not all(
            type(key) is str
            and (value is None or (type(value) is list and len(value) == 2 and all(type(n) is int for n in value)))
            for key, value in stored.items()
        ):
            raise StoreDamaged(self.name, "expected a map of link id to [received, sent], or to null for an old link")
        return stored

    def merge(self) -> None:
        """Take in what another object of the same store wrote: counters only rise, a retired link stays so."""
        # Two objects may hold one device's store in one process (a pairing and a session of one directory);
        # without this, one would write back counters the other had already reserved past.
        for key, value in self.read().items():
            link = self.links.get(key)
            if value is None:
                self.retired.add(key)
                self.links.pop(key, None)
            elif key in self.retired:
                continue
            elif link is None:
                self.links[key] = _Link.loaded(*value)
            else:
                link.received = max(link.received, value[0])
                link.reserved = max(link.reserved, value[1])

    def write(self) -> None:
        """Replace the record with what this process holds; durable when it returns."""
        stored: _Stored = {key: None for key in sorted(self.retired)}
        for key, link in self.links.items():
            stored[key] = [link.received, max(link.reserved, link.sent)]
        self.persistence.save(self.name, codec.encode(stored))
        for link in self.links.values():
            link.saved_received = link.received

    def save(self) -> None:
        """Merge (a device's) and write."""
        if self.device:
            self.merge()
        self.write()

    def flush(self) -> None:
        """Write the received counters held only in memory, if there are any."""
        if any(link.received != link.saved_received for link in self.links.values()):
            self.save()

    def flush_when_dropped(self) -> None:
        """The last chance to keep the witness current; failing leaves it lower, never wrong."""
        try:
            self.flush()
        except (OSError, StoreDamaged) as exc:
            _log.warning("the received counters in %r were not saved: %s", self.name, exc)


class CounterStore:
    """The received and sent counters of every link of one device."""

    def __init__(self, persistence: Persistence, name: str = "counters", *, block: int = 1, device: bool = False):
        if block < 1:
            raise ValueError(f"a block of counters holds at least 1 counter, not {block}")
        self.persistence = persistence
        self._block = block
        self._record = _Record(persistence, name, device=device)
        if device:
            # A session dropped without flush() (a command line run, a test) still leaves the witness current:
            # what is held only in memory is written when the store is dropped or the process exits. A crash
            # loses it, which only makes the witness lower.
            weakref.finalize(self, self._record.flush_when_dropped)

    @classmethod
    def for_device(cls, persistence: Persistence, name: str = "counters", *, block: int = DEVICE_BLOCK) -> CounterStore:
        """A programmer's or PTM's counters: sent ones reserved a block at a time, received ones saved lazily."""
        return cls(persistence, name, block=block, device=True)

    @property
    def device(self) -> bool:
        """Whether these are a programmer's or PTM's counters (received saved lazily, earlier links kept)."""
        return self._record.device

    def start(self, link_id: bytes, *, received: int, sent: int) -> None:
        """Begin counting for a new link; durable when it returns."""
        key = link_id.hex()
        self._record.retired.discard(key)
        self._record.links[key] = _Link.loaded(received, sent)
        self._record.save()

    def forget(self, link_id: bytes) -> None:
        """Drop a link's counters once its keys are gone; a device keeps the link's id as an earlier link."""
        key = link_id.hex()
        counted = self._record.links.pop(key, None) is not None
        if self._record.device and key not in self._record.retired:
            # Even a link whose counters were lost: its commands must still be told from the present link's.
            self._record.retired.add(key)
        elif not counted:
            return
        self._record.save()

    def known(self, link_id: bytes) -> bool:
        """Whether this link is counted here."""
        return link_id.hex() in self._record.links

    def retired_links(self) -> list[bytes]:
        """The links this device paired on before the present ones (a device's store only)."""
        return [bytes.fromhex(key) for key in sorted(self._record.retired)]

    def last_received(self, link_id: bytes) -> int:
        """The highest counter accepted on this link."""
        return self._link(link_id).received

    def last_sent(self, link_id: bytes) -> int:
        """The last counter sent on this link (after loading a device's store: the highest that may have been)."""
        return self._link(link_id).sent

    def accept(self, link_id: bytes, counter: int) -> int:
        """Record a received counter and return the one before, or raise Rejected if it is not above it.

        The pump's store saves it at once; a device's keeps it in memory until the next reservation or flush.
        """
        link = self._record.links.get(link_id.hex())
        if link is None:
            raise Rejected(
                RejectCode.REPLAYED_COUNTER,
                "no counter is stored for this link, so the frame cannot be shown to be fresh; pair again",
            )
        if counter <= link.received:
            raise Rejected(
                RejectCode.REPLAYED_COUNTER,
                f"frame counter {counter} is not above the last accepted {link.received}: a replayed or stale "
                "frame; if this device's counter file was restored from an old copy, pair it again",
            )
        previous, link.received = link.received, counter
        if not self._record.device:
            self._record.write()
        return previous

    def next_sent(self, link_id: bytes) -> int:
        """The next counter to send on this link, reserved durably before it is returned."""
        link = self._link(link_id)
        if link.sent >= link.block_end:
            self._reserve(link_id)
            link = self._link(link_id)  # a merge may have found the link retired by another object
        link.sent += 1
        return link.sent

    def flush(self) -> None:
        """Save the received counters held only in memory (a device's store; the pump's has none)."""
        self._record.flush()

    def _reserve(self, link_id: bytes) -> None:
        """Reserve the next block above every counter reserved on disk, and write it (with the received)."""
        if self._record.device:
            self._record.merge()
        link = self._link(link_id)
        base = max(link.sent, link.reserved)
        if base >= MAX_COUNTER:
            raise Rejected(RejectCode.COUNTER_EXHAUSTED, "this link has used every counter; pair again")
        end, before = min(base + self._block, MAX_COUNTER), link.reserved
        link.reserved = end
        try:
            self._record.write()
        except BaseException:
            link.reserved = before  # nothing is handed out of a block that is not on disk
            raise
        link.sent, link.block_end = base, end

    def _link(self, link_id: bytes) -> _Link:
        link = self._record.links.get(link_id.hex())
        if link is None:
            raise StoreDamaged(self._record.name, f"no counters for link {link_id.hex()}")
        return link
