"""The command-line door: `thecal pump …` commands, in this process, against a live pump daemon.

The daemon serves a pump made by `thecal pump init`'s own code on loopback TCP
and the programmer made with it is paired, as in docs/daemon.md. The daemon's
clock is held still and moved to each entry's time to the millisecond, so the
pump is asked at the same pump time as at the other doors.

A command is asked three ways about the last entry: as a person reads it (the
plan on the terminal, nothing sent), as a script reads it (`--json`), with and
without a physician's `--reason`; an allowed plan is then sent with `--yes`
and must end done and verified (exit 0).
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from proof_doors import ALLOWED, HARD, SOFT, Answer, verdict_of
from proof_timeline import CATHETER_NL, MODEL, REASON, START_WALL_MS, Entry, Timeline, clock
from tests.daemon.daemon_rig import RunningPump, start

from thecal.cli.main import main
from thecal.devices.daemon import init_state

EXIT_OK, EXIT_BEYOND_LIMIT, EXIT_NOT_SENT = 0, 2, 4
DOCTOR = ("--by", "physician", "--name", "Dr Rivera")


@dataclass(frozen=True)
class Ran:
    """One command line: its exit code and what it printed."""

    code: int
    out: str
    err: str


def arguments(entry: Entry, reservoir_nl: int) -> list[str]:
    """The `thecal pump` subcommand and options a clinician types for an entry."""
    v = dict(entry.values)
    if entry.action in ("fill", "refill"):
        fill = [
            "--drug",
            str(v["drug"]),
            "--concentration",
            f"{v['concentration']} ng/mL",
            "--volume",
            f"{v['volume']} nL",
        ]
        if entry.action == "fill":
            return ["fill", *fill]
        return ["refill", "--aspirated", f"{reservoir_nl} nL", *fill]
    if entry.action == "program":
        return ["prescribe", "--dose", f"{v['dose']} ng/day"]
    if entry.action == "bolus":
        return ["bolus", "--dose", f"{v['dose']} ng", "--duration", f"{v['duration']} ms"]
    if entry.action == "periodic_bolus":
        return [
            "periodic",
            "--dose",
            f"{v['dose']} ng",
            "--duration",
            f"{v['duration']} ms",
            "--every",
            f"{v['every']} ms",
            "--first",
            clock(int(v["first"])),
        ]
    if entry.action == "demand_settings":
        return [
            "ptm-settings",
            "--dose",
            f"{v['dose']} ng",
            "--duration",
            f"{v['duration']} ms",
            "--lockout",
            f"{v['lockout']} ms",
            "--max-per-day",
            str(v["max_per_day"]),
        ]
    raise ValueError(f"no command for {entry.action}")


class CliDoor:
    """`thecal pump` commands against a live daemon."""

    name = "thecal pump commands"

    def __init__(self, timeline: Timeline, directory: Path):
        self.timeline = timeline
        self.directory = directory
        self.pump: RunningPump | None = None

    def __enter__(self) -> CliDoor:
        layout = init_state(self.directory / "pump", model=MODEL, catheter_volume_nl=CATHETER_NL, wall_ms=START_WALL_MS)
        # At a still clock the pump's time moves only when an entry's time comes.
        self.pump = start(layout, accel=1.0)
        self._anchor_s = self.pump.time.now_s
        self.pump.pair("clinician")
        self.at(0)
        self.setup("implant", "--catheter-volume", f"{CATHETER_NL} nL")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pump is not None:
            self.pump.stop()

    def at(self, at_ms: int) -> None:
        """Move the pump's clock to `at_ms` after the start (half a millisecond in, so it reads exactly)."""
        assert self.pump is not None
        self.pump.time.now_s = self._anchor_s + (at_ms + 0.5) / 1000
        assert self.pump.daemon.clock.now_ms() == at_ms

    def run(self, *args: str) -> Ran:
        """One `thecal pump` command line, run in this process."""
        assert self.pump is not None
        out, err = io.StringIO(), io.StringIO()
        where = ["--state", str(self.pump.layout.root), "--port", str(self.pump.port)]
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["pump", args[0], *where, *args[1:]])
        return Ran(code, out.getvalue(), err.getvalue())

    def setup(self, *args: str) -> None:
        """A setup step, sent with a physician's reason: it must be done and verified."""
        ran = self.run(*args, *DOCTOR, "--reason", REASON, *self._patient(), "--yes")
        assert ran.code == EXIT_OK, f"setup {args[0]}: exit {ran.code}\n{ran.out}{ran.err}"

    def _patient(self) -> list[str]:
        return ["--opioid-naive"] if self.timeline.opioid_naive else []

    def _reservoir_nl(self) -> int:
        assert self.pump is not None
        value = self.pump.daemon.status()["reservoir_nl"]
        assert isinstance(value, int)
        return value

    def answer(self) -> Answer:
        """Play the setup, then ask about the last entry as a person and as a script, and send it if allowed."""
        *setup, last = self.timeline.entries
        for entry in setup:
            self.at(entry.at_ms)
            self.setup(*arguments(entry, self._reservoir_nl()))
        self.at(last.at_ms)
        command = arguments(last, self._reservoir_nl())
        ask = [*command, *DOCTOR, *self._patient()]
        shown = self.run(*ask)
        plain = self.run(*ask, "--json")
        reasoned = self.run(*ask, "--reason", REASON, "--json")
        for ran in (shown, plain, reasoned):
            assert ran.code in (EXIT_BEYOND_LIMIT, EXIT_NOT_SENT), f"{self.name}: exit {ran.code}\n{ran.out}{ran.err}"
        verdict = verdict_of(plain.code == EXIT_BEYOND_LIMIT, reasoned.code == EXIT_BEYOND_LIMIT, self.name)
        assert (shown.code == EXIT_BEYOND_LIMIT) == (verdict != ALLOWED), f"{self.name}: the person's view disagrees"
        if verdict != HARD:
            sent = self.run(*ask, *(["--reason", REASON] if verdict == SOFT else []), "--yes")
            assert sent.code == EXIT_OK, f"{self.name}: not done: exit {sent.code}\n{sent.out}{sent.err}"
        if verdict == ALLOWED:
            return Answer(ALLOWED)
        findings = [f for f in json.loads(plain.out)["plan"]["findings"] if not f["overridden"]]
        words = findings[0]["message"]
        assert findings[0]["tier"] == (HARD if verdict == HARD else SOFT), f"{self.name}: tier {findings[0]['tier']}"
        # A person reads the same words on the terminal.
        assert words in shown.out, f"{self.name}: the plan on the terminal does not say {words!r}\n{shown.out}"
        return Answer(verdict, words)
