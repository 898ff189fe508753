"""Per-link frame counters that only go up, saved before any frame depends on them.

For each link a side keeps the highest counter it accepted from the other side
and the last counter it sent. A frame is fresh only if its counter is above the
accepted one; the new value is saved before the frame is acted on, so neither a
replay nor a reboot can make an old frame fresh again. A missing or damaged
record is an error, never a silent reset to zero.
"""

from __future__ import annotations

from thecal.telemetry import codec
from thecal.telemetry.errors import RejectCode, Rejected, StoreDamaged
from thecal.telemetry.frames import MAX_COUNTER
from thecal.telemetry.persistence import Persistence


class CounterStore:
    """The received and sent counters of every link of one device."""

    def __init__(self, persistence: Persistence, name: str = "counters"):
        self.persistence = persistence
        self._name = name
        self._links = self._load()

    def _load(self) -> dict[str, list[int]]:
        data = self.persistence.load(self._name)
        if data is None:
            return {}
        try:
            links = codec.decode(data, "counter record")
        except Rejected as exc:
            raise StoreDamaged(self._name, exc.reason) from None
        if not isinstance(links, dict) or not all(
            type(key) is str and type(pair) is list and len(pair) == 2 and all(type(n) is int for n in pair)
            for key, pair in links.items()
        ):
            raise StoreDamaged(self._name, "expected a map of link id to [received, sent]")
        return {str(key): list(pair) for key, pair in links.items()}

    def _save(self) -> None:
        self.persistence.save(self._name, codec.encode(dict(self._links)))

    def start(self, link_id: bytes, *, received: int, sent: int) -> None:
        """Begin counting for a new link."""
        self._links[link_id.hex()] = [received, sent]
        self._save()

    def forget(self, link_id: bytes) -> None:
        """Drop a link's counters once its keys are gone."""
        if self._links.pop(link_id.hex(), None) is not None:
            self._save()

    def known(self, link_id: bytes) -> bool:
        """Whether this link is counted here."""
        return link_id.hex() in self._links

    def last_received(self, link_id: bytes) -> int:
        """The highest counter accepted on this link."""
        return self._pair(link_id)[0]

    def last_sent(self, link_id: bytes) -> int:
        """The last counter sent on this link."""
        return self._pair(link_id)[1]

    def accept(self, link_id: bytes, counter: int) -> None:
        """Record a received counter, or raise Rejected if it is not above every earlier one."""
        pair = self._links.get(link_id.hex())
        if pair is None:
            raise Rejected(
                RejectCode.REPLAYED_COUNTER,
                "no counter is stored for this link, so the frame cannot be shown to be fresh; pair again",
            )
        if counter <= pair[0]:
            raise Rejected(
                RejectCode.REPLAYED_COUNTER,
                f"frame counter {counter} is not above the last accepted {pair[0]}: a replayed or stale "
                "frame; if this device's counter file was restored from an old copy, pair it again",
            )
        pair[0] = counter
        self._save()

    def next_sent(self, link_id: bytes) -> int:
        """Reserve and save the next counter to send on this link."""
        pair = self._pair(link_id)
        if pair[1] >= MAX_COUNTER:
            raise Rejected(RejectCode.COUNTER_EXHAUSTED, "this link has used every counter; pair again")
        pair[1] += 1
        self._save()
        return pair[1]

    def _pair(self, link_id: bytes) -> list[int]:
        pair = self._links.get(link_id.hex())
        if pair is None:
            raise StoreDamaged(self._name, f"no counters for link {link_id.hex()}")
        return pair
