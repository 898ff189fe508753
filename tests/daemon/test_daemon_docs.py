"""docs/daemon.md keeps up with the code: every serve option and every telemetry log entry is described."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from thecal.cli.main import build_parser
from thecal.pump.core.firmware import REJECTIONS_LOGGED_PER_DAY

DOC = (Path(__file__).parents[2] / "docs" / "daemon.md").read_text()


def _subparser(parser: argparse.ArgumentParser, *path: str) -> argparse.ArgumentParser:
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


SERVE_OPTIONS = sorted(
    option
    for action in _subparser(build_parser(), "pump", "serve")._actions
    for option in action.option_strings
    if option.startswith("--") and option != "--help"
)


@pytest.mark.parametrize("option", SERVE_OPTIONS)
def test_every_serve_option_has_a_row(option: str) -> None:
    assert any(line.startswith(f"| `{option}") for line in DOC.splitlines()), option


@pytest.mark.parametrize("kind", ["telemetry_rejected", "key_paired", "key_revoked", "refused"])
def test_every_telemetry_log_entry_is_described(kind: str) -> None:
    assert f"| `{kind}` |" in DOC


def test_the_refusal_budget_in_the_words_is_the_one_in_the_code() -> None:
    assert f"at most {REJECTIONS_LOGGED_PER_DAY}\n`telemetry_rejected` entries are written per pump day" in DOC


def test_the_client_library_example_runs(running) -> None:
    section = DOC.split("## The client libraries", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    running.pair("clinician")
    running.pair("ptm")
    code = code.replace('"pump1/devices/', f'"{running.layout.root}/devices/').replace("4700", str(running.port))
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/daemon.md", "exec"), namespace)
    reply = namespace["reply"]
    assert reply.ok, reply.describe()  # type: ignore[attr-defined]
    assert any(e["kind"] == "program" for e in namespace["entries"])  # type: ignore[attr-defined]
