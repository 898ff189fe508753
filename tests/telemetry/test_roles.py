"""Roles end to end: what a PTM may do and see, what only a clinician may do, and revocation as a command."""

from __future__ import annotations

from telemetry_rig import FULL_STATUS, Device, Rig

from thecal.pump.core.commands import Role
from thecal.telemetry.commands import PTM_STATUS_FIELDS
from thecal.telemetry.errors import RejectCode
from thecal.telemetry.frames import ReplyStatus


def test_a_ptm_may_ask_for_a_demand_bolus(rig: Rig, ptm: Device) -> None:
    reply = rig.session(ptm).request("demand_bolus")

    assert reply.ok
    assert [(role, command.name) for role, command in rig.pump.calls] == [("ptm", "demand_bolus")]


def test_a_ptm_reads_only_what_the_patient_needs(rig: Rig, ptm: Device, clinician: Device) -> None:
    patient_view = rig.session(ptm).request("interrogate_status")
    clinician_view = rig.session(clinician).request("interrogate_status")

    assert set(patient_view.result) == PTM_STATUS_FIELDS
    assert not {"reservoir_nl", "label", "prescription"} & set(patient_view.result)
    assert clinician_view.result == FULL_STATUS


def test_a_clinician_lists_who_is_paired_and_who_is_revoked(rig: Rig, clinician: Device, ptm: Device) -> None:
    session = rig.session(clinician)
    assert session.request("revoke_key", key_id="00112233aabbccdd").result["was_paired"] is False

    listing = session.request("list_keys").result

    assert {(entry["role"], entry["label"]) for entry in listing["paired"]} == {  # type: ignore[union-attr,index]
        ("clinician", "programmer-1"),
        ("ptm", "ptm-1"),
    }
    assert listing["revoked"] == ["00112233aabbccdd"]
    assert rig.pump.calls == []  # key management is the telemetry layer's own business


def test_a_ptm_cannot_revoke_or_list_keys(rig: Rig, ptm: Device, clinician: Device) -> None:
    session = rig.session(ptm)
    for name, args in (("revoke_key", {"key_id": clinician.identity.key_id.hex()}), ("list_keys", {})):
        reply = session.request(name, **args)
        assert reply.code == RejectCode.NOT_PERMITTED
    assert rig.session(clinician).request("interrogate_status").ok


def test_a_key_cannot_revoke_itself_mid_conversation(rig: Rig, clinician: Device) -> None:
    reply = rig.session(clinician).request("revoke_key", key_id=clinician.identity.key_id.hex())

    assert reply.status is ReplyStatus.REFUSED and "another clinician programmer" in reply.reason
    assert rig.session(clinician).request("interrogate_status").ok


def test_a_replacement_programmer_can_revoke_a_stolen_one(rig: Rig, clinician: Device) -> None:
    replacement = rig.device(Role.CLINICIAN, "programmer-2")
    rig.pair(replacement)

    assert rig.session(replacement).request("revoke_key", key_id=clinician.identity.key_id.hex()).ok
    stolen = rig.session(clinician).request("clinician_bolus", dose_ng=10_000_000, duration_ms=1_000)

    assert stolen.code == RejectCode.KEY_REVOKED
    assert rig.pump.calls == []
    revoked = [event for event in rig.events if event.kind == "revoked"]
    assert [(e.key_id, e.role, e.by_key_id) for e in revoked] == [
        (clinician.identity.key_id.hex(), "clinician", replacement.identity.key_id.hex())
    ]
