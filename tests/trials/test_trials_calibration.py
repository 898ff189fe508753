"""The two calibration trials against their published targets: Smith 2002 at 400 patients per arm, Hamza 2012 at 58.

Smith is run larger than its published 101 per arm: at 101 the simulated means scatter by about as much as the
tolerance (a 95 % interval of ±0.09 on a proportion, ±0.6 on pain), so a test at that size would test the seed,
not the model (docs/calibration.md shows both sizes). Hamza runs at its published size. Each target is its own
test. A target the model does not reproduce would be listed in NOT_YET_MET and reported as an expected failure
with the simulated value; a target met today that a change loses fails the test.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from thecal.trials.calibration import TargetResult, compare, protocol_fitted, run_arms, wilson
from thecal.trials.protocol import load_protocol, scaled

TRIALS = Path(__file__).parents[2] / "examples" / "trials"
N_PER_ARM = {"smith2002": 400, "hamza2012": None}  # None: the protocol's own size
# (protocol, arm, endpoint) not yet within tolerance at the sizes above; see docs/calibration.md.
NOT_YET_MET: set[tuple[str, str, str]] = set()
_CACHE: dict[str, list[TargetResult]] = {}


def _results(name: str) -> list[TargetResult]:
    if name not in _CACHE:
        protocol = load_protocol(TRIALS / f"{name}.toml")
        n = N_PER_ARM[name]
        if n is not None:
            protocol = scaled(protocol, n)
        _CACHE[name] = compare(protocol, run_arms(protocol))
    return _CACHE[name]


def _targets(name: str) -> list[tuple[str, str, str]]:
    return [(name, t.arm, t.endpoint) for t in load_protocol(TRIALS / f"{name}.toml").targets]


@pytest.mark.slow
@pytest.mark.parametrize("key", _targets("smith2002") + _targets("hamza2012"), ids=lambda k: "-".join(k))
def test_calibration_target_is_reproduced_within_its_tolerance(key: tuple[str, str, str]) -> None:
    """The simulated mean of the endpoint lies within the published figure's tolerance."""
    name, arm, endpoint = key
    result = next(r for r in _results(name) if (r.target.arm, r.target.endpoint) == (arm, endpoint))
    if key in NOT_YET_MET and not result.met:
        pytest.xfail(f"not yet calibrated: target {result.target.value}, simulated {result.mean}")
    assert result.mean is not None
    assert abs(result.mean - result.target.value) <= result.target.tolerance, (result.mean, result.target)
    assert result.low is not None and result.high is not None
    assert result.low <= result.mean <= result.high


def test_wilson_interval_matches_a_hand_computed_value_and_stays_within_0_1() -> None:
    """8 of 10: centre (0.8 + 1.92/10) / 1.384, half-width 1.96/1.384 * sqrt(0.016 + 0.00960) (hand-computed)."""
    low, high = wilson(8, 10)
    z = 1.959963984540054
    centre = (0.8 + z * z / 20) / (1 + z * z / 10)
    half = z / (1 + z * z / 10) * math.sqrt(0.8 * 0.2 / 10 + z * z / 400)
    assert (low, high) == pytest.approx((centre - half, centre + half))
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson(0, 40)[0] == 0.0 and 0.0 < wilson(0, 40)[1] < 0.1
    assert wilson(40, 40)[1] == 1.0 and 0.9 < wilson(40, 40)[0] < 1.0


def test_every_fitted_setting_of_a_protocol_is_listed_with_what_it_was_fitted_to() -> None:
    """The calibration script finds the protocol settings marked "fitted to" (and only those)."""
    found = dict(protocol_fitted(TRIALS / "hamza2012.toml"))
    assert any(s.startswith("max_dose") for s in found)
    assert all("fitted to Hamza 2012" in c for c in found.values())
    assert not any(s.startswith("step") for s in found)
