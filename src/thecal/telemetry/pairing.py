"""Pairing: a proximity step opens a short window, then a mutually authenticated handshake.

The pump accepts pairing frames only while its pairing window is open, and the
window opens only when the pump device reports a proximity event (the magnet
or telemetry head held over the implant). The handshake is two round trips:

    HELLO     device → pump  device certificate, device ephemeral X25519 key
    CHALLENGE pump → device  pump certificate, pump ephemeral key,
                             pump signature over hash(HELLO) and its ephemeral key
    CONFIRM   device → pump  device signature over hash(HELLO ‖ CHALLENGE)
    DONE      pump → device  sealed under the new link keys: role granted, pump label

Each side proves possession of its certified Ed25519 key by signing what the
other side sent, so neither can be impersonated, and the link keys come from
the ephemeral X25519 agreement salted with the transcript. The window admits
one completed pairing and closes. A lost CHALLENGE or DONE is recovered by
sending the very same HELLO or CONFIRM again, which gets the very same answer.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from thecal.pump.core.commands import Role
from thecal.telemetry import codec
from thecal.telemetry.counters import CounterStore
from thecal.telemetry.errors import LinkLost, NothingListening, RejectCode, Rejected
from thecal.telemetry.frames import PROTOCOL_VERSION, Frame, FrameType, decode_frame, encode_frame, frame_digest
from thecal.telemetry.keys import Certificate, DeviceIdentity, Keystore, PeerRecord, verify_signature
from thecal.telemetry.link import derive_link_keys, open_sealed, seal
from thecal.telemetry.rejects import read_reject
from thecal.telemetry.transport import Transport

PAIRING_WINDOW_MS = 60_000  # assumption: time to start pairing once the magnet is in place
EPHEMERAL_KEY_BYTES = 32
PAIRING_ATTEMPTS = 4
_PUMP_CONTEXT = b"thecal pairing pump v1\x00"
_DEVICE_CONTEXT = b"thecal pairing device v1\x00"
_PAIRABLE = frozenset({Role.CLINICIAN, Role.PTM})
_CODES = frozenset(code.value for code in RejectCode)


def monotonic_ms() -> int:
    """Milliseconds from a clock that never jumps back."""
    return time.monotonic_ns() // 1_000_000


class PairingWindow:
    """The short time after a proximity event during which the pump accepts one pairing."""

    def __init__(self, clock: Callable[[], int] = monotonic_ms, duration_ms: int = PAIRING_WINDOW_MS):
        if duration_ms <= 0:
            raise ValueError("the pairing window lasts a positive number of milliseconds")
        self._clock = clock
        self.duration_ms = duration_ms
        self._closes_at: int | None = None
        self._used = False

    def open(self) -> None:
        """Open (or reopen) the window for duration_ms from now."""
        self._closes_at = self._clock() + self.duration_ms
        self._used = False

    def close(self, *, paired: bool = False) -> None:
        """Close the window; `paired` when a device completed its pairing in it."""
        self._closes_at = None
        self._used = paired

    def is_open(self) -> bool:
        """Whether pairing is accepted now."""
        return self._closes_at is not None and self._clock() < self._closes_at

    def require_open(self) -> None:
        """Raise Rejected unless the window is open, saying why it is closed."""
        if self.is_open():
            return
        seconds = self.duration_ms // 1000
        why = (
            "a device has already paired since the last proximity step, and each one admits a single pairing"
            if self._used
            else f"the window opens for {seconds} s after a proximity step and admits a single pairing"
        )
        raise Rejected(
            RejectCode.PAIRING_CLOSED,
            f"the pump's pairing window is closed: {why}; hold the programmer's magnet over the pump again, then pair",
        )


def _hash(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def _body(frame: Frame, keys: set[int], what: str) -> dict[int | str, object]:
    body = codec.decode(frame.body, what, RejectCode.PAIRING_FAILED)
    if type(body) is not dict or set(body) != keys or frame.counter != 0:
        raise Rejected(RejectCode.PAIRING_FAILED, f"a {what} has fields {sorted(keys)} and counter 0")
    return body


def _ephemeral(value: object) -> X25519PublicKey:
    if type(value) is not bytes or len(value) != EPHEMERAL_KEY_BYTES:
        raise Rejected(RejectCode.PAIRING_FAILED, f"an ephemeral key is {EPHEMERAL_KEY_BYTES} bytes")
    return X25519PublicKey.from_public_bytes(value)


def _agree(private: X25519PrivateKey, public: X25519PublicKey) -> bytes:
    try:
        return private.exchange(public)
    except ValueError:  # a low-order point gives an all-zero secret; cryptography refuses it
        raise Rejected(RejectCode.PAIRING_FAILED, "the ephemeral key is not a usable X25519 key") from None


@dataclass(frozen=True)
class _Pending:
    hello_digest: bytes
    challenge: bytes
    certificate: Certificate
    shared_secret: bytes
    transcript: bytes


class PumpPairing:
    """The pump's side of the handshake; owns the pairing window."""

    def __init__(self, identity: DeviceIdentity, keystore: Keystore, counters: CounterStore, window: PairingWindow):
        self._identity = identity
        self._keystore = keystore
        self._counters = counters
        self.window = window
        self._pending: _Pending | None = None
        self._completed: tuple[bytes, bytes] | None = None  # (digest of CONFIRM, DONE sent for it)

    def handle(self, frame: Frame, raw: bytes) -> tuple[bytes, PeerRecord | None]:
        """Answer a HELLO or CONFIRM; the record is set when a pairing completed."""
        if frame.type is FrameType.PAIR_HELLO:
            return self._hello(frame, raw), None
        if frame.type is FrameType.PAIR_CONFIRM:
            return self._confirm(frame, raw)
        raise Rejected(RejectCode.UNEXPECTED_FRAME_TYPE, f"{frame.type.name} is not a pairing request")

    def _hello(self, frame: Frame, raw: bytes) -> bytes:
        self.window.require_open()
        if self._pending and self._pending.hello_digest == frame_digest(raw):
            return self._pending.challenge
        body = _body(frame, {1, 2}, "pairing hello")
        certificate = Certificate.from_bytes(body[1])
        certificate.check(self._identity.authority_key, roles=_PAIRABLE)
        if certificate.key_id != frame.key_id:
            raise Rejected(RejectCode.PAIRING_FAILED, "the hello names a key id its certificate does not hold")
        if self._keystore.is_revoked(frame.key_id):
            raise Rejected(RejectCode.KEY_REVOKED, f"key {frame.key_id.hex()} is revoked and can never pair again")
        device_ephemeral = _ephemeral(body[2])
        ephemeral = X25519PrivateKey.generate()
        ephemeral_public = ephemeral.public_key().public_bytes_raw()
        signature = self._identity.sign(_PUMP_CONTEXT + _hash(raw) + ephemeral_public)
        challenge_body = codec.encode({1: self._identity.certificate.to_bytes(), 2: ephemeral_public, 3: signature})
        challenge = encode_frame(
            Frame(PROTOCOL_VERSION, FrameType.PAIR_CHALLENGE, self._identity.key_id, 0, challenge_body)
        )
        self._pending = _Pending(
            frame_digest(raw), challenge, certificate, _agree(ephemeral, device_ephemeral), _hash(raw, challenge)
        )
        return challenge

    def _confirm(self, frame: Frame, raw: bytes) -> tuple[bytes, PeerRecord | None]:
        if self._completed and self._completed[0] == frame_digest(raw):
            return self._completed[1], None
        self.window.require_open()
        pending = self._pending
        if pending is None or pending.certificate.key_id != frame.key_id:
            raise Rejected(RejectCode.PAIRING_FAILED, "no pairing is in progress for this key; send a hello first")
        body = _body(frame, {1}, "pairing confirm")
        signature = body[1]
        if type(signature) is not bytes or not verify_signature(
            pending.certificate.public_key, signature, _DEVICE_CONTEXT + pending.transcript
        ):
            raise Rejected(RejectCode.PAIRING_FAILED, "the device did not prove possession of its certified key")
        link = derive_link_keys(pending.shared_secret, pending.transcript)
        certificate = pending.certificate
        record = PeerRecord(certificate.key_id, certificate.role, certificate.label, certificate.public_key, link)
        self._counters.start(link.link_id, received=0, sent=0)
        previous = self._keystore.add(record)
        if previous is not None:
            self._counters.forget(previous.link.link_id)
        counter = self._counters.next_sent(link.link_id)
        granted = codec.encode({1: record.role.value, 2: self._identity.label})
        done = encode_frame(seal(link.pump_to_client, FrameType.PAIR_DONE, self._identity.key_id, counter, granted))
        self._pending = None
        self._completed = (frame_digest(raw), done)
        self.window.close(paired=True)
        return done, record


def _exchange(transport: Transport, sent: bytes, attempts: int) -> Frame:
    nobody: NothingListening | None = None
    reached = False
    for _ in range(attempts):
        try:
            return decode_frame(transport.send(sent))
        except NothingListening as exc:
            nobody = exc
        except (LinkLost, Rejected):  # a lost or garbled answer: the same frame is sent again
            reached = True
    if nobody is not None and not reached:  # not one attempt found a pump to pair with at that address
        raise nobody
    raise LinkLost(f"no answer from the pump after {attempts} attempts; keep the magnet in place and pair again")


def _refusal(frame: Frame, sent: bytes, pump_public_key: bytes | None) -> Rejected:
    message, verified = read_reject(frame, sent, pump_public_key)
    code = RejectCode(message.code) if message.code in _CODES else RejectCode.PAIRING_FAILED
    note = "" if verified else " (unauthenticated: the pump was not yet known)"
    return Rejected(code, f"the pump refused pairing: {message.reason}{note}")


def pair_with_pump(
    identity: DeviceIdentity,
    transport: Transport,
    keystore: Keystore,
    counters: CounterStore,
    *,
    expected_pump_label: str | None = None,
    attempts: int = PAIRING_ATTEMPTS,
) -> PeerRecord:
    """Pair this device with the pump in its open window; return and store the pump's record."""
    ephemeral = X25519PrivateKey.generate()
    hello_body = codec.encode({1: identity.certificate.to_bytes(), 2: ephemeral.public_key().public_bytes_raw()})
    hello = encode_frame(Frame(PROTOCOL_VERSION, FrameType.PAIR_HELLO, identity.key_id, 0, hello_body))
    answer = _exchange(transport, hello, attempts)
    if answer.type is FrameType.REJECT:
        raise _refusal(answer, hello, None)
    if answer.type is not FrameType.PAIR_CHALLENGE:
        raise Rejected(RejectCode.PAIRING_FAILED, f"the pump answered the hello with {answer.type.name}")
    challenge = encode_frame(answer)
    body = _body(answer, {1, 2, 3}, "pairing challenge")
    pump = Certificate.from_bytes(body[1])
    pump.check(identity.authority_key, roles=frozenset({Role.PUMP}))
    if pump.key_id != answer.key_id:
        raise Rejected(RejectCode.PAIRING_FAILED, "the challenge names a key id its certificate does not hold")
    if expected_pump_label is not None and pump.label != expected_pump_label:
        raise Rejected(RejectCode.PAIRING_FAILED, f"this is pump {pump.label!r}, not {expected_pump_label!r}")
    pump_ephemeral = _ephemeral(body[2])
    signature = body[3]
    if type(signature) is not bytes or not verify_signature(
        pump.public_key, signature, _PUMP_CONTEXT + _hash(hello) + pump_ephemeral.public_bytes_raw()
    ):
        raise Rejected(RejectCode.PAIRING_FAILED, "the pump did not prove possession of its certified key")
    transcript = _hash(hello, challenge)
    confirm_body = codec.encode({1: identity.sign(_DEVICE_CONTEXT + transcript)})
    confirm = encode_frame(Frame(PROTOCOL_VERSION, FrameType.PAIR_CONFIRM, identity.key_id, 0, confirm_body))
    done = _exchange(transport, confirm, attempts)
    if done.type is FrameType.REJECT:
        raise _refusal(done, confirm, pump.public_key)
    if done.type is not FrameType.PAIR_DONE or done.key_id != pump.key_id:
        raise Rejected(RejectCode.PAIRING_FAILED, f"the pump answered the confirm with {done.type.name}")
    link = derive_link_keys(_agree(ephemeral, pump_ephemeral), transcript)
    granted = codec.decode(open_sealed(link.pump_to_client, done), "pairing result", RejectCode.PAIRING_FAILED)
    if granted != {1: identity.role.value, 2: pump.label}:
        raise Rejected(RejectCode.PAIRING_FAILED, "the pump granted a different role than this device holds")
    record = PeerRecord(pump.key_id, Role.PUMP, pump.label, pump.public_key, link)
    counters.start(link.link_id, received=done.counter, sent=0)
    previous = keystore.add(record)
    if previous is not None:
        counters.forget(previous.link.link_id)
    return record
