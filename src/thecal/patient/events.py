"""Device and body events as hazards per patient-year, sampled with a seed; each maps to an existing fault injection.

The model returns records and never touches a pump: the scenario or trial
runner applies them (`fault_kind` is one of the runner's fault kinds:
occlusion, leak, disconnection, motor_stall, over_infusion, pump_fault; or
"mri", "pocket_fill"; or None for what only the body or the clinic sees:
a migrated tip, an inflammatory mass, an infection, the battery's end).
A survival S at T years is the constant hazard -ln(S)/T.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from thecal.patient.params import Params, load_params

MS_PER_YEAR = 365.25 * 86_400_000
MS_PER_DAY = 86_400_000

_REQUIRED = {
    "inflammatory_mass.rate": "1/year",
    "inflammatory_mass.dose_increase_reference": "mg/day/year",
    "catheter.survival_5y": "1",
    "catheter.share_occlusion": "1",
    "catheter.share_leak": "1",
    "catheter.share_disconnection": "1",
    "catheter.share_migration": "1",
    "catheter.leak_fraction": "1",
    "catheter.migration_distance": "cm",
    "pump.survival_5y": "1",
    "pump.share_motor_stall": "1",
    "pump.over_infusion_share": "1",
    "pump.over_infusion_fraction": "1",
    "battery.median_life": "year",
    "infection.early_risk": "1",
    "infection.early_window": "day",
    "mri.rate_cancer": "1/year",
    "mri.rate_non_cancer": "1/year",
    "mri.scan_duration": "min",
    "mri.recovery_delay_max": "h",
    "refill.pocket_fill": "1/refill",
}


def event_params() -> Params:
    """The checked figures of params/events.toml."""
    return load_params("events", _REQUIRED)


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One device or body event: when, what, the fault injection it maps to, and its figures."""

    at_ms: int
    what: str
    fault_kind: str | None = None
    fraction: float | None = None
    duration_ms: int | None = None
    recovery_delay_ms: int | None = None
    distance_cm: float | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class EventContext:
    """What the hazards depend on: the implant time, the indication and the yearly intrathecal dose increase."""

    implant_ms: int = 0
    cancer: bool = False
    yearly_dose_increase_mg_per_day: float = 0.0


def _arrivals(rng: np.random.Generator, rate_per_year: float, start_ms: int, end_ms: int) -> list[int]:
    """Times of a Poisson process with a constant rate in [start, end)."""
    out: list[int] = []
    if rate_per_year <= 0 or end_ms <= start_ms:
        return out
    t = float(start_ms)
    while True:
        t += float(rng.exponential(MS_PER_YEAR / rate_per_year))
        if t >= end_ms:
            return out
        out.append(int(t))


def hazards(context: EventContext) -> dict[str, float]:
    """The hazard of each kind of event per patient-year, for a patient in this context."""
    p = event_params()
    mass = p.value("inflammatory_mass.rate") * (
        1.0 + max(0.0, context.yearly_dose_increase_mg_per_day) / p.value("inflammatory_mass.dose_increase_reference")
    )
    catheter = -math.log(p.value("catheter.survival_5y")) / 5.0
    pump = -math.log(p.value("pump.survival_5y")) / 5.0
    mri = p.value("mri.rate_cancer" if context.cancer else "mri.rate_non_cancer")
    return {"inflammatory_mass": mass, "catheter": catheter, "pump": pump, "mri": mri}


def sample_events(rng: np.random.Generator, start_ms: int, end_ms: int, context: EventContext) -> list[EventRecord]:
    """The device and body events in [start, end), in time order."""
    p = event_params()
    h = hazards(context)
    out: list[EventRecord] = []
    for t in _arrivals(rng, h["inflammatory_mass"], start_ms, end_ms):
        out.append(EventRecord(t, "inflammatory_mass", note="a mass at the tip: the drug no longer reaches the cord"))
    shares = {k: p.value(f"catheter.share_{k}") for k in ("occlusion", "leak", "disconnection", "migration")}
    kinds, weights = list(shares), np.array(list(shares.values()))
    for t in _arrivals(rng, h["catheter"], start_ms, end_ms):
        kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
        if kind == "migration":
            moved = p["catheter.migration_distance"]
            dist = abs(moved.value + (moved.sd or 0.0) * float(rng.standard_normal()))
            out.append(EventRecord(t, "catheter_migration", None, distance_cm=float(dist), note="the tip moved"))
        elif kind == "leak":
            out.append(EventRecord(t, "catheter_leak", "leak", fraction=p.value("catheter.leak_fraction")))
        else:
            out.append(EventRecord(t, f"catheter_{kind}", kind))
    for t in _arrivals(rng, h["pump"], start_ms, end_ms):
        u = float(rng.random())
        if u < p.value("pump.over_infusion_share"):
            out.append(
                EventRecord(t, "pump_over_infusion", "over_infusion", fraction=p.value("pump.over_infusion_fraction"))
            )
        elif u < p.value("pump.over_infusion_share") + p.value("pump.share_motor_stall"):
            out.append(EventRecord(t, "pump_motor_stall", "motor_stall"))
        else:
            out.append(EventRecord(t, "pump_fault", "pump_fault"))
    for t in _arrivals(rng, h["mri"], start_ms, end_ms):
        delay = int(float(rng.random()) * p.value("mri.recovery_delay_max") * 3_600_000)
        out.append(
            EventRecord(
                t, "mri", "mri", duration_ms=int(p.value("mri.scan_duration") * 60_000), recovery_delay_ms=delay
            )
        )
    out += _infection(rng, start_ms, end_ms, context, p)
    return sorted(out, key=lambda e: (e.at_ms, e.what))


def _infection(
    rng: np.random.Generator, start_ms: int, end_ms: int, context: EventContext, p: Params
) -> list[EventRecord]:
    window_end = context.implant_ms + int(p.value("infection.early_window") * MS_PER_DAY)
    lo, hi = max(start_ms, context.implant_ms), min(end_ms, window_end)
    if hi <= lo:
        return []
    years = (window_end - context.implant_ms) / MS_PER_YEAR
    rate = -math.log(1.0 - p.value("infection.early_risk")) / years
    return [
        EventRecord(t, "infection", note="infection of the pocket or the catheter track")
        for t in _arrivals(rng, rate, lo, hi)
    ]


def battery_end(rng: np.random.Generator, implant_ms: int) -> EventRecord:
    """When this pump's battery reaches its elective replacement point (the pump's own battery model runs the alarm)."""
    f = event_params()["battery.median_life"]
    sigma = math.sqrt(math.log1p((f.cv or 0.0) ** 2))
    years = f.value * math.exp(sigma * float(rng.standard_normal()))
    return EventRecord(implant_ms + int(years * MS_PER_YEAR), "battery_end", None, note="plan pump replacement")


def refill_error(rng: np.random.Generator, at_ms: int) -> EventRecord | None:
    """Whether this refill goes into the pocket instead of the reservoir (None: it does not)."""
    if float(rng.random()) < event_params().value("refill.pocket_fill"):
        return EventRecord(at_ms, "pocket_fill", "pocket_fill", note="the drug was injected under the skin")
    return None
