"""How a raw telemetry reply reads for an engineer (`thecal pump send`): every number with its unit.

Replies travel in base units named by the key's suffix (`_nl`, `_ms`,
`_nl_per_day`, `_ng_per_ml`, `_ppm`); this module turns each value into words
by that suffix and leaves anything else, the wire names included, as it is:
this is the engineering view. The clinical views are elsewhere
(`status_text`, `patient_text`, `log_text`). `--json` output never goes
through here: machines get the base units.
"""

from __future__ import annotations

from datetime import UTC, datetime

from thecal.units import format_concentration, format_duration, format_flow, format_volume

# Keys ending in _ms that are lengths of time rather than moments.
_DURATIONS = ("duration_ms", "lockout_ms", "interval_ms")


def format_wall(ms: int) -> str:
    """A wall-clock time, in UTC to the second."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_value(key: str, value: object) -> str:
    """One reply value in words, chosen by the unit its key names."""
    if value is None:
        return "none"
    if type(value) is not int:
        if isinstance(value, list) and key in ("contents", "label"):
            return ", ".join(_content(item) for item in value) or "empty"
        if isinstance(value, dict):
            return ", ".join(f"{k} {format_value(k, v)}" for k, v in value.items())
        return str(value)
    if key.endswith("_nl_per_day"):
        return format_flow(value)
    if key.endswith("_ng_per_ml"):
        return format_concentration(value)
    if key.endswith(("_nl", "_nl_total")):
        return format_volume(value)
    if key.endswith("_ppm"):
        return f"{value / 10_000:.2f} %"
    if key == "wall_ms" or key.endswith("_wall_ms"):
        return format_wall(value)
    if key.endswith(_DURATIONS):
        return format_duration(value)
    if key.endswith("_ms"):
        return f"pump time {format_duration(value)}"
    return str(value)


def _content(item: object) -> str:
    if isinstance(item, dict) and {"drug", "concentration_ng_per_ml"} <= item.keys():
        return f"{item['drug']} {format_concentration(int(item['concentration_ng_per_ml']))}"
    return str(item)


def result_lines(result: dict[str, object]) -> list[str]:
    """A reply's result, one `key: value` line each, sorted by key."""
    return [f"{key}: {format_value(key, value)}" for key, value in sorted(result.items())]


def log_entry_line(entry: dict[str, object]) -> str:
    """One event-log entry as a line: sequence, pump time, kind and details with their units."""
    detail = entry["detail"]
    assert isinstance(detail, dict)
    words = " ".join(f"{key}={format_value(key, value)}" for key, value in detail.items())
    at_ms = entry["at_ms"]
    assert type(at_ms) is int
    return f"#{entry['seq']} {format_duration(at_ms)} {entry['kind']} {words}".rstrip()
