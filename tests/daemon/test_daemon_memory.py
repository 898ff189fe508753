"""The pump's memory and radio as a red team broke them: each breakage now a fault, a refusal or a bound.

Every test here failed on the daemon of two memory slots and per-record files;
each names the breakage it closes.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_rig import DEMAND_LIMITS, MORPHINE_FILL, START_WALL_MS, RunningPump, continuous, start

from thecal.cli.main import main
from thecal.devices.daemon import PumpDaemon, StateLayout, init_state
from thecal.devices.memory import memory_key
from thecal.devices.nvm_file import FileMedium
from thecal.devices.programmer import ProgrammerClient
from thecal.devices.recovery import recover_pump
from thecal.errors import InputError
from thecal.pump.core.firmware import REJECTIONS_LOGGED_PER_DAY
from thecal.pump.core.journal import COUNTER_SLOTS, Journal, read_counter
from thecal.pump.core.nvm import PumpMemory
from thecal.telemetry.frames import ReplyStatus
from thecal.telemetry.keys import DeviceIdentity
from thecal.telemetry.replies import DEFAULT_PER_PEER


@pytest.fixture
def pump(layout: StateLayout) -> Iterator[RunningPump]:
    """A running pump with both devices paired, filled, programmed and with demand doses."""
    running = start(layout)
    running.pair("clinician")
    running.pair("ptm")
    clinician = running.session("clinician")
    for name, args in (
        ("refill_update", MORPHINE_FILL),
        ("program_therapy", continuous(5_000_000)),
        ("ptm_settings", DEMAND_LIMITS),
    ):
        assert clinician.request(name, **args).ok
    yield running
    running.stop()


def _nvm_copy(layout: StateLayout, to: Path) -> None:
    shutil.copytree(layout.nvm, to)


def _restore_nvm(layout: StateLayout, copy: Path, pattern: str = "*") -> None:
    for saved in copy.glob(pattern):
        shutil.copy(saved, layout.nvm / saved.name)


def _rejected_for_fault(running: RunningPump, role: str = "clinician") -> str:
    """A command from a paired device, refused because the pump is in fault; the words it got."""
    reply = running.session(role).request("interrogate_status")
    assert reply.status is ReplyStatus.REJECTED and reply.code == "pump_fault", reply.describe()
    return reply.reason


def _damage(layout: StateLayout, how: str) -> None:
    active = max((layout.nvm / f"journal-{s}.bin" for s in (0, 1)), key=lambda p: p.stat().st_size)
    data = active.read_bytes()
    if how == "corrupt":
        active.write_bytes(data[:300] + bytes([data[300] ^ 0x10]) + data[301:])
    elif how == "truncated":
        active.write_bytes(data[: len(data) // 2])
    elif how == "zeroed":
        active.write_bytes(bytes(len(data)))
    elif how == "deleted":
        shutil.rmtree(layout.nvm)
    elif how == "file instead of directory":
        shutil.rmtree(layout.nvm)
        layout.nvm.write_text("not a memory")


@pytest.mark.parametrize("how", ["corrupt", "truncated", "zeroed", "deleted", "file instead of directory"])
def test_an_unreadable_memory_is_a_reported_fault_never_a_new_pump(pump: RunningPump, how: str) -> None:
    """Was: both slots unreadable and the pump silently started new, reservoir 0, clock at 1970, still paired."""
    pump.stop()
    _damage(pump.layout, how)
    again = start(pump.layout)
    try:
        assert again.daemon.fault is not None
        words = _rejected_for_fault(again)
        assert "thecal pump recover" in words and "delivers nothing" in words
        assert _rejected_for_fault(again, "ptm")  # the patient's handset gets nothing either
    finally:
        again.stop()


def test_an_older_copy_of_the_memory_is_a_fault(pump: RunningPump, tmp_path: Path) -> None:
    """Was: both slots replaced by an older valid image were accepted (strokes went back, doses given back)."""
    _nvm_copy(pump.layout, tmp_path / "older")
    ptm = pump.session("ptm")
    assert ptm.request("demand_bolus").ok
    pump.stop()
    _restore_nvm(pump.layout, tmp_path / "older", "journal-*")  # the memory's counter is not part of the copy
    again = start(pump.layout)
    try:
        assert again.daemon.fault is not None and again.daemon.fault.code == "memory_behind"
        _rejected_for_fault(again, "ptm")
    finally:
        again.stop()


def test_an_older_copy_of_everything_is_caught_by_the_devices_that_saw_more(pump: RunningPump, tmp_path) -> None:
    """A whole memory restored, counter and all: the first device that saw later replies stops it, nothing runs."""
    _nvm_copy(pump.layout, tmp_path / "older")
    assert pump.session("ptm").request("demand_bolus").ok
    pump.stop()
    _restore_nvm(pump.layout, tmp_path / "older")
    again = start(pump.layout)
    try:
        assert again.daemon.fault is None  # the memory is whole and verifies on its own
        refused = again.session("ptm").request("demand_bolus")
        assert refused.status is not ReplyStatus.OK and refused.code == "memory_behind", refused.describe()
        assert again.daemon.fault is not None and again.daemon.fault.code == "memory_behind"
        assert again.daemon.pump.firmware.state.demand_history_ms == ()  # the press was not given back
    finally:
        again.stop()


def test_a_memory_forged_without_the_pump_key_is_a_fault(pump: RunningPump) -> None:
    """Was: an image re-forged with a negative reservoir was accepted, the check a plain digest."""
    state = pump.daemon.pump.firmware.state
    state.reservoir_nl = -5_000_000
    pump.stop()
    shutil.rmtree(pump.layout.nvm)
    forged = PumpMemory(Journal.create(FileMedium(pump.layout.nvm, create=True), b"a guessed key"))
    forged.save(state)
    again = start(pump.layout)
    try:
        assert again.daemon.fault is not None and "verif" in str(again.daemon.fault)
    finally:
        again.stop()


def test_a_second_daemon_on_the_same_state_is_refused(pump: RunningPump, capsys) -> None:
    """Was: a second `pump serve` started, executed a replayed frame, and both overwrote the same files."""
    with pytest.raises(InputError, match="served by another process"):
        PumpDaemon(pump.layout.root)
    assert main(["pump", "serve", "--state", str(pump.layout.root), "--port", "0"]) == 2
    assert "one process per pump" in capsys.readouterr().err
    assert pump.session("clinician").request("interrogate_status").ok  # the first one serves on


def test_a_lost_memory_keeps_its_revocations_after_recovery(pump: RunningPump) -> None:
    """Was: a lost keystore forgot revocations and the revoked programmer paired again."""
    clinician = pump.session("clinician")
    ptm_key = pump.device("ptm")[0].key_id.hex()
    assert clinician.request("revoke_key", key_id=ptm_key).ok
    pump.time.now_s += 60  # a pump day: strokes to carry over
    assert clinician.request("interrogate_status").ok
    before = pump.daemon.pump.firmware.state
    strokes, log_next, now_ms = before.strokes_total, before.log.next_seq, before.now_ms
    assert strokes > 0
    pump.stop()
    _damage(pump.layout, "corrupt")
    recovery = recover_pump(str(pump.layout.root), "memory fault reported at start", wall_ms=START_WALL_MS)
    assert recovery.revoked == 1
    again = start(pump.layout)
    try:
        assert again.daemon.fault is None
        again.daemon.proximity_detected()
        with pytest.raises(Exception, match="revoked"):
            again.pair("ptm")
        again.pair("clinician")  # pairings are void after a recovery: the clinician pairs again
        status = again.session("clinician").request("interrogate_status")
        assert status.ok and status.result["mode"] == "fault"
        # Nothing goes back: strokes, pump time and the log's numbering continue from before the fault.
        assert status.result["strokes_total"] == strokes
        assert status.result["now_ms"] >= now_ms and status.result["log_next_seq"] > log_next
    finally:
        again.stop()


def test_recovery_refuses_a_healthy_memory_and_an_empty_reason(pump: RunningPump) -> None:
    """Recovery is for a memory in fault only, and goes on record with a reason."""
    pump.stop()
    with pytest.raises(InputError, match="verifies"):
        recover_pump(str(pump.layout.root), "just because")
    with pytest.raises(InputError, match="--reason"):
        recover_pump(str(pump.layout.root), "  ")


def test_a_flood_of_refused_frames_writes_the_memory_only_within_the_budget(pump: RunningPump) -> None:
    """Was: every unauthenticated bad frame cost one full memory write with fsync and one daemon.log line."""
    medium = pump.daemon.journal._medium  # the daemon's own memory: count its writes
    log_lines = len(pump.layout.daemon_log.read_text().splitlines())
    writes = medium.writes
    for i in range(1_000):
        pump.daemon.receive(bytes([i % 256]) * (1 + i % 50))
    assert medium.writes - writes <= 2 * REJECTIONS_LOGGED_PER_DAY  # one append and one counter raise per logged
    assert len(pump.layout.daemon_log.read_text().splitlines()) - log_lines <= REJECTIONS_LOGGED_PER_DAY
    status = pump.session("clinician").request("interrogate_status").result
    assert status["telemetry_rejections_unlogged"] >= 1_000 - REJECTIONS_LOGGED_PER_DAY


@pytest.mark.parametrize("accel", ["inf", "1e308", "1e12", "nan", "0", "-5"])
def test_an_acceleration_out_of_range_is_refused_before_serving(layout: StateLayout, accel: str, capsys) -> None:
    """Was: `--accel inf`, 1e308 or 1e12 started, then every command answered unknown or the daemon hung."""
    assert main(["pump", "serve", "--state", str(layout.root), "--accel", accel]) == 2
    assert "--accel" in capsys.readouterr().err
    PumpDaemon(layout.root).close()  # nothing was left locked


@pytest.mark.parametrize("damage", ["pump.json", "missing pump.key", "swapped model"])
def test_a_damaged_state_directory_is_refused_in_words(layout: StateLayout, damage: str, capsys) -> None:
    """Was: a traceback at start, and a pump.json swapped from the 20 mL to the 40 mL model was accepted."""
    if damage == "pump.json":
        layout.config.write_text("{not json")
    elif damage == "missing pump.key":
        layout.pump_key.unlink()
    else:
        layout.config.write_text(layout.config.read_text().replace("programmable-20", "programmable-40"))
    assert main(["pump", "serve", "--state", str(layout.root), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and ("pump.json" in err or "pump.key" in err), err


def test_every_file_and_directory_is_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    """Was: pump.json and daemon.log 0644, or 0666 under umask 000, though the docs promise owner-only."""
    old = os.umask(0)
    try:
        layout = init_state(tmp_path / "pump", wall_ms=START_WALL_MS)
        running = start(layout)
        running.pair("clinician")
        running.stop()
    finally:
        os.umask(old)
    wrong = []
    for path in [layout.root, *layout.root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            wrong.append((str(path.relative_to(tmp_path)), oct(mode)))
    assert wrong == []


def test_the_memory_key_belongs_to_the_pump(layout: StateLayout) -> None:
    """The memory verifies only under the key derived from this pump's identity, the same at every start."""
    identity = DeviceIdentity.load(layout.pump_key)
    key = memory_key(identity)
    assert key == memory_key(DeviceIdentity.load(layout.pump_key)) and len(key) == 32
    Journal.open(FileMedium(layout.nvm), key)


def test_a_resent_bolus_is_never_given_twice_however_many_commands_came_after(pump: RunningPump) -> None:
    """Was: after more than 32 later commands from the same device, a resent acknowledged bolus ran again."""
    clinician = pump.session("clinician")
    bolus = clinician.request("clinician_bolus", dose_ng=100_000, duration_ms=600_000)
    assert bolus.ok
    for _ in range(DEFAULT_PER_PEER + 6):  # state-changing commands, each remembered in the bolus's place
        assert clinician.request("bolus_cancel").status in (ReplyStatus.OK, ReplyStatus.REFUSED)
    again = pump.session("clinician").send(bolus.command)  # a new session, the same command
    assert again.status is ReplyStatus.UNKNOWN and again.code == "command_too_old", again.describe()
    log = ProgrammerClient(pump.session("clinician")).read_whole_log()
    starts = [e for e in log if e["kind"] == "bolus_start" and e["detail"]["volume_nl"] == 10_000]
    assert len(starts) == 1, starts


def _memory_counter(layout: StateLayout) -> int:
    key = memory_key(DeviceIdentity.load(layout.pump_key))
    medium = FileMedium(layout.nvm)
    try:
        values = [read_counter(key, medium.read_counter(slot)) for slot in COUNTER_SLOTS]
    finally:
        medium.close()
    return max(v for v in values if v is not None)


def test_the_memory_counter_follows_each_reply_off_the_round_trip(pump: RunningPump) -> None:
    """The reply waits for its record only; the counter is raised once the reply has gone, before the next frame."""
    ptm = pump.session("ptm")
    for _ in range(3):
        assert ptm.request("demand_bolus").status in (ReplyStatus.OK, ReplyStatus.REFUSED)
        # The server raises the counter after writing the reply; wait for it as a device would wait for the pump.
        deadline = time.monotonic() + 10
        while _memory_counter(pump.layout) != pump.daemon.journal.seq and time.monotonic() < deadline:
            time.sleep(0.005)
        assert _memory_counter(pump.layout) == pump.daemon.journal.seq
