"""A forecast as its JSON document (docs/forecast.md): medians of the draws with a 10-90 % band, per week and over the
horizon, paired differences, the refill dates and the time series."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from thecal.sim.scenario import timeline_time

if TYPE_CHECKING:
    from thecal.sim.forecast import Arm, Forecast

DIGITS = 3


def band(values: np.ndarray) -> dict[str, float | None]:
    """The median and the 10-90 % band of one figure over the draws (NaN values left out)."""
    from thecal.sim.forecast import BAND

    kept = values[~np.isnan(values)]
    if kept.size == 0:
        return {"median": None, f"p{BAND[0]}": None, f"p{BAND[1]}": None}
    low, mid, high = np.percentile(kept, [BAND[0], 50, BAND[1]])
    return {"median": _num(mid), f"p{BAND[0]}": _num(low), f"p{BAND[1]}": _num(high)}


def _num(x: float) -> float | None:
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return None
    return round(x, DIGITS) + 0.0  # no "-0.0"


def _mean_over_horizon(values: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        counted = np.sum(~np.isnan(values), axis=1)
        return np.where(counted > 0, np.nansum(values, axis=1) / np.maximum(counted, 1), math.nan)


def horizon_means(arm: Arm) -> dict[str, np.ndarray]:
    """Each draw's mean over the horizon of pain, toxicity and every side effect's severity."""
    out = {"pain": _mean_over_horizon(arm.pain), "toxicity": _mean_over_horizon(arm.toxicity)}
    for item, values in arm.severity.items():
        out[item] = _mean_over_horizon(values)
    return out


def _dates(f: Forecast, arm: Arm) -> dict[str, Any]:
    from thecal.sim.forecast import crossing_ms

    out: dict[str, Any] = {}
    for name, level in (("low_reservoir_alarm", float(arm.low_reservoir_alarm_nl)), ("empty", 0.0)):
        after = crossing_ms(arm.reservoir_nl, arm.t_ms, f.at_ms, arm.reservoir_at_fork_nl, level)
        median = float(np.median(after))
        out[name] = {
            "after_ms": {k: None if v is None else round(v) for k, v in band(after).items()},
            "at": None if math.isinf(median) else timeline_time(f.scenario.start_wall_ms, f.at_ms + round(median)),
            "seen_in_forecast": bool(median <= float(arm.t_ms[-1] - f.at_ms)),
        }
    out["low_reservoir_alarm_nl"] = arm.low_reservoir_alarm_nl
    out["reservoir_at_fork_nl"] = _ints(band(arm.reservoir_at_fork_nl))
    return out


def _arm_data(f: Forecast, arm: Arm) -> dict[str, Any]:
    from thecal.sim.forecast import weekly

    means = horizon_means(arm)
    days = (float(arm.t_ms[-1]) - f.at_ms) / 86_400_000
    tip_total = arm.tip_ng[:, -1]
    weeks = []
    wk = {
        "pain": weekly(arm.pain, arm.t_ms, f.at_ms, f.weeks),
        "toxicity": weekly(arm.toxicity, arm.t_ms, f.at_ms, f.weeks),
        "sedation": weekly(arm.severity["sedation"], arm.t_ms, f.at_ms, f.weeks),
    }
    week_of = (arm.t_ms - f.at_ms - 1) // (7 * 86_400_000)
    for w in range(f.weeks):
        last = np.nonzero(week_of == w)[0]
        end = int(last[-1]) if last.size else -1
        start_tip = arm.tip_ng[:, int(np.nonzero(week_of == w - 1)[0][-1])] if w > 0 else np.zeros(len(tip_total))
        weeks.append(
            {
                "week": w + 1,
                "pain": band(wk["pain"][:, w]),
                "toxicity": band(wk["toxicity"][:, w]),
                "sedation_severity": band(wk["sedation"][:, w]),
                "tip_ng": _ints(band(arm.tip_ng[:, end] - start_tip)),
                "reservoir_end_nl": _ints(band(arm.reservoir_nl[:, end])),
            }
        )
    return {
        "prescription": arm.prescription,
        "pain": band(means["pain"]),
        "toxicity": band(means["toxicity"]),
        "side_effect_severity": {item: band(means[item]) for item in arm.severity},
        "tip_ng": _ints(band(tip_total)),
        "tip_ng_per_day": _ints(band(tip_total / days)),
        "presses": band(arm.presses.astype(float)),
        "doses_given": band(arm.given.astype(float)),
        "reservoir_end_nl": _ints(band(arm.reservoir_nl[:, -1])),
        "refill": _dates(f, arm),
        "alive_at_end_fraction": _num(float(np.mean(arm.alive[:, -1]))),
        "weekly": weeks,
    }


def _ints(b: dict[str, float | None]) -> dict[str, int | None]:
    return {k: None if v is None else round(v) for k, v in b.items()}


def _series(arm: Arm) -> dict[str, list[float | None]]:
    from thecal.sim.forecast import BAND

    out: dict[str, list[float | None]] = {}
    with np.errstate(all="ignore"):
        for name, values in (
            ("pain", arm.pain),
            ("toxicity", arm.toxicity),
            ("sedation_severity", arm.severity["sedation"]),
            ("tip_ng", arm.tip_ng),
            ("reservoir_nl", arm.reservoir_nl),
        ):
            kept = np.where(np.isnan(values).all(axis=0), 0.0, 1.0)
            low, mid, high = np.nanpercentile(values, [BAND[0], 50, BAND[1]], axis=0)
            for label, row in (("median", mid), (f"p{BAND[0]}", low), (f"p{BAND[1]}", high)):
                out[f"{name}_{label}"] = [None if k == 0.0 else _num(v) for v, k in zip(row, kept, strict=True)]
    return out


def json_data(f: Forecast) -> dict[str, Any]:
    """The forecast's documented JSON document."""
    from thecal.sim.forecast import ARMS, BAND, FORMAT

    current, proposed = f.arms["current"], f.arms["proposed"]
    mc, mp = horizon_means(current), horizon_means(proposed)
    p = f.patient
    return {
        "format": FORMAT,
        "scenario": {"name": f.scenario.name, "source": f.scenario.source, "start_wall_ms": f.scenario.start_wall_ms},
        "at_ms": f.at_ms,
        "at": timeline_time(f.scenario.start_wall_ms, f.at_ms),
        "weeks": f.weeks,
        "seed": f.seed,
        "draws": f.draws,
        "observe_ms": f.observe_ms,
        "band_percentiles": list(BAND),
        "drug": f.drug,
        "patient": {
            "indication": p.indication,
            "entry_pain": _num(p.entry_pain),
            "prior_oral_mme_mg_per_day": _num(p.prior_oral_mme_mg_per_day),
            "weight_kg": _num(p.weight_kg),
            "tip_to_pain_cm": _num(p.tip_to_pain_cm),
        },
        "proposal": {
            "text": f.proposal.text,
            "override_reason": f.proposal.override_reason,
            "settings": [c.to_dict() for c in f.plan.settings if c.changed],
            "warnings": [w.to_dict() for w in f.plan.warnings],
            "overridden": [x.to_dict() for x in f.plan.findings if x.overridden],
        },
        "arms": {arm: _arm_data(f, f.arms[arm]) for arm in ARMS},
        "difference": {
            "pain": band(mp["pain"] - mc["pain"]),
            "toxicity": band(mp["toxicity"] - mc["toxicity"]),
            "sedation_severity": band(mp["sedation"] - mc["sedation"]),
            "tip_ng": _ints(band(proposed.tip_ng[:, -1] - current.tip_ng[:, -1])),
        },
        "series": {"t_ms": [int(t) for t in current.t_ms], **{arm: _series(f.arms[arm]) for arm in ARMS}},
    }
