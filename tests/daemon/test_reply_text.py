"""Replies printed for a person carry a unit on every number; the key's suffix names it."""

from __future__ import annotations

import pytest

from thecal.cli.reply_text import format_value, log_entry_line, result_lines


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("reservoir_nl", 19_925_000, "19.925 mL"),
        ("delivered_nl_total", 75_000, "0.075 mL"),
        ("basal_flow_nl_per_day", 500_000, "0.5000 mL/day"),
        ("morphine_ng_per_ml", 10_000_000, "10 mg/mL"),
        ("battery_used_ppm", 123_456, "12.35 %"),
        ("wall_ms", 1_700_000_000_000, "2023-11-14 22:13:20 UTC"),
        ("demand_next_allowed_wall_ms", 1_700_000_060_000, "2023-11-14 22:14:20 UTC"),
        ("lockout_ms", 3_600_000, "0 d 01:00"),
        ("duration_ms", 600_000, "0 d 00:10"),
        ("ends_ms", 90_061_000, "pump time 1 d 01:01:01"),
        ("eri_at_ms", None, "none"),
        ("strokes_total", 300, "300"),
        ("mode", "running", "running"),
        ("contents", [{"drug": "morphine", "concentration_ng_per_ml": 25_000}], "morphine 25 mcg/mL"),
        ("contents", [], "empty"),
        ("bolus", {"kind": "demand", "volume_nl": 10_000}, "kind demand, volume_nl 0.010 mL"),
    ],
)
def test_each_value_reads_with_its_unit(key: str, value: object, words: str) -> None:
    assert format_value(key, value) == words


def test_result_lines_are_sorted_and_formatted() -> None:
    assert result_lines({"reservoir_nl": 1_000_000, "mode": "running"}) == ["mode: running", "reservoir_nl: 1.000 mL"]


def test_a_log_entry_reads_as_one_line() -> None:
    entry = {"seq": 4, "at_ms": 7_624_357, "kind": "bolus_start", "detail": {"kind": "clinician", "volume_nl": 50_000}}
    assert log_entry_line(entry) == "#4 0 d 02:07:04.357 bolus_start kind=clinician volume_nl=0.050 mL"
