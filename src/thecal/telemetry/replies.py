"""The pump's memory of recent commands, so a retried command is answered, never executed twice.

Before a state-changing command runs, an entry saying it began is appended to
its link's list; after it ran, an entry with its reply. A retry with the same
id gets the saved reply back. A retry that finds only the first entry means
the pump lost power while executing it: the answer is "outcome unknown", never
a second execution.

Each link keeps its own list (`replies-<link id>`), so one device cannot push
another device's entries out, and pairing again starts a new list. A list
keeps the entries of the last `per_peer` commands at least (two entries each),
and every entry carries the link's horizon: the highest first counter of any
entry that was dropped. A command id that is not remembered and whose first
frame's counter is at or below the horizon may have run and been forgotten;
the endpoint refuses it as too old. One above the horizon cannot have begun
(its entry would still be here), so it is new. A link with no list at all
(never written, or lost) takes as horizon every counter the pump had accepted
on that link before: an empty list never passes for "nothing ran".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from thecal.telemetry import codec
from thecal.telemetry.errors import Rejected, StoreDamaged
from thecal.telemetry.persistence import Persistence

DEFAULT_PER_PEER = 64
ENTRIES_PER_COMMAND = 2  # one when it begins, one with its reply
LIST_PREFIX = "replies-"


@dataclass(frozen=True)
class Remembered:
    """A command seen before: the fingerprint of what it asked, and its reply if it finished."""

    digest: bytes
    reply: bytes | None


@dataclass(frozen=True)
class _Entry:
    command_id: bytes
    first_counter: int
    digest: bytes
    reply: bytes | None
    horizon: int  # the link's horizon when the entry was written

    def encode(self) -> bytes:
        return codec.encode([self.command_id, self.first_counter, self.digest, self.reply, self.horizon])


@dataclass
class _Link:
    entries: list[_Entry] = field(default_factory=list)
    horizon: int = 0


def list_name(link_id: bytes) -> str:
    """The name of a link's list of remembered commands."""
    return LIST_PREFIX + link_id.hex()


class ReplyCache:
    """Recent command ids and their replies, per link, appended to persistent lists."""

    def __init__(self, persistence: Persistence, *, per_peer: int = DEFAULT_PER_PEER):
        if per_peer < 1:
            raise ValueError("per_peer must be at least 1")
        self._persistence = persistence
        self.per_peer = per_peer
        self._keep = ENTRIES_PER_COMMAND * per_peer
        self._links: dict[bytes, _Link] = {}

    def lookup(self, link_id: bytes, command_id: bytes, *, accepted_before: int) -> Remembered | None:
        """What is remembered of this link's command id, or None.

        `accepted_before` is the highest counter the pump accepted on this link before the present frame; it is
        the horizon of a link that has no list.
        """
        for entry in reversed(self._link(link_id, accepted_before).entries):
            if entry.command_id == command_id:
                return Remembered(entry.digest, entry.reply)
        return None

    def horizon(self, link_id: bytes) -> int:
        """Commands first sent in a frame above this counter are all remembered if they ever began."""
        link = self._links.get(link_id)
        if link is None:
            raise KeyError(f"the list of link {link_id.hex()} was not looked up yet")
        return link.horizon

    def begin(self, link_id: bytes, command_id: bytes, first_counter: int, digest: bytes) -> None:
        """Save a command as begun, before it executes."""
        self._append(link_id, command_id, first_counter, digest, None)

    def finish(self, link_id: bytes, command_id: bytes, reply: bytes) -> None:
        """Save the reply of a command that began."""
        link = self._links.get(link_id)
        began = next((e for e in reversed(link.entries) if e.command_id == command_id), None) if link else None
        if began is None:
            raise KeyError(f"command {command_id.hex()} on link {link_id.hex()} never began")
        self._append(link_id, command_id, began.first_counter, began.digest, reply)

    def forget(self, link_id: bytes) -> None:
        """Drop what is held in memory of a link whose keys are gone."""
        self._links.pop(link_id, None)

    def _append(self, link_id: bytes, command_id: bytes, first: int, digest: bytes, reply: bytes | None) -> None:
        link = self._links.get(link_id)
        if link is None:
            raise KeyError(f"the list of link {link_id.hex()} was not looked up yet")
        horizon = link.horizon
        if len(link.entries) >= self._keep:  # this append drops the oldest entry
            horizon = max(horizon, link.entries[0].first_counter)
        entry = _Entry(command_id, first, digest, reply, horizon)
        self._persistence.append(list_name(link_id), entry.encode(), self._keep)
        link.entries.append(entry)
        del link.entries[: -self._keep]
        link.horizon = horizon

    def _link(self, link_id: bytes, accepted_before: int) -> _Link:
        link = self._links.get(link_id)
        if link is None:
            link = self._links[link_id] = self._load(link_id, accepted_before)
        return link

    def _load(self, link_id: bytes, accepted_before: int) -> _Link:
        name = list_name(link_id)
        stored = [_decode(name, data) for data in self._persistence.load_list(name)]
        if not stored:
            return _Link([], accepted_before)
        dropped, kept = stored[: -self._keep], stored[-self._keep :]
        horizon = max(entry.horizon for entry in stored)
        horizon = max([horizon, *(entry.first_counter for entry in dropped)])
        return _Link(kept, horizon)


def _decode(name: str, data: bytes) -> _Entry:
    try:
        fields = codec.decode(data, "reply entry")
    except Rejected as exc:
        raise StoreDamaged(name, exc.reason) from None
    if not (
        type(fields) is list
        and len(fields) == 5
        and type(fields[0]) is bytes
        and type(fields[1]) is int
        and type(fields[2]) is bytes
        and (fields[3] is None or type(fields[3]) is bytes)
        and type(fields[4]) is int
    ):
        raise StoreDamaged(name, "expected entries [command id, first counter, digest, reply or null, horizon]")
    return _Entry(fields[0], fields[1], fields[2], fields[3], fields[4])
