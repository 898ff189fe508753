"""`thecal pump serve` killed with SIGKILL at random points while it is being programmed and giving boluses.

Commands stream without pause until a kill cuts the link, so every kill
lands inside the stream. The command in flight is sent again after the
restart, and its answer tells where the kill landed: before the frame's one
commit (nothing of it is in memory, so the retry is its first execution), or
after it with the reply lost (the stored reply comes back); a pump that
answers "unknown" names a command whose outcome it cannot tell. The second
run pauses in the middle of every memory write (`paused_writes.py`), so kills
land inside the merged writes; the daemon logs each torn write it discards at
start. Run with -s to see the counts.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_rig import DEMAND_LIMITS, MORPHINE_FILL, continuous

from thecal.devices.daemon import StateLayout
from thecal.devices.programmer import ProgrammerClient
from thecal.pump.core.commands import Role
from thecal.telemetry.client import ClientSession, Reply
from thecal.telemetry.commands import Command
from thecal.telemetry.device_files import DeviceFiles
from thecal.telemetry.frames import ReplyStatus
from thecal.telemetry.transport import TcpTransport

NG_PER_NL = 10  # morphine at 10 mg/mL: every dose of the stream is a whole, distinct number of nL
KILLS = 16
MAX_COMMANDS_PER_RUN = 400
SERVE_OPTIONS = ("--port", "0", "--accel", "1440", "--pairing-window")


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[str]]]:
    """Daemon processes started by a test, killed after it even when it fails."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


PROGRAMS = {
    "whole writes": ["-m", "thecal.cli"],
    "paused writes": [str(Path(__file__).with_name("paused_writes.py"))],
}


def serve(
    layout: StateLayout, spawned: list[subprocess.Popen[str]], program: str = "whole writes"
) -> tuple[subprocess.Popen[str], int]:
    """Start the daemon as its own process; return it and its port."""
    process = subprocess.Popen(
        [sys.executable, *PROGRAMS[program], "pump", "serve", "--state", str(layout.root), *SERVE_OPTIONS],
        stdout=subprocess.PIPE,
        text=True,
    )
    spawned.append(process)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on 127.0.0.1:" in line, line
    return process, int(line.split(":")[1].split()[0])


def clinician(layout: StateLayout, port: int) -> ClientSession:
    """The clinician programmer, one attempt per frame so a kill shows as a lost link."""
    device = DeviceFiles(layout.device("clinician"), Role.CLINICIAN)
    _, keystore, _ = device.open()
    if not keystore.peers():
        device.pair(TcpTransport(port))
    return device.session(TcpTransport(port, timeout_s=1.0), attempts=1)


def read_whole_log(session: ClientSession) -> list[dict]:  # type: ignore[type-arg]
    """Every kept event-log entry, page by page."""
    return ProgrammerClient(session).read_whole_log()


class Stream:
    """An endless mix of programming and boluses, each with a marker that shows in the pump's log."""

    def __init__(self) -> None:
        self.count = 0

    def next(self) -> Command:
        """The next command: program, bolus, cancel, program, ...; doses unique to each command."""
        i, self.count = self.count, self.count + 1
        if i % 3 == 0:
            return Command.create("program_therapy", continuous(4_000_000 + 10 * i))  # about 4 mg/day
        if i % 3 == 1:
            # Ten pump minutes last 0.4 s at 1440 times real time, so the cancel that follows finds it running.
            # Every bolus stays on the pump's 24 h record, so each is small: hundreds stay far below 20 mg a day.
            return Command.create("clinician_bolus", {"dose_ng": 10_000 + 10 * i, "duration_ms": 600_000})
        return Command.create("bolus_cancel", {})


def marker_in_log(command: Command, log: list[dict]) -> bool | None:  # type: ignore[type-arg]
    """Whether the command's effect is in the log; None for a command without a marker."""
    if command.name == "program_therapy":
        flow = command.args["days"][0][0]["dose_ng_per_day"] // NG_PER_NL  # type: ignore[index]
        return any(e["kind"] == "program" and e["detail"]["max_flow_nl_per_day"] == flow for e in log)
    if command.name == "clinician_bolus":
        volume = command.args["dose_ng"] // NG_PER_NL  # type: ignore[operator]
        return any(e["kind"] == "bolus_start" and e["detail"]["volume_nl"] == volume for e in log)
    return None


def where_the_kill_landed(retry: Reply, log_next_seq_at_restart: int, log: list[dict]) -> str:  # type: ignore[type-arg]
    """Tell, from the retry of the command in flight, what the kill interrupted."""
    if retry.status is ReplyStatus.UNKNOWN:
        applied = marker_in_log(retry.command, log)
        return "outcome unknown" + {True: ", applied", False: ", not applied", None: ""}[applied]
    assert retry.ok, retry.describe()
    seqs = retry.result["log_seqs"]
    assert isinstance(seqs, list) and seqs, retry.result
    if all(seq < log_next_seq_at_restart for seq in seqs):
        return "after the commit, reply lost"  # the stored reply came back: executed once, before the kill
    return "before the commit"  # nothing of the frame was in memory, so the retry was its first execution


@pytest.mark.parametrize("program", list(PROGRAMS))
def test_killed_daemon_loses_no_acknowledged_command_and_repeats_none(
    layout: StateLayout, spawned: list[subprocess.Popen[str]], program: str
):
    rng = random.Random(20240611)
    stream = Stream()
    acknowledged: list[Reply] = []
    in_flight: Command | None = None
    landed: Counter[str] = Counter()
    high_water = {"strokes_total": 0, "log_next_seq": 0, "now_ms": 0}
    process, port = serve(layout, spawned, program)
    session = clinician(layout, port)
    for name, args in (("refill_update", MORPHINE_FILL), ("ptm_settings", DEMAND_LIMITS)):
        assert session.request(name, **args).ok
    for run in range(KILLS + 1):
        status = session.request("interrogate_status")
        assert status.ok, status.describe()
        for key, value in high_water.items():
            assert status.result[key] >= value, f"{key} went back after restart {run}"
            high_water[key] = int(status.result[key])  # type: ignore[call-overload]
        if in_flight is not None:
            # The command whose reply the kill took is sent again with its id: stored reply or "unknown".
            retry = session.send(in_flight)
            if retry.ok:
                acknowledged.append(retry)
            landed[where_the_kill_landed(retry, high_water["log_next_seq"], read_whole_log(session))] += 1
        log = read_whole_log(session)
        by_seq = {entry["seq"]: entry for entry in log}  # type: ignore[union-attr]
        for reply in acknowledged:
            for seq in reply.result["log_seqs"]:  # type: ignore[union-attr]
                assert seq in by_seq, f"{reply.command.name} acknowledged but missing from the log after a kill"
        programs = Counter(e["detail"]["max_flow_nl_per_day"] for e in log if e["kind"] == "program")
        boluses = Counter(e["detail"]["volume_nl"] for e in log if e["kind"] == "bolus_start")
        assert all(count == 1 for count in programs.values()), programs
        assert all(count == 1 for count in boluses.values()), boluses
        if run == KILLS:
            break
        # Commands go one after another until the kill cuts the link: the kill always lands inside the stream.
        killer = threading.Timer(rng.uniform(0.05, 0.6), process.send_signal, (signal.SIGKILL,))
        killer.start()
        for _ in range(MAX_COMMANDS_PER_RUN):
            command = stream.next()
            reply = session.send(command)
            if reply.ok:
                acknowledged.append(reply)
            elif reply.status is ReplyStatus.UNKNOWN:
                in_flight = command
                break
        else:
            pytest.fail(f"the daemon answered {MAX_COMMANDS_PER_RUN} commands without being killed")
        killer.join()
        process.wait()
        process, port = serve(layout, spawned, program)
        session = clinician(layout, port)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)
    torn = sum('"torn_write_discarded"' in line for line in layout.daemon_log.read_text().splitlines())
    print(
        f"\n{program}: {KILLS} kills, {len(acknowledged)} acknowledged commands; where the kills landed: "
        f"{dict(landed)}; torn writes discarded at restart: {torn}"
    )
    assert sum(landed.values()) == KILLS
    if program == "paused writes":
        assert torn > 0, "no kill landed inside a memory write"
