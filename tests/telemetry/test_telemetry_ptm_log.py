"""A PTM reads the pump's event log, read-only, and sees only the entries about demand doses; it still cannot program.

At the endpoint (a fake dispatcher that answers with a whole log, as a pump would) and end to end (the pump daemon's
real, hash-chained log after a fill, a prescription, the demand settings, a dose and a refused press).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from telemetry_rig import SAMPLE_ARGS, Device, FakePump, Rig
from tests.daemon.daemon_rig import DEMAND_LIMITS, MORPHINE_FILL, START_WALL_MS, continuous, start

from thecal.devices.daemon import init_state
from thecal.pump.core.commands import Role
from thecal.telemetry.commands import COMMANDS, PTM_LOG_ENTRIES, PTM_LOG_ENTRY_FIELDS, ROLE_PERMISSIONS, Command
from thecal.telemetry.errors import RejectCode
from thecal.telemetry.frames import ReplyStatus

WHOLE_LOG = [
    {"seq": 0, "at_ms": 0, "kind": "filled", "detail": {"volume_nl": 20_000_000}, "hash": "aa"},
    {"seq": 1, "at_ms": 5, "kind": "bolus_start", "detail": {"kind": "clinician", "volume_nl": 9}, "hash": "bb"},
    {"seq": 2, "at_ms": 6, "kind": "bolus_start", "detail": {"kind": "demand", "volume_nl": 10}, "hash": "cc"},
    {"seq": 3, "at_ms": 7, "kind": "refused", "detail": {"command": "SetPrescription", "code": "x"}, "hash": "dd"},
    {"seq": 4, "at_ms": 8, "kind": "refused", "detail": {"command": "RequestDemandBolus", "code": "y"}, "hash": "ee"},
    {"seq": 5, "at_ms": 9, "kind": "paired", "detail": {"key_id": "00", "role": "ptm"}, "hash": "ff"},
]


class LogPump(FakePump):
    """A dispatcher that answers every log read with the whole log above, whatever the role."""

    def __call__(self, role: str, command: Command) -> dict[str, object]:
        if command.name == "read_event_log":
            self.calls.append((role, command))
            return {"entries": [dict(e) for e in WHOLE_LOG], "next_seq": 6, "dropped": 0}
        return super().__call__(role, command)


@pytest.fixture
def log_rig(rig: Rig) -> Rig:
    rig.pump = LogPump()
    rig.reboot()
    return rig


def test_a_ptm_may_read_the_log_and_send_a_demand_bolus_and_nothing_that_programs(rig: Rig, ptm: Device) -> None:
    allowed = ROLE_PERMISSIONS[Role.PTM]
    assert {"read_event_log", "interrogate_status", "demand_bolus"} == allowed
    # Whatever it may send only reads, or asks for the one dose the physician set.
    assert all(not COMMANDS[name].changes_pump or name == "demand_bolus" for name in allowed)
    for name in sorted(set(SAMPLE_ARGS) - allowed):
        reply = rig.session(ptm).request(name, **SAMPLE_ARGS[name])
        assert (reply.status, reply.code) == (ReplyStatus.REJECTED, RejectCode.NOT_PERMITTED), name
    assert rig.pump.calls == []


def test_the_endpoint_gives_a_ptm_only_the_demand_entries_without_hashes(
    log_rig: Rig, ptm: Device, clinician: Device
) -> None:
    patient = log_rig.session(ptm).request("read_event_log", from_seq=0, max_entries=100)
    staff = log_rig.session(clinician).request("read_event_log", from_seq=0, max_entries=100)

    assert patient.ok and staff.ok
    seen = patient.result["entries"]
    assert [e["seq"] for e in seen] == [2, 4]  # type: ignore[index,union-attr]
    assert all(set(e) == set(PTM_LOG_ENTRY_FIELDS) for e in seen)  # type: ignore[union-attr,arg-type]
    assert (patient.result["next_seq"], patient.result["read_to_seq"], patient.result["dropped"]) == (6, 6, 0)
    assert staff.result["entries"] == WHOLE_LOG  # the clinician's read is untouched


def test_a_page_with_nothing_for_the_ptm_still_says_how_far_it_read(log_rig: Rig, ptm: Device) -> None:
    only_others = [WHOLE_LOG[0], WHOLE_LOG[1]]

    class Others(LogPump):
        def __call__(self, role: str, command: Command) -> dict[str, object]:
            return {"entries": [dict(e) for e in only_others], "next_seq": 6, "dropped": 0}

    log_rig.pump = Others()
    log_rig.reboot()
    page = log_rig.session(ptm).request("read_event_log", from_seq=0, max_entries=2).result
    assert page["entries"] == [] and page["read_to_seq"] == 2 and page["next_seq"] == 6


def test_the_filter_names_only_demand_entries() -> None:
    assert all(value in ("demand", "RequestDemandBolus") for _, value in PTM_LOG_ENTRIES.values())


def test_on_a_real_pump_a_ptm_sees_its_doses_and_refusals_and_nothing_else(tmp_path: Path) -> None:
    pump = start(init_state(tmp_path / "pump", wall_ms=START_WALL_MS))
    try:
        pump.pair("clinician")
        clinician = pump.session("clinician")
        assert clinician.request("refill_update", **MORPHINE_FILL).ok
        assert clinician.request("program_therapy", **continuous(5_000_000)).ok
        assert clinician.request("ptm_settings", **DEMAND_LIMITS).ok
        pump.pair("ptm")
        ptm = pump.session("ptm")
        head = ptm.request("read_event_log", from_seq=2**53, max_entries=1).result
        assert head["entries"] == [] and head["read_to_seq"] == head["next_seq"]
        assert ptm.request("demand_bolus").ok
        assert ptm.request("demand_bolus").status is ReplyStatus.REFUSED  # locked out: the pump logs the refusal
        pump.time.now_s += 60  # the 5 min dose ends (1440x)
        assert ptm.request("interrogate_status").ok

        seen = ptm.request("read_event_log", from_seq=int(head["next_seq"]), max_entries=100).result  # type: ignore[call-overload]
        kinds = [(e["kind"], e["detail"].get("kind") or e["detail"].get("code")) for e in seen["entries"]]  # type: ignore[union-attr,index]
        assert kinds == [("bolus_start", "demand"), ("refused", "locked_out"), ("bolus_end", "demand")]
        whole = clinician.request("read_event_log", from_seq=0, max_entries=100).result["entries"]
        assert len(whole) > 3 + len(seen["entries"])  # type: ignore[arg-type]  # the fill, program, pairing: not his
        assert {e["kind"] for e in ptm.request("read_event_log", from_seq=0, max_entries=100).result["entries"]} <= {  # type: ignore[union-attr]
            "bolus_start",
            "bolus_end",
            "refused",
        }
        # Reading changed nothing the pump does, and a PTM still cannot program it.
        program = ptm.request("program_therapy", **continuous(50_000_000))
        assert (program.status, program.code) == (ReplyStatus.REJECTED, RejectCode.NOT_PERMITTED)
    finally:
        pump.stop()
