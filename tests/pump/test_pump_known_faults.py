"""Known faults of the firmware, each with the behaviour that fixes it.

A pump that cannot deliver must not fill its log with one skipped periodic
bolus an interval; a stuck button must not fill it with one refused press at a
time; a new alarm threshold must not clear the low-reservoir alarm; a log cut
short at its newest end must not verify; and `python -O`, which drops
`assert` statements, must not change what the pump does.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable
from pathlib import Path

from thecal.pump.core import (
    Alarm,
    DemandLimits,
    DoseSchedule,
    Fill,
    Firmware,
    Formulary,
    Logged,
    MotorRecovered,
    MotorStalled,
    PeriodicBolusPlan,
    Program,
    PumpState,
    RequestDemandBolus,
    SetDemandLimits,
    SetLowReservoirAlarm,
    SetPeriodicBolus,
    ToneSounded,
)
from thecal.pump.core.eventlog import LogEntry
from thecal.pump.core.firmware import DEMAND_REFUSALS_LOGGED_PER_DAY
from thecal.pump.core.integers import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN
from thecal.pump.core.nvm import round_trip
from thecal.pump.model import PumpModel

PUMP_PACKAGE = Path(__file__).resolve().parents[2] / "src" / "thecal" / "pump"
MORPHINE = (("morphine", 10_000_000),)
MakePump = Callable[..., Firmware]


def _small_log_pump(model20: PumpModel, formulary: Formulary, entries: int = 64) -> Firmware:
    """A morphine pump at 1.5 mg/day (0.15 mL/day) whose log holds only `entries` entries."""
    fw = Firmware(dataclasses.replace(model20, event_log_entries=entries), formulary)
    assert fw.handle(Fill(20_000_000, MORPHINE)).accepted
    assert fw.handle(Program(DoseSchedule.continuous(1_500_000))).accepted
    return fw


def _kinds(actions: list | tuple) -> list[str]:
    return [a.entry.kind for a in actions if isinstance(a, Logged)]


def _entries(fw: Firmware, kind: str) -> list[LogEntry]:
    return [e for e in fw.state.log if e.kind == kind]


# -------------------------------------------------------- periodic bolus skips


def test_a_pump_that_cannot_deliver_logs_one_skip_a_run_and_the_count_when_boluses_resume(
    model20: PumpModel, formulary: Formulary
) -> None:
    """A month stalled with an hourly periodic bolus: one skip logged, 720 counted, the history kept."""
    fw = _small_log_pump(model20, formulary)
    # 10 mcg every hour from 01:00: 1 uL over 10 minutes.
    plan = PeriodicBolusPlan(10_000, 10 * MS_PER_MIN, MS_PER_HOUR, MS_PER_HOUR)
    assert fw.handle(SetPeriodicBolus(plan)).accepted
    fw.advance(30 * MS_PER_MIN)
    assert fw.handle(MotorStalled("magnetic field")).accepted
    stalled_for = 30 * MS_PER_DAY
    fw.advance(30 * MS_PER_MIN + stalled_for)  # the starts due at 1 h, 2 h, … 720 h all fall in the stall

    (skipped,) = _entries(fw, "periodic_bolus_skipped")
    assert skipped.get("reason") == "motor_stall" and skipped.at_ms == MS_PER_HOUR
    assert fw.state.log.dropped == 0, "the clinical history was pushed out of the log"
    assert [e.kind for e in fw.state.log][:3] == ["power_on", "fill", "program"]

    assert fw.handle(MotorRecovered()).accepted
    later = fw.advance(fw.state.now_ms + MS_PER_HOUR)  # the next start, at 721 h
    assert _kinds(later)[:2] == ["periodic_bolus_resumed", "bolus_start"]
    (resumed,) = _entries(fw, "periodic_bolus_resumed")
    assert resumed.get("skipped") == 720 and resumed.at_ms == 721 * MS_PER_HOUR
    assert not _entries(fw, "periodic_bolus_skipped")[1:]


def test_turning_the_periodic_bolus_off_ends_a_run_of_skips_with_its_count(
    model20: PumpModel, formulary: Formulary
) -> None:
    fw = _small_log_pump(model20, formulary)
    assert fw.handle(SetPeriodicBolus(PeriodicBolusPlan(10_000, 10 * MS_PER_MIN, MS_PER_HOUR, MS_PER_HOUR))).accepted
    assert fw.handle(MotorStalled("motor fault")).accepted
    fw.advance(5 * MS_PER_HOUR + MS_PER_MIN)  # starts due at 1 … 5 h
    out = fw.handle(SetPeriodicBolus(None))
    (off,) = [a.entry for a in out.actions if isinstance(a, Logged)]
    assert off.kind == "periodic_bolus_off" and off.get("skipped") == 5
    assert fw.state.periodic_skipped == 0


# ---------------------------------------------------- the low-reservoir alarm


def test_changing_the_low_reservoir_threshold_never_clears_its_alarm(running_pump: MakePump) -> None:
    """Only a refill ends the low-reservoir alarm; a lower threshold leaves it sounding."""
    fw = running_pump(volume_nl=2_150_000)  # 0.15 mL/day: the 2 mL default threshold is crossed on day 1
    fw.advance(2 * MS_PER_DAY)
    assert Alarm.LOW_RESERVOIR in fw.state.alarms
    reservoir_nl = fw.state.reservoir_nl
    assert reservoir_nl > 1_000_000
    for threshold_nl in (1_000_000, 5_000_000, 1_000_000):
        out = fw.handle(SetLowReservoirAlarm(threshold_nl))
        assert out.accepted and "alarm_cleared" not in _kinds(out.actions)
        assert fw.status()["alarms"] == ["low_reservoir"]
    # The reservoir is as low as it was: the hourly tone goes on.
    tones = [a for a in fw.advance(fw.state.now_ms + MS_PER_HOUR) if isinstance(a, ToneSounded)]
    assert [t.alarms for t in tones] == [(Alarm.LOW_RESERVOIR,)]
    out = fw.handle(Fill(20_000_000, MORPHINE))
    (cleared,) = [a.entry for a in out.actions if isinstance(a, Logged) and a.entry.kind == "alarm_cleared"]
    assert cleared.get("by") == "refill" and not fw.state.alarms


# ------------------------------------------------------------ a stuck button


def test_a_stuck_button_cannot_fill_the_log(model20: PumpModel, formulary: Formulary) -> None:
    """A thousand presses inside the lockout: each answered, 24 logged per pump day, the rest counted."""
    fw = _small_log_pump(model20, formulary)
    assert fw.handle(SetDemandLimits(DemandLimits(100_000, 10 * MS_PER_MIN, 4 * MS_PER_HOUR, 4))).accepted
    assert fw.handle(RequestDemandBolus()).accepted
    first_seq = fw.state.log.next_seq
    presses = 1_000
    for i in range(presses):
        fw.advance(i * 10)  # a press every 10 ms
        out = fw.handle(RequestDemandBolus())
        # The handset still gets its answer every time, with the time of the next possible dose.
        assert (out.refusal.code, out.refusal.until_ms) == ("locked_out", 4 * MS_PER_HOUR)
    refused = [e for e in fw.state.log.since(first_seq) if e.kind == "refused"]
    assert len(refused) == DEMAND_REFUSALS_LOGGED_PER_DAY
    assert fw.state.log.dropped == 0, "the clinical history was pushed out of the log"
    unlogged = presses - DEMAND_REFUSALS_LOGGED_PER_DAY
    assert fw.status()["demand_refusals_unlogged"] == unlogged

    # The budget survives a power loss; a pump day after the first logged refusal, the next one is logged
    # and carries the count of those that were not.
    state = round_trip(fw.state)
    fw = Firmware(fw.model, fw.formulary, state)
    fw.advance(MS_PER_DAY - 1)
    assert fw.handle(RequestDemandBolus()).accepted  # the lockout has long passed: a dose, not a refusal
    out = fw.handle(RequestDemandBolus())
    assert out.refusal.code == "locked_out" and out.actions == ()
    fw.advance(MS_PER_DAY + 1_000)
    out = fw.handle(RequestDemandBolus())
    (entry,) = [a.entry for a in out.actions if isinstance(a, Logged)]
    assert entry.kind == "refused" and entry.get("unlogged_before") == unlogged + 1
    assert fw.status()["demand_refusals_unlogged"] == 0


# ---------------------------------------------------------- the log's head


def test_a_pump_state_whose_newest_log_entries_were_cut_off_does_not_verify(running_pump: MakePump) -> None:
    fw = running_pump()
    fw.advance(3 * MS_PER_DAY)
    data = fw.state.to_data()
    assert PumpState.from_data(data).log.verify()
    for cut in (1, 2):
        log = {**data["log"], "entries": data["log"]["entries"][:-cut]}
        assert not PumpState.from_data({**data, "log": log}).log.verify()


# ------------------------------------------------------------ python -O


def test_no_runtime_check_in_the_pump_is_an_assert() -> None:
    """`python -O` drops assert statements; every check of the pump must be an explicit error or fault."""
    found = [
        f"{path.relative_to(PUMP_PACKAGE)}:{node.lineno}"
        for path in sorted(PUMP_PACKAGE.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assert)
    ]
    assert found == []
