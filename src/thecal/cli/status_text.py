"""An interrogation for a clinician: doses with their units, volumes, the label, alarms in words, local times.

Every setting is worded as the therapy layer words it in a plan (the same
rows, showing what the pump holds now), so what a plan said and what an
interrogation shows read alike. No wire field name is shown.
"""

from __future__ import annotations

from thecal.drugs.dosing import dose_ng_per_day, mass_ng
from thecal.therapy import PumpSnapshot, TherapySettings
from thecal.therapy.settings import (
    dose_rate_text,
    flow_text,
    grouped_by_weekday,
    label_text,
    mass_text,
    side_by_side,
    volume_text,
)
from thecal.therapy.words import LOCAL_TIME, alarm_text, local_time, mode_text

INDENT = "    "
PPM_PER_PERCENT = 10_000


def interrogation_lines(snapshot: PumpSnapshot, pump_label: str) -> list[str]:
    """The clinician's view of one interrogation, one fact a line."""
    s = snapshot
    label = s.label
    lines = [
        f"Pump {pump_label} ({s.model.name}), interrogated {local_time(s.wall_ms)} ({LOCAL_TIME})",
        f"Mode: {mode_text(s.mode)}",
        "Alarms: " + ("none" if not s.alarms else "; ".join(alarm_text(a) for a in s.alarms)),
        f"Drug in the reservoir: {label_text(label)}",
        f"Reservoir: {_reservoir(s)}",
        "Settings:",
    ]
    settings = TherapySettings.of(s)
    for row in grouped_by_weekday(side_by_side(settings, settings, s.model.internal_volume_nl)):
        if row.key != "label" and row.new is not None:
            lines.append(f"{INDENT}{row.name}: {row.new.text}")
    lines.append(f"Flow now: {_flow(s)}")
    if s.bolus is not None:
        lines.append(f"Bolus under way: {_bolus(s)}")
    if s.bridge_remaining_nl is not None:
        lines.append(f"Bridge: {volume_text(s.bridge_remaining_nl)} of the old drug still to go, at the old doses")
    if s.demand is not None:
        lines.append(f"Patient's handset: {_demand_window(s)}")
    if s.dose_raised_wall_ms is not None:
        lines.append(f"Highest basal dose last raised: {local_time(s.dose_raised_wall_ms)}")
    lines += _device(s)
    return lines


def _reservoir(s: PumpSnapshot) -> str:
    text = f"{volume_text(s.reservoir_nl)} of {volume_text(s.reservoir_capacity_nl)}"
    if s.label:
        text += f", holding {mass_text(s.label, mass_ng(s.reservoir_nl, s.label[0][1]))}"
    return text + " (calculated from the programmed delivery, never measured)"


def _flow(s: PumpSnapshot) -> str:
    basal = f"basal {flow_text(s.basal_flow_nl_per_day)}"
    bolus = f"bolus {flow_text(s.bolus_flow_nl_per_day)}"
    if s.label:
        conc = s.label[0][1]
        basal += f" ({dose_rate_text(s.label, dose_ng_per_day(s.basal_flow_nl_per_day, conc))})"
        if s.bolus_flow_nl_per_day:
            bolus += f" ({dose_rate_text(s.label, dose_ng_per_day(s.bolus_flow_nl_per_day, conc))})"
    return f"{basal}; {bolus}"


def _bolus(s: PumpSnapshot) -> str:
    b = s.bolus
    assert b is not None  # the caller checked
    text = f"{b.kind}, {volume_text(b.delivered_nl)} of {volume_text(b.volume_nl)} given"
    if s.label and b.kind != "bridge":
        conc = s.label[0][1]
        given, whole = mass_text(s.label, mass_ng(b.delivered_nl, conc)), mass_text(s.label, mass_ng(b.volume_nl, conc))
        text += f" ({given} of {whole})"
    return text


def _demand_window(s: PumpSnapshot) -> str:
    allowed = s.demand_next_allowed_wall_ms
    if allowed is None or allowed <= s.wall_ms:
        when = "a dose is possible now"
    else:
        when = f"next dose possible at {local_time(allowed)}"
    left = "" if s.demand_left_24h is None else f"; {s.demand_left_24h} left in 24 h"
    return when + left


def _device(s: PumpSnapshot) -> list[str]:
    raw = s.status
    lines: list[str] = []
    ppm = raw.get("battery_used_ppm")
    fraction = raw.get("battery_used_fraction")
    if type(ppm) is int:
        battery = f"{ppm / PPM_PER_PERCENT:.2f} % used"
    elif isinstance(fraction, float | int):
        battery = f"{fraction * 100:.2f} % used"
    else:
        battery = "not reported"
    eri = raw.get("eri_at_ms")
    if type(eri) is int:
        battery += f"; elective replacement indicator since {local_time(eri + s.wall_ms - s.now_ms)}"
    else:
        battery += "; elective replacement indicator not reached"
    lines.append(f"Battery: {battery}")
    delivered, strokes = raw.get("delivered_nl_total"), raw.get("strokes_total")
    if type(delivered) is int:
        lines.append(f"Delivered since the pump started: {volume_text(delivered)} in {strokes} strokes")
    lines.append(f"Fills: {s.fills_total}")
    next_seq = raw.get("log_next_seq")
    unlogged = raw.get("telemetry_rejections_unlogged")
    if type(next_seq) is int:
        log = f"Event log: {next_seq} entries written"
        if unlogged:
            log += f"; {unlogged} telemetry refusals counted but not logged"
        lines.append(log)
    return lines
