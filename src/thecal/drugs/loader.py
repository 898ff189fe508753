"""Reads the drug data files into `Drug` values and refuses any file that breaks the library's rules.

A data file that is wrong is a safety problem, so the loader is strict: the
file's shape is a schema (pydantic, `thecal.drugs.drug_schema`) that knows
every table and field, every required limit must be present, every figure must
carry its source, a soft tier may never be looser than its hard tier, and
quantities must carry units of the right kind. A refusal names the file, the
field, the value and what to do. Files are read once; what the check gave is
kept in the user's cache (`thecal.units.checked`) and read back while the data
files and thecal's code are the same, so a command does not check the whole
library again each time it starts.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from thecal.drugs.model import Drug
from thecal.errors import InputError
from thecal.units import checked

DATA_PACKAGE = "thecal.drugs.data"
# The data package's folder, read as files beside this module (as it is installed), without importlib.resources.
DATA_FOLDER = Path(__file__).with_name("data")
CONVERSIONS_FILE = "conversions.toml"
FIX = "correct the drug data file"


def get_drug(name: str) -> Drug:
    """The drug of the library with this name or alias, in any letter case."""
    library = _library()
    key = name.strip().lower() if isinstance(name, str) else ""
    for drug in library.values():
        if key == drug.name or key in drug.aliases:
            return drug
    raise InputError(
        "drug",
        name,
        "not in the drug library",
        f"choose one of: {', '.join(drug_names())}",
    )


def drug_names() -> list[str]:
    """The names of all drugs in the library, sorted."""
    return sorted(_library())


def parse_drug(data: dict[str, Any], origin: str) -> Drug:
    """Build a Drug from the contents of one data file, refusing anything incomplete or inconsistent."""
    from thecal.drugs.drug_schema import parse_drug as parse  # the schema, built only when a file is checked

    return parse(data, origin)


@lru_cache(maxsize=1)
def data_files() -> tuple[tuple[str, bytes], ...]:
    """The library's drug data files, by name, with their bytes, in name order."""
    return tuple(
        (entry.name, entry.read_bytes())
        for entry in sorted(DATA_FOLDER.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".toml") and entry.name != CONVERSIONS_FILE
    )


@lru_cache(maxsize=1)
def _library() -> dict[str, Drug]:
    files = data_files()
    return checked("drugs", [part for name, data in files for part in (name, data)], _check_library)


def _check_library() -> dict[str, Drug]:
    """Every data file checked by the schema, and the library's rules across files."""
    import tomllib

    drugs: dict[str, Drug] = {}
    for name, data in data_files():
        drug = parse_drug(tomllib.loads(data.decode("utf-8")), name)
        if drug.name in drugs:
            raise _file_error(name, "name", drug.name, "two data files describe the same drug")
        drugs[drug.name] = drug
    for drug in drugs.values():
        for partner in drug.admixture_partners:
            if partner not in drugs or drug.name not in drugs[partner].admixture_partners:
                raise _file_error(
                    drug.name, "admixture.partners", partner, "a partner must be in the library and list this drug too"
                )
    return drugs


def _file_error(where: str, key: str, value: object, problem: str) -> InputError:
    return InputError(f"{where}: {key}", value, problem, FIX)
