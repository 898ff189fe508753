"""Every mode the pump can be in and every kind of entry it logs has words for people."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import thecal.pump.core
from thecal.cli.log_text import KIND_WORDS
from thecal.pump.core.modes import PumpMode
from thecal.therapy.words import MODE_WORDS

CORE = Path(thecal.pump.core.__file__).parent


def _logged_kinds() -> set[str]:
    """The first argument of every `_log("kind", …)` call in the firmware core."""
    kinds: set[str] = set()
    for path in CORE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute | ast.Name)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "_log"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                kinds.add(node.args[0].value)
    return kinds


def test_the_core_logs_kinds_this_test_can_find() -> None:
    assert {"fill", "program", "alarm", "periodic_bolus_resumed"} <= _logged_kinds()


@pytest.mark.parametrize("kind", sorted(_logged_kinds()))
def test_every_kind_of_log_entry_has_words(kind: str) -> None:
    assert kind in KIND_WORDS


@pytest.mark.parametrize("mode", list(PumpMode))
def test_every_mode_has_words(mode: PumpMode) -> None:
    assert str(mode.value) in MODE_WORDS
