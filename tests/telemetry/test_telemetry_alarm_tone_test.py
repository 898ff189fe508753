"""The alarm tone test on the wire: a clinician's command only, carried to the one firmware command that sounds it."""

from __future__ import annotations

from telemetry_rig import Device, Rig

from thecal.pump.core.commands import AlarmToneTest, Role
from thecal.telemetry.commands import COMMANDS, permitted
from thecal.telemetry.errors import RejectCode
from thecal.telemetry.pump_commands import from_telemetry, to_telemetry


def test_only_a_clinician_programmer_may_sound_the_alarm_tones() -> None:
    assert permitted(Role.CLINICIAN, "alarm_tone_test")
    assert not permitted(Role.PTM, "alarm_tone_test") and not permitted(Role.PUMP, "alarm_tone_test")
    spec = COMMANDS["alarm_tone_test"]
    assert spec.changes_pump and not spec.delivers_drug  # its reply is remembered: a retry never sounds it twice


def test_the_command_carries_the_firmware_test_and_back() -> None:
    assert to_telemetry(AlarmToneTest()) == ("alarm_tone_test", {})
    assert from_telemetry("alarm_tone_test", {}, Role.CLINICIAN) == AlarmToneTest()


def test_a_patients_handset_is_refused_before_the_pump_hears_it(rig: Rig, ptm: Device, clinician: Device) -> None:
    refused = rig.session(ptm).request("alarm_tone_test")
    assert refused.code == RejectCode.NOT_PERMITTED
    assert rig.pump.calls == []
    assert rig.session(clinician).request("alarm_tone_test").ok
    assert [(role, command.name) for role, command in rig.pump.calls] == [("clinician", "alarm_tone_test")]
