"""What a request costs the programmer or PTM in disk syncs: one per block of frames, none per request.

A count of calls to os.fsync and os.fdatasync, never a timing. The pump here
keeps its records in memory, so every sync counted is the device's.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from telemetry_rig import SAMPLE_ARGS, Device, Rig

from thecal.pump.core.commands import Role
from thecal.telemetry.commands import Command
from thecal.telemetry.persistence import FileStore

BLOCK = 8


class SyncCount:
    """Counts os.fsync and os.fdatasync calls while installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        for name in ("fsync", "fdatasync"):
            real = getattr(os, name)
            monkeypatch.setattr(os, name, self._counting(real))

    def _counting(self, real: Callable[[int], None]) -> Callable[[int], None]:
        def counted(fd: int) -> None:
            self.calls += 1
            real(fd)

        return counted

    def of(self, action: Callable[[], object]) -> int:
        """The syncs one action makes."""
        before = self.calls
        action()
        return self.calls - before


@pytest.fixture
def syncs(monkeypatch: pytest.MonkeyPatch) -> Iterator[SyncCount]:
    # No store of an earlier test may be collected inside a count and save what it held.
    gc.collect()
    gc.disable()
    try:
        yield SyncCount(monkeypatch)
    finally:
        gc.enable()


def _device(rig: Rig, role: Role, tmp_path: Path) -> Device:
    device = rig.device(role, f"{role.value}-1", FileStore(tmp_path / role.value))
    device.block = BLOCK
    rig.pair(device)
    return device


@pytest.mark.parametrize(
    ("role", "name"),
    [(Role.PTM, "demand_bolus"), (Role.PTM, "interrogate_status"), (Role.CLINICIAN, "clinician_bolus")],
)
def test_a_request_costs_the_device_no_sync_but_once_per_block(
    syncs: SyncCount, tmp_path: Path, role: Role, name: str
) -> None:
    rig = Rig()
    session = rig.session(_device(rig, role, tmp_path))

    per_request = [syncs.of(lambda: session.request(name, **SAMPLE_ARGS[name])) for _ in range(3 * BLOCK)]

    # Each block of counters is reserved by one atomic replace of the counter record (file and directory).
    assert per_request == ([2] + [0] * (BLOCK - 1)) * 3
    assert len(rig.pump.calls) == 3 * BLOCK


def test_sending_a_command_again_costs_the_device_no_sync(syncs: SyncCount, tmp_path: Path) -> None:
    rig = Rig()
    session = rig.session(_device(rig, Role.CLINICIAN, tmp_path))
    bolus = session.request("clinician_bolus", **SAMPLE_ARGS["clinician_bolus"])
    rebuilt = Command(bolus.command.name, bolus.command.args, bolus.command.command_id)  # its first counter dropped

    assert syncs.of(lambda: session.send(bolus.command)) == 0
    assert syncs.of(lambda: session.send(rebuilt)) == 0
    assert rig.pump.names() == ["clinician_bolus"]


def test_a_command_with_the_callers_own_id_is_listed_once_before_it_leaves(syncs: SyncCount, tmp_path: Path) -> None:
    rig = Rig()
    session = rig.session(_device(rig, Role.CLINICIAN, tmp_path))
    session.request("interrogate_status")  # the block is reserved
    own = Command.create("clinician_bolus", SAMPLE_ARGS["clinician_bolus"])

    listed = syncs.of(lambda: session.send(own))
    again = syncs.of(lambda: session.send(own))

    assert listed > 0 and again == 0
    assert (tmp_path / "clinician" / f"sent-{rig.pump_identity.key_id.hex()}.list").exists()


def test_closing_a_session_saves_the_accepted_counter_once(syncs: SyncCount, tmp_path: Path) -> None:
    rig = Rig()
    device = _device(rig, Role.PTM, tmp_path)
    with rig.session(device) as session:
        reply = session.request("interrogate_status")
        seen = device.counters.last_received(session.pump.link.link_id)
        before = syncs.calls
    closed = syncs.calls - before

    device.crash()  # the record as it is on disk now
    assert closed == 2 and reply.ok
    assert device.counters.last_received(session.pump.link.link_id) == seen
