"""The calibration to Smith 2002 and Hamza 2012: each target, the fitted parameters, the simulated result.

Run `python -m thecal.trials.calibration [--n N] [PROTOCOL.toml ...]`: every
protocol (default: the two shipped in examples/trials/) is run patient by
patient in a plain loop (the journey is the same one the trial engines run),
and each published target is printed beside the simulated mean, its 95 %
confidence interval and whether the mean lies within the target's tolerance.
Proportions (yes/no endpoints) get the Wilson score interval, which stays
within 0-1; means get mean ± 1.96 SD/√n. The fitted parameters are listed
from the parameter files and the protocol files, where each is marked
"fitted to". docs/calibration.md holds the results.
"""

from __future__ import annotations

import argparse
import math
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from statistics import fmean, stdev

from thecal.trials.journey import simulate_patient
from thecal.trials.outcome import PatientOutcome
from thecal.trials.protocol import Protocol, Target, load_protocol, scaled

EXAMPLES = Path(__file__).parents[3] / "examples" / "trials"
DEFAULT_PROTOCOLS = ("smith2002.toml", "hamza2012.toml")


@dataclass(frozen=True)
class TargetResult:
    """One published figure beside the simulated mean and its confidence interval."""

    target: Target
    mean: float | None
    low: float | None
    high: float | None
    n: int

    @property
    def met(self) -> bool:
        """Whether the simulated mean lies within the target's tolerance."""
        return self.mean is not None and abs(self.mean - self.target.value) <= self.target.tolerance + 1e-12


def run_arms(protocol: Protocol) -> dict[str, list[PatientOutcome]]:
    """Every patient of every arm, simulated in a plain loop."""
    return {a.name: [simulate_patient(protocol, a.name, i) for i in range(a.n_patients)] for a in protocol.arms}


Z95 = 1.959963984540054  # the two-sided 95 % normal quantile


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (bounds stay within 0-1, also at 0 or n successes)."""
    if n <= 0:
        raise ValueError("a proportion needs at least one patient")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def compare(protocol: Protocol, outcomes: dict[str, list[PatientOutcome]]) -> list[TargetResult]:
    """Each target of the protocol beside the simulated mean of its endpoint (patients with a value)."""
    out = []
    for t in protocol.targets:
        raw = [v for o in outcomes[t.arm] if (v := o.endpoints.get(t.endpoint)) is not None]
        if not raw:
            out.append(TargetResult(t, None, None, None, 0))
            continue
        values = [float(v) for v in raw]
        m = fmean(values)
        if all(isinstance(v, bool) for v in raw):
            low, high = wilson(sum(1 for v in raw if v), len(raw))
        else:
            half = Z95 * stdev(values) / math.sqrt(len(values)) if len(values) > 1 else math.inf
            low, high = m - half, m + half
        out.append(TargetResult(t, m, low, high, len(values)))
    return out


def fitted_parameters() -> list[tuple[str, str, object, str]]:
    """Every figure of the patient's parameter files whose source says it was fitted: (file, key, value, source)."""
    found = []
    folder = resources.files("thecal.patient.params")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        for key, value, source in _figures(data, ""):
            if "fitted to" in source:
                found.append((entry.name, key, value, source))
    return found


def protocol_fitted(path: Path) -> list[tuple[str, str]]:
    """The lines of a protocol file whose comment says the value was fitted: (setting, comment)."""
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        setting, _, comment = line.partition("#")
        if "fitted to" in comment and setting.strip():
            found.append((setting.strip(), comment.strip()))
    return found


def _figures(data: dict[str, object], prefix: str) -> Iterable[tuple[str, object, str]]:
    for key, value in data.items():
        if isinstance(value, dict):
            if "value" in value and "source" in value:
                yield f"{prefix}{key}", value["value"], str(value["source"])
                spread = next((k for k in ("sd", "cv") if k in value), None)
                if spread is not None:
                    yield f"{prefix}{key}.{spread}", value[spread], str(value.get("variability_source", ""))
            else:
                yield from _figures(value, f"{prefix}{key}.")


def report(protocol: Protocol, results: Sequence[TargetResult]) -> str:
    """The table a person reads: target, simulated mean, 95 % CI, within tolerance or not."""
    sizes = ", ".join(f"{a.name} {a.n_patients}" for a in protocol.arms)
    header = f"  {'arm':<10} {'endpoint':<24} {'target':>8} {'±':>5} {'simulated':>10} {'95 % CI':>17} {'n':>4}  met"
    lines = [f"{protocol.name}  (seed {protocol.seed}, n per arm: {sizes})", header]
    for r in results:
        t = r.target
        sim = "—" if r.mean is None else f"{r.mean:.3f}"
        ci = "—" if r.low is None or r.high is None else f"{r.low:.3f}–{r.high:.3f}"
        lines.append(
            f"  {t.arm:<10} {t.endpoint:<24} {t.value:>8.3f} {t.tolerance:>5.2f} {sim:>10} {ci:>17} {r.n:>4}  "
            f"{'yes' if r.met else 'NO'}"
        )
    met = sum(r.met for r in results)
    lines.append(f"  {met} of {len(results)} targets within tolerance")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the calibration trials and print each target, the fitted parameters and the result."""
    parser = argparse.ArgumentParser(prog="python -m thecal.trials.calibration", description=__doc__.splitlines()[0])
    parser.add_argument("protocols", nargs="*", type=Path, help="protocol files (default: the shipped two)")
    parser.add_argument("--n", type=int, default=None, help="patients per arm (default: the protocol's own sizes)")
    args = parser.parse_args(argv)
    paths = args.protocols or [EXAMPLES / name for name in DEFAULT_PROTOCOLS]
    print("Fitted parameters (params/*.toml):")
    for file, key, value, source in fitted_parameters():
        print(f"  {file}:{key} = {value}   ({source})")
    for path in paths:
        protocol = load_protocol(path)
        if args.n is not None:
            protocol = scaled(protocol, args.n)
        print()
        print(f"Fitted in {path.name}:")
        for setting, comment in protocol_fitted(path):
            print(f"  {setting}   ({comment.lstrip('# ')})")
        print(report(protocol, compare(protocol, run_arms(protocol))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
