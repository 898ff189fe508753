"""Test helpers: the command line aimed at one running pump daemon, and what each run did."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from tests.daemon.daemon_rig import RunningPump

from thecal.cli import main


@dataclass(frozen=True)
class Ran:
    """What one command line did: its exit code and what it printed."""

    code: int
    out: str
    err: str


@dataclass
class Cli:
    """The `thecal` command line, aimed at one running pump."""

    pump: RunningPump
    capsys: pytest.CaptureFixture[str]

    def __call__(self, group: str, command: str, *args: str) -> Ran:
        """Run `thecal GROUP COMMAND --state … --port … ARGS` in this process."""
        self.capsys.readouterr()
        state = ["--state", str(self.pump.layout.root), "--port", str(self.pump.port)]
        code = main([group, command, *state, *args])
        captured = self.capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    def status(self) -> dict[str, object]:
        """The pump's own status, read beside the command line."""
        return self.pump.daemon.status()

    def pass_days(self, days: float) -> None:
        """Let pump time run on (one pump day is one real minute at the rig's acceleration)."""
        self.pump.time.now_s += 60 * days
