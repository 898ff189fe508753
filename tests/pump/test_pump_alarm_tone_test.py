"""The alarm tone test: each tone sounds once, the test is logged, and nothing else about the pump changes."""

from __future__ import annotations

from tests.pump.conftest import MORPHINE_10_MG_PER_ML

from thecal.pump.core import DoseSchedule, Fill, Firmware, Formulary, MotorStalled, Program, Tone
from thecal.pump.core.actions import Logged, ToneSounded
from thecal.pump.core.alarms import Alarm
from thecal.pump.core.commands import AlarmToneTest
from thecal.pump.core.integers import MS_PER_DAY, MS_PER_HOUR
from thecal.pump.core.modes import PumpMode
from thecal.pump.core.refusals import RefusalCode
from thecal.pump.core.state import PumpState
from thecal.pump.device import VirtualPump
from thecal.pump.model import PumpModel


def running(model: PumpModel, formulary: Formulary) -> Firmware:
    """A pump filled with morphine 10 mg/mL, giving 1 mg/day for a day."""
    fw = Firmware(model, formulary)
    assert fw.handle(Fill(18_000_000, MORPHINE_10_MG_PER_ML)).accepted
    assert fw.handle(Program(DoseSchedule.continuous(1_000_000))).accepted
    fw.advance(MS_PER_DAY)
    return fw


def without_log(status: dict[str, object]) -> dict[str, object]:
    """A status without the log's head, which the test's own entry moves on by one."""
    return {k: v for k, v in status.items() if k != "log_next_seq"}


def test_each_tone_sounds_once_the_single_first_and_the_test_is_logged(
    model20: PumpModel, formulary: Formulary
) -> None:
    fw = running(model20, formulary)
    before = fw.status()
    outcome = fw.handle(AlarmToneTest())
    assert outcome.accepted
    tones = [a for a in outcome.actions if isinstance(a, ToneSounded)]
    assert [(t.tone, t.alarms, t.at_ms) for t in tones] == [
        (Tone.SINGLE, (), MS_PER_DAY),
        (Tone.TWO_TONE, (), MS_PER_DAY),
    ]
    [logged] = [a.entry for a in outcome.actions if isinstance(a, Logged)]
    assert (logged.kind, logged.get("tones"), logged.seq) == (
        "alarm_tone_test",
        "single,two-tone",
        before["log_next_seq"],
    )
    assert outcome.info == {"tones": "single,two-tone"}
    after = fw.status()
    assert without_log(after) == without_log(before)  # no setting, alarm, reservoir or flow changed
    assert after["log_next_seq"] == before["log_next_seq"] + 1


def test_the_test_leaves_an_active_alarm_and_its_repeat_as_they_were(model20: PumpModel, formulary: Formulary) -> None:
    """A stalled motor's alarm keeps sounding at its own interval; the test neither clears nor delays it."""
    fw = running(model20, formulary)
    fw.handle(MotorStalled("magnetic field"))
    next_tone = fw.state.next_tone_ms
    assert fw.handle(AlarmToneTest()).accepted
    assert fw.state.alarms.keys() == {Alarm.MOTOR_STALL} and fw.state.next_tone_ms == next_tone
    later = fw.advance(next_tone)
    assert [(t.tone, t.alarms) for t in later if isinstance(t, ToneSounded)] == [(Tone.TWO_TONE, (Alarm.MOTOR_STALL,))]


def test_a_pump_at_end_of_service_cannot_sound_the_test(model20: PumpModel, formulary: Formulary) -> None:
    data = running(model20, formulary).state.to_data()
    data["battery_used_pc"] = model20.battery_capacity_pc - model20.baseline_current_na * MS_PER_HOUR
    fw = Firmware(model20, formulary, PumpState.from_data(data))
    fw.advance(MS_PER_DAY + 2 * MS_PER_HOUR)
    assert fw.mode() is PumpMode.END_OF_SERVICE
    outcome = fw.handle(AlarmToneTest())
    assert not outcome.accepted and outcome.refusal is not None
    assert outcome.refusal.code == RefusalCode.END_OF_SERVICE
    assert not [a for a in outcome.actions if isinstance(a, ToneSounded)]


def test_the_virtual_pump_plays_both_tones(model20: PumpModel, formulary: Formulary) -> None:
    """The hardware around the firmware sounds what the firmware puts out, and nothing moves the motor."""
    vp = VirtualPump(model20, formulary=formulary, catheter_volume_nl=0, seed=1, accuracy_error=0.0)
    vp.command(Fill(18_000_000, MORPHINE_10_MG_PER_ML))
    vp.command(Program(DoseSchedule.continuous(1_000_000)))
    vp.advance(MS_PER_HOUR)
    reservoir = vp.reservoir.volume_nl
    vp.command(AlarmToneTest())
    assert [(t.tone, t.alarms) for t in vp.tones] == [(Tone.SINGLE, ()), (Tone.TWO_TONE, ())]
    assert vp.reservoir.volume_nl == reservoir
    assert vp.log_entries[-1].kind == "alarm_tone_test"
