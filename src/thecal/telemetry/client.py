"""The programmer's and PTM's side: send a command, retry it with the same id, never guess.

A request whose reply does not come back is sent again with the same command
id (in a new frame with a new counter), so the pump can answer it without
executing it twice. A reply is accepted only if it authenticates under the
link key, its counter is fresh, and it names the command's id; anything else is
treated as if it were lost. When all attempts are used up the outcome is
unknown, and for a drug delivery that is reported as possibly delivered and
counted as delivered, never as failed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from thecal.telemetry.commands import COMMANDS, POSSIBLY_DELIVERED, Command, validate
from thecal.telemetry.counters import CounterStore
from thecal.telemetry.errors import LinkLost, NothingListening, Rejected
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
    """A telemetry session of a programmer or PTM with one paired pump."""

    def __init__(
        self,
        identity: DeviceIdentity,
        pump: PeerRecord,
        counters: CounterStore,
        transport: Transport,
        *,
        attempts: int = DEFAULT_ATTEMPTS,
        new_id: Callable[[int], bytes] = os.urandom,
    ):
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._identity = identity
        self.pump = pump
        self._counters = counters
        self.transport = transport
        self._attempts = attempts
        self._new_id = new_id

    def request(self, name: str, **args: object) -> Reply:
        """Send a new command and return how it ended; Rejected if it does not fit the table."""
        return self.send(Command.create(name, args, self._new_id))

    def send(self, command: Command) -> Reply:
        """Send a command (new, or an earlier one again with its same id) and return how it ended.

        Raises NothingListening when no attempt found a pump to send to: then nothing was sent or done.
        """
        validate(command)
        plaintext = encode_request(command)
        nobody: NothingListening | None = None
        reached = False  # once a frame may have arrived, the outcome can only be known from the pump
        for attempt in range(1, self._attempts + 1):
            counter = self._counters.next_sent(self.pump.link.link_id)
            frame = seal(self.pump.link.client_to_pump, FrameType.REQUEST, self._identity.key_id, counter, plaintext)
            sent = encode_frame(frame)
            try:
                raw = self.transport.send(sent)
            except NothingListening as exc:
                nobody = exc
                continue
            except LinkLost:
                reached = True
                continue
            reached = True
            reply = self._read(command, sent, raw, attempt)
            if reply is not None:
                return reply
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
