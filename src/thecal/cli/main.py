"""The `thecal` command: one entry point, one subcommand per part of the system."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from thecal import __version__
from thecal.errors import InputError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    from thecal.cli import calc as calc_cli
    from thecal.cli import pump as pump_cli
    from thecal.cli import simulate as sim_cli

    parser = argparse.ArgumentParser(
        prog="thecal",
        description="thecal: an open implanted intrathecal drug delivery system (pump, drugs, telemetry, simulation).",
    )
    parser.add_argument("--version", action="version", version=f"thecal {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    sim_cli.register(subparsers)
    calc_cli.register(subparsers)
    pump_cli.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (2 for input a person must correct)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except InputError as error:
        print(f"thecal: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
