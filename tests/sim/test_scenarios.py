"""Scenario files with hand-computed expectations, run end to end through the scenario runner."""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path

import pytest

from thecal.sim.runner import run
from thecal.sim.scenario import load_scenario, timeline_time
from thecal.units import MS_PER_DAY, MS_PER_MIN, NG_PER_MG

HERE = Path(__file__).parent / "scenarios"


def _run(name: str) -> tuple[dict, dict]:
    path = HERE / f"{name}.toml"
    expect = tomllib.loads(path.read_text())["expect"]
    return run(load_scenario(path)).to_json_data(), expect


def _minutes(text: str) -> int:
    days, clock = text.split(" d ")
    hh, mm = clock.split(":")
    return int(days) * 24 * 60 + int(hh) * 60 + int(mm or 0)


def test_low_reservoir_and_empty_alarms_fall_on_the_hand_computed_times() -> None:
    """The low-reservoir alarm sounds at 2 mL left and the empty alarm when less than a stroke is left."""
    data, expect = _run("low_reservoir")
    raised = [(a["alarm"], a["raised"]) for a in data["alarms"]]
    assert raised == [(e["alarm"], e["raised"]) for e in expect["alarms"]]
    assert data["delivered_ng"]["pump_calculated"]["morphine"] == pytest.approx(200 * NG_PER_MG, abs=1)
    assert data["reservoir"]["calculated_nl"] == 0


def test_battery_reaches_eri_then_end_of_service_90_days_later() -> None:
    """ERI and end of service follow from the battery figures of the model file."""
    data, expect = _run("battery")
    by_name = {a["alarm"]: a for a in data["alarms"]}
    for e in expect["alarms"]:
        got = by_name[e["alarm"]]["raised"]
        want = e["raised"] + "00"
        assert abs(_minutes(got) - _minutes(want)) <= e["within_minutes"], (e["alarm"], got, want)
    eri = by_name["elective_replacement"]["raised_ms"]
    eos = by_name["end_of_service"]["raised_ms"]
    assert eos - eri == 90 * MS_PER_DAY
    assert data["pump"]["final_status"]["mode"] == "end_of_service"


def test_drug_reaches_the_catheter_tip_only_after_the_dead_volume() -> None:
    """An unprimed catheter delays the first drug by dead volume / flow, and the tip total lags accordingly."""
    data, expect = _run("catheter_lag")
    series = data["series"]
    tip = series["tip_cumulative_ng:morphine"]
    first = next(t for t, v in zip(series["t_ms"], tip, strict=True) if v > 0)
    start = data["scenario"]["start_wall_ms"]
    want = _minutes(expect["first_drug_at_tip"])
    # Samples are hourly: the first sample with drug is within the hour after arrival.
    assert 0 < _minutes(timeline_time(start, first)) - want <= 60
    assert data["delivered_ng"]["pump_calculated"]["morphine"] == pytest.approx(10 * NG_PER_MG, rel=1e-4)
    assert data["delivered_ng"]["catheter_tip"]["morphine"] == pytest.approx(6 * NG_PER_MG, rel=1e-3)


def test_bridge_bolus_keeps_the_dose_through_a_concentration_change() -> None:
    """The bridge bolus ends when the old drug is through, and the tip dose stays at 1 mg/day before and after."""
    data, expect = _run("bridge")
    ends = [(e["detail"]["kind"], e["at"]) for e in data["events"] if e["kind"] == "bolus_end"]
    assert ends == [(b["kind"], b["at"]) for b in expect["bolus_end"]]
    series = data["series"]
    t = series["t_ms"]
    tip = series["tip_cumulative_ng:morphine"]
    start = data["scenario"]["start_wall_ms"]

    def tip_at(day: str) -> int:
        return tip[next(i for i, ms in enumerate(t) if timeline_time(start, ms) == day)]

    during = (tip_at("24 d 08:00") - tip_at("21 d 08:00")) / 3 / NG_PER_MG
    after = (tip_at("30 d 08:00") - tip_at("25 d 08:00")) / 5 / NG_PER_MG
    assert during == pytest.approx(1.0, rel=0.01)
    assert after == pytest.approx(1.0, rel=0.01)


def test_samples_are_taken_at_the_sample_interval() -> None:
    """The series has one point per sample interval, starting at zero."""
    data, _ = _run("catheter_lag")
    t = data["series"]["t_ms"]
    assert t[0] == 0 and t[-1] == 10 * MS_PER_DAY
    assert {b - a for a, b in itertools.pairwise(t)} == {60 * MS_PER_MIN}
