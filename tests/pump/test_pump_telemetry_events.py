"""Telemetry refusals and key changes go into the pump's event log, bounded, and never touch therapy."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from thecal.pump.core import Firmware, PeerChanged, PumpState, TelemetryRejected
from thecal.pump.core.eventlog import LogEntry
from thecal.pump.core.firmware import REJECTIONS_LOGGED_PER_DAY
from thecal.units import MS_PER_DAY


def _therapy(fw: Firmware) -> dict[str, object]:
    """Everything in the state but the log and its refusal bookkeeping."""
    data = fw.state.to_data()
    del data["log"], data["rejections"]
    return data


def _last(fw: Firmware) -> LogEntry:
    *_, entry = fw.state.log
    return entry


def test_a_rejection_is_logged_with_who_claimed_to_send_it(running_pump: Callable[..., Firmware]) -> None:
    fw = running_pump()
    fw.advance(3_600_000)
    before = _therapy(fw)

    outcome = fw.handle(TelemetryRejected("not_permitted", "a1b2c3d4e5f60718", "ptm", "program_therapy"))

    assert outcome.accepted and outcome.info == {"logged": True}
    entry = _last(fw)
    assert entry.kind == "telemetry_rejected" and entry.at_ms == 3_600_000
    assert dict(entry.detail) == {
        "code": "not_permitted",
        "key_id": "a1b2c3d4e5f60718",
        "role": "ptm",
        "command": "program_therapy",
    }
    assert _therapy(fw) == before


def test_an_unauthenticated_rejection_logs_only_what_is_known(running_pump: Callable[..., Firmware]) -> None:
    fw = running_pump()
    fw.handle(TelemetryRejected("malformed_frame"))
    entry = _last(fw)
    assert dict(entry.detail) == {"code": "malformed_frame"}


def test_a_flood_of_rejections_cannot_push_the_clinical_history_out(running_pump: Callable[..., Firmware]) -> None:
    fw = running_pump()
    first_seq = fw.state.log.next_seq
    before = _therapy(fw)
    flood = 10 * fw.model.event_log_entries

    for _ in range(flood):
        fw.handle(TelemetryRejected("authentication_failed", "ffffffffffffffff"))

    assert fw.state.log.next_seq - first_seq == REJECTIONS_LOGGED_PER_DAY
    assert fw.state.log.since(0)[0].kind == "power_on"  # nothing clinical was dropped
    assert fw.status()["telemetry_rejections_unlogged"] == flood - REJECTIONS_LOGGED_PER_DAY
    assert _therapy(fw) == before

    # A day after the first logged refusal the budget is back, and the next entry carries the count.
    fw.advance(MS_PER_DAY - 1)
    assert fw.handle(TelemetryRejected("unknown_key")).info == {"logged": False}
    fw.advance(MS_PER_DAY)
    assert fw.handle(TelemetryRejected("unknown_key")).info == {"logged": True}
    entry = _last(fw)
    assert entry.get("unlogged_before") == flood - REJECTIONS_LOGGED_PER_DAY + 1
    assert fw.status()["telemetry_rejections_unlogged"] == 0


def test_the_refusal_budget_survives_a_power_loss(running_pump: Callable[..., Firmware]) -> None:
    fw = running_pump()
    for _ in range(REJECTIONS_LOGGED_PER_DAY + 3):
        fw.handle(TelemetryRejected("replayed_counter"))
    restored = Firmware(fw.model, fw.formulary, PumpState.from_data(fw.state.to_data()))
    assert restored.handle(TelemetryRejected("replayed_counter")).info == {"logged": False}
    assert restored.status()["telemetry_rejections_unlogged"] == 4


def test_pairing_and_revocation_are_logged(running_pump: Callable[..., Firmware]) -> None:
    fw = running_pump()
    before = _therapy(fw)
    fw.handle(PeerChanged("paired", "0011223344556677", "clinician"))
    fw.handle(PeerChanged("revoked", "8899aabbccddeeff", "ptm", "0011223344556677"))
    paired, revoked = fw.state.log.since(0)[-2:]
    assert (paired.kind, dict(paired.detail)) == ("key_paired", {"key_id": "0011223344556677", "role": "clinician"})
    assert revoked.kind == "key_revoked" and revoked.get("by_key_id") == "0011223344556677"
    assert _therapy(fw) == before


def test_an_unknown_peer_change_is_a_programming_error(running_pump: Callable[..., Firmware]) -> None:
    with pytest.raises(ValueError, match="paired"):
        running_pump().handle(PeerChanged("forgotten", "0011223344556677"))
