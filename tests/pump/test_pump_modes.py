"""The firmware as a table: one precedence of modes, one table of legal commands, one set of refusal codes.

The docs show the table as the code renders it, and list every refusal code
with its words; the tests below keep both exact. The scenarios show the one
precedence at work: whatever conditions hold together, the status shows the
first mode that holds and a refused command names that same mode.
"""

from __future__ import annotations

import ast
import typing
from collections.abc import Callable
from pathlib import Path

import pytest

from thecal.pump.core import (
    Alarm,
    ClearAlarm,
    ClinicianBolus,
    Command,
    DemandLimits,
    DoseSchedule,
    Fill,
    Firmware,
    Formulary,
    MotorRecovered,
    MotorStalled,
    PeriodicBolusPlan,
    PrimingBolus,
    Program,
    PumpMode,
    PumpState,
    RefusalCode,
    ReportFault,
    RequestDemandBolus,
    ResumeTherapy,
    Role,
    SetDemandLimits,
    SetPeriodicBolus,
    StopTherapy,
)
from thecal.pump.core.integers import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN
from thecal.pump.core.modes import ILLEGAL_IN, MODES, PERIODIC_DUE, modes_markdown
from thecal.pump.core.refusals import refusal_codes_markdown
from thecal.pump.model import PumpModel

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
CORE = ROOT / "src" / "thecal" / "pump" / "core"
MORPHINE = (("morphine", 10_000_000),)
MakePump = Callable[..., Firmware]


# ------------------------------------------------------------------ the docs


def test_the_docs_show_the_modes_and_the_table_of_legal_commands_as_the_code_renders_them() -> None:
    assert modes_markdown() in DOC, "docs/architecture.md: paste thecal.pump.core.modes.modes_markdown() again"


def test_the_docs_list_the_refusal_codes_as_the_code_renders_them() -> None:
    assert refusal_codes_markdown() in DOC, "docs/architecture.md: paste refusal_codes_markdown() again"


@pytest.mark.parametrize("code", list(RefusalCode))
def test_every_refusal_code_is_listed_with_its_words(code: RefusalCode) -> None:
    assert f"| `{code.value}` | {code.words} |" in DOC


def test_the_table_has_a_row_for_every_command_and_none_for_a_command_that_is_gone() -> None:
    commands = {t.__name__ for t in typing.get_args(Command)}
    rows = {act.removesuffix("(None)") for act in ILLEGAL_IN if act != PERIODIC_DUE}
    assert rows == commands
    assert list(MODES) == list(PumpMode), "every mode has its place in the precedence, in the enum's order"


def _first_argument(call: ast.Call) -> ast.expr | None:
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg == "code"), None)


def test_every_refusal_in_the_core_is_made_with_a_refusal_code() -> None:
    """Each `Refusal(...)` and `_refuse(...)` of the core names a RefusalCode (or passes one on), never a string."""
    used: set[str] = set()
    for path in sorted(CORE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id not in ("Refusal", "_refuse"):
                continue
            arg = _first_argument(node)
            where = f"{path.name}:{node.lineno}"
            if isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and arg.value.id == "RefusalCode":
                used.add(arg.attr)
                continue
            # A code handed on: a typed parameter `code` or an existing refusal's code.
            passed_on = (isinstance(arg, ast.Name) and arg.id == "code") or (
                isinstance(arg, ast.Attribute) and arg.attr == "code"
            )
            assert passed_on, f"{where}: a refusal without a RefusalCode"
    table = {code.name for row in ILLEGAL_IN.values() for code in row.values()}
    assert used | table == {code.name for code in RefusalCode}, "a refusal code that no refusal uses"


# ------------------------------------------------------------ one precedence


def _refused(fw: Firmware, command: Command) -> tuple[str, str]:
    out = fw.handle(command)
    assert not out.accepted, f"{command!r} was accepted in mode {fw.mode()}"
    return out.refusal.code, out.refusal.value


def _shows(fw: Firmware, mode: PumpMode) -> None:
    assert fw.mode() is mode and fw.status()["mode"] == mode.value


def test_a_new_pump_is_not_filled_and_refuses_what_needs_a_drug(model20: PumpModel, formulary: Formulary) -> None:
    fw = Firmware(model20, formulary)
    _shows(fw, PumpMode.NOT_FILLED)
    for command in (
        Program(DoseSchedule.continuous(1_000_000)),
        ClinicianBolus(100_000, MS_PER_HOUR),
        PrimingBolus(100_000, MS_PER_HOUR),
        SetPeriodicBolus(PeriodicBolusPlan(100_000, 10 * MS_PER_MIN, 8 * MS_PER_HOUR, 0)),
        SetDemandLimits(DemandLimits(100_000, 10 * MS_PER_MIN, MS_PER_HOUR, 4)),
    ):
        assert _refused(fw, command) == ("no_label", "not_filled")
    # The patient's handset gets the patient's answer: there are no demand settings on an unfilled pump.
    assert fw.handle(RequestDemandBolus()).refusal.code == "demand_off"
    assert fw.handle(SetPeriodicBolus(None)).accepted and fw.handle(SetDemandLimits(None)).accepted
    assert fw.handle(Fill(20_000_000, MORPHINE)).accepted
    _shows(fw, PumpMode.NOT_PROGRAMMED)


def test_the_refusal_names_the_first_mode_that_holds_as_the_status_shows_it(running_pump: MakePump) -> None:
    """Empty, then stopped, stalled and faulted on top; peeled off again one by one."""
    fw = running_pump(volume_nl=1_000_000)  # 1 mL at 0.15 mL/day: empty within 7 days
    fw.advance(10 * MS_PER_DAY)
    bolus = ClinicianBolus(100_000, MS_PER_HOUR)
    _shows(fw, PumpMode.EMPTY)
    assert _refused(fw, bolus) == ("reservoir", "empty")
    assert fw.handle(StopTherapy()).accepted
    # Stopped and empty together: the status says empty, and so does the refusal.
    _shows(fw, PumpMode.EMPTY)
    assert _refused(fw, bolus) == ("reservoir", "empty")
    assert fw.handle(MotorStalled("magnetic field")).accepted
    _shows(fw, PumpMode.STALLED)
    assert _refused(fw, bolus) == ("motor_stall", "stalled")
    assert fw.handle(ReportFault("E7")).accepted
    _shows(fw, PumpMode.FAULT)
    out = fw.handle(bolus)
    assert (out.refusal.code, out.refusal.value) == ("fault", "fault") and "E7" in out.refusal.message
    assert out.refusal.limit == "a clinician clears it"

    assert fw.handle(ClearAlarm(Alarm.PUMP_FAULT, Role.CLINICIAN)).accepted
    _shows(fw, PumpMode.STALLED)
    assert fw.handle(MotorRecovered()).accepted
    _shows(fw, PumpMode.EMPTY)
    assert fw.handle(Fill(20_000_000, MORPHINE)).accepted
    _shows(fw, PumpMode.MINIMUM_RATE)
    assert _refused(fw, bolus) == ("stopped", "minimum_rate")
    assert _refused(fw, StopTherapy()) == ("already_stopped", "minimum_rate")
    assert fw.handle(ResumeTherapy()).accepted
    _shows(fw, PumpMode.RUNNING)
    assert _refused(fw, ResumeTherapy()) == ("not_stopped", "running")
    assert fw.handle(bolus).accepted


def test_resume_needs_a_stopped_pump_with_a_prescription_to_go_back_to(
    model20: PumpModel, formulary: Formulary
) -> None:
    fw = Firmware(model20, formulary)
    assert fw.handle(Fill(20_000_000, MORPHINE)).accepted
    assert _refused(fw, ResumeTherapy()) == ("no_program", "not_programmed")
    assert fw.handle(StopTherapy()).accepted
    _shows(fw, PumpMode.NOT_PROGRAMMED)  # stopped, but there is nothing to run at the minimum rate
    assert _refused(fw, StopTherapy()) == ("already_stopped", "minimum_rate")
    assert _refused(fw, ResumeTherapy()) == ("no_program", "not_programmed")
    assert fw.handle(Program(DoseSchedule.continuous(1_500_000))).accepted
    _shows(fw, PumpMode.RUNNING)


def test_at_end_of_service_the_pump_takes_no_new_therapy(running_pump: MakePump) -> None:
    fw = running_pump()
    m = fw.model
    data = fw.state.to_data()
    data["battery_used_pc"] = m.battery_capacity_pc - m.baseline_current_na * MS_PER_HOUR
    fw = Firmware(m, fw.formulary, PumpState.from_data(data))
    fw.advance(2 * MS_PER_HOUR)
    _shows(fw, PumpMode.END_OF_SERVICE)
    assert fw.status()["basal_flow_nl_per_day"] == 0
    for command in (
        Program(DoseSchedule.continuous(1_000_000)),
        SetPeriodicBolus(PeriodicBolusPlan(100_000, 10 * MS_PER_MIN, 8 * MS_PER_HOUR, 0)),
        SetDemandLimits(DemandLimits(100_000, 10 * MS_PER_MIN, MS_PER_HOUR, 4)),
        ClinicianBolus(100_000, MS_PER_HOUR),
        RequestDemandBolus(),
    ):
        assert _refused(fw, command) == ("end_of_service", "end_of_service")
    # Turning settings off, and emptying the reservoir before explant, stay possible.
    assert fw.handle(SetPeriodicBolus(None)).accepted and fw.handle(SetDemandLimits(None)).accepted
    assert fw.handle(Fill(0, MORPHINE)).accepted
