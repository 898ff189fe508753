"""A picture of a forecast: pain, side effects, drug at the tip and the reservoir, current against proposed, with the
10-90 % band of the patient's parameter uncertainty."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no screen is needed or assumed

import matplotlib.pyplot as plt

from thecal.sim.forecast import ARMS, BAND, Forecast
from thecal.units import MS_PER_DAY, NG_PER_MG, NL_PER_ML

COLOURS = {"current": "tab:blue", "proposed": "tab:orange"}
STYLES = {"current": "-", "proposed": "--"}  # not by colour alone


def plot_forecast(f: Forecast, directory: Path) -> Path:
    """Draw the forecast into DIR/forecast.png and return the path."""
    data = f.to_json_data()
    series = data["series"]
    days = [t / MS_PER_DAY for t in series["t_ms"]]
    low, high = f"p{BAND[0]}", f"p{BAND[1]}"
    fig, axes = plt.subplots(4, 1, figsize=(10, 12), sharex=True)
    panels: list[tuple[str, str, float]] = [
        ("pain", "pain felt (0-10)", 1.0),
        ("sedation_severity", "sedation\n(severity 0-4)", 1.0),
        ("tip_ng", f"{data['drug']} at the tip\nsince the fork (mg)", 1.0 / NG_PER_MG),
        ("reservoir_nl", "reservoir, calculated\nby the pump (mL)", 1.0 / NL_PER_ML),
    ]
    for ax, (key, label, scale) in zip(axes, panels, strict=True):
        for arm in ARMS:
            s = series[arm]
            mid = [_scaled(v, scale) for v in s[f"{key}_median"]]
            name = f"{arm}: {data['arms'][arm]['prescription']}"
            ax.plot(days, mid, STYLES[arm], color=COLOURS[arm], label=name)
            ax.fill_between(
                days,
                [_scaled(v, scale) for v in s[f"{key}_{low}"]],
                [_scaled(v, scale) for v in s[f"{key}_{high}"]],
                color=COLOURS[arm],
                alpha=0.2,
                linewidth=0,
            )
        ax.set_ylabel(label)
    axes[0].set_ylim(0, 10)
    axes[1].set_ylim(0, 4)
    alarm = data["arms"]["current"]["refill"]["low_reservoir_alarm_nl"] / NL_PER_ML
    axes[3].axhline(alarm, color="red", lw=0.8, ls=":", label=f"low reservoir alarm ({alarm:g} mL)")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[3].legend(loc="lower left", fontsize=8)
    axes[0].set_title(
        f"What if, from {data['at']} of {data['scenario']['name']!r}\n"
        f"median and {BAND[0]}-{BAND[1]} % band of {data['draws']} draws of the patient's uncertain parameters",
        fontsize=10,
    )
    axes[-1].set_xlabel("days since the start of the scenario")
    fig.tight_layout()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "forecast.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _scaled(value: Any, scale: float) -> float:
    return float("nan") if value is None else float(value) * scale
