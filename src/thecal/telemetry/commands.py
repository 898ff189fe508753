"""Every command the pump accepts, its argument schema, and which role may send it.

This module is the single table of the protocol's vocabulary. Arguments are
plain CBOR maps; every quantity is an integer in a base unit named in its key
(`volume_nl`, `duration_ms`, `dose_ng_per_day`), so a per-hour value can never
be read as a per-day one. The schemas check structure only: types, a time of
day inside a day, sizes that keep a message small. Every rule about what the
pump may do lives elsewhere, once: the pump model's rules (steps a day,
flows) and the hard limits of the drug on the label are the firmware's, and
the therapy layer checks them, with the soft limits, before anything is sent.
How a command becomes a firmware command is `pump_commands`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from thecal.pump.core.commands import Role
from thecal.pump.core.label import MAX_LABEL_ENTRIES
from thecal.telemetry import codec
from thecal.telemetry.errors import RejectCode, Rejected

COMMAND_ID_BYTES = 16
MS_PER_DAY = 86_400_000
MAX_QUANTITY = 2**53  # far above any real dose or volume, and exact in every JSON consumer
# A bound on the size of a program message, not a clinical rule: how many steps a day the pump delivers is
# its model's rule (max_steps_per_day), which the firmware enforces. A step every 15 minutes still fits.
MAX_STEPS_IN_A_MESSAGE = 96
POSSIBLY_DELIVERED = "possibly delivered - counts as delivered"


@dataclass(frozen=True)
class Int:
    """An integer argument inside [low, high]."""

    low: int
    high: int

    def problem(self, value: object) -> str | None:
        """What is wrong with value, or None."""
        if type(value) is not int:
            return f"must be an integer, got {type(value).__name__}"
        if value < self.low:
            return f"{value} is below the minimum {self.low}"
        if value > self.high:
            return f"{value} is above the maximum {self.high}"
        return None

    def describe(self) -> str:
        """The type in words, for the docs and reasons."""
        return f"int ≥ {self.low}" if self.high == MAX_QUANTITY else f"int {self.low}..{self.high}"


@dataclass(frozen=True)
class Text:
    """A text argument, optionally one of a fixed set of words or matching a pattern."""

    max_length: int
    choices: tuple[str, ...] = ()
    pattern: str | None = None

    def problem(self, value: object) -> str | None:
        """What is wrong with value, or None."""
        if type(value) is not str:
            return f"must be text, got {type(value).__name__}"
        if not 0 < len(value) <= self.max_length:
            return f"must be 1 to {self.max_length} characters"
        if self.choices and value not in self.choices:
            return f"{value!r} is not one of {', '.join(self.choices)}"
        if self.pattern and not re.fullmatch(self.pattern, value):
            return f"{value!r} does not match {self.pattern}"
        return None

    def describe(self) -> str:
        """The type in words, for the docs and reasons."""
        if self.choices:
            return "str, one of " + " | ".join(self.choices)
        return f"str matching {self.pattern}" if self.pattern else f"str ≤ {self.max_length} chars"


@dataclass(frozen=True)
class Record:
    """A map with exactly these required fields and possibly these optional ones, each of its own type."""

    fields: Mapping[str, FieldType] = field(default_factory=dict)
    optional: Mapping[str, FieldType] = field(default_factory=dict)

    def problem(self, value: object) -> str | None:
        """What is wrong with value, or None."""
        if type(value) is not dict:
            return f"must be a map, got {type(value).__name__}"
        missing = sorted(set(self.fields) - set(value))
        if missing:
            return f"missing {', '.join(missing)}"
        unexpected = sorted(str(key) for key in set(value) - set(self.fields) - set(self.optional))
        if unexpected:
            return f"unexpected {', '.join(unexpected)}"
        for name, kind in (*self.fields.items(), *self.optional.items()):
            problem = kind.problem(value[name]) if name in value else None
            if problem:
                return f"{name}: {problem}"
        return None

    def describe(self) -> str:
        """The type in words, for the docs and reasons."""
        parts = [f"{name}: {kind.describe()}" for name, kind in self.fields.items()]
        parts += [f"{name}?: {kind.describe()}" for name, kind in self.optional.items()]
        return "{" + ", ".join(parts) + "}"


@dataclass(frozen=True)
class ListOf:
    """A list of min_length to max_length items of one type."""

    item: FieldType
    min_length: int
    max_length: int

    def problem(self, value: object) -> str | None:
        """What is wrong with value, or None."""
        if type(value) is not list:
            return f"must be a list, got {type(value).__name__}"
        if not self.min_length <= len(value) <= self.max_length:
            return f"must hold {self.min_length} to {self.max_length} items, holds {len(value)}"
        for index, item in enumerate(value):
            problem = self.item.problem(item)
            if problem:
                return f"[{index}] {problem}"
        return None

    def describe(self) -> str:
        """The type in words, for the docs and reasons."""
        return f"list of {self.min_length}..{self.max_length} × {self.item.describe()}"


@dataclass(frozen=True)
class Bool:
    """A true or false argument; integers are not booleans."""

    def problem(self, value: object) -> str | None:
        """What is wrong with value, or None."""
        return None if type(value) is bool else f"must be true or false, got {type(value).__name__}"

    def describe(self) -> str:
        """The type in words, for the docs and reasons."""
        return "bool"


FieldType = Int | Text | Record | ListOf | Bool

QUANTITY = Int(0, MAX_QUANTITY)
POSITIVE = Int(1, MAX_QUANTITY)
DRUG = Text(40, pattern=r"[a-z][a-z0-9_-]*")
KEY_ID = Text(16, pattern=r"[0-9a-f]{16}")


@dataclass(frozen=True)
class CommandSpec:
    """One row of the command table."""

    name: str
    args: Record
    summary: str
    changes_pump: bool = True  # replies of state-changing commands are remembered for retries
    delivers_drug: bool = False  # an unknown outcome counts as delivered


_STEP = Record({"start_ms": Int(0, MS_PER_DAY - 1), "dose_ng_per_day": QUANTITY})
_DRUG = Record({"drug": DRUG, "concentration_ng_per_ml": POSITIVE})

_SPECS = (
    CommandSpec("interrogate_status", Record(), "Read pump status; a PTM gets the patient's view.", False),
    CommandSpec(
        "read_event_log",
        Record({"from_seq": QUANTITY, "max_entries": Int(1, 100)}),
        "Read event log entries from a sequence number on.",
        False,
    ),
    CommandSpec(
        "program_therapy",
        Record({"days": ListOf(ListOf(_STEP, 1, MAX_STEPS_IN_A_MESSAGE), 7, 7)}),
        "Replace the prescription: seven days (Monday first) of daily doses of the lead drug by time of day.",
    ),
    CommandSpec("therapy_stop", Record(), "Go to minimum rate."),
    CommandSpec("therapy_resume", Record(), "Leave minimum rate and deliver the prescription again."),
    CommandSpec(
        "refill_update",
        Record(
            {"volume_nl": QUANTITY, "contents": ListOf(_DRUG, 1, MAX_LABEL_ENTRIES)},
            optional={"aspirated_nl": QUANTITY, "low_reservoir_alarm_nl": QUANTITY, "bridge": Bool()},
        ),
        "Record a fill or refill: volume and drug label now in the reservoir (lead drug first), what was "
        "withdrawn; with bridge, the old drug in tubing and catheter goes first at the old doses.",
    ),
    CommandSpec(
        "catheter_set",
        Record({"volume_nl": QUANTITY}),
        "The implanted catheter's volume, at implant or revision; with the pump's tubing it is the dead volume.",
    ),
    CommandSpec(
        "low_reservoir_alarm_set",
        Record({"threshold_nl": QUANTITY}),
        "Raise the low-reservoir alarm at this calculated volume.",
    ),
    CommandSpec(
        "clinician_bolus",
        Record({"dose_ng": POSITIVE, "duration_ms": POSITIVE}),
        "Give one dose of the lead drug over a duration, on top of the basal flow.",
        delivers_drug=True,
    ),
    CommandSpec(
        "priming_bolus",
        Record({"volume_nl": POSITIVE, "duration_ms": POSITIVE}),
        "Fill an empty catheter and pump tubing; replaces basal flow.",
        delivers_drug=True,
    ),
    CommandSpec("bolus_cancel", Record(), "Stop the running bolus."),
    CommandSpec(
        "periodic_bolus_set",
        Record({"dose_ng": POSITIVE, "duration_ms": POSITIVE, "interval_ms": POSITIVE, "first_wall_ms": QUANTITY}),
        "Start or change a dose of the lead drug repeated every interval.",
    ),
    CommandSpec("periodic_bolus_stop", Record(), "End the periodic bolus."),
    CommandSpec(
        "alarm_clear",
        Record({"alarm": Text(40, pattern=r"[a-z][a-z0-9_]*")}),
        "Clear a named alarm after its cause was handled.",
    ),
    CommandSpec(
        "alarm_tone_test",
        Record(),
        "Sound each alarm tone once (single, then two-tone) for the patient to hear; the pump logs the test. "
        "Remembered for retries like any change, so a retry never sounds the tones twice.",
    ),
    CommandSpec(
        "ptm_settings",
        Record({"dose_ng": POSITIVE, "duration_ms": POSITIVE, "lockout_ms": QUANTITY, "max_per_24h": POSITIVE}),
        "Enable or change the patient's demand doses: dose of the lead drug, duration, lockout, most in 24 h.",
    ),
    CommandSpec("ptm_off", Record(), "Disable the patient's demand doses."),
    CommandSpec("demand_bolus", Record(), "The patient asks for a demand dose.", delivers_drug=True),
    CommandSpec("clock_set", Record({"wall_ms": QUANTITY}), "Set the pump's wall clock (local time, ms since epoch)."),
    CommandSpec("revoke_key", Record({"key_id": KEY_ID}), "Revoke a device key for good; it can never pair again."),
    CommandSpec("list_keys", Record(), "List paired and revoked keys.", False),
)

COMMANDS: Mapping[str, CommandSpec] = {spec.name: spec for spec in _SPECS}

# Commands the telemetry layer answers itself: they change who may talk, not what the pump does.
SECURITY_COMMANDS = frozenset({"revoke_key", "list_keys"})

ROLE_PERMISSIONS: Mapping[Role, frozenset[str]] = {
    Role.CLINICIAN: frozenset(COMMANDS),
    # A PTM also reads the event log, but sees only its entries about demand doses (`PTM_LOG_ENTRIES`): an
    # answer lost on the link is settled from the pump's own record of that request, read-only, and the one log
    # handler and its hash-chained source serve both roles, filtered here like the status.
    Role.PTM: frozenset({"interrogate_status", "demand_bolus", "read_event_log"}),
    Role.PUMP: frozenset(),
}

# What a patient's PTM may see of interrogate_status (keys of the firmware's status); every other field is
# removed before sealing. The patient needs: the time, what the pump is doing (running, minimum rate, empty,
# stopped), the alarms (low or empty reservoir, battery replacement, a stall or fault), the demand settings the
# physician gave (a dose in ng, the lockout, the most a day; none when demand doses are off), and the pump's own
# answer to "when may I take the next dose, and how many are left today". Not the reservoir, flows or drug label.
# And the number the pump's next log entry will carry: read with the eligibility just before a press, it marks
# where that request's entries will start, should its answer be lost (see the PTM's log filter below).
PTM_STATUS_FIELDS = frozenset(
    {
        "wall_ms",
        "mode",
        "alarms",
        "demand",
        "demand_next_allowed_wall_ms",
        "demand_left_24h",
        "demand_not_now",
        "log_next_seq",
    }
)


@dataclass(frozen=True)
class Command:
    """A named command with its arguments and the sender's id that makes it idempotent.

    `first_counter` is the counter of the first frame that carried this command id, set by the client when it
    first sends the command; every retry carries the same one, so the pump can tell a retry of a command it
    may have forgotten from a new one. It is bookkeeping of the link, not part of what the command asks, so it
    takes no part in equality or in the digest.
    """

    name: str
    args: dict[str, object]
    command_id: bytes
    first_counter: int | None = field(default=None, compare=False)

    @classmethod
    def create(cls, name: str, args: dict[str, object], new_id: Callable[[int], bytes] = os.urandom) -> Command:
        """A checked command with a fresh random id."""
        command = cls(name, dict(args), new_id(COMMAND_ID_BYTES))
        validate(command)
        return command

    def digest(self) -> bytes:
        """A fingerprint of name and arguments, to tell a retry from a reused id."""
        return hashlib.sha256(codec.encode([self.name, self.args])).digest()[:16]


def validate(command: Command) -> None:
    """Refuse an unknown command, a bad id, or arguments that do not fit the table."""
    spec = COMMANDS.get(command.name)
    if spec is None:
        raise Rejected(
            RejectCode.UNKNOWN_COMMAND,
            f"command {command.name!r} is not one this pump accepts; known: {', '.join(COMMANDS)}",
        )
    if type(command.command_id) is not bytes or len(command.command_id) != COMMAND_ID_BYTES:
        raise Rejected(RejectCode.MALFORMED_MESSAGE, f"a command id is {COMMAND_ID_BYTES} bytes")
    problem = spec.args.problem(command.args)
    if problem:
        raise Rejected(
            RejectCode.BAD_ARGUMENTS,
            f"{command.name}: {problem}; expected {spec.args.describe()}",
        )


def permitted(role: Role, name: str) -> bool:
    """Whether a key of this role may send this command."""
    return name in ROLE_PERMISSIONS.get(role, frozenset())


# What a patient's PTM may see of read_event_log: the entries about its demand doses only (a demand bolus's start,
# end or interruption, and a press the pump refused), each without its chain hash. The rest of the log (therapy,
# refills, keys, rejections) stays with the clinician. `read_to_seq` says how far the pump read, so a page whose
# entries were all withheld still moves the reader on; `next_seq` and `dropped` are the log's head and tail.
PTM_LOG_ENTRIES: Mapping[str, tuple[str, str]] = {
    "bolus_start": ("kind", "demand"),
    "bolus_end": ("kind", "demand"),
    "bolus_interrupted": ("kind", "demand"),
    "refused": ("command", "RequestDemandBolus"),
}
PTM_LOG_ENTRY_FIELDS = ("seq", "at_ms", "kind", "detail")


def _ptm_log_entry(entry: object) -> dict[str, object] | None:
    """A log entry as a PTM may see it, or None when it is not about a demand dose."""
    if not isinstance(entry, Mapping):
        return None
    wanted = PTM_LOG_ENTRIES.get(str(entry.get("kind")))
    detail = entry.get("detail")
    if wanted is None or not isinstance(detail, Mapping) or detail.get(wanted[0]) != wanted[1]:
        return None
    return {key: entry[key] for key in PTM_LOG_ENTRY_FIELDS if key in entry}


def _ptm_log(result: dict[str, object]) -> dict[str, object]:
    raw = result.get("entries")
    raw = raw if isinstance(raw, list) else []
    seen = [entry for entry in (_ptm_log_entry(e) for e in raw) if entry is not None]
    last = raw[-1].get("seq") if raw and isinstance(raw[-1], Mapping) else None
    read_to = last + 1 if type(last) is int else result.get("next_seq")
    return {
        "entries": seen,
        "next_seq": result.get("next_seq"),
        "dropped": result.get("dropped"),
        "read_to_seq": read_to,
    }


def visible_result(role: Role, name: str, result: dict[str, object]) -> dict[str, object]:
    """The part of a reply this role may read."""
    if role is Role.PTM and name == "interrogate_status":
        return {key: value for key, value in result.items() if key in PTM_STATUS_FIELDS}
    if role is Role.PTM and name == "read_event_log":
        return _ptm_log(result)
    return result
