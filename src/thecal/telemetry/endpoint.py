"""The pump's telemetry endpoint: every frame in, one reply frame out.

Order of checks for a request, each a door the frame must pass before the
next is looked at: canonical CBOR and version; a key id that is paired and not
revoked; AEAD under that peer's link key with the header as associated data;
a counter above the last accepted one (saved at once); a readable request; the
witness: the sender has not seen a pump counter above the last one this
pump's memory says it sent (else the memory is older than what the device
already saw); a request that fits the command table; a role allowed to send
it; for a state-changing command, an id either remembered or new, never one
that may have been forgotten. Only then is the command remembered as begun,
handed to the pump's dispatcher, and its reply remembered before it is sealed
and sent. Every refusal goes to on_reject and back to the sender with its code
and words: under the link key if the sender was authenticated and the pump's
memory is sound, otherwise signed with the pump's key in the clear.

The endpoint is one state machine and not thread-safe; a server feeds it one
frame at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from thecal.errors import ThecalError
from thecal.pump.core.commands import Role
from thecal.telemetry import codec
from thecal.telemetry.commands import (
    COMMANDS,
    POSSIBLY_DELIVERED,
    ROLE_PERMISSIONS,
    SECURITY_COMMANDS,
    Command,
    permitted,
    validate,
    visible_result,
)
from thecal.telemetry.counters import CounterStore
from thecal.telemetry.errors import RejectCode, Rejected, Rejection
from thecal.telemetry.frames import (
    Frame,
    FrameType,
    ReplyMessage,
    ReplyStatus,
    decode_frame,
    encode_frame,
    encode_reply,
    read_request,
)
from thecal.telemetry.keys import DeviceIdentity, Keystore, PeerRecord
from thecal.telemetry.link import open_sealed, seal
from thecal.telemetry.pairing import PAIRING_WINDOW_MS, PairingWindow, PumpPairing, monotonic_ms
from thecal.telemetry.rejects import reject_frame
from thecal.telemetry.replies import Remembered, ReplyCache

_log = logging.getLogger(__name__)

# The pump's handler of a checked command from a sender of this certified role.
Dispatch = Callable[[Role, Command], dict[str, object]]
OnReject = Callable[[Rejection], None]
RECOVER = "thecal pump recover --state DIR"


@dataclass(frozen=True)
class SecurityEvent:
    """A change of who may talk to the pump, for the pump's event log."""

    kind: str  # "paired" or "revoked"
    key_id: str
    role: str | None
    label: str | None
    by_key_id: str | None


class PumpEndpoint:
    """Turns request frames into dispatched commands and reply frames, refusing everything else."""

    def __init__(
        self,
        identity: DeviceIdentity,
        keystore: Keystore,
        counter_store: CounterStore,
        dispatch: Dispatch,
        on_reject: OnReject,
        *,
        replies: ReplyCache | None = None,
        clock: Callable[[], int] = monotonic_ms,
        pairing_window_ms: int = PAIRING_WINDOW_MS,
        on_security_event: Callable[[SecurityEvent], None] | None = None,
        on_memory_behind: Callable[[str], None] | None = None,
    ):
        if identity.role is not Role.PUMP:
            raise ValueError(f"a pump endpoint needs a pump identity, not a {identity.role.value} one")
        self._identity = identity
        self._keystore = keystore
        self._counters = counter_store
        self._dispatch = dispatch
        self._on_reject = on_reject
        # Replies live in the same persistence as the counters unless told otherwise.
        self._replies = replies if replies is not None else ReplyCache(counter_store.persistence)
        self._on_security_event = on_security_event
        # Called with the details when a device proves the pump's memory older than what it saw, so the pump can
        # raise a fault; the frame itself is refused whether or not anyone listens.
        self._on_memory_behind = on_memory_behind
        self._pairing = PumpPairing(identity, keystore, counter_store, PairingWindow(clock, pairing_window_ms))

    def proximity_detected(self) -> None:
        """Open the pairing window: the device sensed the magnet or telemetry head."""
        self._pairing.window.open()

    @property
    def pairing_open(self) -> bool:
        """Whether pairing is accepted now."""
        return self._pairing.window.is_open()

    def receive(self, frame_bytes: bytes) -> bytes:
        """Handle one frame and return the reply frame; never raises for anything the sender did."""
        claimed: bytes | None = None
        try:
            frame = decode_frame(frame_bytes)
            claimed = frame.key_id
            if frame.type is FrameType.REQUEST:
                return self._request(frame, frame_bytes)
            if frame.type in (FrameType.PAIR_HELLO, FrameType.PAIR_CONFIRM):
                reply, record = self._pairing.handle(frame, frame_bytes)
                if record is not None:
                    self._emit("paired", record.key_id, record, None)
                return reply
            raise Rejected(
                RejectCode.UNEXPECTED_FRAME_TYPE,
                f"the pump accepts requests and pairing frames, not {frame.type.name}",
            )
        except Rejected as exc:
            self._on_reject(Rejection(exc.code, exc.reason, key_id=claimed.hex() if claimed else None))
            return reject_frame(self._identity, exc.code, exc.reason, frame_bytes)

    def _authenticate(self, frame: Frame) -> tuple[PeerRecord, bytes, int]:
        """The sender, the plaintext, and the highest counter accepted from it before this frame."""
        key = frame.key_id.hex()
        if self._keystore.is_revoked(frame.key_id):
            raise Rejected(RejectCode.KEY_REVOKED, f"key {key} was revoked; this device can no longer talk to the pump")
        peer = self._keystore.get(frame.key_id)
        if peer is None:
            raise Rejected(
                RejectCode.UNKNOWN_KEY,
                f"key {key} is not paired with this pump; pair it first (proximity step, then pairing)",
            )
        plaintext = open_sealed(peer.link.client_to_pump, frame)
        accepted_before = self._counters.accept(peer.link.link_id, frame.counter)
        return peer, plaintext, accepted_before

    def _request(self, frame: Frame, frame_bytes: bytes) -> bytes:
        peer, plaintext, accepted_before = self._authenticate(frame)
        try:
            request = read_request(plaintext)
        except Rejected as exc:
            # Without a readable command id a sealed reply could not be matched to the command, so the
            # refusal goes signed and bound to this frame's digest, like one for an unreadable frame.
            self._on_reject(Rejection(exc.code, exc.reason, peer.key_id.hex(), peer.role.value))
            return reject_frame(self._identity, exc.code, exc.reason, frame_bytes)
        command = request.command
        last_sent = self._counters.last_sent(peer.link.link_id)
        if request.seen > last_sent:
            return self._memory_behind(peer, command, request.seen, last_sent, frame_bytes)
        try:
            remembered = self._admit(peer, frame, command, accepted_before)
        except Rejected as exc:
            self._on_reject(Rejection(exc.code, exc.reason, peer.key_id.hex(), peer.role.value, command.name))
            status = ReplyStatus.UNKNOWN if exc.code is RejectCode.COMMAND_TOO_OLD else ReplyStatus.REJECTED
            return self._seal(peer, ReplyMessage(command.command_id, status, {}, exc.code.value, exc.reason))
        return self._answer(peer, command, remembered)

    def _memory_behind(self, peer: PeerRecord, command: Command, seen: int, last_sent: int, frame: bytes) -> bytes:
        """Refuse a frame whose sender saw more of the pump than the pump's memory holds; nothing executes."""
        # Signed in the clear: a reply sealed now would carry a counter the device has already accepted, and it
        # would rightly take it for a replay and never read why it was refused.
        detail = (
            f"the {peer.role.value} {peer.label!r} (key {peer.key_id.hex()}) has seen pump frame {seen} on its link, "
            f"but the pump's memory says it sent only up to {last_sent}: the memory is older than what that device "
            "already saw (restored from an old copy, or writes were lost)"
        )
        reason = (
            f"{detail}; nothing was executed; a clinician must recover the pump with `{RECOVER}` "
            "before it takes commands again"
        )
        self._on_reject(Rejection(RejectCode.MEMORY_BEHIND, reason, peer.key_id.hex(), peer.role.value, command.name))
        if self._on_memory_behind is not None:
            self._on_memory_behind(detail)
        return reject_frame(self._identity, RejectCode.MEMORY_BEHIND, reason, frame)

    def _admit(self, peer: PeerRecord, frame: Frame, command: Command, accepted_before: int) -> Remembered | None:
        """The last checks before execution; what is remembered of this command id, if anything."""
        validate(command)
        if not permitted(peer.role, command.name):
            allowed = ", ".join(sorted(ROLE_PERMISSIONS[peer.role]))
            raise Rejected(
                RejectCode.NOT_PERMITTED,
                f"a {peer.role.value} key may not send {command.name}; it may send: {allowed or 'nothing'}",
            )
        first = command.first_counter
        if first is None:
            raise Rejected(
                RejectCode.MALFORMED_MESSAGE,
                f"a request names the counter of the first frame that carried its command (1 to this frame's "
                f"{frame.counter}), not 0",
            )
        if not COMMANDS[command.name].changes_pump:
            return None
        link = peer.link.link_id
        remembered = self._replies.lookup(link, command.command_id, accepted_before=accepted_before)
        if remembered is None and (first > frame.counter or first <= self._replies.horizon(link)):
            # Answered "unknown", not "rejected": the command may have run when it was first sent.
            prefix = f"{POSSIBLY_DELIVERED}: " if COMMANDS[command.name].delivers_drug else ""
            when = (
                f"in frame {first} of an earlier link (this link is at frame {frame.counter}: the device paired again)"
                if first > frame.counter
                else f"in frame {first}, before the oldest command this pump still remembers of this device (it "
                f"keeps the last {self._replies.per_peer} state-changing commands of each device)"
            )
            raise Rejected(
                RejectCode.COMMAND_TOO_OLD,
                f"{prefix}{command.name} {command.command_id.hex()} was first sent {when}, so it may have run "
                "already; it was not executed now; interrogate the pump to see whether it ran before sending it "
                "again as a new command",
            )
        if remembered is not None and remembered.digest != command.digest():
            raise Rejected(
                RejectCode.COMMAND_ID_REUSED,
                f"command id {command.command_id.hex()} was already used for a different command; "
                "a new command needs a new id",
            )
        return remembered

    def _answer(self, peer: PeerRecord, command: Command, remembered: Remembered | None) -> bytes:
        spec = COMMANDS[command.name]
        if not spec.changes_pump:  # a read has no effect to repeat, so it is simply answered afresh
            return self._seal(peer, self._execute(peer, command))
        link = peer.link.link_id
        if remembered is not None:
            if remembered.reply is not None:
                return self._seal_bytes(peer, remembered.reply)
            # Saved as begun but never finished: the pump lost power while executing it.
            reason = "the pump restarted while executing this command; its effect is unknown"
            if spec.delivers_drug:
                reason = f"{POSSIBLY_DELIVERED}: {reason}"
            unknown = encode_reply(ReplyMessage(command.command_id, ReplyStatus.UNKNOWN, {}, None, reason))
            self._replies.finish(link, command.command_id, unknown)
            return self._seal_bytes(peer, unknown)
        assert command.first_counter is not None  # _admit refuses a request without one
        self._replies.begin(link, command.command_id, command.first_counter, command.digest())
        reply = encode_reply(self._execute(peer, command))
        self._replies.finish(link, command.command_id, reply)
        return self._seal_bytes(peer, reply)

    def _execute(self, peer: PeerRecord, command: Command) -> ReplyMessage:
        if command.name in SECURITY_COMMANDS:
            return self._security_command(peer, command)
        try:
            result = self._dispatch(peer.role, command)
            if type(result) is not dict:
                raise TypeError(f"dispatch returned {type(result).__name__}, not a dict")
            codec.encode(result)  # a result that cannot travel is a fault found before anything is sent
        except ThecalError as exc:  # the pump's own refusal, in words, with nothing executed
            return ReplyMessage(command.command_id, ReplyStatus.REFUSED, _details(exc), None, str(exc))
        except Exception:
            # The command is on record as pending; whatever happened must read as "unknown", and the
            # link must keep serving, so the fault is logged here rather than raised.
            _log.exception("dispatch of %s failed", command.name)
            reason = "the pump failed while executing this command; its effect is unknown"
            if COMMANDS[command.name].delivers_drug:
                reason = f"{POSSIBLY_DELIVERED}: {reason}"
            return ReplyMessage(command.command_id, ReplyStatus.UNKNOWN, {}, None, reason)
        return ReplyMessage(
            command.command_id, ReplyStatus.OK, visible_result(peer.role, command.name, result), None, ""
        )

    def _security_command(self, peer: PeerRecord, command: Command) -> ReplyMessage:
        if command.name == "list_keys":
            paired = [
                {"key_id": p.key_id.hex(), "role": p.role.value, "label": p.label} for p in self._keystore.peers()
            ]
            revoked = [key_id.hex() for key_id in self._keystore.revoked()]
            return ReplyMessage(command.command_id, ReplyStatus.OK, {"paired": paired, "revoked": revoked}, None, "")
        target = bytes.fromhex(str(command.args["key_id"]))
        if target == peer.key_id:
            reason = "a key cannot revoke itself while it is talking; revoke it from another clinician programmer"
            return ReplyMessage(command.command_id, ReplyStatus.REFUSED, {}, None, reason)
        removed = self._keystore.revoke(target)
        if removed is not None:
            self._counters.forget(removed.link.link_id)
            self._replies.forget(removed.link.link_id)
        self._emit("revoked", target, removed, peer.key_id)
        result = {"key_id": target.hex(), "was_paired": removed is not None}
        return ReplyMessage(command.command_id, ReplyStatus.OK, result, None, "")

    def _emit(self, kind: str, key_id: bytes, record: PeerRecord | None, by: bytes | None) -> None:
        if self._on_security_event is not None:
            event = SecurityEvent(
                kind,
                key_id.hex(),
                record.role.value if record else None,
                record.label if record else None,
                by.hex() if by else None,
            )
            self._on_security_event(event)

    def _seal(self, peer: PeerRecord, message: ReplyMessage) -> bytes:
        return self._seal_bytes(peer, encode_reply(message))

    def _seal_bytes(self, peer: PeerRecord, plaintext: bytes) -> bytes:
        counter = self._counters.next_sent(peer.link.link_id)
        return encode_frame(seal(peer.link.pump_to_client, FrameType.REPLY, self._identity.key_id, counter, plaintext))


def _details(error: ThecalError) -> dict[str, object]:
    """The error's fields for the reply, when it has fields that can travel."""
    to_dict = getattr(error, "to_dict", None)
    details = to_dict() if callable(to_dict) else {}
    try:
        codec.encode(details)
    except ValueError:
        return {}
    return details if type(details) is dict else {}
