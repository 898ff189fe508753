"""The calibration to Smith 2002 and Hamza 2012: each target, the fitted parameters, the simulated result.

Run `python -m thecal.trials.calibration [--n N] [PROTOCOL.toml ...]`: every
protocol (default: the two shipped in examples/trials/) is run as `thecal
trial` runs it (`run_trial`, serial engine), and each published target is
printed beside the simulated value, its 95 % confidence interval and whether
it lies within the target's tolerance: the trial's own comparison
(`thecal.trials.run.compare`; Wilson intervals for proportions, t-intervals
for means, docs/trials.md). The fitted parameters are listed
from the parameter files and the protocol files, where each is marked
"fitted to". docs/calibration.md holds the results.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

from thecal.trials.protocol import Protocol, load_protocol, scaled
from thecal.trials.run import TargetCheck, run_trial

EXAMPLES = Path(__file__).parents[3] / "examples" / "trials"
DEFAULT_PROTOCOLS = ("smith2002.toml", "hamza2012.toml")


def target_checks(protocol: Protocol) -> list[TargetCheck]:
    """Each published target of the protocol beside the simulated value, from a serial run of the whole trial."""
    return list(run_trial(protocol, engine="serial").targets)


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


def report(protocol: Protocol, checks: Sequence[TargetCheck]) -> str:
    """The table a person reads: target, simulated value, 95 % CI, within tolerance or not."""
    sizes = ", ".join(f"{a.name} {a.n_patients}" for a in protocol.arms)
    header = f"  {'arm':<10} {'endpoint':<24} {'target':>8} {'±':>5} {'simulated':>10} {'95 % CI':>17}  met"
    lines = [f"{protocol.name}  (seed {protocol.seed}, n per arm: {sizes})", header]
    for c in checks:
        sim = "—" if c.simulated is None else f"{c.simulated:.3f}"
        ci = "—" if c.ci95 is None else f"{c.ci95[0]:.3f}–{c.ci95[1]:.3f}"
        lines.append(
            f"  {c.arm:<10} {c.endpoint:<24} {c.published:>8.3f} {c.tolerance:>5.2f} {sim:>10} {ci:>17}  "
            f"{'yes' if c.inside else 'NO'}"
        )
    met = sum(c.inside for c in checks)
    lines.append(f"  {met} of {len(checks)} targets within tolerance")
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
        print(report(protocol, target_checks(protocol)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
