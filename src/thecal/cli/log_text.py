"""The pump's event log in words: one line an entry, at the clinic's local time, every number with its unit.

Entries carry pump time (ms since the pump started); the wall clock is pump
time plus an offset that only a `clock_set` entry changes, and that entry
keeps the old and the new wall time. So walking back from the newest entry
(whose offset the status gives) yields each entry's local time exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from thecal.drugs.model import duration_text
from thecal.therapy.settings import component_text, dose_rate_text, flow_text, mass_text, volume_text
from thecal.therapy.snapshot import Label
from thecal.therapy.words import alarm_text, local_time

Entry = Mapping[str, object]

KIND_WORDS = {
    "power_on": "pump started",
    "fill": "reservoir filled",
    "settings_dropped": "settings dropped",
    "catheter_set": "catheter volume recorded",
    "program": "prescription programmed",
    "bolus_start": "bolus started",
    "bolus_end": "bolus finished",
    "bolus_interrupted": "bolus interrupted",
    "periodic_bolus_on": "periodic bolus on",
    "periodic_bolus_off": "periodic bolus off",
    "periodic_bolus_skipped": "periodic bolus skipped",
    "periodic_bolus_resumed": "periodic boluses resumed",
    "demand_on": "patient's handset doses on",
    "demand_off": "patient's handset doses off",
    "therapy_stopped": "therapy stopped (minimum rate)",
    "therapy_resumed": "therapy resumed",
    "low_reservoir_alarm_set": "low-reservoir alarm threshold set",
    "alarm": "alarm",
    "alarm_cleared": "alarm cleared",
    "alarm_tone_test": "alarm tones tested",
    "motor_stall": "motor stalled",
    "motor_recovered": "motor turning again",
    "refused": "command refused by the pump",
    "telemetry_rejected": "telemetry frame refused",
    "key_paired": "device paired",
    "key_revoked": "device key revoked",
    "clock_set": "clock set",
}
# Keys whose _ms value is a length of time, not a moment.
DURATION_KEYS = ("duration_ms", "lockout_ms", "interval_ms")
# Unit suffixes, longest first, and what is left of the key's name in words.
SUFFIXES = ("_nl_per_day", "_ng_per_day", "_ng_per_ml", "_wall_ms", "_ms", "_nl", "_ng", "_pc")
SKIPPED = frozenset({"critical"})  # said by the alarm's own words


def wall_offsets(entries: Sequence[Entry], wall_ms: int, now_ms: int) -> list[int]:
    """For each entry, the offset from its pump time to the wall clock (local time) at that moment."""
    offset = wall_ms - now_ms
    offsets = [0] * len(entries)
    for i in range(len(entries) - 1, -1, -1):
        entry = entries[i]
        offsets[i] = offset
        detail = entry.get("detail")
        if entry.get("kind") == "clock_set" and isinstance(detail, Mapping):
            old = detail.get("old_wall_ms")
            at = entry.get("at_ms")
            if type(old) is int and type(at) is int:
                offset = old - at  # before this entry the clock read the old time
    return offsets


def log_lines(
    entries: Sequence[Entry], *, wall_ms: int, now_ms: int, label: Label, battery_capacity_pc: int
) -> list[str]:
    """Every entry as one line in words."""
    offsets = wall_offsets(entries, wall_ms, now_ms)
    return [
        entry_line(entry, offset, label, battery_capacity_pc) for entry, offset in zip(entries, offsets, strict=True)
    ]


def entry_line(entry: Entry, offset_ms: int, label: Label, battery_capacity_pc: int) -> str:
    """One entry: its number, its local time, what happened and its details with their units."""
    at = entry.get("at_ms")
    when = local_time(at + offset_ms) if type(at) is int else "time unknown"
    kind = str(entry.get("kind", ""))
    words = KIND_WORDS.get(kind, kind.replace("_", " "))
    detail = entry.get("detail")
    parts = []
    if isinstance(detail, Mapping):
        parts = [
            detail_text(str(k), v, offset_ms, label, battery_capacity_pc) for k, v in detail.items() if k not in SKIPPED
        ]
    text = f"#{entry.get('seq')} {when}  {words}"
    return f"{text}: {', '.join(parts)}" if parts else text


def detail_text(key: str, value: object, offset_ms: int, label: Label, battery_capacity_pc: int) -> str:
    """One detail of an entry in words, chosen by the unit its key names."""
    if key == "alarm" and isinstance(value, str):
        return alarm_text(value)
    name = _name(key)
    if type(value) is not int:
        return f"{name} {value}"
    if key.endswith("_ng_per_ml"):
        return component_text(name, value)
    if key.endswith("_nl_per_day"):
        return f"{name} {flow_text(value)}"
    if key.endswith("_ng_per_day"):
        return f"{name} {dose_rate_text(label, value)}"
    if key.endswith("_nl"):
        return f"{name} {volume_text(value)}"
    if key.endswith("_ng"):
        return f"{name} {mass_text(label, value)}"
    if key.endswith("_pc") and battery_capacity_pc > 0:
        return f"{name} {value * 100 / battery_capacity_pc:.2f} %"
    if key.endswith("_wall_ms"):
        return f"{name} {local_time(value)}"
    if key.endswith(DURATION_KEYS):
        return f"{name} {duration_text(value)}"
    if key.endswith("_ms"):
        return f"{name} {local_time(value + offset_ms)}"
    return f"{name} {value}"


def _name(key: str) -> str:
    for suffix in SUFFIXES:
        if key.endswith(suffix):
            return key.removesuffix(suffix).replace("_", " ")
    return key.replace("_", " ")
