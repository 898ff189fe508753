"""Rejections the pump sends in the clear, signed so the sender can trust them.

A frame that fails before its sender is authenticated cannot be answered under
a link key, yet the sender must still learn why. The pump signs the rejection
with its device key and quotes a digest of the refused frame, so a rejection
can be neither forged nor replayed against a different frame.
"""

from __future__ import annotations

from thecal.telemetry import codec
from thecal.telemetry.errors import RejectCode, Rejected
from thecal.telemetry.frames import (
    PROTOCOL_VERSION,
    Frame,
    FrameType,
    RejectMessage,
    decode_reject,
    encode_frame,
    encode_reject,
    frame_digest,
)
from thecal.telemetry.keys import DeviceIdentity, key_id_of, verify_signature

_CONTEXT = b"thecal reject v1\x00"


def _signed_bytes(frame: Frame, message: bytes) -> bytes:
    return _CONTEXT + frame.header() + message


def reject_frame(identity: DeviceIdentity, code: RejectCode, reason: str, refused: bytes) -> bytes:
    """A signed rejection of the frame bytes `refused`."""
    message = encode_reject(RejectMessage(code.value, reason, frame_digest(refused)))
    frame = Frame(PROTOCOL_VERSION, FrameType.REJECT, identity.key_id, 0, b"")
    signature = identity.sign(_signed_bytes(frame, message))
    return encode_frame(Frame(frame.version, frame.type, frame.key_id, 0, codec.encode([message, signature])))


def read_reject(frame: Frame, sent: bytes, pump_public_key: bytes | None) -> tuple[RejectMessage, bool]:
    """The rejection of the frame `sent`, and whether its signature was verified; Rejected if forged."""
    parts = codec.decode(frame.body, "rejection", RejectCode.MALFORMED_MESSAGE)
    if type(parts) is not list or len(parts) != 2 or not all(type(part) is bytes for part in parts):
        raise Rejected(RejectCode.MALFORMED_MESSAGE, "a rejection body is [message, signature]")
    message_bytes, signature = parts
    message = decode_reject(message_bytes)
    if message.frame_digest != frame_digest(sent):
        raise Rejected(RejectCode.AUTHENTICATION_FAILED, "the rejection refers to another frame")
    if pump_public_key is None:
        return message, False
    if key_id_of(pump_public_key) != frame.key_id or not verify_signature(
        pump_public_key, signature, _signed_bytes(frame, message_bytes)
    ):
        raise Rejected(RejectCode.AUTHENTICATION_FAILED, "the rejection is not signed by the paired pump")
    return message, True
