"""`thecal pump serve` killed with SIGKILL at random points while it is being programmed and giving boluses."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from conftest import DEMAND_LIMITS, MORPHINE_FILL, continuous

from thecal.pump.daemon import StateLayout, device_identity_path, device_store_path
from thecal.telemetry.client import Reply
from thecal.telemetry.commands import Command
from thecal.telemetry.counters import CounterStore
from thecal.telemetry.endpoint import ClientSession
from thecal.telemetry.frames import ReplyStatus
from thecal.telemetry.keys import DeviceIdentity, Keystore
from thecal.telemetry.pairing import pair_with_pump
from thecal.telemetry.persistence import FileStore
from thecal.telemetry.transport import TcpTransport

KILLS = 10
COMMANDS_PER_RUN = 12
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


def serve(layout: StateLayout, spawned: list[subprocess.Popen[str]]) -> tuple[subprocess.Popen[str], int]:
    """Start the daemon as its own process; return it and its port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "thecal.cli", "pump", "serve", "--state", str(layout.root), *SERVE_OPTIONS],
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
    directory = layout.device("clinician")
    store = FileStore(device_store_path(directory))
    identity, keystore, counters = (
        DeviceIdentity.load(device_identity_path(directory)),
        Keystore(store),
        CounterStore(store),
    )
    pumps = keystore.peers()
    pump = pumps[0] if pumps else pair_with_pump(identity, TcpTransport(port), keystore, counters)
    return ClientSession(identity, pump, counters, TcpTransport(port, timeout_s=1.0), attempts=1)


def read_whole_log(session: ClientSession) -> list[dict]:  # type: ignore[type-arg]
    """Every kept event-log entry, page by page."""
    entries: list[dict] = []  # type: ignore[type-arg]
    while True:
        start = entries[-1]["seq"] + 1 if entries else 0
        page = session.request("read_event_log", from_seq=start, max_entries=100)
        assert page.ok, page.describe()
        entries += page.result["entries"]  # type: ignore[arg-type]
        if not entries or entries[-1]["seq"] + 1 >= page.result["next_seq"]:  # type: ignore[operator]
            return entries


def test_killed_daemon_loses_no_acknowledged_command_and_repeats_none(
    layout: StateLayout, spawned: list[subprocess.Popen[str]]
):
    rng = random.Random(20240611)
    acknowledged: list[Reply] = []
    unresolved: list[Command] = []
    sent_flows: list[int] = []
    sent_volumes: list[int] = []
    high_water = {"strokes_total": 0, "log_next_seq": 0, "now_ms": 0}
    process, port = serve(layout, spawned)
    session = clinician(layout, port)
    for name, args in (("refill_update", MORPHINE_FILL), ("ptm_settings", DEMAND_LIMITS)):
        assert session.request(name, **args).ok
    for run in range(KILLS + 1):
        # Commands whose fate a kill hid are sent again with their ids: stored reply or "unknown", never twice.
        for command in unresolved:
            retry = session.send(command)
            assert retry.status in (ReplyStatus.OK, ReplyStatus.UNKNOWN, ReplyStatus.REFUSED), retry.describe()
            if retry.ok:
                acknowledged.append(retry)
        unresolved = []
        status = session.request("interrogate_status")
        assert status.ok, status.describe()
        for key, value in high_water.items():
            assert status.result[key] >= value, f"{key} went back after restart {run}"
            high_water[key] = int(status.result[key])  # type: ignore[call-overload]
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
        killer = threading.Timer(rng.uniform(0.05, 0.6), process.send_signal, (signal.SIGKILL,))
        killer.start()
        for i in range(COMMANDS_PER_RUN):
            if i % 3 == 2:
                volume = 10_000 + len(sent_volumes)
                sent_volumes.append(volume)
                command = Command.create("clinician_bolus", {"volume_nl": volume, "duration_ms": 60_000})
            elif i % 3 == 1:
                command = Command.create("bolus_cancel", {})
            else:
                flow = 400_000 + len(sent_flows)
                sent_flows.append(flow)
                command = Command.create("program_therapy", continuous(flow))
            reply = session.send(command)
            if reply.ok:
                acknowledged.append(reply)
            elif reply.status is ReplyStatus.UNKNOWN:
                unresolved.append(command)
        killer.join()
        process.wait()
        process, port = serve(layout, spawned)
        session = clinician(layout, port)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)
    assert len(acknowledged) > KILLS  # the test exercised acknowledgements, not only lost links
