"""The command table: every command has a schema and a permission, and bad arguments are refused with a reason."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telemetry_rig import SAMPLE_ARGS

from thecal.telemetry.commands import (
    COMMAND_ID_BYTES,
    COMMANDS,
    PTM_STATUS_FIELDS,
    ROLE_PERMISSIONS,
    Command,
    Role,
    permitted,
    validate,
    visible_result,
)
from thecal.telemetry.errors import RejectCode, Rejected
from thecal.telemetry.frames import decode_request, encode_request

ID = bytes(COMMAND_ID_BYTES)


def refusal(name: str, args: dict[str, object]) -> Rejected:
    with pytest.raises(Rejected) as refused:
        validate(Command(name, args, ID))
    return refused.value


def test_every_command_has_a_sample_that_fits_its_schema() -> None:
    assert set(SAMPLE_ARGS) == set(COMMANDS)
    for name, args in SAMPLE_ARGS.items():
        validate(Command(name, args, ID))


def test_the_issue_s_commands_are_all_in_the_table() -> None:
    required = {
        "interrogate_status",
        "read_event_log",
        "program_therapy",
        "refill_update",
        "clinician_bolus",
        "priming_bolus",
        "periodic_bolus_set",
        "catheter_set",
        "alarm_clear",
        "ptm_settings",
        "ptm_off",
        "demand_bolus",
        "clock_set",
        "revoke_key",
    }
    assert required <= set(COMMANDS)
    assert "bridge_bolus" not in COMMANDS  # the bridge belongs to the fill that makes it


def test_a_clinician_may_send_everything_and_a_ptm_only_a_demand_bolus_its_status_and_its_log_entries() -> None:
    assert ROLE_PERMISSIONS[Role.CLINICIAN] == frozenset(COMMANDS)
    assert ROLE_PERMISSIONS[Role.PTM] == {"demand_bolus", "interrogate_status", "read_event_log"}
    assert not any(permitted(Role.PUMP, name) for name in COMMANDS)


def test_a_ptm_sees_only_the_patient_fields_of_the_status() -> None:
    full = {"reservoir_nl": 1, "contents": [], **dict.fromkeys(PTM_STATUS_FIELDS, 0)}

    assert set(visible_result(Role.PTM, "interrogate_status", full)) == PTM_STATUS_FIELDS
    assert visible_result(Role.CLINICIAN, "interrogate_status", full) == full


@pytest.mark.parametrize(
    ("name", "args", "code", "words"),
    [
        ("self_destruct", {}, RejectCode.UNKNOWN_COMMAND, "not one this pump accepts"),
        ("clinician_bolus", {"dose_ng": 1}, RejectCode.BAD_ARGUMENTS, "missing duration_ms"),
        (
            "clinician_bolus",
            {"dose_ng": 1, "duration_ms": 1, "rate_ml_per_h": 2},
            RejectCode.BAD_ARGUMENTS,
            "unexpected rate_ml_per_h",
        ),
        (
            "clinician_bolus",
            {"dose_ng": "0.5 mg", "duration_ms": 1},
            RejectCode.BAD_ARGUMENTS,
            "dose_ng: must be an integer",
        ),
        (
            "clinician_bolus",
            {"dose_ng": True, "duration_ms": 1},
            RejectCode.BAD_ARGUMENTS,
            "dose_ng: must be an integer",
        ),
        ("clinician_bolus", {"volume_nl": 50_000, "duration_ms": 1}, RejectCode.BAD_ARGUMENTS, "missing dose_ng"),
        ("clinician_bolus", {"dose_ng": -5, "duration_ms": 1}, RejectCode.BAD_ARGUMENTS, "-5 is below the minimum 1"),
        ("clinician_bolus", {"dose_ng": 0, "duration_ms": 1}, RejectCode.BAD_ARGUMENTS, "0 is below the minimum 1"),
        (
            "program_therapy",
            {"days": [[{"start_ms": 0, "dose_ng_per_day": 1}]] * 6},
            RejectCode.BAD_ARGUMENTS,
            "7 to 7",
        ),
        (
            "program_therapy",
            {"days": [[{"start_ms": 86_400_000, "dose_ng_per_day": 1}]] * 7},
            RejectCode.BAD_ARGUMENTS,
            "start_ms",
        ),
        ("program_therapy", {"days": [[{"start_ms": 0}]] * 7}, RejectCode.BAD_ARGUMENTS, "missing dose_ng_per_day"),
        (
            "program_therapy",
            {"days": [[{"start_ms": 0, "dose_ng_per_day": 5_000_000, "flow_nl_per_day": 500_000}]] * 7},
            RejectCode.BAD_ARGUMENTS,
            "unexpected flow_nl_per_day",
        ),
        ("program_therapy", {"days": [[]] * 7}, RejectCode.BAD_ARGUMENTS, "1 to 96 items"),
        (
            "ptm_settings",
            {"dose_ng": 100_000, "duration_ms": 1, "lockout_ms": 0, "max_per_24h": 0},
            RejectCode.BAD_ARGUMENTS,
            "max_per_24h: 0 is below the minimum 1",
        ),
        ("ptm_off", {"max_per_24h": 0}, RejectCode.BAD_ARGUMENTS, "unexpected max_per_24h"),
        ("bridge_bolus", {"volume_nl": 1, "duration_ms": 1}, RejectCode.UNKNOWN_COMMAND, "not one this pump accepts"),
        (
            "refill_update",
            {"volume_nl": 1, "contents": [{"drug": "morphine", "concentration_ng_per_ml": 1}], "bridge": 1},
            RejectCode.BAD_ARGUMENTS,
            "bridge: must be true or false",
        ),
        (
            "refill_update",
            {"volume_nl": 1, "contents": [{"drug": "morphine", "concentration_ng_per_ml": 1}] * 5},
            RejectCode.BAD_ARGUMENTS,
            "1 to 4 items",
        ),
        (
            "refill_update",
            {"volume_nl": 1, "contents": [{"drug": "Morphine!", "concentration_ng_per_ml": 1}]},
            RejectCode.BAD_ARGUMENTS,
            "drug",
        ),
        ("revoke_key", {"key_id": "not-hex"}, RejectCode.BAD_ARGUMENTS, "key_id"),
        ("alarm_clear", {"alarm": ""}, RejectCode.BAD_ARGUMENTS, "1 to 40 characters"),
    ],
)
def test_bad_arguments_are_refused_with_the_field_named(
    name: str, args: dict[str, object], code: RejectCode, words: str
) -> None:
    refused = refusal(name, args)

    assert refused.code == code
    assert words in refused.reason


def test_optional_arguments_may_be_left_out_but_not_mistyped() -> None:
    args = {"volume_nl": 1, "contents": [{"drug": "ziconotide", "concentration_ng_per_ml": 25_000}]}
    validate(Command("refill_update", args, ID))

    assert "aspirated_nl" in refusal("refill_update", {**args, "aspirated_nl": "2 mL"}).reason


def test_a_command_id_is_exactly_sixteen_bytes() -> None:
    with pytest.raises(Rejected) as refused:
        validate(Command("interrogate_status", {}, b"short"))

    assert refused.value.code == RejectCode.MALFORMED_MESSAGE


def test_fresh_commands_get_distinct_random_ids() -> None:
    ids = {Command.create("interrogate_status", {}).command_id for _ in range(50)}

    assert len(ids) == 50


@pytest.mark.parametrize("name", sorted(SAMPLE_ARGS))
def test_every_sample_command_survives_the_wire(name: str) -> None:
    command = Command.create(name, SAMPLE_ARGS[name])

    assert decode_request(encode_request(command)) == command


def test_a_float_never_travels() -> None:
    plaintext = cbor2.dumps({1: "clock_set", 2: ID, 3: {"wall_ms": 1.5}}, canonical=True)

    with pytest.raises(Rejected) as refused:
        decode_request(plaintext)

    assert refused.value.code == RejectCode.MALFORMED_MESSAGE
    assert "float" in refused.value.reason


plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=20) | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(COMMANDS)), args=st.dictionaries(st.text(max_size=24), plain, max_size=5))
def test_arbitrary_arguments_are_accepted_or_refused_never_anything_else(name: str, args: dict[str, object]) -> None:
    command = Command(name, args, ID)
    try:
        validate(command)
    except Rejected as refused:
        assert refused.code == RejectCode.BAD_ARGUMENTS
        assert refused.reason.startswith(name)
    else:  # whatever the table accepts must also survive the wire unchanged
        assert decode_request(encode_request(command)) == command
