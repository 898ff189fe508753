"""Every command line of thecal, and its text for people."""

from thecal.cli.main import main

__all__ = ["main"]
