"""The pump's modes, their one precedence, and the table of which command is legal in which mode.

A pump can be in several conditions at once: a faulted pump may also be
empty, a stopped pump may also be bridging. Each mode below is one such
condition, with a test of the state that does not depend on the others.
`MODES` lists them in their one precedence: the pump's mode (what the status
shows, and what the motor runs) is the first that holds.

`ILLEGAL_IN` is the table of commands: for each command, the modes in which it
is refused and the code it is refused with. A command is refused for the first
mode, in precedence order, that holds and in which it is illegal; only then
does the command's own check of its arguments and of the limits run. This is
the one place that says what the pump refuses because of what it is doing.
docs/architecture.md shows the table as `modes_markdown()` renders it.

Besides its mode, the pump has one bolus slot (one bolus at a time): that
rule belongs to the bolus, not to a mode, and is checked with the bolus.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import NamedTuple

from thecal.pump.core.commands import REPLACE_BASAL, Command, SetDemandLimits, SetPeriodicBolus
from thecal.pump.core.flow import Basal
from thecal.pump.core.refusals import RefusalCode
from thecal.pump.core.schedule import WeekSchedule
from thecal.pump.core.state import PumpState


class PumpMode(StrEnum):
    """What the pump is doing; the value is the word the status shows."""

    END_OF_SERVICE = "end_of_service"
    FAULT = "fault"
    STALLED = "stalled"
    NOT_FILLED = "not_filled"
    EMPTY = "empty"
    PRIMING = "priming"
    NOT_PROGRAMMED = "not_programmed"
    MINIMUM_RATE = "minimum_rate"
    BRIDGING = "bridge"
    RUNNING = "running"


class Facts(NamedTuple):
    """The facts about a pump's state that decide which modes hold."""

    end_of_service: bool
    fault: bool
    stalled: bool
    filled: bool
    stroke_left: bool
    priming: bool
    scheduled: bool  # a prescription's flows, or a bridge's old flows, exist
    stopped: bool
    bridging: bool


# The facts as the plain tuple they are, in the order of `Facts`: equal to it, with the same hash, so the cached
# lookups below take either, and the motor, which asks at every stretch, makes no named tuple.
FactsKey = tuple[bool, bool, bool, bool, bool, bool, bool, bool, bool]


def facts(stroke_nl: int, state: PumpState, flows: WeekSchedule | None) -> FactsKey:
    """The facts of this state, with `flows` the prescription's derived flows and `stroke_nl` the pump's stroke
    (`Facts._make` names them)."""
    bolus = state.bolus
    bridge = state.bridge
    # Spelled out rather than through `has_stroke_left` and `basal_schedule`: the motor asks at every stretch.
    return (
        state.end_of_service,
        state.fault != "",
        state.stalled,
        state.label != (),
        state.reservoir_nl >= stroke_nl,
        bolus is not None and bolus.kind in REPLACE_BASAL,
        flows is not None or (bridge is not None and bridge.flows is not None),
        state.stopped,
        bridge is not None,
    )


@dataclass(frozen=True, slots=True)
class ModeRule:
    """When a mode holds, what the motor runs in it, and what ends it."""

    when: str
    holds: Callable[[Facts], bool]
    basal: Basal
    with_bolus: bool
    ends: str

    @property
    def flow(self) -> str:
        """What the motor runs in this mode, in words."""
        if self.basal is Basal.NONE:
            return "the bolus alone" if self.with_bolus else "nothing"
        return f"{self.basal.value}, plus a bolus" if self.with_bolus else self.basal.value


# The one precedence: the mode is the first that holds.
MODES: dict[PumpMode, ModeRule] = {
    PumpMode.END_OF_SERVICE: ModeRule(
        "the battery is exhausted, or the model's time after ERI has passed",
        lambda f: f.end_of_service,
        Basal.NONE,
        False,
        "never: replace the pump",
    ),
    PumpMode.FAULT: ModeRule(
        "the hardware or a self-test reported a fault", lambda f: f.fault, Basal.NONE, False, "a clinician clears it"
    ),
    PumpMode.STALLED: ModeRule(
        "the rotor cannot turn (a magnetic field, a motor fault)",
        lambda f: f.stalled,
        Basal.NONE,
        False,
        "the motor turns again",
    ),
    PumpMode.NOT_FILLED: ModeRule(
        "the reservoir has no drug label", lambda f: not f.filled, Basal.NONE, False, "a fill with a drug"
    ),
    PumpMode.EMPTY: ModeRule(
        "less than one stroke is left in the reservoir (by calculation)",
        lambda f: f.filled and not f.stroke_left,
        Basal.NONE,
        False,
        "a refill",
    ),
    PumpMode.PRIMING: ModeRule(
        "a priming bolus fills the tubing and catheter, in place of the basal flow",
        lambda f: f.priming,
        Basal.NONE,
        True,
        "the priming bolus ends or is cancelled",
    ),
    PumpMode.NOT_PROGRAMMED: ModeRule(
        "there is no prescription and no bridge", lambda f: not f.scheduled, Basal.NONE, True, "a prescription"
    ),
    PumpMode.MINIMUM_RATE: ModeRule(
        "therapy is stopped", lambda f: f.stopped, Basal.MINIMUM, True, "therapy is resumed"
    ),
    PumpMode.BRIDGING: ModeRule(
        "after a change of solution, the old one in the tubing is pushed at the old schedule's flows",
        lambda f: f.bridging and not f.stopped,
        Basal.SCHEDULE,
        True,
        "the dead volume has been pushed",
    ),
    PumpMode.RUNNING: ModeRule(
        "the prescription is delivered",
        lambda f: f.scheduled and not f.stopped and not f.bridging,
        Basal.SCHEDULE,
        True,
        "any of the modes above",
    ),
}


# The precedence as a flat tuple: the mode is looked up at every segment the motor runs.
_PRECEDENCE = tuple((mode, rule.holds) for mode, rule in MODES.items())


@cache  # a few hundred combinations of facts at most; the motor asks at every segment
def mode_of(f: Facts | FactsKey) -> PumpMode:
    """The pump's mode: the first that holds."""
    named = Facts._make(f)
    for mode, holds in _PRECEDENCE:
        if holds(named):
            return mode
    # The last three modes cover every state: no schedule, stopped, or a schedule running.
    raise RuntimeError(f"no pump mode holds for {f}")


@cache  # as `mode_of`: the motor asks at every stretch what it runs
def rule_of(f: Facts | FactsKey) -> ModeRule:
    """The rule of the pump's mode: what the motor runs in it."""
    return MODES[mode_of(f)]


# Where a bolus cannot start, and why: the clinician's, the priming, the patient's and the periodic bolus alike.
_NO_BOLUS_WHEN: Mapping[PumpMode, RefusalCode] = {
    PumpMode.END_OF_SERVICE: RefusalCode.END_OF_SERVICE,
    PumpMode.FAULT: RefusalCode.FAULT,
    PumpMode.STALLED: RefusalCode.MOTOR_STALL,
    PumpMode.NOT_FILLED: RefusalCode.NO_LABEL,
    PumpMode.EMPTY: RefusalCode.RESERVOIR,
    PumpMode.MINIMUM_RATE: RefusalCode.STOPPED,
}
# A press on a pump that was never filled meets the patient's own answer: an unfilled pump holds no demand
# settings (a fill that empties the label drops them), so the press is refused as `demand_off`.
_NO_PRESS_WHEN: Mapping[PumpMode, RefusalCode] = {
    mode: code for mode, code in _NO_BOLUS_WHEN.items() if mode is not PumpMode.NOT_FILLED
}
# Where no new therapy may be set.
_NO_SETTING_WHEN: Mapping[PumpMode, RefusalCode] = {
    PumpMode.END_OF_SERVICE: RefusalCode.END_OF_SERVICE,
    PumpMode.NOT_FILLED: RefusalCode.NO_LABEL,
}

# The periodic bolus starting on its own is no command, but it is refused by the same table.
PERIODIC_DUE = "periodic bolus due"

# For each command (by `act_of`), the modes in which it is refused, with the code. Every other mode: legal.
ILLEGAL_IN: dict[str, Mapping[PumpMode, RefusalCode]] = {
    "Fill": {},
    "SetCatheter": {},
    "Program": _NO_SETTING_WHEN,
    "SetLowReservoirAlarm": {},
    "ClinicianBolus": _NO_BOLUS_WHEN,
    "PrimingBolus": _NO_BOLUS_WHEN,
    "CancelBolus": {},
    "SetPeriodicBolus": _NO_SETTING_WHEN,
    "SetPeriodicBolus(None)": {},
    "SetDemandLimits": _NO_SETTING_WHEN,
    "SetDemandLimits(None)": {},
    "RequestDemandBolus": _NO_PRESS_WHEN,
    PERIODIC_DUE: _NO_BOLUS_WHEN,
    "StopTherapy": {PumpMode.MINIMUM_RATE: RefusalCode.ALREADY_STOPPED},
    "ResumeTherapy": {
        PumpMode.NOT_PROGRAMMED: RefusalCode.NO_PROGRAM,
        PumpMode.BRIDGING: RefusalCode.NOT_STOPPED,
        PumpMode.RUNNING: RefusalCode.NOT_STOPPED,
    },
    "ClearAlarm": {},
    "AlarmToneTest": {PumpMode.END_OF_SERVICE: RefusalCode.END_OF_SERVICE},
    "MotorStalled": {},
    "MotorRecovered": {},
    "ReportFault": {},
    "TelemetrySession": {},
    "TelemetryRejected": {},
    "PeerChanged": {},
    "SetClock": {},
}


# The commands that turn a setting off when a field is None: that field, by command type.
OFF_WHEN_NONE: dict[type, str] = {SetPeriodicBolus: "plan", SetDemandLimits: "limits"}


def act_of(command: Command) -> str:
    """The row of `ILLEGAL_IN` for a command: its type's name, with "(None)" for a setting turned off."""
    kind = type(command)
    off = OFF_WHEN_NONE.get(kind)
    if off is not None and getattr(command, off) is None:
        return f"{kind.__name__}(None)"
    return kind.__name__


@cache  # a few dozen acts and a few hundred combinations of facts at most; asked at every command
def illegal(act: str, f: Facts | FactsKey) -> tuple[PumpMode, RefusalCode] | None:
    """The first mode that holds in which `act` is refused, with the code; None when it is legal now."""
    row = ILLEGAL_IN[act]
    named = Facts._make(f)
    for mode, holds in _PRECEDENCE:
        code = row.get(mode)
        if code is not None and holds(named):
            return mode, code
    return None


def modes_markdown() -> str:
    """The modes in precedence order and the table of legal commands, as markdown for docs/architecture.md."""
    lines = ["| # | mode | holds when | the motor runs | ends when |", "|---|---|---|---|---|"]
    for i, (mode, rule) in enumerate(MODES.items(), 1):
        lines.append(f"| {i} | `{mode.value}` | {rule.when} | {rule.flow} | {rule.ends} |")
    lines.append("")
    modes = list(MODES)
    lines.append("| command | " + " | ".join(f"`{m.value}`" for m in modes) + " |")
    lines.append("|---|" + "---|" * len(modes))
    for act, row in ILLEGAL_IN.items():
        cells = [f"`{row[m].value}`" if m in row else "✓" for m in modes]
        lines.append(f"| `{act}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
