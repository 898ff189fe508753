"""`thecal simulate`: run a scenario file and print, save or plot what happened."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `simulate` command."""
    p = subparsers.add_parser(
        "simulate",
        help="run a scenario file against a virtual pump",
        description="Run a scenario (a TOML timeline of fills, programs, boluses, refills, MRI scans and faults) "
        "against a virtual pump and report alarms, drug delivered at the pump and at the catheter tip, and the "
        "calculated against the actual reservoir. The file format is in docs/scenario.md.",
    )
    p.add_argument("scenario", help="path of the scenario .toml file")
    p.add_argument("--json", action="store_true", help="print the result as JSON (format in docs/scenario.md)")
    p.add_argument("--plot", metavar="FILE.png", help="also draw reservoir and delivery over time to this PNG file")
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Run the scenario named on the command line."""
    from thecal.sim.runner import run
    from thecal.sim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    result = run(scenario)
    if args.json:
        # The text json.dumps(indent=1, sort_keys=True) gives, made faster and written at once.
        sys.stdout.write(result.to_json_text() + "\n")
    else:
        print(result.summary())
    if args.plot:
        from thecal.sim.plot import plot_result

        path = Path(args.plot)
        path.parent.mkdir(parents=True, exist_ok=True)
        plot_result(result, path)
        if not args.json:
            print(f"\nPlot written to {path}")
    return 0
