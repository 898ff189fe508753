"""The pump's figures read the same without the units library: the table of plain units is pint's, row by row.

`thecal.units` reads a plain decimal with units of its own table ("40 mL",
"1 mL/h", "1.6 A*h") exactly, without building pint's registry, so that a
command line starts at once; anything else goes to pint. Every row of the table
must be the unit pint means by that name, and every quantity read either way
must come out the same, to the last fraction.
"""

from __future__ import annotations

import tomllib
from fractions import Fraction
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thecal import units
from thecal.errors import InputError
from thecal.pump.model import CHARGE, CURRENT, model_names

KINDS = (*units.KINDS, CHARGE, CURRENT)
SI = {(1, 0, 0, 0): "meter", (3, 0, 0, 0): "meter**3", (0, 1, 0, 0): "gram", (0, 0, 1, 0): "second"}
SI |= {(0, 0, 0, 1): "ampere", (0, 0, 1, 1): "coulomb"}


def _by_pint(text: str, kind: units.Kind) -> Fraction:
    return Fraction(units.registry().Quantity(text).to(kind.base_unit).magnitude)


@pytest.mark.parametrize("name", sorted(units._UNITS))
def test_every_unit_of_the_table_is_the_unit_pint_means(name: str) -> None:
    dimension, size = units._UNITS[name]
    assert Fraction(units.registry().Quantity(1, name).to(SI[dimension]).magnitude) == size


def _shipped_quantities() -> list[str]:
    """Every quantity written in the shipped pump model files."""
    found: list[str] = []
    for name in model_names():
        text = (resources.files("thecal.pump") / "models" / f"{name}.toml").read_text(encoding="utf-8")
        for section in tomllib.loads(text).values():
            if isinstance(section, dict):
                found += [f["value"] for f in section.values() if isinstance(f, dict) and isinstance(f["value"], str)]
    return [q for q in found if not q.endswith("%")]  # percentages are read without pint anyway


@pytest.mark.parametrize("text", _shipped_quantities())
def test_the_pump_models_figures_read_as_pint_reads_them(text: str) -> None:
    kinds = [kind for kind in KINDS if units._without_pint(text, kind) is not None]
    assert kinds, f"{text!r} is read by pint alone"
    for kind in kinds:
        assert units.parse_exact(text, kind, "figure") == _by_pint(text, kind)


names = st.sampled_from(sorted(units._UNITS))
numbers = st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False).map(str)


@given(number=numbers, first=names, joins=st.lists(st.tuples(st.sampled_from(["/", "*", " / "]), names), max_size=2))
def test_any_plain_quantity_reads_as_pint_reads_it_or_goes_to_pint(number: str, first: str, joins: list) -> None:
    """Of every kind: the same value as pint's; or, when pint refuses it, it goes to pint, which says why."""
    text = f"{number} {first}" + "".join(op + name for op, name in joins)
    for kind in KINDS:
        try:
            expected: Fraction | str = _by_pint(text, kind)
        except Exception:  # pint refuses: a unit of another kind
            with pytest.raises(InputError):
                units.parse_exact(text, kind, "x")
            assert units._without_pint(text, kind) is None
            continue
        assert units.parse_exact(text, kind, "x") == expected
