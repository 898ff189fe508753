"""Pictures of a trial: each weekly series (pain, toxicity, intrathecal dose, oral dose, survival) per arm.

One PNG per series, one line per arm, week on the x axis: the mean of the
patients observed that week (a patient who died or left the trial is not
observed), so each picture says how many were observed at the first and last
week. matplotlib is imported here only, when a plot is asked for, and draws
with its Agg canvas into files: no screen and no pyplot state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from thecal.trials.run import TrialResult


@dataclass(frozen=True)
class SeriesLook:
    """How one weekly series is drawn: its file, its title and its axis with the unit."""

    file: str
    title: str
    axis: str
    scale: float = 1.0  # survival is drawn in % of the patients


# The weekly series the journey reports (thecal.trials.outcome.PatientOutcome.weekly).
LOOKS = {
    "pain": SeriesLook("pain.png", "Pain", "mean pain score (0–10)"),
    "toxicity": SeriesLook("toxicity.png", "Toxicity", "mean composite toxicity (sum of grades)"),
    "it_dose_mg_day": SeriesLook("it_dose.png", "Intrathecal dose", "mean intrathecal dose (mg/day)"),
    "oral_mg_day": SeriesLook("oral_dose.png", "Oral opioid dose", "mean oral morphine equivalent (mg/day)"),
    "alive": SeriesLook("survival.png", "Survival", "alive (% of the patients observed)", scale=100.0),
}


def look(name: str) -> SeriesLook:
    """How a series is drawn; a series without a look of its own is drawn under its name."""
    return LOOKS.get(name, SeriesLook(f"{name}.png", name, name))


def plot_trial(result: TrialResult, directory: Path) -> list[Path]:
    """Draw every weekly series of the trial into PNG files in `directory`; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    names = sorted({name for arm in result.arms.values() for name in arm["weekly"]})
    written = []
    for name in names:
        path = directory / look(name).file
        _draw(result, name, path)
        written.append(path)
    return written


def _draw(result: TrialResult, name: str, path: Path) -> None:
    """One series, one line per arm, to a PNG file."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    style = look(name)
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for arm in result.arm_order:
        series = result.arms[arm]["weekly"].get(name) if arm in result.arms else None
        if series is None:
            continue
        means, counts = series["mean"], series["n"]
        weeks = [week for week, mean in enumerate(means) if mean is not None]
        values = [mean * style.scale for mean in means if mean is not None]
        if not weeks:
            continue
        label = f"{arm} (n = {counts[weeks[0]]} at week {weeks[0]}, {counts[weeks[-1]]} at week {weeks[-1]})"
        axes.plot(weeks, values, marker="o", markersize=3, label=label)
    axes.set_title(f"{style.title} — {result.protocol} (seed {result.seed})")
    axes.set_xlabel("week of the trial")
    axes.set_ylabel(style.axis)
    if name == "alive":
        axes.set_ylim(0, 105)
    elif name in ("pain", "toxicity", "it_dose_mg_day", "oral_mg_day"):
        axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    figure.savefig(path, dpi=100)
