"""Hand-computed expectations for the firmware core: alarms, battery life, tones, clearing and refusals.

Units used in the arithmetic: volumes in nL, flows in nL/day, times in ms,
charge in pC (1 nA for 1 ms is 1 pC). One stroke is 250 nL, so one stroke
of flow integral is 250 nL × 86 400 000 ms/day = 21 600 000 000 nL·ms/day.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from thecal.pump.core import (
    Alarm,
    ClearAlarm,
    ClinicianBolus,
    Delivery,
    DemandLimits,
    DoseSchedule,
    DoseStep,
    Fill,
    Firmware,
    Formulary,
    Logged,
    MotorRecovered,
    MotorStalled,
    PrimingBolus,
    Program,
    PumpState,
    ReportFault,
    RequestDemandBolus,
    Role,
    SetCatheter,
    SetDemandLimits,
    StopTherapy,
    Tone,
    ToneSounded,
)
from thecal.pump.core.integers import (
    MS_PER_DAY,
    MS_PER_HOUR,
    MS_PER_MIN,
    format_duration,
    format_flow,
    format_volume,
)
from thecal.pump.model import PumpModel

MORPHINE = (("morphine", 10_000_000),)
MakePump = Callable[..., Firmware]


def _logged(actions: list | tuple, kind: str) -> list:
    return [a.entry for a in actions if isinstance(a, Logged) and a.entry.kind == kind]


def _tones(actions: list | tuple) -> list[ToneSounded]:
    return [a for a in actions if isinstance(a, ToneSounded)]


def _unchanged_but_logged(fw: Firmware, before: dict) -> None:
    """Nothing changed but the log and its refusal bookkeeping; the refusal was logged."""
    after = fw.state.to_data()
    before, after = dict(before), dict(after)
    log_before, log_after = before.pop("log"), after.pop("log")
    del before["rejections"], after["rejections"]
    assert after == before
    assert log_after["entries"][-1][2] == "refused" and log_after["next_seq"] == log_before["next_seq"] + 1


# ------------------------------------------------------------------ reservoir


@pytest.mark.parametrize(
    ("volume_nl", "threshold_nl", "strokes", "remaining_nl"),
    [
        # 20 mL at a 2 mL threshold: (20 000 000 − 2 000 000) / 250 = 72 000 strokes, leaving exactly 2 mL.
        (20_000_000, 2_000_000, 72_000, 2_000_000),
        # 10.0001 mL at 3 mL: ⌈7 000 100 / 250⌉ = 28 001 strokes; 28 000 would leave 3 000 100 nL, above it.
        (10_000_100, 3_000_000, 28_001, 2_999_850),
    ],
)
def test_low_reservoir_alarm_sounds_when_the_crossing_stroke_completes(
    running_pump: MakePump, volume_nl: int, threshold_nl: int, strokes: int, remaining_nl: int
) -> None:
    """At 0.15 mL/day the low-reservoir alarm comes exactly when the stroke reaching the threshold completes."""
    fw = running_pump(volume_nl=volume_nl, flow_nl_per_day=150_000)
    assert fw.handle(Fill(volume_nl, MORPHINE, low_reservoir_alarm_nl=threshold_nl)).accepted
    # 150 000 nL/day fills one stroke of integral every 21 600 000 000 / 150 000 = 144 000 ms (600 a day),
    # so stroke k completes at k × 144 000 ms.
    t = strokes * 144_000
    fw.advance(t - 1)
    assert Alarm.LOW_RESERVOIR not in fw.state.alarms
    assert fw.state.strokes_total == strokes - 1
    actions = fw.advance(t)
    assert fw.state.strokes_total == strokes and fw.state.reservoir_nl == remaining_nl
    assert fw.state.alarms == {Alarm.LOW_RESERVOIR: t}
    (entry,) = _logged(actions, "alarm")
    assert entry.at_ms == t and entry.get("reservoir_nl") == remaining_nl and entry.get("critical") == 0
    assert _tones(actions) == [ToneSounded(t, Tone.SINGLE, (Alarm.LOW_RESERVOIR,))]


def test_the_reservoir_empties_at_its_last_whole_stroke_and_delivery_stops(running_pump: MakePump) -> None:
    """20 mL at 0.15 mL/day empties at stroke 80 000, at 133 1/3 days, and then nothing more flows."""
    fw = running_pump(volume_nl=20_000_000, flow_nl_per_day=150_000)
    # 20 000 000 / 250 = 80 000 strokes; the last at 80 000 × 144 000 = 11 520 000 000 ms (133.33 days).
    t = 11_520_000_000
    fw.advance(t - 1)
    assert fw.state.reservoir_nl == 250 and Alarm.EMPTY_RESERVOIR not in fw.state.alarms
    actions = fw.advance(t)
    assert fw.state.reservoir_nl == 0 and fw.state.strokes_total == 80_000
    assert fw.state.alarms[Alarm.EMPTY_RESERVOIR] == t
    assert fw.mode() == "empty" and fw.next_stroke_ms() is None
    assert _tones(actions)[-1] == ToneSounded(t, Tone.TWO_TONE, (Alarm.EMPTY_RESERVOIR, Alarm.LOW_RESERVOIR))
    later = fw.advance(t + MS_PER_DAY)
    assert not [a for a in later if isinstance(a, Delivery)]
    assert fw.state.strokes_total == 80_000
    # Critical: a two-tone every 10 minutes, 144 in the day after.
    assert [a.at_ms for a in _tones(later)] == [t + k * 10 * MS_PER_MIN for k in range(1, 145)]


# -------------------------------------------------------------------- battery


def _run_with_refills(fw: Firmware, until_ms: int, every_ms: int, volume_nl: int = 20_000_000) -> None:
    """Advance to `until_ms`, refilling to `volume_nl` at every multiple of `every_ms`."""
    while True:
        next_refill = (fw.state.now_ms // every_ms + 1) * every_ms
        if next_refill > until_ms:
            break
        fw.advance(next_refill)
        assert fw.handle(Fill(volume_nl, MORPHINE)).accepted
    fw.advance(until_ms)


def test_battery_figures_in_the_model_file(model20: PumpModel) -> None:
    """The model's battery figures, in pC and nA, are the ones the hand calculations below use."""
    assert model20.battery_capacity_pc == 5_760_000_000_000_000  # 1.6 A·h = 5 760 C
    assert model20.eri_reserve_pc == 205_000_000_000_000  # 205 C
    assert model20.baseline_current_na == 25_000  # 25 µA
    assert model20.stroke_charge_pc == 60_000_000  # 60 µC
    assert model20.end_of_service_after_eri_ms == 90 * MS_PER_DAY


def test_eri_and_end_of_service_at_a_quarter_millilitre_a_day(running_pump: MakePump) -> None:
    """At 0.25 mL/day ERI comes at 216 194 595 200 ms and end of service 90 days later."""
    fw = running_pump(flow_nl_per_day=250_000)
    # 250 000 nL/day: one stroke every 21 600 000 000 / 250 000 = 86 400 ms, at the end of each period.
    # Charge per period: 25 000 nA × 86 400 ms + 60 000 000 pC = 2 160 000 000 + 60 000 000 = 2 220 000 000 pC.
    # ERI when used ≥ 5 760 000 000 000 000 − 205 000 000 000 000 = 5 555 000 000 000 000 pC.
    # Whole periods: 5 555 000 000 000 000 // 2 220 000 000 = 2 502 252, using 5 554 999 440 000 000 pC;
    # the 560 000 000 pC left take 560 000 000 / 25 000 = 22 400 ms of baseline (before the next stroke).
    # ERI = 2 502 252 × 86 400 + 22 400 = 216 194 595 200 ms (about 6.85 years).
    eri = 216_194_595_200
    # Refilling 20 mL every 60 days (15 mL used, 5 mL left) keeps the pump running and above the alarm.
    _run_with_refills(fw, eri - 1, 60 * MS_PER_DAY)
    assert fw.state.eri_at_ms is None
    actions = fw.advance(eri)
    assert fw.state.eri_at_ms == eri and fw.state.battery_used_pc == 5_555_000_000_000_000
    assert _tones(actions) == [ToneSounded(eri, Tone.SINGLE, (Alarm.ELECTIVE_REPLACEMENT,))]
    # Over the next 90 days: 90 000 periods use 199 800 000 000 000 pC, less than the 205 C reserve, so the
    # pump stops on time: end of service = ERI + 90 days = 216 194 595 200 + 7 776 000 000 = 223 970 595 200 ms.
    eos = 223_970_595_200
    _run_with_refills(fw, eos - 1, 60 * MS_PER_DAY)
    assert not fw.state.end_of_service and fw.mode() == "running"
    actions = fw.advance(eos)
    assert fw.state.end_of_service and fw.state.alarms[Alarm.END_OF_SERVICE] == eos
    assert fw.mode() == "end_of_service"
    strokes = fw.state.strokes_total
    assert not [a for a in fw.advance(eos + MS_PER_DAY) if isinstance(a, Delivery)]
    assert fw.state.strokes_total == strokes


def test_end_of_service_comes_before_90_days_when_the_charge_runs_out(running_pump: MakePump) -> None:
    """At 0.5 mL/day ERI comes at 210 505 263 200 ms and the battery is empty at 218 273 685 600 ms."""
    fw = running_pump(flow_nl_per_day=500_000)
    # One stroke every 21 600 000 000 / 500 000 = 43 200 ms; per period 25 000 × 43 200 + 60 000 000
    # = 1 140 000 000 pC. 5 555 000 000 000 000 // 1 140 000 000 = 4 872 807 periods use
    # 5 554 999 980 000 000 pC; the 20 000 000 pC left take 800 ms.
    # ERI = 4 872 807 × 43 200 + 800 = 210 505 263 200 ms.
    eri = 210_505_263_200
    _run_with_refills(fw, eri, 30 * MS_PER_DAY)
    assert fw.state.eri_at_ms == eri
    # Capacity 5 760 000 000 000 000 pC: from the period start before ERI (5 554 999 980 000 000 pC used)
    # 205 000 020 000 000 pC remain; 179 824 whole periods use 204 999 360 000 000, the last 660 000 000 pC
    # take 26 400 ms. Empty at 210 505 262 400 + 179 824 × 43 200 + 26 400 = 218 273 685 600 ms,
    # 7 577 600 ms before ERI + 90 days (218 281 263 200 ms).
    eos = 218_273_685_600
    _run_with_refills(fw, eos - 1, 30 * MS_PER_DAY)
    assert not fw.state.end_of_service
    fw.advance(eos)
    assert fw.state.end_of_service and fw.state.alarms[Alarm.END_OF_SERVICE] == eos
    assert fw.state.battery_used_pc == 5_760_000_000_000_000


def test_eri_and_end_of_service_of_an_idle_pump(model20: PumpModel, formulary: Formulary) -> None:
    """A pump that never delivers reaches ERI on its baseline current alone, then stops 90 days later."""
    fw = Firmware(model20, formulary)
    # 5 555 000 000 000 000 pC / 25 000 nA = 222 200 000 000 ms (2 571.76 days); 90 days more at
    # 25 000 nA use 194 400 000 000 000 pC < 205 C, so end of service is at 229 976 000 000 ms.
    fw.advance(222_200_000_000 - 1)
    assert fw.state.eri_at_ms is None
    fw.advance(222_200_000_000)
    assert fw.state.eri_at_ms == 222_200_000_000
    fw.advance(229_976_000_000 - 1)
    assert not fw.state.end_of_service
    fw.advance(229_976_000_000)
    assert fw.state.end_of_service and fw.state.alarms[Alarm.END_OF_SERVICE] == 229_976_000_000


# ---------------------------------------------------------------------- tones


def test_alarm_tones_repeat_hourly_single_or_every_ten_minutes_two_tone_and_critical_wins(
    running_pump: MakePump,
) -> None:
    """Low reservoir: single tone hourly; a motor stall on top: two tones every 10 min; cleared: hourly again."""
    fw = running_pump(volume_nl=1_500_000)  # 1.5 mL ≤ 2 mL: low reservoir from the fill at t = 0
    assert fw.state.alarms == {Alarm.LOW_RESERVOIR: 0}
    low = (Alarm.LOW_RESERVOIR,)
    tones = _tones(fw.advance(3 * MS_PER_HOUR + 30 * MS_PER_MIN - 1))
    assert tones == [ToneSounded(h * MS_PER_HOUR, Tone.SINGLE, low) for h in (1, 2, 3)]
    stall_at = 3 * MS_PER_HOUR + 30 * MS_PER_MIN
    fw.advance(stall_at)
    both = (Alarm.LOW_RESERVOIR, Alarm.MOTOR_STALL)
    assert _tones(fw.handle(MotorStalled("MRI")).actions) == [ToneSounded(stall_at, Tone.TWO_TONE, both)]
    clear_at = stall_at + 35 * MS_PER_MIN
    tones = _tones(fw.advance(clear_at))
    assert tones == [ToneSounded(stall_at + k * 10 * MS_PER_MIN, Tone.TWO_TONE, both) for k in (1, 2, 3)]
    assert fw.handle(MotorRecovered()).accepted
    assert fw.handle(ClearAlarm(Alarm.MOTOR_STALL, Role.CLINICIAN)).accepted
    tones = _tones(fw.advance(clear_at + 4 * MS_PER_HOUR))
    assert all(t.tone is Tone.SINGLE and t.alarms == low for t in tones)
    assert clear_at < tones[0].at_ms <= clear_at + MS_PER_HOUR
    assert [b.at_ms - a.at_ms for a, b in itertools.pairwise(tones)] == [MS_PER_HOUR] * (len(tones) - 1)


def test_a_critical_and_a_noncritical_alarm_starting_together_sound_only_the_two_tone(
    running_pump: MakePump,
) -> None:
    """A fill of less than one stroke raises low and empty at once: one two-tone, no single tone first."""
    fw = running_pump(volume_nl=20_000_000)
    out = fw.handle(Fill(100, MORPHINE))
    assert set(fw.state.alarms) == {Alarm.LOW_RESERVOIR, Alarm.EMPTY_RESERVOIR}
    assert [t.tone for t in _tones(out.actions)] == [Tone.TWO_TONE]


# ------------------------------------------------------------ who may clear


def _pump_with_every_clearable_alarm(make: MakePump) -> Firmware:
    fw = make(volume_nl=100)  # less than a stroke: low reservoir and empty
    fw.handle(MotorStalled("MRI"))
    fw.handle(ReportFault("E42"))
    assert set(fw.state.alarms) == {
        Alarm.LOW_RESERVOIR,
        Alarm.EMPTY_RESERVOIR,
        Alarm.MOTOR_STALL,
        Alarm.PUMP_FAULT,
    }
    return fw


@pytest.mark.parametrize("role", [Role.PTM, Role.PUMP])
def test_only_a_clinician_clears_alarms(running_pump: MakePump, role: Role) -> None:
    """Neither the patient nor the pump itself may clear any alarm; each try is refused and changes nothing."""
    fw = _pump_with_every_clearable_alarm(running_pump)
    for alarm in list(fw.state.alarms):
        before = fw.state.to_data()
        out = fw.handle(ClearAlarm(alarm, role))
        assert not out.accepted and out.refusal.code == "not_clearable" and out.refusal.message
        _unchanged_but_logged(fw, before)


def test_a_clinician_clears_a_motor_stall_only_once_the_motor_runs(running_pump: MakePump) -> None:
    """While stalled the clinician is refused; after recovery the clinician clears it and delivery resumes."""
    fw = running_pump()
    fw.handle(MotorStalled("MRI"))
    fw.advance(MS_PER_HOUR)
    assert fw.handle(ClearAlarm(Alarm.MOTOR_STALL, Role.CLINICIAN)).refusal.code == "still_stalled"
    assert fw.handle(MotorRecovered()).accepted
    assert Alarm.MOTOR_STALL in fw.state.alarms  # recovery alone does not end the alarm
    out = fw.handle(ClearAlarm(Alarm.MOTOR_STALL, Role.CLINICIAN))
    assert out.accepted and _logged(out.actions, "alarm_cleared")[0].get("by") == "clinician"
    assert fw.state.alarms == {} and fw.next_stroke_ms() is not None


@pytest.mark.parametrize("code", ["E42", ""])
def test_a_fault_halts_delivery_until_a_clinician_clears_it(running_pump: MakePump, code: str) -> None:
    """A reported fault, whatever its code, stops the flow; only the clinician's clear lets it run again."""
    fw = running_pump()
    fw.handle(ReportFault(code))
    assert fw.mode() == "fault" and fw.next_stroke_ms() is None
    assert not [a for a in fw.advance(MS_PER_DAY) if isinstance(a, Delivery)]
    assert fw.handle(ClearAlarm(Alarm.PUMP_FAULT, Role.PTM)).refusal.code == "not_clearable"
    assert fw.handle(ClearAlarm(Alarm.PUMP_FAULT, Role.CLINICIAN)).accepted
    assert fw.mode() == "running" and fw.next_stroke_ms() is not None


def test_low_reservoir_and_empty_end_only_with_a_refill(running_pump: MakePump) -> None:
    """The clinician cannot clear low reservoir or empty; a refill above the threshold ends both."""
    fw = running_pump(volume_nl=100)
    for alarm in (Alarm.LOW_RESERVOIR, Alarm.EMPTY_RESERVOIR):
        assert fw.handle(ClearAlarm(alarm, Role.CLINICIAN)).refusal.code == "not_clearable"
    out = fw.handle(Fill(1_500_000, MORPHINE))  # a stroke's worth again, still under the 2 mL threshold
    assert [e.get("alarm") for e in _logged(out.actions, "alarm_cleared")] == ["empty_reservoir"]
    out = fw.handle(Fill(10_000_000, MORPHINE))
    assert [(e.get("alarm"), e.get("by")) for e in _logged(out.actions, "alarm_cleared")] == [
        ("low_reservoir", "refill")
    ]
    assert fw.state.alarms == {}


def test_eri_and_end_of_service_are_never_cleared(model20: PumpModel, formulary: Formulary) -> None:
    """Nobody clears ERI or end of service, and a refill does not either."""
    fw = Firmware(model20, formulary)
    data = fw.state.to_data()
    data["battery_used_pc"] = model20.battery_capacity_pc - model20.eri_reserve_pc - 25_000  # 1 ms to ERI
    fw = Firmware(model20, formulary, PumpState.from_data(data))
    fw.advance(1)
    assert fw.state.eri_at_ms == 1
    fw.advance(1 + 90 * MS_PER_DAY)
    assert set(fw.state.alarms) == {Alarm.ELECTIVE_REPLACEMENT, Alarm.END_OF_SERVICE}
    for alarm in (Alarm.ELECTIVE_REPLACEMENT, Alarm.END_OF_SERVICE):
        for role in Role:
            assert fw.handle(ClearAlarm(alarm, role)).refusal.code == "not_clearable"
    assert fw.handle(Fill(20_000_000, MORPHINE)).accepted
    assert set(fw.state.alarms) == {Alarm.ELECTIVE_REPLACEMENT, Alarm.END_OF_SERVICE}
    assert fw.handle(Program(DoseSchedule.continuous(1_500_000))).refusal.code == "end_of_service"


def test_clearing_an_alarm_that_is_not_active_is_refused(running_pump: MakePump) -> None:
    """Clearing an inactive alarm is refused as not active, for any role."""
    fw = running_pump()
    for role in Role:
        assert fw.handle(ClearAlarm(Alarm.PUMP_FAULT, role)).refusal.code == "not_active"


# ------------------------------------------------------------------- demand


def test_demand_refusals_say_why_and_until_when(running_pump: MakePump) -> None:
    """Off, locked out, daily maximum, bolus running and stopped: each refusal has its code and its time."""
    fw = running_pump(flow_nl_per_day=150_000)
    out = fw.handle(RequestDemandBolus())
    assert out.refusal.code == "demand_off" and out.refusal.message
    # 0.5 mg at 10 mg/mL is 0.05 mL; over 10 min: rate ⌈50 000 × 86 400 000 / 600 000⌉ = 7 200 000 nL/day,
    # under the ceiling of 24 000 000 − 150 000 = 23 850 000 nL/day. Lockout 2 h, at most 3 in 24 h.
    assert fw.handle(SetDemandLimits(DemandLimits(500_000, 10 * MS_PER_MIN, 2 * MS_PER_HOUR, 3))).accepted
    out = fw.handle(RequestDemandBolus())
    assert out.accepted and out.info["ends_ms"] == 600_000 and out.info["used_in_24h"] == 1
    assert _logged(out.actions, "bolus_start")[0].get("rate_nl_per_day") == 7_200_000

    def press_at(t: int) -> object:
        fw.advance(t)
        return fw.handle(RequestDemandBolus())

    out = press_at(MS_PER_HOUR)
    assert (out.refusal.code, out.refusal.until_ms) == ("locked_out", 2 * MS_PER_HOUR)
    out = press_at(2 * MS_PER_HOUR - 1)
    assert (out.refusal.code, out.refusal.until_ms) == ("locked_out", 2 * MS_PER_HOUR)
    assert press_at(2 * MS_PER_HOUR).accepted  # the lockout has just ended
    assert press_at(4 * MS_PER_HOUR).accepted
    out = press_at(6 * MS_PER_HOUR)
    # Three doses at 0, 2 h and 4 h: the first counts until 24 h after it ended, at 10 min.
    day_after = MS_PER_DAY + 10 * MS_PER_MIN
    assert (out.refusal.code, out.refusal.until_ms) == ("daily_maximum", day_after)
    out = press_at(day_after - 1)
    assert (out.refusal.code, out.refusal.until_ms) == ("daily_maximum", day_after)
    out = press_at(day_after)
    assert out.accepted and out.info["used_in_24h"] == 3

    # A lockout shorter than the dose: the next press meets the running bolus.
    assert fw.handle(SetDemandLimits(DemandLimits(500_000, 10 * MS_PER_MIN, 5 * MS_PER_MIN, 10))).accepted
    start = MS_PER_DAY + 3 * MS_PER_HOUR
    assert press_at(start).accepted
    out = press_at(start + 6 * MS_PER_MIN)
    # After 360 000 ms, 7 200 000 × 360 000 of the 4 320 000 000 000 nL·ms/day are done; the remaining
    # 1 728 000 000 000 take 240 000 ms more: the bolus ends at start + 600 000 ms.
    assert (out.refusal.code, out.refusal.until_ms) == ("bolus_running", start + 600_000)

    fw.advance(start + MS_PER_HOUR)
    assert fw.handle(StopTherapy()).accepted
    before = fw.state.to_data()
    out = fw.handle(RequestDemandBolus())
    assert out.refusal.code == "stopped" and out.refusal.message
    _unchanged_but_logged(fw, before)


def test_a_lockout_longer_than_a_day_still_holds(running_pump: MakePump) -> None:
    """A 30 h lockout refuses a press 25 h after the last dose, even though that dose left the 24 h window."""
    fw = running_pump()
    assert fw.handle(SetDemandLimits(DemandLimits(200_000, 10 * MS_PER_MIN, 30 * MS_PER_HOUR, 3))).accepted
    assert fw.handle(RequestDemandBolus()).accepted
    fw.advance(25 * MS_PER_HOUR)
    out = fw.handle(RequestDemandBolus())
    assert not out.accepted and (out.refusal.code, out.refusal.until_ms) == ("locked_out", 30 * MS_PER_HOUR)
    fw.advance(30 * MS_PER_HOUR)
    assert fw.handle(RequestDemandBolus()).accepted


# ------------------------------------------------------------ the pump's own limits


def test_a_bolus_too_fast_is_refused_with_the_fastest_allowed_duration(
    model20: PumpModel, formulary: Formulary
) -> None:
    """1 mL in 30 min over a 0.15 mL/day basal is refused; the message names 1 h 00 min 22.642 s, which works."""
    # Morphine at 1 mg/mL: 0.15 mg/day is 0.15 mL/day, and a 1 mg bolus (the hard limit of one bolus) is 1 mL.
    fw = Firmware(model20, formulary)
    assert fw.handle(Fill(20_000_000, (("morphine", 1_000_000),))).accepted
    assert fw.handle(Program(DoseSchedule.continuous(150_000))).accepted
    before = fw.state.to_data()
    out = fw.handle(ClinicianBolus(1_000_000, 30 * MS_PER_MIN))
    # Rate ⌈1 000 000 × 86 400 000 / 1 800 000⌉ = 48 000 000 nL/day; the ceiling is 1 mL/h = 24 000 000
    # nL/day less the 150 000 basal = 23 850 000. Fastest: ⌈86 400 000 000 000 / 23 850 000⌉ = 3 622 642 ms.
    r = out.refusal
    assert r.code == "bolus_too_fast" and r.limit == format_flow(23_850_000)
    assert format_duration(3_622_642) == "0 d 01:00:22.642" and "0 d 01:00:22.642" in r.message
    _unchanged_but_logged(fw, before)
    # One millisecond faster needs ⌈86 400 000 000 000 / 3 622 641⌉ = 23 850 004 nL/day: still too fast.
    assert fw.handle(ClinicianBolus(1_000_000, 3_622_641)).refusal.code == "bolus_too_fast"
    out = fw.handle(ClinicianBolus(1_000_000, 3_622_642))
    assert out.accepted and out.info["ends_ms"] == 3_622_642 and out.info["volume_nl"] == 1_000_000


def test_a_priming_bolus_may_use_the_whole_bolus_ceiling(running_pump: MakePump) -> None:
    """A priming bolus replaces the basal, so 1 mL in exactly 1 h (1 mL/h) is allowed and 1 ms less is not."""
    fw = running_pump(flow_nl_per_day=150_000)
    assert fw.handle(SetCatheter(780_000)).accepted  # with the pump's 0.22 mL, a dead volume of 1 mL
    assert fw.status()["dead_volume_nl"] == 1_000_000
    assert fw.handle(PrimingBolus(1_000_000, MS_PER_HOUR - 1)).refusal.code == "bolus_too_fast"
    assert fw.handle(PrimingBolus(1_000_000, MS_PER_HOUR)).accepted
    assert fw.status()["basal_flow_nl_per_day"] == 0 and fw.status()["bolus_flow_nl_per_day"] == 24_000_000
    assert fw.mode() == "priming"


def test_an_empty_pump_refuses_a_bolus_it_could_never_deliver(running_pump: MakePump) -> None:
    """With less than one stroke in the reservoir a bolus is refused, not left pending for ever."""
    fw = running_pump(volume_nl=200)  # 200 nL < one 250 nL stroke: the pump is empty
    assert fw.mode() == "empty"
    out = fw.handle(ClinicianBolus(1_000, MS_PER_MIN))  # 1 mcg at 10 mg/mL is 100 nL
    assert not out.accepted and out.refusal.code == "reservoir"
    fw.advance(MS_PER_DAY)
    assert fw.state.bolus is None
    assert fw.handle(Program(DoseSchedule.continuous(2_000_000))).accepted


def test_forty_millilitres_into_a_twenty_millilitre_pump_is_refused(model20: PumpModel, formulary: Formulary) -> None:
    """A 40 mL fill of the 20 mL pump is refused as over capacity and changes nothing."""
    fw = Firmware(model20, formulary)
    before = fw.state.to_data()
    r = fw.handle(Fill(40_000_000, MORPHINE)).refusal
    assert (r.code, r.value, r.limit) == ("over_capacity", format_volume(40_000_000), "20.000 mL")
    _unchanged_but_logged(fw, before)
    assert fw.handle(Fill(20_000_000, MORPHINE)).accepted


def test_the_forty_millilitre_pump_takes_forty_millilitres(model40: PumpModel, formulary: Formulary) -> None:
    """The 40 mL pump accepts 40 mL and refuses one nanolitre more."""
    fw = Firmware(model40, formulary)
    assert fw.handle(Fill(40_000_001, MORPHINE)).refusal.code == "over_capacity"
    assert fw.handle(Fill(40_000_000, MORPHINE)).accepted


@pytest.mark.parametrize(
    ("flow_nl_per_day", "code"),
    [
        (47_999, "below_minimum_flow"),  # just under 0.048 mL/day
        (48_000, None),
        (24_000_000, None),  # the assumed maximum continuous flow, 24 mL/day
        (24_000_001, "above_maximum_flow"),
    ],
)
def test_flow_limits(placebo_pump: MakePump, flow_nl_per_day: int, code: str | None) -> None:
    """Flows below 0.048 mL/day or above the pump's maximum are refused; the limits themselves are allowed."""
    fw = placebo_pump()
    before = fw.state.to_data()
    out = fw.handle(Program(DoseSchedule.continuous(flow_nl_per_day)))  # placebo 1 mg/mL: d ng/day is d nL/day
    assert (None if out.accepted else out.refusal.code) == code
    if code is not None:
        _unchanged_but_logged(fw, before)
    else:
        assert fw.status()["basal_flow_nl_per_day"] == flow_nl_per_day


@pytest.mark.parametrize(("steps", "accepted"), [(13, True), (14, False)])
def test_at_most_thirteen_steps_a_day(placebo_pump: MakePump, steps: int, accepted: bool) -> None:
    """Flexible dosing allows 13 steps in a day; 14 are refused with the count and the limit."""
    fw = placebo_pump()
    busy = tuple(DoseStep(k * 100 * MS_PER_MIN, 100_000 + 1_000 * k) for k in range(steps))
    quiet = (DoseStep(0, 100_000),)
    out = fw.handle(Program(DoseSchedule((quiet, quiet, busy, quiet, quiet, quiet, quiet))))
    assert out.accepted is accepted
    if not accepted:
        r = out.refusal
        assert (r.code, r.field, r.value, r.limit) == ("too_many_steps", "schedule.day2", "14", "13")
