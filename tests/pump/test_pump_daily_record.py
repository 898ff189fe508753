"""What the pump's daily limit counts from the last 24 h: clinician boluses, long demand doses, replaced settings.

Figures from the drug library (hard tier): morphine at most 20 mg/day and 1 mg a
bolus. The record the limit counts is shown in the status (`recent_exposures`),
so that a programmer can predict the pump's verdict.
"""

from __future__ import annotations

import json

from thecal.pump.core import (
    ClinicianBolus,
    DemandLimits,
    DoseSchedule,
    Fill,
    Firmware,
    Formulary,
    Program,
    RequestDemandBolus,
    SetDemandLimits,
)
from thecal.pump.core.integers import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN
from thecal.pump.core.nvm import round_trip
from thecal.pump.model import PumpModel

MG = 1_000_000


def _morphine(model20: PumpModel, formulary: Formulary, mg_per_ml: int, dose_ng_per_day: int) -> Firmware:
    fw = Firmware(model20, formulary)
    assert fw.handle(Fill(20_000_000, (("morphine", mg_per_ml * MG),))).accepted
    assert fw.handle(Program(DoseSchedule.continuous(dose_ng_per_day))).accepted
    return fw


def test_clinician_boluses_of_the_last_24_h_count_toward_the_daily_limit(
    model20: PumpModel, formulary: Formulary
) -> None:
    """18.9 mg/day and 1 mg boluses: the first fits (19.9 mg), a second within 24 h of it does not (20.9 mg)."""
    fw = _morphine(model20, formulary, 20, 18_900_000)
    first = fw.handle(ClinicianBolus(MG, MS_PER_HOUR))
    assert first.accepted
    ends = int(first.info["ends_ms"])
    fw.advance(2 * MS_PER_HOUR)
    out = fw.handle(ClinicianBolus(MG, MS_PER_HOUR))
    assert not out.accepted and out.refusal.code == "above_max_daily_dose"
    assert "2.000 mg of clinician boluses" in out.refusal.message  # the one given and the one asked for
    assert out.refusal.value == "20.900 mg/day worst case"
    # Raising the basal within those 24 h counts the bolus too: 19.5 + 1 mg passes 20 mg.
    assert fw.handle(Program(DoseSchedule.continuous(19_500_000))).refusal.code == "above_max_daily_dose"
    # Once 24 h have passed since the first bolus ended, another fits again.
    fw.advance(ends + MS_PER_DAY - 1)
    assert fw.handle(ClinicianBolus(MG, MS_PER_HOUR)).refusal.code == "above_max_daily_dose"
    fw.advance(ends + MS_PER_DAY)
    assert fw.handle(ClinicianBolus(MG, MS_PER_HOUR)).accepted


def test_the_record_the_daily_limit_counts_is_in_the_status_and_survives_power_loss(
    model20: PumpModel, formulary: Formulary
) -> None:
    """A dose lowered and a bolus given: both show, in base units, until 24 h after they ended."""
    fw = _morphine(model20, formulary, 10, 15 * MG)
    assert fw.status()["recent_exposures"] == []
    fw.advance(MS_PER_HOUR)
    assert fw.handle(Program(DoseSchedule.continuous(13_600_000))).accepted
    out = fw.handle(ClinicianBolus(MG // 2, MS_PER_HOUR))
    assert out.accepted
    status = fw.status()
    assert json.loads(json.dumps(status)) == status
    lowered = {
        "ended_ms": MS_PER_HOUR,
        "drug": "morphine",
        "basal_ng_per_day": 15 * MG,
        "periodic_dose_ng": 0,
        "periodic_per_24h": 0,
        "demand_dose_ng": 0,
        "demand_max_per_24h": 0,
        "demand_lockout_ms": 0,
        "one_off_ng": 0,
    }
    bolus = {**{k: 0 for k in lowered}, "drug": "morphine", "ended_ms": out.info["ends_ms"], "one_off_ng": MG // 2}
    assert status["recent_exposures"] == [lowered, bolus]
    # The pump restarts from its memory with the same record, and so the same verdicts.
    state = round_trip(fw.state)
    restarted = Firmware(model20, formulary, state)
    assert restarted.status()["recent_exposures"] == status["recent_exposures"]
    fw.advance(MS_PER_HOUR + MS_PER_DAY)
    assert fw.status()["recent_exposures"] == [bolus]  # the lowered dose is 24 h past; the bolus ended later
    fw.advance(int(out.info["ends_ms"]) + MS_PER_DAY)
    assert fw.status()["recent_exposures"] == []


def test_a_demand_dose_counts_until_24_h_after_its_end(model20: PumpModel, formulary: Formulary) -> None:
    """One dose a day, given over 100 min: the next is possible 24 h after the first one ended, not started."""
    fw = _morphine(model20, formulary, 10, 10 * MG)
    fw.handle(SetDemandLimits(DemandLimits(MG // 2, 100 * MS_PER_MIN, MS_PER_HOUR, 1)))
    out = fw.handle(RequestDemandBolus())
    assert out.accepted and out.info["ends_ms"] == 100 * MS_PER_MIN
    day_after_end = MS_PER_DAY + 100 * MS_PER_MIN
    fw.advance(MS_PER_DAY)
    status = fw.status()
    assert (status["demand_next_allowed_wall_ms"], status["demand_left_24h"]) == (day_after_end, 0)
    assert status["demand_not_now"] == {"code": "daily_maximum", "until_wall_ms": day_after_end}
    out = fw.handle(RequestDemandBolus())
    assert (out.refusal.code, out.refusal.until_ms) == ("daily_maximum", day_after_end)
    fw.advance(day_after_end)
    assert fw.status()["demand_not_now"] is None
    assert fw.handle(RequestDemandBolus()).accepted


def test_a_long_demand_dose_before_a_window_and_the_daily_maximum_within_it_stay_within_the_limit(
    model20: PumpModel, formulary: Formulary
) -> None:
    """10 mg/day; 20 doses of 0.5 mg a day, the first over 100 min, then over 13 min: no 24 h passes 20 mg."""
    fw = _morphine(model20, formulary, 20, 10 * MG)
    fw.handle(SetDemandLimits(DemandLimits(MG // 2, 100 * MS_PER_MIN, MS_PER_HOUR, 20)))
    starts = [0]
    assert fw.handle(RequestDemandBolus()).accepted
    fw.advance(2 * MS_PER_HOUR)
    fw.handle(SetDemandLimits(DemandLimits(MG // 2, 13 * MS_PER_MIN, MS_PER_HOUR, 20)))
    while fw.state.now_ms < 30 * MS_PER_HOUR:
        out = fw.handle(RequestDemandBolus())
        if out.accepted:
            starts.append(fw.state.now_ms)
            fw.advance(fw.state.now_ms + MS_PER_HOUR)
        else:
            assert out.refusal.until_ms is not None
            fw.advance(out.refusal.until_ms)
    # Every dose that is delivered in part in a 24 h window counts in it: the first one until 24 h + 100 min.
    after_first = [t for t in starts if 0 < t < MS_PER_DAY + 100 * MS_PER_MIN]
    assert len(after_first) == 19, starts
