"""The proofs of "one rulebook at every door": the marker for the slow ones."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker of tests that take more than a few seconds (`make test` runs them too)."""
    config.addinivalue_line("markers", "slow: takes more than 20 s; run by `make test` like every other test")
