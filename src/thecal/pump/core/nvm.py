"""Non-volatile state: the firmware state as a checked image, written to two slots in turn.

An image is a header (magic, format, sequence number, payload length,
SHA-256 of the payload) followed by the payload (canonical JSON of the
state). A write always goes to the slot that does *not* hold the newest good
image, so a power loss at any byte of a write leaves the other slot intact:
at start the newest slot whose checksum verifies wins, and its sequence
number is never lower than that of any image acknowledged before.

Only a slot that does not verify is passed over (`CorruptImage`): a torn
write or a flipped bit. An image that verifies was written whole by a
firmware; when this firmware cannot read it (another state format, or a bug),
falling back to the older slot would make counters go back, so that is an
error the device must report, never a blank or an older pump.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from typing import Protocol

from thecal.pump.core.state import STATE_FORMAT, PumpState

MAGIC = b"THCL"
IMAGE_FORMAT = 1
_HEADER = struct.Struct(">4sHQI32s")


class CorruptImage(ValueError):
    """A slot does not hold a complete, verified image."""


class UnreadableImage(ValueError):
    """A slot holds a complete, verified image whose state this firmware cannot read."""


class Medium(Protocol):
    """Two slots of non-volatile memory."""

    def read_slot(self, slot: int) -> bytes:
        """The bytes stored in a slot (empty when never written)."""
        ...

    def write_slot(self, slot: int, data: bytes) -> None:
        """Replace a slot's bytes; a power loss may leave any prefix written."""
        ...


def encode_image(state: PumpState, seq: int) -> bytes:
    """The state as a checked image with sequence number `seq`."""
    payload = json.dumps(state.to_data(), sort_keys=True, separators=(",", ":")).encode()
    # The digest covers the header fields too, so a header torn between two writes never verifies.
    digest = hashlib.sha256(_covered(seq, len(payload)) + payload).digest()
    return _HEADER.pack(MAGIC, IMAGE_FORMAT, seq, len(payload), digest) + payload


def _covered(seq: int, length: int) -> bytes:
    return MAGIC + struct.pack(">HQI", IMAGE_FORMAT, seq, length)


def verified_payload(data: bytes) -> tuple[int, bytes]:
    """The sequence number and payload of an image; CorruptImage when it does not verify."""
    if len(data) < _HEADER.size:
        raise CorruptImage("image shorter than its header")
    magic, fmt, seq, length, digest = _HEADER.unpack_from(data)
    if magic != MAGIC or fmt != IMAGE_FORMAT:
        raise CorruptImage("not a thecal state image of a known format")
    payload = data[_HEADER.size :]
    if len(payload) != length or hashlib.sha256(_covered(seq, length) + payload).digest() != digest:
        raise CorruptImage("image incomplete or damaged")
    return seq, payload


def read_state(seq: int, payload: bytes) -> PumpState:
    """The state in a verified payload; UnreadableImage when this firmware cannot read its format."""
    data = json.loads(payload)
    found = data.get("format") if isinstance(data, dict) else None
    if found != STATE_FORMAT:
        raise UnreadableImage(
            f"the pump's memory holds state image {seq} in state format {found!r}, and this firmware reads format "
            f"{STATE_FORMAT}; install the firmware that wrote it, or convert the image, before the pump runs again"
        )
    return PumpState.from_data(data)


def decode_image(data: bytes) -> tuple[int, PumpState]:
    """The sequence number and state in an image; CorruptImage when it does not verify."""
    seq, payload = verified_payload(data)
    return seq, read_state(seq, payload)


@dataclass
class TwoSlotStore:
    """Writes images alternately to two slots and reads back the newest that verifies."""

    medium: Medium
    seq: int = 0
    _newest_slot: int | None = None

    def load(self) -> PumpState | None:
        """The newest verified state, or None when neither slot holds a verified image."""
        best: tuple[int, int, bytes] | None = None
        for slot in (0, 1):
            try:
                seq, payload = verified_payload(self.medium.read_slot(slot))
            except CorruptImage:
                continue  # a torn write or a damaged slot: the other slot holds the last acknowledged state
            if best is None or seq > best[0]:
                best = (seq, slot, payload)
        if best is None:
            self.seq, self._newest_slot = 0, None
            return None
        seq, slot, payload = best
        state = read_state(seq, payload)
        self.seq, self._newest_slot = seq, slot
        return state

    def save(self, state: PumpState) -> int:
        """Write the state to the older slot; return its sequence number once written."""
        target = 0 if self._newest_slot != 0 else 1
        seq = self.seq + 1
        self.medium.write_slot(target, encode_image(state, seq))
        self.seq, self._newest_slot = seq, target
        return seq
