"""The encrypted link between a pump and one paired device.

Pairing yields one shared secret per pump–device pair. From it HKDF derives a
link id and two ChaCha20-Poly1305 keys, one per direction, so a frame can never
be reflected back to its sender as if the other side had written it.

Every sealed frame draws a fresh random 96-bit nonce and carries it in front
of the ciphertext (body = nonce ‖ ciphertext ‖ tag). The nonce does not come
from the counter: a counter lives in a file, and a file can be restored from
an old copy, after which a counter would be used twice; a nonce used twice
under one key gives away the XOR of two plaintexts. With 96 random bits the
chance of any repeat among the million frames a link might carry in a pump's
life is about 10^-17. The counter stays in the header, which goes in as
associated data, and serves freshness only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from thecal.telemetry.errors import RejectCode, Rejected
from thecal.telemetry.frames import PROTOCOL_VERSION, Frame, FrameType

LINK_ID_BYTES = 8
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16


@dataclass(frozen=True)
class LinkKeys:
    """The symmetric keys of one pairing."""

    link_id: bytes
    client_to_pump: bytes
    pump_to_client: bytes


def derive_link_keys(shared_secret: bytes, transcript_hash: bytes) -> LinkKeys:
    """Derive the link keys from the handshake's key agreement and transcript."""
    material = HKDF(
        algorithm=hashes.SHA256(),
        length=LINK_ID_BYTES + 2 * KEY_BYTES,
        salt=transcript_hash,
        info=b"thecal telemetry link v1",
    ).derive(shared_secret)
    return LinkKeys(
        link_id=material[:LINK_ID_BYTES],
        client_to_pump=material[LINK_ID_BYTES : LINK_ID_BYTES + KEY_BYTES],
        pump_to_client=material[LINK_ID_BYTES + KEY_BYTES :],
    )


def seal(key: bytes, frame_type: FrameType, key_id: bytes, counter: int, plaintext: bytes) -> Frame:
    """Encrypt plaintext under a fresh random nonce into a frame whose header is authenticated with it."""
    if counter < 1:
        raise ValueError("encrypted frames count from 1; 0 marks the clear pairing frames")
    nonce = os.urandom(NONCE_BYTES)
    unsealed = Frame(PROTOCOL_VERSION, frame_type, key_id, counter, b"")
    body = nonce + ChaCha20Poly1305(key).encrypt(nonce, plaintext, unsealed.header())
    return Frame(PROTOCOL_VERSION, frame_type, key_id, counter, body)


def open_sealed(key: bytes, frame: Frame) -> bytes:
    """Decrypt and authenticate a frame, or raise Rejected."""
    if frame.counter < 1:
        raise Rejected(RejectCode.MALFORMED_FRAME, "encrypted frames count from 1")
    if len(frame.body) < NONCE_BYTES + TAG_BYTES:
        raise Rejected(
            RejectCode.MALFORMED_FRAME,
            f"a sealed body is a {NONCE_BYTES}-byte nonce, the ciphertext and a {TAG_BYTES}-byte tag; "
            f"this one has {len(frame.body)} bytes",
        )
    nonce, sealed = frame.body[:NONCE_BYTES], frame.body[NONCE_BYTES:]
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, sealed, frame.header())
    except InvalidTag:
        raise Rejected(
            RejectCode.AUTHENTICATION_FAILED,
            "the frame does not authenticate under the link key of the key id it names "
            "(altered in flight, or sent with another key)",
        ) from None
