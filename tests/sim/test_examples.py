"""The shipped example scenarios run and tell the story they were written for."""

from __future__ import annotations

from pathlib import Path

from thecal.sim.runner import run
from thecal.sim.scenario import load_scenario

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_demo_runs_without_refusal_and_keeps_calculated_and_actual_reservoir_close() -> None:
    """The demo year is therapy as planned: nothing refused, reservoirs agree within the pump's accuracy."""
    data = run(load_scenario(EXAMPLES / "demo.toml")).to_json_data()
    assert data["refusals"] == []
    assert [e["detail"]["kind"] for e in data["events"] if e["kind"] == "bolus_end"][:1] == ["priming"]
    assert any(e["kind"] == "bolus_start" and e["detail"]["kind"] == "bridge" for e in data["events"])
    calculated, actual = data["reservoir"]["calculated_nl"], data["reservoir"]["actual_nl"]
    assert abs(calculated - actual) <= 0.145 * 40_000_000


def test_reliability_example_shows_silent_emptying_the_refill_flag_and_the_pocket_fill() -> None:
    """Over-infusion empties the real reservoir without an alarm; the refill flags it; the pocket fill is shown."""
    data = run(load_scenario(EXAMPLES / "reliability.toml")).to_json_data()
    first = data["refills"][0]
    assert "less came back than the pump's records expect" in first["flag"]
    assert first["acknowledged"] and first["done"]
    assert data["pocket_ng"]["morphine"] == 200_000_000
    assert data["reservoir"]["actual_nl"] == 0 and data["reservoir"]["calculated_nl"] > 2_000_000
    assert not any(a["alarm"] == "low_reservoir" for a in data["alarms"])
