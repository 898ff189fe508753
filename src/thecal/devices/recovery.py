"""A clinician's recovery of a pump whose memory is in fault: never silent, never a pump that forgot its past.

`recover_pump` is the one way out of a memory fault (docs/daemon.md, "Faults").
It salvages whatever still verifies in the damaged memory and writes a new
memory whose numbering continues above everything seen, so no counter goes
back:

- the firmware starts stopped and unprogrammed (the therapy it held cannot be
  trusted), with the pump time, strokes, fills and battery use carried over
  from the newest readable state, its event log numbering continued, and a
  pump-fault alarm (`memory_recovered`) that a clinician clears after refilling
  and programming;
- every revocation that can still be read stays revoked; every pairing is
  void, so each programmer and PTM pairs again with the proximity step;
- the reason goes into daemon.log with the time.
"""

from __future__ import annotations

import json
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thecal.devices.daemon import load_identity, local_wall_ms
from thecal.devices.memory import CONFIG_RECORD, JournalRecords, memory_key
from thecal.devices.nvm_file import FileMedium
from thecal.devices.state_dir import (
    DirectoryLock,
    StateLayout,
    append_private,
    config_text,
    make_private_dir,
    read_config,
)
from thecal.drugs import pump_formulary
from thecal.errors import InputError
from thecal.pump.core import Firmware, PumpState, ReportFault, SetCatheter
from thecal.pump.core.eventlog import GENESIS, EventLog
from thecal.pump.core.journal import Image, Journal, MemoryFault, Op, Record, Salvage, salvage
from thecal.pump.core.nvm import STATE_RECORD, PumpMemory
from thecal.pump.device import MemoryMedium
from thecal.pump.model import load_model
from thecal.telemetry.errors import StoreDamaged
from thecal.telemetry.keys import Keystore
from thecal.telemetry.persistence import MemoryStore

RECOVERED_FAULT = "memory_recovered"
CARRIED = ("strokes_total", "fills_total", "battery_used_pc", "eri_at_ms", "end_of_service")


@dataclass(frozen=True)
class Recovery:
    """What a recovery found and kept."""

    fault: str
    revoked: int
    carried: dict[str, object]
    log_next_seq: int


def recover_pump(root: str, reason: str, *, wall_ms: int | None = None) -> Recovery:
    """Replace a faulted memory with a recovered one; InputError when the memory is not in fault or no reason."""
    if not reason.strip():
        raise InputError("--reason", reason, "is empty", "say why the memory is recovered; it goes on record")
    layout = StateLayout(Path(root))
    config = read_config(layout)
    identity = load_identity(layout)
    key = memory_key(identity)
    lock = DirectoryLock(layout)
    try:
        if layout.nvm.exists() and not layout.nvm.is_dir():
            layout.nvm.rename(layout.root / f"nvm.damaged-{int(time.time())}")  # kept for the engineers, out of the way
        make_private_dir(layout.nvm)
        medium = FileMedium(layout.nvm)
        try:
            Journal.open(medium, key)
        except MemoryFault as fault:
            found = f"{fault.code}: {fault.found}"
        else:
            raise InputError(
                "--state", root, "holds a pump memory that verifies", "recovery is only for a memory in fault"
            )
        salvaged = salvage(medium, key)
        image, recovery = _recovered_image(salvaged, config, found, wall_ms)
        Journal.restart(medium, key, image, after_seq=salvaged.highest + 1)
        medium.close()
        line = {"real_ms": int(time.time() * 1000), "event": "recovered", "fault": found, "reason": reason}
        append_private(layout.daemon_log, json.dumps(line, sort_keys=True))
        return recovery
    finally:
        lock.release()


def _recovered_image(
    salvaged: Salvage, config: dict[str, object], found: str, wall_ms: int | None
) -> tuple[Image, Recovery]:
    """The new memory's image, staged on a scratch journal so it is written whole in one checkpoint."""
    model = load_model(str(config["model"]))
    scratch = Journal.create(MemoryMedium(), b"scratch")
    scratch.put(CONFIG_RECORD, config_text(config).encode())
    # Revocations are forever: every key id revoked in any keystore record that still reads stays revoked.
    records = JournalRecords(scratch)
    keystore = Keystore(records)
    revoked = _readable_revocations(salvaged.records)
    for key_id in revoked:
        keystore.revoke(key_id)
    previous = _newest_state(salvaged.records)
    now_ms = previous.get("now_ms", 0)
    wall = local_wall_ms() if wall_ms is None else wall_ms
    head = previous.get("log", {})
    log = EventLog.from_data(
        {
            "capacity": model.event_log_entries,
            "anchor": head.get("head", GENESIS.hex()),
            "next_seq": head.get("next_seq", 0),
            "head": head.get("head", GENESIS.hex()),
            "entries": [],
        }
    )
    state = PumpState(
        now_ms=int(now_ms),
        wall_offset_ms=wall - int(now_ms),
        log=log,
        low_reservoir_alarm_nl=model.low_reservoir_alarm_default_nl,
    )
    carried = {name: previous[name] for name in CARRIED if name in previous}
    for name, value in carried.items():
        setattr(state, name, value)
    log.append(state.now_ms, "power_on", (("model", model.name),))
    firmware = Firmware(model, pump_formulary(), state)
    firmware.handle(SetCatheter(int(config["catheter_volume_nl"])))  # type: ignore[call-overload]
    firmware.handle(ReportFault(RECOVERED_FAULT))
    memory = PumpMemory(scratch)
    memory.save(firmware.state)
    return scratch.image, Recovery(found, len(revoked), carried, log.next_seq)


def _readable_revocations(records: list[Record]) -> list[bytes]:
    """Every key id revoked in any keystore record that still verifies, anywhere in the memory."""
    revoked: set[bytes] = set()
    for record in records:
        for op, name, data, _ in record.items:
            if op is not Op.PUT or name != "telemetry/keystore":
                continue
            store = MemoryStore()
            store.save("keystore", data)
            with suppress(StoreDamaged):  # a record that verified but does not parse adds nothing
                revoked.update(Keystore(store).revoked())
    return sorted(revoked)


def _newest_state(records: list[Record]) -> dict[str, Any]:
    """The newest firmware state record that still verifies anywhere in the memory, as plain values."""
    for record in reversed(records):  # in sequence order: the last readable one is the newest
        for op, name, data, _ in reversed(record.items):
            if op is Op.PUT and name == STATE_RECORD:
                with suppress(ValueError):
                    state = json.loads(data)
                    if isinstance(state, dict):
                        return state
    return {}
