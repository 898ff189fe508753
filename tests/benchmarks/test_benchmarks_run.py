"""The benchmarks themselves run and measure what they claim; the figures are not judged here."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from benchmarks import memory_choice, telemetry


def test_the_telemetry_benchmark_measures_both_doors_and_the_refused_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, small in (
        ("REPETITIONS", 2),
        ("ROUND_TRIPS", 4),
        ("DECISIONS", 4),
        ("DECISION_BLOCK", 2),
        ("FIRMWARE_DECISIONS", 10),
        ("AEAD_FRAMES", 10),
        ("SYNC_SAMPLES", 2),
        ("REFUSED_FRAMES", 7),
    ):
        monkeypatch.setattr(telemetry, name, small)

    figures = telemetry.run()

    assert figures["log_entries"] == figures["log_capacity"] == figures["log_entries_after"] == 2048
    for door in ("secure", "plain"):
        for name in telemetry.ROUND_TRIP_COMMANDS:
            p50, p99 = figures[f"{door}_{name}_p50_ms"], figures[f"{door}_{name}_p99_ms"]
            assert 0 < p50 <= p99 and math.isfinite(p99)
            # Every answer waits for the pump's memory; a PTM writes its counters once per block of frames.
            syncs = ("pump_syncs",) if door == "secure" else ("syncs",)
            assert all(figures[f"{door}_{name}_{side}"] >= 1 for side in syncs)
            if door == "secure":
                assert figures[f"secure_{name}_ptm_syncs"] == 0
        assert 0 < figures[f"{door}_decisions_per_s"] < math.inf
        assert 0 < figures[f"firmware_over_{door}"] < math.inf
    assert 0 < figures["firmware_decisions_per_s"] < math.inf and figures["aead_us_per_frame"] > 0
    assert 0 < figures["ptm_request_ms"] < math.inf
    assert figures["refused_all_frames"] == 7
    assert [figures[f"refused_{kind}_frames"] for kind in telemetry.REFUSED_KINDS] == [3, 2, 2]  # taken in turn
    assert 0 <= figures["refused_all_frames_written"] <= figures["refused_all_fsyncs"]
    counted = ["frames_written", "fsyncs", "log_bytes"]
    if memory_choice.os_writes() is not None:  # the kernel publishes its write counts (Linux)
        counted += ["os_write_calls", "os_bytes"]
    for name in counted:
        for kind in (*telemetry.REFUSED_KINDS, "all"):
            value = figures[f"refused_{kind}_{name}"]
            assert isinstance(value, int) and value >= 0, (kind, name, value)
        assert figures[f"refused_all_{name}"] == sum(figures[f"refused_{k}_{name}"] for k in telemetry.REFUSED_KINDS)


def test_the_plain_door_answers_a_refusal_as_a_refusal_each_in_one_commit(tmp_path: Path) -> None:
    from thecal.pump.core.commands import Role
    from thecal.telemetry.frames import ReplyStatus, decode_reply
    from thecal.telemetry.transport import InProcessTransport

    daemon = telemetry._pumped(tmp_path / "pump")
    try:
        door = telemetry.PlainDoor(daemon, Role.PTM)
        send = InProcessTransport(door.receive)
        statuses, commits = [], []
        for _ in range(2):  # the second press falls in the lockout
            before = daemon.journal.commits
            command = telemetry.Command("demand_bolus", {}, bytes(16))
            statuses.append(decode_reply(send.send(telemetry.encode_plain_request(command))).status)
            commits.append(daemon.journal.commits - before)
    finally:
        daemon.close()
    assert statuses == [ReplyStatus.OK, ReplyStatus.REFUSED]
    assert commits == [1, 1]  # as the secure door commits once a frame


def test_the_firmware_benchmark_sets_up_a_pump_that_takes_its_therapy() -> None:
    """The benchmark's pump is filled, programmed and takes demand doses, so it measures real work."""
    from benchmarks import pump_core
    from thecal.pump.core import Delivery

    fw = pump_core._pump()
    delivered = pump_core._drive(fw, 0, pump_core.fast_forward)
    assert delivered == 0 and fw.state.prescription is not None and fw.state.demand_limits is not None
    strokes = sum(a.strokes for a in fw.advance(pump_core.MS_PER_DAY) if isinstance(a, Delivery))
    assert strokes > 0


def test_the_memory_benchmark_times_every_way_and_sees_their_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory_choice, "COMMITS", 5)
    monkeypatch.setattr(memory_choice, "REPETITIONS", 1)

    figures = memory_choice.run()

    for way in memory_choice.WAYS:
        p50, p99 = figures[f"{way}_p50_ms"], figures[f"{way}_p99_ms"]
        assert 0 < p50 <= p99 and math.isfinite(p99)
        assert 0 < figures[f"{way}_commits_per_s"] < math.inf
    if memory_choice.os_writes() is None:  # no kernel write counts off Linux: the figures say so
        assert all(math.isnan(figures[f"{way}_bytes_written"]) for way in memory_choice.WAYS)
        return
    payload = memory_choice.STATE_BYTES + memory_choice.LOG_ENTRY_BYTES + memory_choice.REPLY_BYTES
    for way in memory_choice.WAYS:
        assert figures[f"{way}_write_calls"] >= 1
    for way in ("journal", "journal_counter", "sqlite", "sqlite_counter"):
        assert figures[f"{way}_bytes_written"] >= payload
    for way in ("journal", "sqlite"):  # the counter is one more write of its 40 bytes on each commit
        with_counter = f"{way}_counter"
        assert figures[f"{with_counter}_write_calls"] >= figures[f"{way}_write_calls"] + 1
        assert figures[f"{with_counter}_bytes_written"] >= figures[f"{way}_bytes_written"] + memory_choice.COUNTER_BYTES
    assert figures["image_bytes_written"] >= memory_choice.IMAGE_BYTES


def test_the_fsync_counter_counts_both_calls_and_puts_them_back(tmp_path: Path) -> None:
    originals = (os.fsync, os.fdatasync)
    with (tmp_path / "f").open("wb") as stream, memory_choice.FsyncCount().counting() as count:
        os.fsync(stream.fileno())
        os.fdatasync(stream.fileno())
    assert count.calls == 2
    assert (os.fsync, os.fdatasync) == originals


def test_the_patient_benchmark_measures_the_hourly_days_the_3_minute_days_and_the_trial_journey(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from benchmarks import patient_speed

    monkeypatch.setattr(patient_speed, "simglucose_available", lambda: False)  # its day takes seconds: not here
    for name, small in (("DAYS", 2), ("COPIES", 1), ("TRIAL_PATIENTS", 1)):
        monkeypatch.setattr(patient_speed, name, small)

    figures = patient_speed.run(repetitions=1)

    assert figures["sample_min"] == patient_speed.DEFAULT_SAMPLE_MIN
    assert figures["observations_per_day"] == 24  # the goal's comparison: observed hourly
    assert figures["dense_observations_per_day"] == 480  # beside it: every 3 min
    assert figures["deliveries_per_day"] > 0 and figures["oral_doses_per_day"] > 0
    for name in ("patient_days_per_cpu_s", "dense_patient_days_per_cpu_s", "loop_days_per_cpu_s"):
        assert 0 < figures[name] < math.inf, name
    assert 0 < figures["trial_patient_days_per_cpu_s"] < math.inf
    assert "ratio" not in figures  # no peer, no ratio
