"""The one mapping between firmware and telemetry commands: every command goes there and back unchanged."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telemetry_rig import SAMPLE_ARGS

from thecal.pump.core.actions import Refusal
from thecal.pump.core.alarms import Alarm
from thecal.pump.core.commands import (
    CancelBolus,
    ClearAlarm,
    ClinicianBolus,
    DemandLimits,
    Fill,
    MotorStalled,
    PeriodicBolusPlan,
    PrimingBolus,
    Program,
    ReportFault,
    RequestDemandBolus,
    ResumeTherapy,
    Role,
    SetCatheter,
    SetClock,
    SetDemandLimits,
    SetLowReservoirAlarm,
    SetPeriodicBolus,
    StopTherapy,
    TelemetrySession,
)
from thecal.pump.core.schedule import DoseSchedule, DoseStep
from thecal.telemetry.commands import COMMAND_ID_BYTES, COMMANDS, Command, validate
from thecal.telemetry.pump_commands import NOT_FIRMWARE_COMMANDS, PumpRefused, from_telemetry, to_telemetry

HOUR_MS = 3_600_000
quantity = st.integers(0, 2**53)
positive = st.integers(1, 2**53)
day_steps = st.lists(st.integers(1, 23), max_size=12, unique=True).flatmap(
    lambda hours: st.tuples(*[st.builds(DoseStep, st.just(h * HOUR_MS), quantity) for h in [0, *sorted(hours)]])
)
schedules = st.lists(day_steps, min_size=7, max_size=7).map(lambda days: DoseSchedule(tuple(days)))
drug_names = st.sampled_from(["morphine", "ziconotide", "bupivacaine", "clonidine", "heroin"])
fills = st.builds(
    Fill,
    quantity,
    st.lists(st.tuples(drug_names, positive), min_size=1, max_size=4).map(tuple),
    st.none() | quantity,
    st.none() | quantity,
    st.booleans(),
)
firmware_commands = st.one_of(
    fills,
    st.builds(SetCatheter, quantity),
    st.builds(Program, schedules),
    st.builds(SetLowReservoirAlarm, quantity),
    st.builds(ClinicianBolus, positive, positive),
    st.builds(PrimingBolus, positive, positive),
    st.just(CancelBolus()),
    st.builds(SetPeriodicBolus, st.none() | st.builds(PeriodicBolusPlan, positive, positive, positive, quantity)),
    st.builds(SetDemandLimits, st.none() | st.builds(DemandLimits, positive, positive, quantity, positive)),
    st.just(RequestDemandBolus()),
    st.just(StopTherapy()),
    st.just(ResumeTherapy()),
    st.builds(ClearAlarm, st.sampled_from(Alarm), st.just(Role.CLINICIAN)),
    st.builds(SetClock, quantity),
)


@settings(max_examples=300, deadline=None)
@given(command=firmware_commands)
def test_every_firmware_command_fits_the_table_and_comes_back_unchanged(command: object) -> None:
    name, args = to_telemetry(command)  # type: ignore[arg-type]

    validate(Command(name, args, bytes(COMMAND_ID_BYTES)))
    assert from_telemetry(name, args, Role.CLINICIAN) == command


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - NOT_FIRMWARE_COMMANDS))
def test_every_telemetry_command_that_changes_the_pump_has_one_firmware_command(name: str) -> None:
    command = from_telemetry(name, SAMPLE_ARGS[name], Role.CLINICIAN)

    assert to_telemetry(command) == (name, SAMPLE_ARGS[name])


@pytest.mark.parametrize("name", sorted(NOT_FIRMWARE_COMMANDS))
def test_reads_and_key_commands_have_no_firmware_command(name: str) -> None:
    assert name in COMMANDS
    with pytest.raises(ValueError, match="no firmware command"):
        from_telemetry(name, SAMPLE_ARGS[name], Role.CLINICIAN)


@pytest.mark.parametrize("report", [MotorStalled("magnetic field"), ReportFault("self_test"), TelemetrySession()])
def test_the_hardware_s_reports_never_travel(report: object) -> None:
    with pytest.raises(ValueError, match="not sent over telemetry"):
        to_telemetry(report)  # type: ignore[arg-type]


def test_who_clears_an_alarm_is_the_sender_s_certified_role_not_a_field() -> None:
    name, args = to_telemetry(ClearAlarm(Alarm.MOTOR_STALL, Role.CLINICIAN))

    assert args == {"alarm": "motor_stall"}
    assert from_telemetry(name, args, Role.PTM) == ClearAlarm(Alarm.MOTOR_STALL, Role.PTM)


def test_ptm_off_needs_no_dose_and_ptm_settings_always_carries_one() -> None:
    assert to_telemetry(SetDemandLimits(None)) == ("ptm_off", {})
    name, args = to_telemetry(SetDemandLimits(DemandLimits(100_000, 300_000, 3_600_000, 4)))
    assert name == "ptm_settings" and args["dose_ng"] == 100_000


def test_a_fill_without_a_bridge_says_nothing_of_one_and_with_one_says_so() -> None:
    plain = Fill(20_000_000, (("morphine", 25_000_000),), aspirated_nl=1_000_000)
    assert "bridge" not in to_telemetry(plain)[1]
    bridged = Fill(20_000_000, (("morphine", 25_000_000),), bridge=True)
    assert to_telemetry(bridged)[1]["bridge"] is True


def test_steps_out_of_order_are_refused_as_the_pump_would() -> None:
    day = [{"start_ms": 0, "dose_ng_per_day": 1_000_000}, {"start_ms": 0, "dose_ng_per_day": 2_000_000}]

    with pytest.raises(PumpRefused) as refused:
        from_telemetry("program_therapy", {"days": [day] * 7}, Role.CLINICIAN)

    assert refused.value.to_dict()["code"] == "bad_schedule"
    assert "in order" in str(refused.value)


def test_a_day_that_does_not_start_at_midnight_is_refused() -> None:
    with pytest.raises(PumpRefused, match="00:00"):
        from_telemetry("program_therapy", {"days": [[{"start_ms": 1, "dose_ng_per_day": 1}]] * 7}, Role.CLINICIAN)


def test_an_alarm_the_pump_does_not_have_is_refused_with_the_ones_it_has() -> None:
    with pytest.raises(PumpRefused) as refused:
        from_telemetry("alarm_clear", {"alarm": "fire"}, Role.CLINICIAN)

    assert refused.value.to_dict()["code"] == "unknown_alarm"
    assert "motor_stall" in str(refused.value)
    assert Refusal(**refused.value.to_dict()) == refused.value.refusal  # it travels whole


def test_the_pump_side_does_not_import_the_client_side() -> None:
    probe = (
        "import sys, thecal.telemetry.endpoint, thecal.telemetry.pump_commands; "
        "print(sorted(m for m in sys.modules if m in ('thecal.telemetry.client', 'thecal.telemetry.device_files')))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout

    assert loaded.strip() == "[]"
