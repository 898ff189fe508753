"""The handset's side of a press: read the pump, plan and send a demand dose, and settle an unknown outcome.

Everything here is the pump's own answer read through the PTM role of the
telemetry protocol; the app adds no rule of its own. A press is a
`DemandPress` planned and executed by the therapy layer, which reads the
patient's view (eligibility) again just before sending. An outcome the link
left unknown is never sent again: it is settled only by reading the pump
(`settle`), and counts as given until the pump's own figures say otherwise.

An unknown outcome is settled from the pump's event log, of which the PTM role
reads only the entries about demand doses. The eligibility read just before a
press carries the log's head (`Reading.log_next_seq`, kept as `Press.log_seq`):
the request's entries can only come at or after it. Once a log read is answered
after the request, the request can never run later (the pump accepts a frame
only with a counter above every one it accepted, and the log read came after
it on the same link), so `DemandLog` reads the outcome for good: a demand dose
started there means given; none means not given. A press kept without a mark,
or whose entries the log no longer holds, falls back on the figures the status
carries (`DoseRecord`): the doses counted in the last 24 h and the lockout,
which runs from the start of the last dose.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from enum import StrEnum

from thecal.devices.ptm import TherapyManagerClient
from thecal.errors import ThecalError
from thecal.therapy import (
    Actor,
    DemandPress,
    ExecutionStatus,
    PatientView,
    PortError,
    SendOutcome,
    StaffRole,
    TelemetryPort,
    TherapyService,
)


class PumpUnreachable(ThecalError):
    """The pump did not answer: out of range, or no pump where the handset looks for one."""


@dataclass(frozen=True)
class DemandSettings:
    """The physician's demand settings as the pump holds them."""

    dose_ng: int
    duration_ms: int
    lockout_ms: int
    max_per_24h: int


@dataclass(frozen=True)
class Reading:
    """One read of the pump by the handset: the patient's view and the demand settings it carries."""

    view: PatientView
    settings: DemandSettings | None
    refill_due_wall_ms: int | None = None  # only when the pump's status carries one
    log_next_seq: int | None = None  # the number the pump's next log entry will carry

    @property
    def used_24h(self) -> int | None:
        """Demand doses the pump counts in the last 24 h, or None while demand doses are off."""
        left = self.view.demand_left_24h
        if self.settings is None or left is None:
            return None
        return self.settings.max_per_24h - left

    def to_dict(self) -> dict[str, object]:
        """The reading as JSON-ready fields (kept with each request)."""
        return {
            "view": asdict(self.view) | {"alarms": list(self.view.alarms)},
            "settings": None if self.settings is None else asdict(self.settings),
            "refill_due_wall_ms": self.refill_due_wall_ms,
            "log_next_seq": self.log_next_seq,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Reading:
        """A reading kept by `to_dict`."""
        view = dict(data["view"])  # type: ignore[call-overload]
        view["alarms"] = tuple(view["alarms"])
        settings = data.get("settings")
        refill = data.get("refill_due_wall_ms")
        mark = data.get("log_next_seq")
        return cls(
            PatientView(**view),
            None if not isinstance(settings, Mapping) else DemandSettings(**settings),
            refill if isinstance(refill, int) else None,
            mark if isinstance(mark, int) else None,
        )


def reading_of(status: Mapping[str, object]) -> Reading:
    """The handset's reading of a status the pump answered to the PTM."""
    view = PatientView.from_status(status)
    demand = status.get("demand")
    settings = None
    if isinstance(demand, Mapping):
        try:
            settings = DemandSettings(
                int(demand["dose_ng"]),
                int(demand["duration_ms"]),
                int(demand["lockout_ms"]),
                int(demand["max_per_24h"]),
            )
        except (KeyError, TypeError, ValueError):
            raise PortError("the pump's demand settings are incomplete; read the pump again") from None
    refill = status.get("refill_due_wall_ms")
    mark = status.get("log_next_seq")
    return Reading(view, settings, refill if type(refill) is int else None, mark if type(mark) is int else None)


class Outcome(StrEnum):
    """How a press ended, as far as the handset knows."""

    GIVEN = "given"  # the pump accepted the dose
    NOT_NOW = "not_now"  # the pump's view (or its refusal) says no dose now: nothing was given
    UNREACHABLE = "unreachable"  # no answer before sending: nothing was given
    UNKNOWN = "unknown"  # sent, no answer: counts as given until the pump says otherwise
    NOT_GIVEN = "not_given"  # an unknown outcome the pump's record settled: no dose was given


@dataclass(frozen=True)
class Press:
    """What one press did: its outcome, the readings before and after, and the pump's refusal if any."""

    outcome: Outcome
    before: Reading | None = None
    after: Reading | None = None
    code: str | None = None  # the pump's reason for no dose now
    until_wall_ms: int | None = None  # ... and until when
    message: str = ""
    given_wall_ms: int | None = None  # when the dose started, as the pump's clock says, when known
    used_in_24h: int | None = None  # the pump's count including this dose, when it said it
    log_seq: int | None = None  # the pump's log head just before sending: this request's entries come at or after it
    settled_by: str | None = None  # "log" or "status" once the pump's record settled an unknown outcome
    sent_order: int | None = None  # this handset's count of presses sent, this one included (1, 2, ...)

    def to_dict(self) -> dict[str, object]:
        """The press as JSON-ready fields (kept under its request id)."""
        data = asdict(self)
        data["outcome"] = self.outcome.value
        data["before"] = None if self.before is None else self.before.to_dict()
        data["after"] = None if self.after is None else self.after.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Press:
        """A press kept by `to_dict`."""
        fields = dict(data)
        fields["outcome"] = Outcome(str(fields["outcome"]))
        for key in ("before", "after"):
            value = fields.get(key)
            fields[key] = None if not isinstance(value, Mapping) else Reading.from_dict(value)
        return cls(**fields)  # type: ignore[arg-type]


class DoseRecord:
    """Whether a dose started at or after a moment, from the pump's own figures in a fresh reading.

    Proof of a dose: the pump counts more demand doses in 24 h than before the press (a count only rises by a new
    dose), or its lockout runs from a start at or after the press. Proof of none: the pump would give a dose now
    while less than one lockout has passed since the press. Anything else leaves it unknown.
    """

    @staticmethod
    def settle(before: Reading, after: Reading) -> tuple[Outcome, int | None]:
        """GIVEN (with the start, when the pump shows it), NOT_GIVEN, or UNKNOWN."""
        settings = after.settings or before.settings
        pressed = before.view.wall_ms
        start = None
        view = after.view
        if settings is not None and settings.lockout_ms > 0:
            locked_until = view.demand_not_now_until_wall_ms if view.demand_not_now_code == "locked_out" else None
            if locked_until is not None and locked_until - settings.lockout_ms >= pressed:
                start = locked_until - settings.lockout_ms
        used_before, used_after = before.used_24h, after.used_24h
        if start is not None or (used_before is not None and used_after is not None and used_after > used_before):
            return Outcome.GIVEN, start
        possible_now = view.demand_not_now_code is None and (
            view.demand_next_allowed_wall_ms is None or view.demand_next_allowed_wall_ms <= view.wall_ms
        )
        if settings is not None and possible_now and view.wall_ms < pressed + settings.lockout_ms:
            return Outcome.NOT_GIVEN, None
        return Outcome.UNKNOWN, None


class DemandLog:
    """What became of a request, from the pump's log entries about demand doses at or after its mark."""

    @staticmethod
    def settle(entries: list[Mapping[str, object]]) -> tuple[Outcome, str | None]:
        """GIVEN when a demand dose started; else NOT_GIVEN, with the pump's refusal code when it logged one."""
        if any(entry.get("kind") == "bolus_start" for entry in entries):
            return Outcome.GIVEN, None
        for entry in entries:
            detail = entry.get("detail")
            if entry.get("kind") == "refused" and isinstance(detail, Mapping):
                return Outcome.NOT_GIVEN, str(detail.get("code") or "") or None
        return Outcome.NOT_GIVEN, None


class DoseState(StrEnum):
    """Where a given demand dose is, as the pump's log shows it."""

    RUNNING = "running"
    ENDED = "ended"
    INTERRUPTED = "interrupted"  # stopped before its whole volume was given (therapy stopped, a fault)


@dataclass(frozen=True)
class DoseNow:
    """A given dose's state, and the pump-clock time it ends (running) or ended (wall ms)."""

    state: DoseState
    at_wall_ms: int

    @staticmethod
    def of(entries: list[Mapping[str, object]], started_wall_ms: int) -> DoseNow | None:
        """The first demand dose among a request's entries: running until its end, or ended; None if none started."""
        start = next((e for e in entries if e.get("kind") == "bolus_start"), None)
        if start is None:
            return None
        began, detail = start.get("at_ms"), start.get("detail")
        if type(began) is not int or not isinstance(detail, Mapping) or type(detail.get("ends_ms")) is not int:
            return None
        ends = int(detail["ends_ms"])
        for entry in entries:
            at = entry.get("at_ms")
            if entry.get("kind") in ("bolus_end", "bolus_interrupted") and type(at) is int and at >= began:
                state = DoseState.ENDED if entry.get("kind") == "bolus_end" else DoseState.INTERRUPTED
                return DoseNow(state, started_wall_ms + at - began)
        # Times in the log are the pump's own; a dose's start and end are the same clock, so their difference holds.
        return DoseNow(DoseState.RUNNING, started_wall_ms + ends - began)


PATIENT = Actor("patient", StaffRole.PATIENT)


class Handset:
    """The app's one PTM: one request to the pump at a time, whatever page asks."""

    def __init__(self, client_factory: Callable[[], TherapyManagerClient]):
        self._factory = client_factory
        self._client: TherapyManagerClient | None = None
        self.lock = threading.RLock()

    def _port(self) -> HandsetPort:
        if self._client is None:
            self._client = self._factory()
        return HandsetPort(self._client)

    def read(self) -> Reading:
        """The pump's answer now; PumpUnreachable when it does not answer."""
        with self.lock:
            port = self._port()
            port.patient_view()
            assert port.reading is not None
            return port.reading

    def press(self) -> Press:
        """Plan and send one demand dose through the therapy layer; never sent again whatever the link did."""
        with self.lock:
            port = self._port()
            service = TherapyService(port)
            try:
                plan = service.plan(DemandPress(), PATIENT)  # reads the patient's view: eligibility, just before
            except (PumpUnreachable, PortError) as exc:
                return Press(Outcome.UNREACHABLE, message=str(exc))
            before = port.reading
            mark = None if before is None else before.log_next_seq  # where this request's log entries will start
            if not plan.allowed:
                return _not_now(before)
            execution = service.execute(plan, PATIENT, confirmed=True)
            sent = execution.sent[-1] if execution.sent else None
            if execution.status is ExecutionStatus.DONE and sent is not None:
                used = sent.info.get("used_in_24h")
                return Press(
                    Outcome.GIVEN,
                    before,
                    self._read_quietly(port),
                    given_wall_ms=None if before is None else before.view.wall_ms,
                    used_in_24h=used if isinstance(used, int) else None,
                    log_seq=mark,
                )
            if sent is not None and sent.outcome is SendOutcome.UNKNOWN:
                return Press(Outcome.UNKNOWN, before, message=sent.reason, log_seq=mark)
            refusal = sent.refusal if sent is not None else None
            if refusal is not None and refusal.code in ("nothing_listening",):
                return Press(Outcome.UNREACHABLE, before, message=refusal.message)
            after = self._read_quietly(port) or before
            seen = _not_now(after)
            return Press(
                Outcome.NOT_NOW,
                before,
                after,
                code=refusal.code if refusal is not None else seen.code,
                until_wall_ms=seen.until_wall_ms,
                message="" if refusal is None else refusal.message,
            )

    def settle(self, press: Press, next_mark: int | None = None) -> Press:
        """An unknown press read against the pump's record now: given, not given, or still unknown.

        `next_mark` is the log mark of the next press this handset sent, if any: this request's entries come before
        it. Never sends the request again. PumpUnreachable when the pump does not answer: the press stays unknown.
        """
        if press.outcome is not Outcome.UNKNOWN:
            return press
        with self.lock:
            entries = None if press.log_seq is None else self.demand_entries(press.log_seq)
            after = self.read()
        if entries is not None:
            entries = [e for e in entries if next_mark is None or _seq(e) < next_mark]
            outcome, code = DemandLog.settle(entries)
            # The dose ran when the request reached the pump: at the press, within the link's few retries.
            given = None if outcome is not Outcome.GIVEN or press.before is None else press.before.view.wall_ms
            return replace(press, outcome=outcome, after=after, code=code, given_wall_ms=given, settled_by="log")
        if press.before is None:
            return replace(press, after=after)
        outcome, start = DoseRecord.settle(press.before, after)
        if outcome is Outcome.UNKNOWN:
            return replace(press, after=after)
        return replace(press, outcome=outcome, after=after, given_wall_ms=start, settled_by="status")

    def dose_now(self, press: Press) -> DoseNow | None:
        """Whether a given press's dose is still running or has ended, from the pump's log; None if it cannot say.

        PumpUnreachable when the pump does not answer.
        """
        if press.outcome is not Outcome.GIVEN or press.log_seq is None or press.before is None:
            return None
        entries = self.demand_entries(press.log_seq)
        started = press.given_wall_ms if press.given_wall_ms is not None else press.before.view.wall_ms
        return None if entries is None else DoseNow.of(entries, started)

    def demand_entries(self, from_seq: int) -> list[Mapping[str, object]] | None:
        """The pump's demand-dose entries from `from_seq` on; None when its log no longer holds that far back."""
        with self.lock:
            port = self._port()
            entries: list[Mapping[str, object]] = []
            start = from_seq
            while True:
                page = port.log_page(start)
                dropped = page.get("dropped")
                if type(dropped) is int and dropped > from_seq:  # the oldest entries were overwritten
                    return None
                found = page.get("entries")
                entries += [e for e in found if isinstance(e, Mapping)] if isinstance(found, list) else []
                read_to, head = page.get("read_to_seq"), page.get("next_seq")
                if type(read_to) is not int or type(head) is not int:
                    raise PortError("the pump's log answer says no position; check with the pump again")
                if read_to >= head:
                    return entries
                if read_to <= start:
                    raise PortError(f"the pump's log did not move on from entry {start}; check with the pump again")
                start = read_to

    def _read_quietly(self, port: HandsetPort) -> Reading | None:
        try:
            port.patient_view()
        except (PumpUnreachable, PortError):
            return None
        return port.reading


def _seq(entry: Mapping[str, object]) -> int:
    seq = entry.get("seq")
    if type(seq) is not int:
        raise PortError("a log entry from the pump carries no sequence number; check with the pump again")
    return seq


def _not_now(before: Reading | None) -> Press:
    if before is None:
        return Press(Outcome.NOT_NOW)
    view = before.view
    code = view.demand_not_now_code
    if not view.demand_enabled:
        code = "demand_off"
    elif view.therapy_stopped:
        code = "stopped"
    elif code is None:
        code = "daily_maximum" if view.demand_left_24h == 0 else "locked_out"
    until = view.demand_not_now_until_wall_ms or view.demand_next_allowed_wall_ms
    return Press(Outcome.NOT_NOW, before, before, code=code, until_wall_ms=until)


class HandsetPort(TelemetryPort):
    """The therapy layer's port over the PTM, keeping the demand settings of each read for the answer's words."""

    def __init__(self, client: TherapyManagerClient):
        super().__init__(client)
        self.handset = client
        self.reading: Reading | None = None

    def patient_view(self) -> PatientView:
        """The patient's view, read afresh; PumpUnreachable when the pump does not answer."""
        from thecal.telemetry.errors import LinkLost

        try:
            reply = self.handset.status()
        except LinkLost as exc:
            raise PumpUnreachable(str(exc)) from None
        if not reply.ok:
            raise PumpUnreachable(f"the pump could not be read: {reply.describe()}")
        self.reading = reading_of(reply.result)
        return self.reading.view

    def log_page(self, from_seq: int) -> dict[str, object]:
        """One page of the pump's demand-dose entries from `from_seq` on; PumpUnreachable when it does not answer."""
        from thecal.telemetry.errors import LinkLost

        try:
            reply = self.handset.demand_log(from_seq)
        except LinkLost as exc:
            raise PumpUnreachable(str(exc)) from None
        if not reply.ok:
            raise PumpUnreachable(f"the pump's log could not be read: {reply.describe()}")
        return reply.result
