"""The two calibration trials against their published targets: Smith 2002 at 400 patients per arm, Hamza 2012 at 58.

Smith is run larger than its published 101 per arm: at 101 the simulated means scatter by about as much as the
tolerance (a 95 % interval of ±0.09 on a proportion, ±0.6 on pain), so a test at that size would test the seed,
not the model (docs/calibration.md shows both sizes). Hamza runs at its published size. Each target is its own
test. A target the model does not reproduce would be listed in NOT_YET_MET and reported as an expected failure
with the simulated value; a target met today that a change loses fails the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from thecal.trials.calibration import protocol_fitted, target_checks
from thecal.trials.protocol import load_protocol, scaled
from thecal.trials.run import TargetCheck

TRIALS = Path(__file__).parents[2] / "examples" / "trials"
N_PER_ARM = {"smith2002": 400, "hamza2012": None}  # None: the protocol's own size
# (protocol, arm, endpoint) not yet within tolerance at the sizes above; see docs/calibration.md.
NOT_YET_MET: set[tuple[str, str, str]] = set()
_CACHE: dict[str, list[TargetCheck]] = {}


def _results(name: str) -> list[TargetCheck]:
    if name not in _CACHE:
        protocol = load_protocol(TRIALS / f"{name}.toml")
        n = N_PER_ARM[name]
        if n is not None:
            protocol = scaled(protocol, n)
        _CACHE[name] = target_checks(protocol)
    return _CACHE[name]


def _targets(name: str) -> list[tuple[str, str, str]]:
    return [(name, t.arm, t.endpoint) for t in load_protocol(TRIALS / f"{name}.toml").targets]


@pytest.mark.slow
@pytest.mark.parametrize("key", _targets("smith2002") + _targets("hamza2012"), ids=lambda k: "-".join(k))
def test_calibration_target_is_reproduced_within_its_tolerance(key: tuple[str, str, str]) -> None:
    """The simulated mean of the endpoint lies within the published figure's tolerance."""
    name, arm, endpoint = key
    result = next(r for r in _results(name) if (r.arm, r.endpoint) == (arm, endpoint))
    if key in NOT_YET_MET and not result.inside:
        pytest.xfail(f"not yet calibrated: target {result.published}, simulated {result.simulated}")
    assert result.simulated is not None
    assert abs(result.simulated - result.published) <= result.tolerance, (result.simulated, result)
    assert result.ci95 is not None
    assert result.ci95[0] <= result.simulated <= result.ci95[1]


def test_every_fitted_setting_of_a_protocol_is_listed_with_what_it_was_fitted_to() -> None:
    """The calibration script finds the protocol settings marked "fitted to" (and only those)."""
    found = dict(protocol_fitted(TRIALS / "hamza2012.toml"))
    assert any(s.startswith("max_dose") for s in found)
    assert all("fitted to Hamza 2012" in c for c in found.values())
    assert not any(s.startswith("step") for s in found)
