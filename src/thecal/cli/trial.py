"""`thecal trial`: run an in-silico trial from a protocol file and print its table per arm, or its JSON.

Text for people: per arm, each endpoint with the number observed, the number
missing, the mean (or the proportion, in %) with its 95 % confidence interval
and its unit; then each published target beside the simulated value, inside or
outside its tolerance; then how the run went. `--json` prints the document of
docs/trials.md and nothing else on stdout, the same bytes for the same protocol
and seed whatever the engine or the number of workers. A progress line is
drawn on stderr while patients run, when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from thecal.trials.reduce import EndpointSummary
    from thecal.trials.run import TargetCheck, TrialResult

ENGINES = ("serial", "processes", "dask")  # thecal.trials.engines.ENGINES, kept here so that --help imports nothing


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `trial` command."""
    p = subparsers.add_parser(
        "trial",
        help="run an in-silico trial: virtual patients per arm, with confidence intervals",
        description="Play a trial protocol (a TOML file: population, arms, endpoints, published targets; format in "
        "docs/trials.md) out over virtual patients, on local processes, in this process or on a Dask cluster, and "
        "print per arm each endpoint with its 95 % confidence interval and the published targets beside them.",
    )
    p.add_argument("protocol", metavar="FILE.toml", help="path of the trial protocol file")
    p.add_argument("--json", action="store_true", help="print the result as JSON (format in docs/trials.md)")
    p.add_argument("--plot", metavar="DIR", help="also draw pain, toxicity, doses and survival per arm as PNG files")
    p.add_argument(
        "--engine",
        choices=ENGINES,
        help="where patients run: serial (this process), processes (local, the default) or dask "
        "(the default when --scheduler is given)",
    )
    p.add_argument("--workers", metavar="N", help="worker processes (default: one per core of this machine)")
    p.add_argument(
        "--scheduler", metavar="ADDRESS", help="a Dask scheduler's address, like tcp://10.0.0.5:8786 (dask engine)"
    )
    p.add_argument("--patients", metavar="N", help="patients per arm, to run a smaller trial than the file's")
    p.add_argument("--seed", metavar="S", help="the trial's seed instead of the file's")
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Run the trial the command line names."""
    import dataclasses

    from thecal.trials.engines import MAX_WORKERS
    from thecal.trials.protocol import MAX_PATIENTS, load_protocol, scaled
    from thecal.trials.run import run_trial
    from thecal.units import Count, count

    workers_range = Count("workers", 1, MAX_WORKERS, "more processes than any machine here runs at once")
    patients_range = Count("patients per arm", 1, MAX_PATIENTS, "the most a protocol file may hold")
    seed_range = Count("seed", 0, 2**63 - 1, "the largest seed a protocol file may hold")
    workers = None if args.workers is None else count(args.workers, "--workers", workers_range)
    patients = None if args.patients is None else count(args.patients, "--patients", patients_range)
    seed = None if args.seed is None else count(args.seed, "--seed", seed_range)
    protocol = load_protocol(Path(args.protocol))
    if patients is not None:
        protocol = scaled(protocol, patients)
    if seed is not None:
        protocol = dataclasses.replace(protocol, seed=seed)
    engine = args.engine or ("dask" if args.scheduler else "processes")
    bar = ProgressLine(sys.stderr, protocol.name) if sys.stderr.isatty() else None
    try:
        result = run_trial(protocol, engine, workers, args.scheduler, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        sys.stdout.write(result.to_json_text() + "\n")
    else:
        print(render(result))
    if args.plot:
        from thecal.trials.plots import plot_trial

        written = plot_trial(result, Path(args.plot))
        if not args.json:
            print(f"\nPlots written to {args.plot}: {', '.join(path.name for path in written)}")
    return 0


class ProgressLine:
    """A one-line progress bar on a terminal, redrawn in place: patients done of all, and the percentage."""

    WIDTH = 30

    def __init__(self, stream: TextIO, name: str):
        self.stream = stream
        self.name = name
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        """Redraw the line for `done` of `total` patients."""
        share = done / total if total else 1.0
        filled = round(share * self.WIDTH)
        self.stream.write(
            f"\rtrial {self.name}: [{'#' * filled}{' ' * (self.WIDTH - filled)}] {done}/{total} patients ({share:.0%})"
        )
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """Clear the line, so that what follows starts on a clean one."""
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()


def endpoint_unit(name: str) -> str:
    """The unit of a numeric endpoint, from its name as the journey writes it (thecal.trials.outcome)."""
    for part, unit in _UNITS:
        if part in name:
            return unit
    return ""


# The first part of an endpoint's name that matches gives its unit (names in thecal.trials.outcome).
_UNITS = (
    ("mcg_day", "mcg/day"),
    ("mg_day", "mg/day"),
    ("toxicity", "sum of grades"),
    ("pain", "0–10"),
    ("death_day", "day of the trial"),
    ("ptm_presses", "presses"),
    ("ptm_doses", "doses"),
    ("device_events", "events"),
)


def _interval(ci: list[float] | None, percent: bool) -> str:
    if ci is None:
        return "–"
    scale, digits = (100.0, 1) if percent else (1.0, 2)
    return f"{ci[0] * scale:.{digits}f} to {ci[1] * scale:.{digits}f}"


def render(result: TrialResult) -> str:
    """The trial as text: a table per arm, the published targets, and how the run went."""
    run = result.run
    lines = [
        f"Trial {result.protocol} (seed {result.seed}): {run.patients} patients over {result.horizon_days} days",
    ]
    kinds: dict[tuple[str, str], str] = {}
    for arm_name in result.arm_order:
        arm = result.arms.get(arm_name)
        if arm is None:
            continue
        lines += ["", f"Arm {arm_name} ({arm['patients']} patients)"]
        rows: list[tuple[str, ...]] = [("endpoint", "n", "missing", "value", "95 % CI", "unit")]
        for name, summary in arm["endpoints"].items():
            kinds[arm_name, name] = summary["kind"]
            rows.append(_endpoint_row(name, summary))
        lines += _table(rows, right=(1, 2, 3))
    if result.targets:
        lines += ["", "Published targets"]
        target_rows: list[tuple[str, ...]] = [("arm", "endpoint", "simulated", "95 % CI", "published", "tolerance", "")]
        target_rows += [_target_row(t, kinds.get((t.arm, t.endpoint)) == "proportion") for t in result.targets]
        lines += _table(target_rows, right=(2, 4, 5))
        inside = sum(t.inside for t in result.targets)
        lines.append(f"  {inside} of {len(result.targets)} targets inside their tolerance")
    speed = f" ({run.patient_days / run.cpu_seconds:,.0f} patient-days per CPU-second)" if run.cpu_seconds > 0 else ""
    lines += [
        "",
        f"Run: {run.engine} engine, {_count(run.workers, 'worker')}, {_count(run.chunks, 'chunk')} of up to "
        f"{_count(run.chunk_size, 'patient')}; {run.wall_seconds:.1f} s, {run.cpu_seconds:.1f} CPU-s in the workers"
        f"{speed}",
    ]
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _endpoint_row(name: str, summary: EndpointSummary) -> tuple[str, ...]:
    n, missing = str(summary["n"]), str(summary["missing"])
    if summary["kind"] == "proportion":
        value = summary["proportion"]
        shown = "–" if value is None else f"{value * 100:.1f}"
        return (name, n, missing, shown, _interval(summary["ci95"], True), "%")
    if summary["kind"] == "number":
        mean = "–" if summary["mean"] is None else f"{summary['mean']:.2f}"
        return (name, n, missing, mean, _interval(summary["ci95"], False), endpoint_unit(name))
    return (name, n, missing, "–", "–", "not observed")


def _target_row(target: TargetCheck, percent: bool) -> tuple[str, ...]:
    scale, digits, unit = (100.0, 1, " %") if percent else (1.0, 2, "")
    simulated = "–" if target.simulated is None else f"{target.simulated * scale:.{digits}f}{unit}"
    interval = "–" if target.ci95 is None else _interval(list(target.ci95), percent) + unit
    return (
        target.arm,
        target.endpoint,
        simulated,
        interval,
        f"{target.published * scale:.{digits}f}{unit}",
        f"± {target.tolerance * scale:.{digits}f}{unit}",
        "inside" if target.inside else "OUTSIDE",
    )


def _table(rows: list[tuple[str, ...]], right: tuple[int, ...]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        out.append(("  " + "  ".join(cells)).rstrip())
    return out
