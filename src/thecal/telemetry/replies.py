"""The pump's memory of recent commands, so a retried command is answered, not repeated.

Before a state-changing command runs, its id is saved as pending; after it
ran, its reply is saved in place. A retry with the same id gets the saved reply
back. A retry that finds the entry still pending means the pump lost power
while executing it: the answer is "outcome unknown", never a second execution.
Each peer keeps its own bounded list, so one device cannot push another
device's entries out.
"""

from __future__ import annotations

from dataclasses import dataclass

from thecal.telemetry import codec
from thecal.telemetry.errors import Rejected, StoreDamaged
from thecal.telemetry.persistence import Persistence

DEFAULT_PER_PEER = 32


@dataclass(frozen=True)
class Remembered:
    """A command seen before: the fingerprint of what it asked, and its reply if it finished."""

    digest: bytes
    reply: bytes | None


class ReplyCache:
    """Recent command ids and their replies, per peer, persisted."""

    def __init__(self, persistence: Persistence, *, per_peer: int = DEFAULT_PER_PEER, name: str = "replies"):
        if per_peer < 1:
            raise ValueError("per_peer must be at least 1")
        self._persistence = persistence
        self._per_peer = per_peer
        self._name = name
        self._entries = self._load()

    def _load(self) -> dict[str, list[list[bytes | None]]]:
        data = self._persistence.load(self._name)
        if data is None:
            return {}
        try:
            stored = codec.decode(data, "reply record")
        except Rejected as exc:
            raise StoreDamaged(self._name, exc.reason) from None
        valid = type(stored) is dict and all(
            type(peer) is str
            and type(entries) is list
            and all(
                type(entry) is list
                and len(entry) == 3
                and type(entry[0]) is bytes
                and type(entry[1]) is bytes
                and (entry[2] is None or type(entry[2]) is bytes)
                for entry in entries
            )
            for peer, entries in stored.items()
        )
        if not valid:
            raise StoreDamaged(self._name, "expected a map of peer to [command id, digest, reply] entries")
        return stored  # type: ignore[return-value]

    def _save(self) -> None:
        self._persistence.save(self._name, codec.encode(dict(self._entries)))

    def lookup(self, key_id: bytes, command_id: bytes) -> Remembered | None:
        """What is remembered of this peer's command id, or None."""
        for entry_id, digest, reply in self._entries.get(key_id.hex(), []):
            if entry_id == command_id:
                return Remembered(digest, reply)  # type: ignore[arg-type]
        return None

    def begin(self, key_id: bytes, command_id: bytes, digest: bytes) -> None:
        """Save a command as pending before it executes."""
        entries = self._entries.setdefault(key_id.hex(), [])
        entries.append([command_id, digest, None])
        del entries[: -self._per_peer]
        self._save()

    def finish(self, key_id: bytes, command_id: bytes, reply: bytes) -> None:
        """Save the reply of a command that began."""
        for entry in self._entries.get(key_id.hex(), []):
            if entry[0] == command_id:
                entry[2] = reply
                self._save()
                return
        raise KeyError(f"command {command_id.hex()} of {key_id.hex()} never began")

    def forget_peer(self, key_id: bytes) -> None:
        """Drop everything remembered for a peer."""
        if self._entries.pop(key_id.hex(), None) is not None:
            self._save()
