"""docs/inputs.md keeps up with the edge: every range and count with its bound, every limit, every exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from thecal import units
from thecal.cli import connect, pump
from thecal.cli.main import EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_PIPE_CLOSED, EXIT_REFUSED
from thecal.devices.daemon import MAX_ACCEL, MIN_ACCEL

DOCS = Path(__file__).parents[2] / "docs"
INPUTS = (DOCS / "inputs.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("limits", units.RANGES, ids=[r.name for r in units.RANGES])
def test_every_range_is_listed_with_its_bounds(limits: units.Range) -> None:
    assert f"\n| {limits.name} | {limits.limit} | " in INPUTS


@pytest.mark.parametrize("limits", units.COUNTS, ids=[c.name for c in units.COUNTS])
def test_every_count_is_listed_with_its_bounds(limits: units.Count) -> None:
    assert f"\n| {limits.name} | {limits.limit} | " in INPUTS


@pytest.mark.parametrize(
    "code",
    [
        connect.EXIT_OK,
        EXIT_REFUSED,
        EXIT_INPUT,
        connect.EXIT_UNKNOWN,
        connect.EXIT_NOT_SENT,
        EXIT_INTERNAL,
        EXIT_INTERRUPTED,
        EXIT_PIPE_CLOSED,
    ],
)
def test_every_exit_code_has_a_row(code: int) -> None:
    assert f"\n| {code} | " in INPUTS


@pytest.mark.parametrize(
    "text",
    [
        f"{units.MAX_QUANTITY_CHARACTERS} characters",
        f"{units.MAX_FILE_BYTES} bytes",
        f"{pump.JSON_MAX_CHARACTERS} characters",
        f"nested at most {pump.JSON_MAX_DEPTH} deep",
        f"from {units.FIRST_DATE.isoformat()} to {units.LAST_DATE.isoformat()}",
        f"1 to {units.MAX_LABEL_CHARACTERS} ASCII letters",
        f"from {MIN_ACCEL:g} to {MAX_ACCEL:g}",
        "THECAL_TRACEBACK=1",
    ],
)
def test_every_other_limit_is_written_as_the_code_applies_it(text: str) -> None:
    assert text in INPUTS


def test_the_scenario_format_points_to_the_ranges() -> None:
    scenario = (DOCS / "scenario.md").read_text(encoding="utf-8")
    assert "docs/inputs.md" in scenario
    assert f"{units.SAMPLES_PER_RUN.high} samples" in scenario
    assert f"{units.PRESSES_PER_RUN.high} handset presses" in scenario
