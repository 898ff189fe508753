"""The JSON of a simulation is written by `json_text`, which must give exactly the characters `json.dumps` gives."""

from __future__ import annotations

import json
from collections import Counter, OrderedDict, defaultdict
from enum import IntEnum, StrEnum
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thecal.sim.record import json_text
from thecal.sim.runner import run
from thecal.sim.scenario import load_scenario

EXAMPLES = Path(__file__).parents[2] / "examples"


class Level(IntEnum):
    """An int that is also an enum member, as some records hold."""

    LOW = 1


class Word(StrEnum):
    """A str that is also an enum member."""

    YES = "yes"


def _reference(value: object, indent: int = 1) -> str:
    return json.dumps(value, indent=indent, sort_keys=True)


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.sampled_from([Level.LOW, Word.YES, True, False, -0.0, 1e300, 2**80])
)
# One kind of key per object: keys of several kinds cannot be sorted, by either encoder.
KEYS = st.text() | st.integers() | st.floats(allow_nan=False) | st.booleans()
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=5)
        | st.lists(children, max_size=5).map(tuple)
        | KEYS.flatmap(lambda key: st.dictionaries(st.from_type(type(key)), children, max_size=5))
        | st.dictionaries(st.text(), children, max_size=5).map(lambda d: OrderedDict(reversed(d.items())))
    ),
    max_leaves=40,
)


@given(VALUES, st.integers(min_value=0, max_value=3))
def test_any_json_value_is_written_as_json_dumps_writes_it(value: object, indent: int) -> None:
    assert json_text(value, indent) == _reference(value, indent)


@pytest.mark.parametrize(
    "value",
    [
        {},
        [],
        (),
        {"a": {}, "b": [], "c": [[]], "d": [{}]},
        {"z": 1, "a": [1, 2.5, None, True, 'x\u00e9\n"\\']},
        {1: "int key", 2: "other"},
        {1.5: "float key"},
        {True: "bool key"},
        {None: "none key"},
        {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")},
        Counter({"b": 2, "a": 1}),
        defaultdict(list, {"k": [1]}),
        [Level.LOW, Word.YES],
        {"emoji": "\U0001f489", "surrogate": "\ud800"},
    ],
)
def test_the_corners_of_json_are_written_as_json_dumps_writes_them(value: object) -> None:
    assert json_text(value) == _reference(value)


@pytest.mark.parametrize("value", [{1, 2}, object(), {"a": b"bytes"}, {(1, 2): "tuple key"}])
def test_what_json_cannot_write_is_refused_as_json_refuses_it(value: object) -> None:
    with pytest.raises(TypeError):
        _reference(value)
    with pytest.raises(TypeError):
        json_text(value)


def test_the_demo_result_is_written_as_json_dumps_writes_it() -> None:
    result = run(load_scenario(EXAMPLES / "demo.toml"))
    assert result.to_json_text() == _reference(result.to_json_data())
