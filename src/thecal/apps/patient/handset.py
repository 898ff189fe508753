"""The handset's side of a press: read the pump, plan and send a demand dose, and settle an unknown outcome.

Everything here is the pump's own answer read through the PTM role of the
telemetry protocol; the app adds no rule of its own. A press is a
`DemandPress` planned and executed by the therapy layer, which reads the
patient's view (eligibility) again just before sending. An outcome the link
left unknown is never sent again: it is settled only by reading the pump
(`settle`), and counts as given until the pump's own figures say otherwise.

The PTM role may read the pump's status but not its event log (the telemetry
role table grants a handset `interrogate_status` and `demand_bolus` only), so
the pump's record of demand doses is read from what the status carries: the
doses counted in the last 24 h and the lockout, which runs from the start of the
last dose. `DoseRecord` is the one place that reads it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
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
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Reading:
        """A reading kept by `to_dict`."""
        view = dict(data["view"])  # type: ignore[call-overload]
        view["alarms"] = tuple(view["alarms"])
        settings = data.get("settings")
        refill = data.get("refill_due_wall_ms")
        return cls(
            PatientView(**view),
            None if not isinstance(settings, Mapping) else DemandSettings(**settings),
            refill if isinstance(refill, int) else None,
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
    return Reading(view, settings, refill if type(refill) is int else None)


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
                )
            if sent is not None and sent.outcome is SendOutcome.UNKNOWN:
                return Press(Outcome.UNKNOWN, before, message=sent.reason)
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

    def settle(self, press: Press) -> Press:
        """An unknown press read against the pump's record now: given, not given, or still unknown."""
        if press.outcome is not Outcome.UNKNOWN or press.before is None:
            return press
        with self.lock:
            after = self.read()
        outcome, start = DoseRecord.settle(press.before, after)
        if outcome is Outcome.UNKNOWN:
            return Press(Outcome.UNKNOWN, press.before, after, message=press.message)
        return Press(outcome, press.before, after, given_wall_ms=start, message=press.message)

    def _read_quietly(self, port: HandsetPort) -> Reading | None:
        try:
            port.patient_view()
        except (PumpUnreachable, PortError):
            return None
        return port.reading


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
