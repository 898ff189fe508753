"""The pump's memory as the daemon uses it: its key, its telemetry records, its configuration record.

The memory key is derived from the pump's certified identity: an Ed25519
signature is deterministic, so the signature of a fixed context string is a
secret only the holder of `pump.key` can compute. A memory copied from another
pump, or re-forged by anyone without the key, does not verify.
"""

from __future__ import annotations

import hashlib

from thecal.pump.core.journal import Journal
from thecal.telemetry.keys import DeviceIdentity

MEMORY_KEY_CONTEXT = b"thecal pump memory key v1"
TELEMETRY_PREFIX = "telemetry/"
CONFIG_RECORD = "pump/config"


def memory_key(identity: DeviceIdentity) -> bytes:
    """The MAC key of this pump's memory."""
    return hashlib.blake2b(identity.sign(MEMORY_KEY_CONTEXT), digest_size=32).digest()


class JournalRecords:
    """Telemetry's named records and lists (keystore, counters, replies), kept in the pump's journal."""

    def __init__(self, journal: Journal):
        self._journal = journal

    def load(self, name: str) -> bytes | None:
        """The record's bytes, or None if it was never saved."""
        return self._journal.image.records.get(TELEMETRY_PREFIX + name)

    def save(self, name: str, data: bytes) -> None:
        """Replace the record (committed with the frame that changed it)."""
        self._journal.put(TELEMETRY_PREFIX + name, data)
        self._journal.written()

    def load_list(self, name: str) -> list[bytes]:
        """The entries of a list, oldest first."""
        return list(self._journal.image.lists.get(TELEMETRY_PREFIX + name, []))

    def append(self, name: str, data: bytes, keep: int) -> None:
        """Append an entry to a list that keeps its newest `keep` entries."""
        self._journal.append(TELEMETRY_PREFIX + name, data, keep)
        self._journal.written()
