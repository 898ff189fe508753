"""The doors to a pump: read it, send it one firmware command, and say how that ended.

`DirectPort` drives a `VirtualPump` in the same process (scenarios, trials);
`TelemetryPort` goes through a paired programmer's or patient handset's
telemetry client (the pump daemon, the apps). Both give the therapy layer the
same three answers for a command: accepted, refused with the pump's refusal, or
unknown. An unknown outcome of a dose counts as delivered: nobody may repeat a
dose on the strength of a missing answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from thecal.drugs.limits import PUMP_FIRMWARE, refusal_finding
from thecal.drugs.verdict import Finding
from thecal.errors import ThecalError
from thecal.pump.core.actions import Outcome, Refusal
from thecal.pump.core.commands import ClinicianBolus, Command, Fill, PrimingBolus, RequestDemandBolus
from thecal.therapy.snapshot import PatientView, PumpSnapshot

if TYPE_CHECKING:
    # The telemetry stack (its clients, frames and cryptography) is loaded by `TelemetryPort` when one is
    # made: a scenario or a trial that drives a pump in this process never waits for it.
    from thecal.devices.programmer import ProgrammerClient
    from thecal.devices.ptm import TherapyManagerClient
    from thecal.pump.device import VirtualPump
    from thecal.telemetry.client import Reply

TELEMETRY = "pump telemetry"
# Commands that move drug into the patient: an unknown outcome of one counts as delivered.
DOSE_COMMANDS = (ClinicianBolus, PrimingBolus, RequestDemandBolus)


class SendOutcome(StrEnum):
    """How one command ended, as the sender knows it."""

    ACCEPTED = "accepted"
    REFUSED = "refused"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Sent:
    """One command and how it ended: accepted, refused with the pump's refusal, or unknown."""

    command: Command
    outcome: SendOutcome
    refusal: Refusal | None = None
    refused_by: str = PUMP_FIRMWARE
    reason: str = ""
    info: Mapping[str, object] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        """Whether the pump took the command."""
        return self.outcome is SendOutcome.ACCEPTED

    @property
    def counts_as_delivered(self) -> bool:
        """Whether a dose went, or may have gone, to the patient: an unknown dose counts as given."""
        return isinstance(self.command, DOSE_COMMANDS) and self.outcome is not SendOutcome.REFUSED

    @property
    def finding(self) -> Finding | None:
        """The refusal in the shape every door shows, or None."""
        return None if self.refusal is None else refusal_finding(self.refusal, source=self.refused_by)

    def words(self) -> str:
        """How the command ended, in words."""
        name = type(self.command).__name__
        if self.outcome is SendOutcome.ACCEPTED:
            return f"{name}: done"
        if self.outcome is SendOutcome.REFUSED:
            finding = self.finding
            return f"{name}: {finding.message if finding else 'refused'}"
        words = f"{name}: the outcome is unknown ({self.reason})."
        if self.counts_as_delivered:
            words += " It counts as delivered: do not repeat the dose before interrogating the pump."
        return words

    def to_dict(self) -> dict[str, object]:
        """The outcome as stable JSON-ready fields."""
        finding = self.finding
        return {
            "command": type(self.command).__name__,
            "outcome": self.outcome.value,
            "counts_as_delivered": self.counts_as_delivered,
            "refusal": None if finding is None else finding.to_dict(),
            "until_ms": None if self.refusal is None else self.refusal.until_ms,
            "reason": self.reason,
            "words": self.words(),
        }


@dataclass(frozen=True)
class LogRecord:
    """One entry of the pump's event log as read back: its sequence number, pump time, kind and details."""

    seq: int
    at_ms: int
    kind: str
    detail: Mapping[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """The entry as stable JSON-ready fields."""
        return {"seq": self.seq, "at_ms": self.at_ms, "kind": self.kind, "detail": dict(self.detail)}


class PortError(ThecalError):
    """A pump could not be read: the link, the pump or the device's role stood in the way."""


class PumpPort(Protocol):
    """A way to one pump: read it and send it firmware commands."""

    def interrogate(self) -> PumpSnapshot:
        """The clinician's view of the pump now."""
        ...

    def patient_view(self) -> PatientView:
        """The patient's view of the pump now."""
        ...

    def send(self, command: Command) -> Sent:
        """Send one command and say how it ended."""
        ...

    def event_log(self, from_seq: int) -> tuple[LogRecord, ...]:
        """The pump's event-log entries from sequence number `from_seq` on."""
        ...


def _refill(pump: VirtualPump, fill: Fill) -> Outcome:
    return pump.refill(fill)[1]


class DirectPort:
    """A virtual pump in this process, reached through its firmware's public commands.

    A fill goes through `refill` (by default `VirtualPump.refill`), so a
    scenario can put the syringe somewhere else than the firmware is told.
    """

    def __init__(self, pump: VirtualPump, *, refill: Callable[[VirtualPump, Fill], Outcome] = _refill):
        self.pump = pump
        self._refill = refill

    def interrogate(self) -> PumpSnapshot:
        """The firmware's status, typed."""
        return PumpSnapshot.from_status(self.pump.firmware.status(), self.pump.model)

    def patient_view(self) -> PatientView:
        """The patient's part of the firmware's status, as the firmware makes it for a handset."""
        return PatientView.from_status(self.pump.firmware.patient_status())

    def send(self, command: Command) -> Sent:
        """Give the firmware one command now."""
        outcome = self._refill(self.pump, command) if isinstance(command, Fill) else self.pump.command(command)
        if outcome.accepted:
            return Sent(command, SendOutcome.ACCEPTED, info=dict(outcome.info))
        return Sent(command, SendOutcome.REFUSED, outcome.refusal)

    def event_log(self, from_seq: int) -> tuple[LogRecord, ...]:
        """The firmware's event-log entries from `from_seq` on."""
        entries = self.pump.firmware.state.log.since(from_seq)
        return tuple(LogRecord(e.seq, e.at_ms, e.kind, dict(e.detail)) for e in entries)


class TelemetryPort:
    """A pump reached through a paired clinician programmer or patient handset."""

    def __init__(self, client: ProgrammerClient | TherapyManagerClient):
        self.client = client
        from thecal.devices.ptm import TherapyManagerClient

        self._handset = TherapyManagerClient

    def _status(self) -> dict[str, object]:
        reply = self.client.session.request("interrogate_status")
        if not reply.ok:
            raise PortError(f"the pump could not be read: {reply.describe()}")
        return reply.result

    def interrogate(self) -> PumpSnapshot:
        """The clinician's view; a patient's handset is refused it."""
        if isinstance(self.client, self._handset):
            raise PortError("a patient's handset sees only the patient's view of the pump; use a clinician programmer")
        status = self._status()
        model = status.get("model")
        if not isinstance(model, str):
            raise PortError("the pump's status names no pump model; interrogate again with a clinician programmer")
        from thecal.pump.model import load_model

        return PumpSnapshot.from_status(status, load_model(model))

    def patient_view(self) -> PatientView:
        """The patient's view, as either device may read it."""
        return PatientView.from_status(self._status())

    def send(self, command: Command) -> Sent:
        """Send one command over telemetry, retried with the same id until it is answered or given up."""
        from thecal.telemetry.errors import NothingListening, Rejected
        from thecal.telemetry.pump_commands import to_telemetry

        name, args = to_telemetry(command)
        try:
            reply = self.client.session.request(name, **args)
        except Rejected as rejected:  # refused before it left: nothing was sent
            return Sent(command, SendOutcome.REFUSED, Refusal(rejected.code.value, rejected.reason), TELEMETRY)
        except NothingListening as lost:  # no frame reached a pump: nothing happened there
            return Sent(command, SendOutcome.REFUSED, Refusal("nothing_listening", str(lost)), TELEMETRY)
        return _sent(command, reply)

    def event_log(self, from_seq: int) -> tuple[LogRecord, ...]:
        """The pump's event-log entries from `from_seq` on, read page by page (a clinician programmer only)."""
        records: list[LogRecord] = []
        start = from_seq
        while True:
            reply = self.client.session.request("read_event_log", from_seq=start, max_entries=LOG_PAGE_ENTRIES)
            if not reply.ok:
                raise PortError(f"the pump's event log could not be read from entry {start}: {reply.describe()}")
            page = [_log_record(e) for e in _entries(reply.result)]
            records += page
            head = reply.result.get("next_seq")
            if not page or type(head) is not int or page[-1].seq + 1 >= head:
                return tuple(records)
            start = page[-1].seq + 1


LOG_PAGE_ENTRIES = 100  # the most entries one read_event_log answers (the telemetry command table)


def _entries(result: Mapping[str, object]) -> list[Mapping[str, object]]:
    entries = result.get("entries")
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise PortError("the pump answered a read of its event log without a list of entries; read it again")
    return entries


def _log_record(entry: Mapping[str, object]) -> LogRecord:
    seq, at, kind, detail = (entry.get(k) for k in ("seq", "at_ms", "kind", "detail"))
    if type(seq) is not int or type(at) is not int or not isinstance(kind, str):
        raise PortError(f"the pump answered an event-log entry without its number, time or kind: {dict(entry)}")
    return LogRecord(seq, at, kind, dict(detail) if isinstance(detail, Mapping) else {})


def _sent(command: Command, reply: Reply) -> Sent:
    from thecal.telemetry.frames import ReplyStatus

    if reply.status is ReplyStatus.OK:
        return Sent(command, SendOutcome.ACCEPTED, info=dict(reply.result))
    if reply.status is ReplyStatus.UNKNOWN:
        return Sent(command, SendOutcome.UNKNOWN, reason=reply.reason)
    if reply.status is ReplyStatus.REJECTED:
        return Sent(command, SendOutcome.REFUSED, Refusal(reply.code or "rejected", reply.reason), TELEMETRY)
    return Sent(command, SendOutcome.REFUSED, _refusal(reply))


def _refusal(reply: Reply) -> Refusal:
    """The pump's refusal as it travelled: its fields in the result, its words in the reason."""
    r = reply.result

    def text(key: str) -> str:
        value = r.get(key)
        return value if isinstance(value, str) else ""

    until = r.get("until_ms")
    return Refusal(
        code=text("code") or reply.code or "refused",
        message=text("message") or text("problem") or reply.reason,
        field=text("field"),
        value=text("value"),
        limit=text("limit"),
        until_ms=until if type(until) is int else None,
    )
