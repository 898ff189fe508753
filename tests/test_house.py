"""The house's rules, checked: which room may import which, what the firmware core may import, and what ships.

The import contract itself lives in pyproject.toml ([tool.importlinter]) and
`make test` runs it; these tests run it too, show that it catches an import
that points up, and check what the contract cannot see by itself: that every
room of the house is named in it, that the firmware core imports only the
standard library, and that the package ships its type information and licence.
"""

from __future__ import annotations

import ast
import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import thecal

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "thecal"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _contract(contract_id: str) -> dict[str, object]:
    contracts = PYPROJECT["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["id"] == contract_id)


def _rooms() -> set[str]:
    """The top-level modules and packages of thecal: the rooms of the house."""
    return {info.name for info in pkgutil.iter_modules(thecal.__path__)}


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run the import contract of pyproject.toml on the source tree under `root`."""
    env = {"PATH": str(LINT_IMPORTS.parent), "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_import_contract_is_kept() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # A calculator reaching up into the scenario runner: the layers contract.
        ("clinical/pump.py", "import thecal.sim.runner", "The house: imports point down only"),
        # The firmware core using the units library: its own contract (and the layers one).
        ("pump/core/integers.py", "import thecal.units", "The firmware core imports nothing of thecal outside itself"),
    ],
)
def test_the_contract_catches_an_import_that_points_up(tmp_path: Path, module: str, line: str, broken: str) -> None:
    shutil.copytree(PACKAGE, tmp_path / "src" / "thecal", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / "thecal" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert f"{broken} BROKEN" in result.stdout


def test_every_room_of_the_house_is_in_the_layers() -> None:
    layers = _contract("house")["layers"]
    named = {room.strip() for layer in layers for room in layer.replace(":", "|").split("|")}
    assert named == _rooms()


def test_the_firmware_core_is_forbidden_every_other_room() -> None:
    # The forbidden list is written out, so a new room or a new part of the implant must be added to it.
    forbidden = set(_contract("firmware-core")["forbidden_modules"])
    pump_parts = {f"thecal.pump.{info.name}" for info in pkgutil.iter_modules([str(PACKAGE / "pump")])}
    expected = {f"thecal.{room}" for room in _rooms() - {"pump"}} | (pump_parts - {"thecal.pump.core"})
    assert forbidden == expected


def test_the_firmware_core_imports_only_the_standard_library() -> None:
    outside: list[str] = []
    for path in sorted((PACKAGE / "pump" / "core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if name.startswith("thecal.pump.core") or top in sys.stdlib_module_names:
                    continue
                outside.append(f"{path.relative_to(SRC)}: {name}")
    assert outside == []


def test_every_room_says_what_it_is_for() -> None:
    for room in sorted(_rooms()):
        init = PACKAGE / room / "__init__.py"
        source = init if init.exists() else PACKAGE / f"{room}.py"
        assert ast.get_docstring(ast.parse(source.read_text(encoding="utf-8"))), f"{room} has no docstring"


def test_the_package_ships_its_types_and_its_licence() -> None:
    project = PYPROJECT["project"]
    # An SPDX expression, not the old free-text table, and the licence text beside it.
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence
    assert (PACKAGE / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["thecal"]


def test_make_test_runs_the_contract_and_mypy() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    test_rule = next(line for line in makefile.splitlines() if line.startswith("test:"))
    assert {"lint", "imports", "typecheck"} <= set(test_rule.split()[1:])
    assert "lint-imports" in makefile and "mypy" in makefile


def test_the_firmware_core_and_the_therapy_layer_are_typed_strictly() -> None:
    overrides = PYPROJECT["tool"]["mypy"]["overrides"]
    strict = next(o for o in overrides if "thecal.pump.core.*" in o["module"])
    assert {"thecal.pump.core", "thecal.therapy", "thecal.therapy.*"} <= set(strict["module"])
    for flag in ("disallow_untyped_defs", "disallow_any_generics", "warn_return_any", "no_implicit_reexport"):
        assert strict[flag] is True


def test_sources_cite_primary_sources_not_the_design_note() -> None:
    # Data files and the code's sources cite a label, a paper or a notice, or say "assumption";
    # the design brief outside the repository is not a source.
    cited = [
        f"{path.relative_to(SRC)}:{number}"
        for path in sorted(PACKAGE.rglob("*"))
        if path.suffix in (".py", ".toml")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if "DESIGN.md" in line
    ]
    assert cited == []


def test_every_module_of_the_firmware_core_is_on_the_map_in_architecture_md() -> None:
    """docs/architecture.md's house lists each file of pump/core, so a newcomer finds every room."""
    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "architecture.md").read_text()
    modules = sorted(
        p.name for p in (root / "src" / "thecal" / "pump" / "core").glob("*.py") if p.name != "__init__.py"
    )
    missing = [m for m in modules if m not in doc]
    assert not missing, f"not described in docs/architecture.md: {missing}"
