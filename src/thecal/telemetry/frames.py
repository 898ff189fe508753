"""The outer frame and the inner messages, as bytes and back.

Outer frame: a canonical CBOR array [version, type, key_id, counter, body].
The first four items are the header; their canonical encoding as a 4-array is
the associated data of the AEAD, so none of them can be changed in flight.
Decoding checks the version before anything else, so an old programmer gets a
clear "update your software" instead of a confusing shape error.

A sealed frame's body is a fresh random nonce followed by the ciphertext and
its tag (see `link`); the counter in the header is for freshness only.

Inner messages are CBOR maps with small integer keys (compact on a slow
radio): a request {1: name, 2: command id, 3: args, 4: counter of the first
frame that carried this command id, 5: the highest pump counter the sender
has accepted (the witness of the pump's memory)}, a reply {1: command id,
2: status, 3: result, 4: code, 5: reason}, a rejection {1: code, 2: reason,
3: digest of the refused frame}.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from thecal.telemetry import codec
from thecal.telemetry.commands import COMMAND_ID_BYTES, Command, validate
from thecal.telemetry.errors import RejectCode, Rejected

PROTOCOL_VERSION = 2  # 2: random nonce in the body; first counter and witness in requests
OLDEST_VERSION = 2
KEY_ID_BYTES = 8
MAX_COUNTER = 2**64 - 1
MAX_FRAME_BYTES = 65_536
DIGEST_BYTES = 16


class FrameType(IntEnum):
    """What a frame carries; requests and pairing go to the pump, the rest come from it."""

    REQUEST = 1
    REPLY = 2
    REJECT = 3
    PAIR_HELLO = 4
    PAIR_CHALLENGE = 5
    PAIR_CONFIRM = 6
    PAIR_DONE = 7


class ReplyStatus(StrEnum):
    """How a command ended."""

    OK = "ok"  # executed; result holds the pump's answer
    REJECTED = "rejected"  # refused by the telemetry layer; not executed
    REFUSED = "refused"  # refused by the pump firmware; not executed
    UNKNOWN = "unknown"  # may or may not have executed; a bolus counts as delivered


_FRAME_TYPES = frozenset(kind.value for kind in FrameType)
_STATUSES = frozenset(status.value for status in ReplyStatus)


@dataclass(frozen=True)
class Frame:
    """One frame on the link."""

    version: int
    type: FrameType
    key_id: bytes
    counter: int
    body: bytes

    def header(self) -> bytes:
        """The header bytes that the AEAD authenticates."""
        return codec.encode([self.version, int(self.type), self.key_id, self.counter])


@dataclass(frozen=True)
class Request:
    """The decrypted body of a request: the command, and the sender's witness of the pump's memory."""

    command: Command
    seen: int  # the highest pump→device counter the sender has accepted on this link


@dataclass(frozen=True)
class ReplyMessage:
    """The decrypted body of a reply."""

    command_id: bytes
    status: ReplyStatus
    result: dict[str, object]
    code: str | None
    reason: str


@dataclass(frozen=True)
class RejectMessage:
    """The signed body of a rejection sent in the clear."""

    code: str
    reason: str
    frame_digest: bytes


def frame_digest(frame_bytes: bytes) -> bytes:
    """The fingerprint a rejection quotes, binding it to the frame it refuses."""
    return hashlib.sha256(frame_bytes).digest()[:DIGEST_BYTES]


def encode_frame(frame: Frame) -> bytes:
    """The frame as canonical CBOR."""
    return codec.encode([frame.version, int(frame.type), frame.key_id, frame.counter, frame.body])


def decode_frame(data: bytes) -> Frame:
    """Parse and check a frame, or raise Rejected with the reason."""
    if type(data) is not bytes or not 0 < len(data) <= MAX_FRAME_BYTES:
        raise Rejected(RejectCode.MALFORMED_FRAME, f"a frame is 1 to {MAX_FRAME_BYTES} bytes")
    items = codec.decode(data, "frame")
    if type(items) is not list or not items:
        raise Rejected(RejectCode.MALFORMED_FRAME, "a frame is a CBOR array starting with the version")
    _check_version(items[0])
    if len(items) != 5:
        raise Rejected(RejectCode.MALFORMED_FRAME, f"a frame has 5 items, this one {len(items)}")
    version, kind, key_id, counter, body = items
    if type(kind) is not int or kind not in _FRAME_TYPES:
        raise Rejected(RejectCode.UNEXPECTED_FRAME_TYPE, f"frame type {kind!r} is not defined")
    if type(key_id) is not bytes or len(key_id) != KEY_ID_BYTES:
        raise Rejected(RejectCode.MALFORMED_FRAME, f"a key id is {KEY_ID_BYTES} bytes")
    if type(counter) is not int or not 0 <= counter <= MAX_COUNTER:
        raise Rejected(RejectCode.MALFORMED_FRAME, "a counter is an unsigned 64-bit integer")
    if type(body) is not bytes:
        raise Rejected(RejectCode.MALFORMED_FRAME, "a frame body is a byte string")
    return Frame(version, FrameType(kind), key_id, counter, body)


def _check_version(version: object) -> None:
    if type(version) is not int:
        raise Rejected(RejectCode.MALFORMED_FRAME, "a frame starts with its protocol version number")
    if version < OLDEST_VERSION:
        raise Rejected(
            RejectCode.VERSION_UNSUPPORTED,
            f"protocol version {version} is older than the oldest this pump accepts ({OLDEST_VERSION}); "
            "update the programmer or PTM software",
        )
    if version > PROTOCOL_VERSION:
        raise Rejected(
            RejectCode.VERSION_UNSUPPORTED,
            f"protocol version {version} is newer than this pump speaks ({PROTOCOL_VERSION}); "
            "use software that speaks this pump's version",
        )


def encode_request(command: Command, seen: int = 0) -> bytes:
    """The plaintext of a request; a command never sent yet travels with first counter 0."""
    first = command.first_counter if command.first_counter is not None else 0
    return codec.encode({1: command.name, 2: command.command_id, 3: command.args, 4: first, 5: seen})


def decode_request(plaintext: bytes) -> Command:
    """Parse a request and check it against the command table, or raise Rejected."""
    return read_request(plaintext).command


def read_request(plaintext: bytes) -> Request:
    """Parse a request with its witness and check it against the command table, or raise Rejected."""
    message = codec.decode(plaintext, "request", RejectCode.MALFORMED_MESSAGE)
    if type(message) is not dict or set(message) != {1, 2, 3, 4, 5}:
        raise Rejected(
            RejectCode.MALFORMED_MESSAGE,
            "a request is a map {1: name, 2: command id, 3: args, 4: first counter, 5: seen counter}",
        )
    name, command_id, args, first, seen = (message[key] for key in (1, 2, 3, 4, 5))
    if type(name) is not str:
        raise Rejected(RejectCode.MALFORMED_MESSAGE, "a command name is text")
    if type(command_id) is not bytes or len(command_id) != COMMAND_ID_BYTES:
        raise Rejected(RejectCode.MALFORMED_MESSAGE, f"a command id is {COMMAND_ID_BYTES} bytes")
    if type(first) is not int or type(seen) is not int or not (0 <= first <= MAX_COUNTER and 0 <= seen <= MAX_COUNTER):
        raise Rejected(RejectCode.MALFORMED_MESSAGE, "a request's first and seen counters are unsigned 64-bit integers")
    if type(args) is not dict:
        raise Rejected(RejectCode.BAD_ARGUMENTS, f"{name}: arguments are a map")
    command = Command(name, args, command_id, first or None)
    validate(command)
    return Request(command, seen)


def encode_reply(reply: ReplyMessage) -> bytes:
    """The plaintext of a reply."""
    return codec.encode({1: reply.command_id, 2: reply.status.value, 3: reply.result, 4: reply.code, 5: reply.reason})


def decode_reply(plaintext: bytes) -> ReplyMessage:
    """Parse a reply, or raise Rejected."""
    message = codec.decode(plaintext, "reply", RejectCode.MALFORMED_MESSAGE)
    if type(message) is not dict or set(message) != {1, 2, 3, 4, 5}:
        raise Rejected(RejectCode.MALFORMED_MESSAGE, "a reply is a map with keys 1 to 5")
    command_id, status, result, code, reason = (message[key] for key in (1, 2, 3, 4, 5))
    valid = (
        type(command_id) is bytes
        and status in _STATUSES
        and type(result) is dict
        and (code is None or type(code) is str)
        and type(reason) is str
    )
    if not valid:
        raise Rejected(RejectCode.MALFORMED_MESSAGE, "a reply field has the wrong type")
    return ReplyMessage(command_id, ReplyStatus(status), result, code, reason)


def encode_reject(reject: RejectMessage) -> bytes:
    """The signed part of a rejection."""
    return codec.encode({1: reject.code, 2: reject.reason, 3: reject.frame_digest})


def decode_reject(data: bytes) -> RejectMessage:
    """Parse the signed part of a rejection, or raise Rejected."""
    message = codec.decode(data, "rejection", RejectCode.MALFORMED_MESSAGE)
    if type(message) is not dict or set(message) != {1, 2, 3}:
        raise Rejected(RejectCode.MALFORMED_MESSAGE, "a rejection is a map {1: code, 2: reason, 3: digest}")
    code, reason, digest = message[1], message[2], message[3]
    if type(code) is not str or type(reason) is not str or type(digest) is not bytes:
        raise Rejected(RejectCode.MALFORMED_MESSAGE, "a rejection field has the wrong type")
    return RejectMessage(code, reason, digest)
