"""The benchmarks themselves run and measure what they claim; the figures are not judged here."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks import telemetry


def test_the_telemetry_benchmark_measures_both_doors(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, small in (("ROUND_TRIPS", 4), ("DECISIONS", 4), ("DECISION_BLOCK", 2), ("AEAD_FRAMES", 10)):
        monkeypatch.setattr(telemetry, name, small)
    monkeypatch.setattr(telemetry, "IMAGE_ENCODES", 2)

    figures = telemetry.run()

    for door in ("secure", "plain"):
        for name in ("interrogate_status", "demand_bolus"):
            p50, p99 = figures[f"{door}_{name}_p50_ms"], figures[f"{door}_{name}_p99_ms"]
            assert 0 < p50 <= p99 and math.isfinite(p99)
        assert figures[f"{door}_decisions_per_s"] > 0
    assert figures["firmware_decisions_per_s"] > 0 and figures["aead_us_per_frame"] > 0
    assert figures["image_encode_ms"] > 0


def test_the_plain_door_answers_a_refusal_as_a_refusal(tmp_path: Path) -> None:
    from thecal.pump.core.commands import Role
    from thecal.telemetry.frames import ReplyStatus, decode_reply
    from thecal.telemetry.transport import InProcessTransport

    daemon = telemetry._pumped(tmp_path / "pump")
    door = telemetry.PlainDoor(daemon, Role.PTM)
    send = InProcessTransport(door.receive)
    statuses = []
    for _ in range(2):  # the second press falls in the lockout
        command = telemetry.Command("demand_bolus", {}, bytes(16))
        statuses.append(decode_reply(send.send(telemetry.encode_plain_request(command))).status)
    assert statuses == [ReplyStatus.OK, ReplyStatus.REFUSED]


def test_the_firmware_benchmark_sets_up_a_pump_that_takes_its_therapy() -> None:
    """The benchmark's pump is filled, programmed and takes demand doses, so it measures real work."""
    from benchmarks import pump_core
    from thecal.pump.core import Delivery

    fw = pump_core._pump()
    delivered = pump_core._drive(fw, 0, pump_core.fast_forward)
    assert delivered == 0 and fw.state.prescription is not None and fw.state.demand_limits is not None
    strokes = sum(a.strokes for a in fw.advance(pump_core.MS_PER_DAY) if isinstance(a, Delivery))
    assert strokes > 0
