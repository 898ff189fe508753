"""docs/daemon.md keeps up with the command line: every subcommand and every exit code is described."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.cli.test_programmer_commands import subcommands

from thecal.cli import connect

DOC = (Path(__file__).parents[2] / "docs" / "daemon.md").read_text()


@pytest.mark.parametrize("name", sorted(subcommands("pump")))
def test_every_pump_subcommand_is_described(name: str) -> None:
    assert re.search(rf"`(thecal pump )?{re.escape(name)}[` ]", DOC), name


@pytest.mark.parametrize("name", sorted(subcommands("ptm")))
def test_every_ptm_subcommand_is_described(name: str) -> None:
    assert f"`thecal ptm {name}`" in DOC


@pytest.mark.parametrize(
    "code",
    [connect.EXIT_OK, connect.EXIT_REFUSED, connect.EXIT_INPUT, connect.EXIT_UNKNOWN, connect.EXIT_NOT_SENT],
)
def test_every_exit_code_has_a_row(code: int) -> None:
    assert f"\n| {code} | " in DOC
