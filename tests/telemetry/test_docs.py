"""docs/telemetry.md keeps up with the code: every command, role and reason code is described."""

from __future__ import annotations

from pathlib import Path

import pytest

from thecal.telemetry.commands import COMMANDS, PTM_STATUS_FIELDS
from thecal.telemetry.errors import RejectCode
from thecal.telemetry.frames import FrameType

DOC = (Path(__file__).parents[2] / "docs" / "telemetry.md").read_text()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_and_its_arguments_are_documented(name: str) -> None:
    row = next((line for line in DOC.splitlines() if line.startswith(f"| `{name}` |")), None)
    assert row is not None, f"{name} has no row in the command table"
    for argument in (*COMMANDS[name].args.fields, *COMMANDS[name].args.optional):
        assert f"`{argument}`" in row


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
