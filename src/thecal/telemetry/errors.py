"""Refusals of the telemetry layer: a reason code a machine can act on and words a person can."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from thecal.errors import ThecalError


class RejectCode(StrEnum):
    """Why a frame or command was refused; stable strings that travel on the wire."""

    MALFORMED_FRAME = "malformed_frame"
    VERSION_UNSUPPORTED = "version_unsupported"
    UNEXPECTED_FRAME_TYPE = "unexpected_frame_type"
    UNKNOWN_KEY = "unknown_key"
    KEY_REVOKED = "key_revoked"
    AUTHENTICATION_FAILED = "authentication_failed"
    REPLAYED_COUNTER = "replayed_counter"
    COUNTER_EXHAUSTED = "counter_exhausted"
    MALFORMED_MESSAGE = "malformed_message"
    UNKNOWN_COMMAND = "unknown_command"
    BAD_ARGUMENTS = "bad_arguments"
    NOT_PERMITTED = "not_permitted"
    COMMAND_ID_REUSED = "command_id_reused"
    COMMAND_TOO_OLD = "command_too_old"
    MEMORY_BEHIND = "memory_behind"
    PUMP_FAULT = "pump_fault"  # the pump's memory is in fault: it runs no therapy until a clinician recovers it
    PAIRING_CLOSED = "pairing_closed"
    PAIRING_FAILED = "pairing_failed"


class Rejected(ThecalError):
    """A frame, message or command the telemetry layer refuses, with its reason."""

    def __init__(self, code: RejectCode, reason: str):
        self.code = code
        self.reason = reason
        super().__init__(f"{code.value}: {reason}")


@dataclass(frozen=True)
class Rejection:
    """One refusal as the pump logs it; key_id is only claimed unless role is set."""

    code: RejectCode
    reason: str
    key_id: str | None = None
    role: str | None = None
    command: str | None = None


class LinkLost(ThecalError):
    """A frame or its reply did not arrive; the outcome on the far side is unknown."""


class NothingListening(LinkLost):
    """No pump answers at the address: the frame never left, so on the far side nothing happened."""


class StoreDamaged(ThecalError):
    """A persisted telemetry record cannot be read; it is never silently reset."""

    def __init__(self, name: str, problem: str):
        self.name = name
        super().__init__(
            f"stored telemetry record {name!r} is damaged: {problem}; what to do: restore it from "
            "backup, or pair the devices again (counters are never reset in place)"
        )
