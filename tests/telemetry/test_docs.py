"""docs/telemetry.md keeps up with the code: every command, role and reason code is described."""

from __future__ import annotations

from pathlib import Path

import pytest

from thecal.telemetry.commands import COMMANDS, MAX_STEPS_IN_A_MESSAGE, PTM_STATUS_FIELDS, Bool, Int
from thecal.telemetry.errors import RejectCode
from thecal.telemetry.frames import FrameType

DOC = (Path(__file__).parents[2] / "docs" / "telemetry.md").read_text()


COMMAND_TABLE = DOC.split("| command | arguments |", 1)[1].split("\n\n", 1)[0]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_and_its_arguments_are_documented(name: str) -> None:
    row = next((line for line in DOC.splitlines() if line.startswith(f"| `{name}` |")), None)
    assert row is not None, f"{name} has no row in the command table"
    schema = COMMANDS[name].args
    for argument, kind in (*schema.fields.items(), *schema.optional.items()):
        assert f"`{argument}`" in row
        if isinstance(kind, Int | Bool):  # a plain argument's type and bounds read as the table checks them
            assert f"`{argument}`: {kind.describe()}" in row


def test_the_command_table_has_no_row_for_a_command_that_is_gone() -> None:
    rows = [line for line in COMMAND_TABLE.splitlines() if line.startswith("| `")]
    documented = {row.split("`")[1] for row in rows}
    assert documented == set(COMMANDS)


def test_the_size_bound_on_steps_is_the_one_in_the_code() -> None:
    row = next(line for line in DOC.splitlines() if line.startswith("| `program_therapy` |"))
    assert f"1..{MAX_STEPS_IN_A_MESSAGE} ×" in row


@pytest.mark.parametrize("code", sorted(RejectCode))
def test_every_reason_code_is_documented(code: RejectCode) -> None:
    assert f"| `{code.value}` |" in DOC


def test_frame_types_and_ptm_fields_are_documented() -> None:
    for frame_type in FrameType:
        assert f"{frame_type.value} {frame_type.name}" in DOC or f"`{frame_type.name}` ({frame_type.value})" in DOC
    for field in PTM_STATUS_FIELDS:
        assert f"`{field}`" in DOC


@pytest.mark.parametrize("attack", ["MiniMed 508", "Animas OneTouch Ping", "Conexus", "CareLink 2090"])
def test_each_known_attack_has_a_defence(attack: str) -> None:
    row = next(line for line in DOC.splitlines() if attack in line and line.startswith("| **"))
    assert row.count("|") == 4 and len(row.split("|")[3].strip()) > 40
