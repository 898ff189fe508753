"""A picture of a simulation: reservoir calculated against actual, flow, and drug at the catheter tip."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no screen is needed or assumed

import matplotlib.pyplot as plt

from thecal.sim.record import SimulationResult
from thecal.units import MS_PER_DAY, NG_PER_MG, NL_PER_ML


def plot_result(result: SimulationResult, path: Path) -> None:
    """Draw the result's time series into a PNG file."""
    data = result.to_json_data()
    series = data["series"]
    days = [t / MS_PER_DAY for t in series["t_ms"]]
    fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    ax = axes[0]
    ax.plot(days, [v / NL_PER_ML for v in series["reservoir_calculated_nl"]], label="calculated by the pump")
    ax.plot(days, [v / NL_PER_ML for v in series["reservoir_actual_nl"]], "--", label="actual")
    ax.set_ylabel("reservoir (mL)")
    for alarm in data["alarms"]:
        ax.axvline(alarm["raised_ms"] / MS_PER_DAY, color="red" if alarm["critical"] else "orange", lw=0.8)
    ax.legend(loc="upper right")
    ax.set_title(f"{data['scenario']['name']} — pump {data['scenario']['model']}")
    ax = axes[1]
    ax.step(days, [v / NL_PER_ML for v in series["flow_nl_per_day"]], where="post")
    ax.set_ylabel("flow at sample (mL/day)")
    ax = axes[2]
    for key, values in sorted(series.items()):
        if key.startswith("tip_cumulative_ng:"):
            ax.plot(days, [v / NG_PER_MG for v in values], label=f"{key.split(':', 1)[1]} at catheter tip")
        elif key.startswith("pump_cumulative_ng:"):
            ax.plot(days, [v / NG_PER_MG for v in values], ":", label=f"{key.split(':', 1)[1]} left the pump")
    ax.set_ylabel("cumulative drug (mg)")
    ax.set_xlabel("days since start")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
