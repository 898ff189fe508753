"""The programmer's and PTM's side: send a command, retry it with the same id, never guess.

A request whose reply does not come back is sent again with the same command
id (in a new frame with a new counter), so the pump can answer it without
executing it twice. Every request also carries the counter of the first frame
that carried its command id, so the pump can tell a retry of a command it may
have forgotten from a new one; the returned `Reply.command` carries it. The
device finds that counter again for any command it sent, from any session,
without a write per request: the id `request` makes holds the first counter and
a MAC of it and the link under a key only this device can derive; a command
the caller made with an id of its own is listed with its link and first counter
in the device's store before its first frame leaves. A command first sent on a
link that is gone (the device paired again) is not sent, its outcome unknown.
And every request carries the highest pump counter this device has accepted:
the pump's memory must not be older than that. A reply is accepted only if it
authenticates under the link key, its counter is fresh, and it names the
command's id; anything else is treated as if it were lost. When all attempts
are used up the outcome is unknown, and for a drug delivery that is reported as
possibly delivered and counted as delivered, never as failed; so is a refusal
of a state-changing command that comes after an earlier attempt may have
reached the pump.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from dataclasses import dataclass
from types import TracebackType

from thecal.telemetry import codec
from thecal.telemetry.commands import COMMAND_ID_BYTES, COMMANDS, POSSIBLY_DELIVERED, Command, validate
from thecal.telemetry.counters import CounterStore
from thecal.telemetry.errors import LinkLost, NothingListening, RejectCode, Rejected, StoreDamaged
from thecal.telemetry.frames import (
    FrameType,
    ReplyStatus,
    decode_frame,
    decode_reply,
    encode_frame,
    encode_request,
)
from thecal.telemetry.keys import DeviceIdentity, PeerRecord
from thecal.telemetry.link import open_sealed, seal
from thecal.telemetry.rejects import read_reject
from thecal.telemetry.transport import Transport

DEFAULT_ATTEMPTS = 4
# How many state-changing commands with ids of the caller's own a device remembers the first frame of, per pump:
# four times what the pump remembers of one device, so a command the pump may still answer is always sent with
# its true first counter.
SENT_REMEMBERED = 256
SENT_PREFIX = "sent-"
COMMAND_ID_CONTEXT = b"thecal command ids v1"
_COUNTER_BYTES = 8  # a command id made by the device: first counter (8 bytes, big-endian) and MAC (8 bytes)


def command_id_key(identity: DeviceIdentity) -> bytes:
    """The MAC key of the command ids this device makes.

    An Ed25519 signature is deterministic, so the signature of a fixed context is a secret only the holder of
    the identity's private key can compute, the same after every restart.
    """
    return hashlib.blake2b(identity.sign(COMMAND_ID_CONTEXT), digest_size=32).digest()


def _id_tag(key: bytes, link_id: bytes, head: bytes) -> bytes:
    return hashlib.blake2b(link_id + head, key=key, digest_size=COMMAND_ID_BYTES - _COUNTER_BYTES).digest()


def device_command_id(key: bytes, link_id: bytes, first_counter: int) -> bytes:
    """The id of a command first sent in frame `first_counter` on a link: the counter and a MAC of it and the link."""
    head = first_counter.to_bytes(_COUNTER_BYTES, "big")
    return head + _id_tag(key, link_id, head)


def first_counter_in(key: bytes, link_id: bytes, command_id: bytes) -> int | None:
    """The first counter held in an id this device made on this link, or None for any other id."""
    head, tag = command_id[:_COUNTER_BYTES], command_id[_COUNTER_BYTES:]
    if len(command_id) != COMMAND_ID_BYTES or not hmac.compare_digest(tag, _id_tag(key, link_id, head)):
        return None
    return int.from_bytes(head, "big")


@dataclass(frozen=True)
class Reply:
    """How a command ended, as the sender knows it."""

    command: Command
    status: ReplyStatus
    result: dict[str, object]
    code: str | None
    reason: str
    attempts: int

    @property
    def ok(self) -> bool:
        """Whether the pump executed the command."""
        return self.status is ReplyStatus.OK

    @property
    def possibly_delivered(self) -> bool:
        """Whether drug may have been delivered without a confirmation; it counts as delivered."""
        return self.status is ReplyStatus.UNKNOWN and COMMANDS[self.command.name].delivers_drug

    def describe(self) -> str:
        """The outcome in words for the person holding the device."""
        name = self.command.name
        if self.status is ReplyStatus.OK:
            return f"{name}: done"
        if self.status is ReplyStatus.REJECTED:
            return f"{name} rejected ({self.code}): {self.reason}"
        if self.status is ReplyStatus.REFUSED:
            return f"{name} refused by the pump: {self.reason}"
        if self.possibly_delivered:
            return f"{name}: {POSSIBLY_DELIVERED} ({self.reason})"
        return f"{name}: outcome unknown ({self.reason})"


class ClientSession:
    """A telemetry session of a programmer or PTM with one paired pump; close it, or use it in a `with`."""

    def __init__(
        self,
        identity: DeviceIdentity,
        pump: PeerRecord,
        counters: CounterStore,
        transport: Transport,
        *,
        attempts: int = DEFAULT_ATTEMPTS,
    ):
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        if not counters.device:
            # A pump's store neither reserves counters in blocks nor remembers earlier links, and the second is
            # what keeps a command first sent before pairing again from running twice.
            raise ValueError("a session needs a device's counters: CounterStore.for_device(store)")
        self._identity = identity
        self.pump = pump
        self._counters = counters
        self.transport = transport
        self._attempts = attempts
        self._id_key = command_id_key(identity)
        # Link id and first counter of the commands with the caller's own ids, as last read from the store.
        self._first_frames: dict[bytes, tuple[bytes, int]] | None = None

    def close(self) -> None:
        """Save what the device holds only in memory (the highest pump counter it accepted)."""
        self._counters.flush()

    def __enter__(self) -> ClientSession:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def request(self, name: str, **args: object) -> Reply:
        """Send a new command and return how it ended; Rejected if it does not fit the table."""
        validate(Command(name, dict(args), bytes(COMMAND_ID_BYTES)))  # refused before a counter is spent on it
        link = self.pump.link.link_id
        counter = self._counters.next_sent(link)
        command = Command(name, dict(args), device_command_id(self._id_key, link, counter), counter)
        return self._send(command, counter)

    def send(self, command: Command) -> Reply:
        """Send a command (new, or an earlier one again with its same id) and return how it ended.

        Raises NothingListening when no attempt found a pump to send to: then nothing was sent or done.
        """
        validate(command)
        if COMMANDS[command.name].changes_pump:  # a read is never remembered by the pump, so its first frame is moot
            origin = self._origin(command.command_id)
            if origin is None and command.first_counter is not None:
                # It says it was sent before, in a frame this device has no record of: on a link it no longer
                # knows, or before its records were lost. Sent now it might run a second time.
                why = (
                    f"this device has no record of sending this command (first sent in frame "
                    f"{command.first_counter}, on an earlier link or before its records were lost)"
                )
                return _not_sent_again(command, why)
            if origin is not None and origin[0] != self.pump.link.link_id:
                return _not_sent_again(
                    command, "this command was first sent before this device paired with the pump again"
                )
            if origin is not None:
                command = dataclasses.replace(command, first_counter=origin[1])
        return self._send(command)

    def _send(self, command: Command, counter: int | None = None) -> Reply:
        """The attempts; `counter` is the one already taken for the first frame, if any."""
        link = self.pump.link.link_id
        changes_pump = COMMANDS[command.name].changes_pump
        first = command.first_counter
        nobody: NothingListening | None = None
        reached = False  # once a frame may have arrived, the outcome can only be known from the pump
        for attempt in range(1, self._attempts + 1):
            if counter is None:
                counter = self._counters.next_sent(link)
            if first is None:
                first = counter
                if changes_pump:
                    self._remember_first(command.command_id, first)
            command = dataclasses.replace(command, first_counter=first)
            plaintext = encode_request(command, self._counters.last_received(link))
            frame = seal(self.pump.link.client_to_pump, FrameType.REQUEST, self._identity.key_id, counter, plaintext)
            counter = None  # every further attempt goes in a new frame
            sent = encode_frame(frame)
            try:
                raw = self.transport.send(sent)
            except NothingListening as exc:
                nobody = exc
                continue
            except LinkLost:
                reached = True
                continue
            reply = self._read(command, sent, raw, attempt)
            if reply is not None:
                return _after_earlier_attempts(reply) if reached else reply
            reached = True
        if nobody is not None and not reached:
            raise nobody
        reason = f"no reply after {self._attempts} attempts"
        if COMMANDS[command.name].delivers_drug:
            reason += "; do not repeat the dose before interrogating the pump"
        else:
            reason += "; interrogate the pump, or send the same command again (same id) once the link is back"
        return Reply(command, ReplyStatus.UNKNOWN, {}, None, reason, self._attempts)

    def _read(self, command: Command, sent: bytes, raw: bytes, attempt: int) -> Reply | None:
        """The reply in raw if it is authentic, fresh and about this command; None counts as lost."""
        try:
            frame = decode_frame(raw)
            if frame.key_id != self.pump.key_id:
                return None
            if frame.type is FrameType.REJECT:
                rejection, _ = read_reject(frame, sent, self.pump.public_key)
                return Reply(command, ReplyStatus.REJECTED, {}, rejection.code, rejection.reason, attempt)
            if frame.type is not FrameType.REPLY:
                return None
            plaintext = open_sealed(self.pump.link.pump_to_client, frame)
            self._counters.accept(self.pump.link.link_id, frame.counter)
            message = decode_reply(plaintext)
        except Rejected:  # garbled, forged or replayed: as good as lost
            return None
        if message.command_id != command.command_id:
            return None
        return Reply(command, message.status, message.result, message.code, message.reason, attempt)

    def _origin(self, command_id: bytes) -> tuple[bytes, int] | None:
        """The link and first counter of a command this device sent before, or None for one it never sent."""
        for link in (self.pump.link.link_id, *self._counters.retired_links()):
            first = first_counter_in(self._id_key, link, command_id)
            if first is not None:
                return link, first
        return self._first_frame(command_id)

    def _sent_list(self) -> str:
        return SENT_PREFIX + self.pump.key_id.hex()

    def _first_frame(self, command_id: bytes) -> tuple[bytes, int] | None:
        """The link and first counter this device listed for a caller's id, or None for a command it never sent."""
        if self._first_frames is None or command_id not in self._first_frames:
            # Read again when not found: another session of this device may have listed it since.
            name = self._sent_list()
            self._first_frames = {}
            for data in self._counters.persistence.load_list(name):
                try:
                    entry = codec.decode(data, "sent command")
                except Rejected as exc:
                    raise StoreDamaged(name, exc.reason) from None
                if not (
                    type(entry) is list
                    and len(entry) == 3
                    and type(entry[0]) is bytes
                    and len(entry[0]) == COMMAND_ID_BYTES
                    and type(entry[1]) is bytes
                    and type(entry[2]) is int
                ):
                    raise StoreDamaged(name, "expected entries [command id, link id, first counter]")
                self._first_frames[entry[0]] = (entry[1], entry[2])
        return self._first_frames.get(command_id)

    def _remember_first(self, command_id: bytes, first: int) -> None:
        """List a caller's new command with its link and first counter before its first frame leaves."""
        # The one durable write on this path: the caller holds the id and may send it again after a restart,
        # and nothing else could tell the device which frame first carried it.
        link = self.pump.link.link_id
        self._counters.persistence.append(self._sent_list(), codec.encode([command_id, link, first]), SENT_REMEMBERED)
        if self._first_frames is not None:
            self._first_frames[command_id] = (link, first)


def _not_sent_again(command: Command, why: str) -> Reply:
    """A command sent before that this device cannot place on its present link: not sent, its outcome unknown."""
    reason = f"{why}, so whether it ran can only be seen on the pump; it was not sent again"
    if COMMANDS[command.name].delivers_drug:
        reason += "; do not repeat the dose before interrogating the pump"
    else:
        reason += "; interrogate the pump, and send it as a new command if it did not run"
    return Reply(command, ReplyStatus.UNKNOWN, {}, RejectCode.COMMAND_TOO_OLD.value, reason, 0)


def _after_earlier_attempts(reply: Reply) -> Reply:
    """A refusal of a state-changing command after an earlier attempt may have reached the pump is no proof."""
    if reply.status is not ReplyStatus.REJECTED or not COMMANDS[reply.command.name].changes_pump:
        return reply
    # The refusal answers this frame only; an earlier frame of the same command may have run before the pump
    # changed (its memory restored, the key revoked), so the outcome is unknown, and a dose counts as delivered.
    reason = f"an earlier attempt may have reached the pump before this one was refused ({reply.code}: {reply.reason})"
    if COMMANDS[reply.command.name].delivers_drug:
        reason += "; do not repeat the dose before interrogating the pump"
    return dataclasses.replace(reply, status=ReplyStatus.UNKNOWN, reason=reason)
