"""Settings for the whole suite."""

from __future__ import annotations

import os
import tempfile

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Keep the cache of checked files (thecal.units.checked) in a folder of the run's own, not the user's home."""
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="thecal-tests-cache-")
