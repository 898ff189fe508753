"""The `thecal` command: one entry point, one subcommand per part of the system."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from thecal import __version__
from thecal.errors import InputError
from thecal.telemetry.errors import NothingListening

EXIT_INPUT = 2
EXIT_PIPE_CLOSED = 141  # as a shell reports a process ended by SIGPIPE


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    from thecal.cli import calc as calc_cli
    from thecal.cli import ptm as ptm_cli
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
    ptm_cli.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (2 for input a person must correct)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return EXIT_INPUT
    try:
        return int(args.func(args))
    except InputError as error:
        print(f"thecal: {error}", file=sys.stderr)
        return EXIT_INPUT
    except NothingListening as error:  # a wrong --port, or no daemon: the frame never left
        print(f"thecal: --port: {error}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:
        # The reader went away (`thecal … | head`): say nothing more, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_PIPE_CLOSED


if __name__ == "__main__":
    sys.exit(main())
