"""The outer frame: one canonical encoding per frame, the version first, nothing but plain CBOR."""

from __future__ import annotations

import dataclasses

import cbor2
import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from hypothesis import given, settings
from hypothesis import strategies as st

from thecal.telemetry import codec
from thecal.telemetry.errors import RejectCode, Rejected
from thecal.telemetry.frames import (
    KEY_ID_BYTES,
    MAX_COUNTER,
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    Frame,
    FrameType,
    decode_frame,
    encode_frame,
)
from thecal.telemetry.link import NONCE_BYTES, TAG_BYTES, open_sealed, seal

KEY = bytes(range(KEY_ID_BYTES))


def refusal(data: bytes) -> Rejected:
    with pytest.raises(Rejected) as refused:
        decode_frame(data)
    return refused.value


frames = st.builds(
    Frame,
    st.just(PROTOCOL_VERSION),
    st.sampled_from(FrameType),
    st.binary(min_size=KEY_ID_BYTES, max_size=KEY_ID_BYTES),
    st.integers(0, MAX_COUNTER),
    st.binary(max_size=200),
)


@settings(max_examples=200, deadline=None)
@given(frames)
def test_a_frame_survives_encoding(frame: Frame) -> None:
    assert decode_frame(encode_frame(frame)) == frame


def test_the_layout_is_a_five_item_array_byte_by_byte() -> None:
    data = encode_frame(Frame(2, FrameType.REQUEST, KEY, 7, b"\xaa\xbb"))

    assert data == bytes([0x85, 0x02, 0x01, 0x48, *KEY, 0x07, 0x42, 0xAA, 0xBB])


def test_the_header_is_the_first_four_items() -> None:
    frame = Frame(2, FrameType.REPLY, KEY, 300, b"x")

    assert frame.header() == bytes([0x84, 0x02, 0x02, 0x48, *KEY, 0x19, 0x01, 0x2C])


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (bytes([0x85, 0x02, 0x01, 0x48, *KEY, 0x19, 0x00, 0x07, 0x40]), "canonical"),  # counter in a longer form
        (encode_frame(Frame(2, FrameType.REQUEST, KEY, 7, b"")) + b"\x00", "canonical"),  # trailing byte
        (bytes([0x9F, 0x02, 0x01, 0x48, *KEY, 0x07, 0x40, 0xFF]), "not valid CBOR"),  # indefinite length
        (cbor2.dumps(cbor2.CBORTag(55799, [2, 1, KEY, 7, b""])), "frame"),  # self-describe tag
        (cbor2.dumps(cbor2.CBORTag(1000, [2, 1, KEY, 7, b""])), "CBORTag"),
        (cbor2.dumps([1.0, 1, KEY, 7, b""]), "float"),
        (cbor2.dumps([2, 1, KEY, -1, b""]), "counter"),
        (cbor2.dumps([2, 1, KEY, 2**64, b""]), "counter"),
        (cbor2.dumps([2, 1, KEY[:4], 7, b""]), "key id"),
        (cbor2.dumps([2, 1, KEY, 7, "text body"]), "body"),
        (cbor2.dumps([2, 1, KEY, 7]), "5 items"),
        (cbor2.dumps({"version": 1}), "array"),
        (b"", "1 to"),
        (bytes(MAX_FRAME_BYTES + 1), "1 to"),
    ],
)
def test_malformed_frames_are_refused_with_a_reason(data: bytes, words: str) -> None:
    refused = refusal(data)

    assert refused.code == RejectCode.MALFORMED_FRAME
    assert words in refused.reason


def test_an_unknown_frame_type_is_named_as_such() -> None:
    assert refusal(cbor2.dumps([2, 99, KEY, 7, b""])).code == RejectCode.UNEXPECTED_FRAME_TYPE


def test_the_version_is_judged_before_the_rest_of_the_frame() -> None:
    refused = refusal(cbor2.dumps([0]))

    assert refused.code == RejectCode.VERSION_UNSUPPORTED
    assert "older than the oldest this pump accepts (2)" in refused.reason


def test_cyclic_values_from_shared_references_are_refused() -> None:
    cyclic = bytes.fromhex("d81c81d81d00")  # a list that contains itself

    with pytest.raises(Rejected) as refused:
        codec.decode(cyclic, "frame")

    assert refused.value.code == RejectCode.MALFORMED_FRAME


def test_only_plain_values_can_be_encoded() -> None:
    with pytest.raises(ValueError, match="float"):
        codec.encode({"flow": 0.5})


@pytest.mark.parametrize("change", [{"type": FrameType.REPLY}, {"key_id": bytes(KEY_ID_BYTES)}])
def test_the_header_is_authenticated_with_the_body(change: dict[str, object]) -> None:
    key = bytes(range(32))
    frame = seal(key, FrameType.REQUEST, KEY, 5, b"payload")
    assert open_sealed(key, frame) == b"payload"

    with pytest.raises(Rejected) as refused:
        open_sealed(key, dataclasses.replace(frame, **change))  # type: ignore[arg-type]

    assert refused.value.code == RejectCode.AUTHENTICATION_FAILED


def test_a_sealed_body_is_a_fresh_random_nonce_then_ciphertext_and_tag() -> None:
    key = bytes(range(32))
    first, second = (seal(key, FrameType.REQUEST, KEY, 5, b"payload") for _ in range(2))

    assert len(first.body) == NONCE_BYTES + len(b"payload") + TAG_BYTES
    assert first.body[:NONCE_BYTES] != second.body[:NONCE_BYTES]  # same key, counter and plaintext
    nonce, sealed = first.body[:NONCE_BYTES], first.body[NONCE_BYTES:]
    assert ChaCha20Poly1305(key).decrypt(nonce, sealed, first.header()) == b"payload"


def test_a_changed_nonce_does_not_authenticate() -> None:
    key = bytes(range(32))
    frame = seal(key, FrameType.REQUEST, KEY, 5, b"payload")
    changed = bytes([frame.body[0] ^ 1]) + frame.body[1:]

    with pytest.raises(Rejected) as refused:
        open_sealed(key, dataclasses.replace(frame, body=changed))

    assert refused.value.code == RejectCode.AUTHENTICATION_FAILED


@pytest.mark.parametrize("size", [0, NONCE_BYTES, NONCE_BYTES + TAG_BYTES - 1])
def test_a_sealed_body_too_short_for_nonce_and_tag_is_refused(size: int) -> None:
    with pytest.raises(Rejected) as refused:
        open_sealed(bytes(32), Frame(PROTOCOL_VERSION, FrameType.REQUEST, KEY, 5, bytes(size)))

    assert refused.value.code == RejectCode.MALFORMED_FRAME
    assert "nonce" in refused.value.reason
