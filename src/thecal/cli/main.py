"""The `thecal` command: one entry point, one subcommand per part of the system.

A command line starts at once: a run imports only the module of the command
it names, and that module imports what the command uses when it runs. The
other commands are known here by their name and help alone, which is all that
`thecal --help` and `thecal --version` need.

Whatever happens, a command line ends with a message and a documented exit
code (docs/inputs.md), never a traceback: a mistake in what was typed or in a
file is exit 2 naming the field; a refusal thecal meant is exit 1; a reader
that went away (`thecal … | head`) is 141, Ctrl-C 130; and a defect of thecal
itself is 70, with one line saying so (set THECAL_TRACEBACK=1 to see where).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from importlib import import_module

from thecal import __version__

EXIT_REFUSED = 1  # a refusal thecal meant, not about what was typed (the pump refused, a record is damaged)
EXIT_INPUT = 2
EXIT_INTERNAL = 70  # a defect of thecal itself (EX_SOFTWARE of sysexits.h)
EXIT_INTERRUPTED = 130  # as a shell reports a process ended by Ctrl-C
EXIT_PIPE_CLOSED = 141  # as a shell reports a process ended by SIGPIPE
# The options that name a file or a structure a person wrote, for an error that can only say "too deep" or "too
# large" about it: (the attribute of the parsed command line, the field as the command line writes it).
_WRITTEN_INPUTS = (("scenario", "scenario"), ("pump_model", "--pump-model"), ("model", "--model"))
# The options that name a path, for a file the system refuses to open, write or create.
_PATHS = (("scenario", "scenario"), ("plot", "--plot"), ("state", "--state"), ("device", "--device"))

# Each command: the module that registers it, and the help it registers with (checked when all are built).
COMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("thecal.cli.simulate", "run a scenario file against a virtual pump"),
    "calc": (
        "thecal.cli.calc",
        "dose calculators: flow, dose, conversions, refill, priming, bridge, titration, trial, demand bolus",
    ),
    "pump": ("thecal.cli.pump", "run a virtual pump daemon and program it as a clinician programmer"),
    "ptm": ("thecal.cli.ptm", "the patient's therapy manager: an extra dose, and the patient's view"),
    "clinic": (
        "thecal.cli.clinic",
        "the clinician programmer web app: serve it, its database and users, or the demo clinic",
    ),
    "trial": ("thecal.cli.trial", "run an in-silico trial: virtual patients per arm, with confidence intervals"),
    "forecast": ("thecal.cli.forecast", "what if: the current prescription against a proposed one, in the weeks ahead"),
}


def _named_command(argv: Sequence[str]) -> str | None:
    """The command a command line names: its first word that is not an option (the top level takes no values)."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser. For a command line `argv`, only the command it names is built in full, the others by
    name and help; without one, every command in full (for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="thecal",
        description="thecal: an open implanted intrathecal drug delivery system (pump, drugs, telemetry, simulation).",
    )
    parser.add_argument("--version", action="version", version=f"thecal {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    named = _named_command(argv) if argv is not None else None
    for name, (module, help_text) in COMMANDS.items():
        if argv is None or name == named:
            import_module(module).register(subparsers)
        else:
            subparsers.add_parser(name, help=help_text)
    if argv is None:
        registered = {a.dest: a.help for a in subparsers._choices_actions}
        if registered != {name: help_text for name, (_, help_text) in COMMANDS.items()}:
            raise RuntimeError(f"the commands' help in thecal.cli.main differs from their modules': {registered}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (2 for input a person must correct)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit:  # --help, --version, or a usage error argparse explains (exit 2)
        _flush_stdout()
        raise
    if not hasattr(args, "func"):
        parser.print_help()
        return EXIT_PIPE_CLOSED if _flush_stdout() else EXIT_INPUT
    return run(args)


def run(args: argparse.Namespace) -> int:
    """Run a parsed command; every error it meets becomes one message and its documented exit code."""
    # Imported once a command runs: the errors a person can act on.
    from thecal.errors import InputError, ThecalError

    try:
        code = int(args.func(args))
        # A reader that went away shows here, where it is handled, rather than as a complaint at exit.
        return EXIT_PIPE_CLOSED if _flush_stdout() else code
    except InputError as error:
        return _say(str(error), EXIT_INPUT)
    except BrokenPipeError:
        _reader_gone()
        return EXIT_PIPE_CLOSED
    except KeyboardInterrupt:
        return _say("interrupted", EXIT_INTERRUPTED)
    except RecursionError:
        # Only a structure nested thousands deep (a TOML or JSON file) exhausts Python's stack.
        field, value = _written_input(args)
        return _say(
            f"{field} = {value!r}: is nested too deeply to be read; what to do: write its lists and tables at most a "
            "few levels deep, as docs/scenario.md shows",
            EXIT_INPUT,
        )
    except MemoryError:
        field, value = _written_input(args)
        return _say(f"{field} = {value!r}: is too large to be read; what to do: give a smaller one", EXIT_INPUT)
    except ThecalError as error:
        if _nothing_listening(error):  # a wrong --port, or no daemon: the frame never left
            return _say(f"--port: {error}", EXIT_INPUT)
        return _say(str(error), EXIT_REFUSED)  # a refusal that is not about what was typed: the pump's, a record's
    except OSError as error:
        if error.filename is None:
            return _internal(error)
        return _say(
            f"{_path_option(args, error.filename)} = {str(error.filename)!r}: cannot be used "
            f"({error.strerror or error}); what to do: give a path this user may read and write",
            EXIT_INPUT,
        )
    except Exception as error:
        return _internal(error)


def _nothing_listening(error: Exception) -> bool:
    """Whether no pump answered at the address (imported here: most commands never speak telemetry)."""
    from thecal.telemetry.errors import NothingListening

    return isinstance(error, NothingListening)


def _internal(error: Exception) -> int:
    """A defect of thecal itself: one line saying so, unless asked for the traceback."""
    if os.environ.get("THECAL_TRACEBACK"):
        raise error
    return _say(
        f"internal error ({type(error).__name__}: {error}); what to do: this is a defect of thecal, not of what "
        "you typed: report it with the command line (set THECAL_TRACEBACK=1 to see where it happened)",
        EXIT_INTERNAL,
    )


def _path_option(args: argparse.Namespace, filename: object) -> str:
    """The option that named a path the system refused (a file inside it counts), or "path"."""
    for attribute, option in _PATHS:
        given = getattr(args, attribute, None)
        # The path itself, a file inside it, or a directory on the way to it.
        if given is not None and (str(filename).startswith(str(given)) or str(given).startswith(str(filename))):
            return option
    return "path"


def _flush_stdout() -> bool:
    """Flush what was printed; True when the reader went away (`thecal … | head`), which is then handled."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _reader_gone()
        return True
    return False


def _reader_gone() -> None:
    """Say nothing more to a reader that went away, and keep Python from complaining about it at exit."""
    with contextlib.suppress(OSError, ValueError):  # a stdout without a file (a test's capture) has nothing to close
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _say(message: str, code: int) -> int:
    """Print one line for a person on stderr and return the exit code."""
    with contextlib.suppress(OSError, ValueError):  # stderr itself is gone: the exit code still tells
        print(f"thecal: {message}", file=sys.stderr, flush=True)
    return code


def _written_input(args: argparse.Namespace) -> tuple[str, object]:
    """The file or structure the command line names, for an error that can only be about its whole."""
    for attribute, field in _WRITTEN_INPUTS:
        if getattr(args, attribute, None) is not None:
            return field, str(getattr(args, attribute))
    return "input", None


if __name__ == "__main__":
    sys.exit(main())
