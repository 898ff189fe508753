"""The drug label's hard limits, enforced by the pump itself for any programmer, and doses kept as doses.

Every attack below was executed by the pump before its firmware knew its drug
(issue 8): a fill of an unknown drug, of morphine at 1 g/mL, of ziconotide with
morphine; 600 mg/day of morphine; demand doses of 5 mg with no lockout; demand
doses of ziconotide; a 100 mg clinician bolus; a 375 mg priming bolus. Each is
refused here with a code, the field, the value and the limit in words, and
changes nothing but the log. Figures from the drug library (hard tier):
morphine at most 25 mg/mL, 20 mg/day, 1 mg a bolus, 0.5 mg a demand dose;
ziconotide at most 100 mcg/mL, 21.6 mcg/day, no demand doses.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from thecal.pump.core import (
    ClinicianBolus,
    Delivery,
    DemandLimits,
    DoseSchedule,
    DoseStep,
    Fill,
    Firmware,
    Formulary,
    Logged,
    Outcome,
    PeriodicBolusPlan,
    PrimingBolus,
    Program,
    RequestDemandBolus,
    SetCatheter,
    SetClock,
    SetDemandLimits,
    SetPeriodicBolus,
    StopTherapy,
)
from thecal.pump.core.hard_limits import MAX_REPLACED_PER_DRUG, Exposure, Replaced, remember, worst_case
from thecal.pump.core.integers import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN, NL_PER_ML
from thecal.pump.model import PumpModel

MG = 1_000_000  # ng
MCG = 1_000  # ng
MORPHINE_10 = (("morphine", 10 * MG),)
MORPHINE_25 = (("morphine", 25 * MG),)
MakePump = Callable[..., Firmware]


def _refused(fw: Firmware, command: object, code: str) -> Outcome:
    """Send a command the pump must refuse with `code`; check that only the log changed."""
    before = fw.state.to_data()
    out = fw.handle(command)  # type: ignore[arg-type]
    assert not out.accepted, f"{command!r} was accepted"
    r = out.refusal
    assert r.code == code, (r.code, r.message)
    assert r.message and r.field
    after = fw.state.to_data()
    before.pop("log"), after.pop("log")
    assert after == before
    (entry,) = [a.entry for a in out.actions if isinstance(a, Logged)]
    assert entry.kind == "refused" and entry.get("code") == code
    return out


def _logged(actions: object, kind: str) -> list:
    return [a.entry for a in actions if isinstance(a, Logged) and a.entry.kind == kind]  # type: ignore[attr-defined]


@pytest.fixture
def pump(model20: PumpModel, formulary: Formulary) -> MakePump:
    """A factory: a 20 mL pump filled with `contents`, optionally programmed with a continuous dose."""

    def make(contents: tuple = MORPHINE_10, dose_ng_per_day: int | None = 1_500_000) -> Firmware:
        fw = Firmware(model20, formulary)
        assert fw.handle(Fill(20_000_000, contents)).accepted
        if dose_ng_per_day is not None:
            assert fw.handle(Program(DoseSchedule.continuous(dose_ng_per_day))).accepted
        return fw

    return make


# ------------------------------------------------------------------ the label


@pytest.mark.parametrize(
    ("contents", "code", "value", "limit"),
    [
        (
            (("heroin", 50 * MG),),
            "unknown_drug",
            "heroin",
            "bupivacaine, clonidine, hydromorphone, morphine, ziconotide",
        ),
        ((("morphine", 1_000 * MG),), "above_max_concentration", "1000 mg/mL", "25 mg/mL"),
        ((("morphine", 25 * MG + 1),), "above_max_concentration", "25 mg/mL", "25 mg/mL"),
        ((("ziconotide", 100 * MCG), ("morphine", 10 * MG)), "not_partners", "ziconotide + morphine", None),
        ((("morphine", 10 * MG), ("hydromorphone", 2 * MG)), "two_opioids", "morphine, hydromorphone", "1 opioid"),
        ((("morphine", 10 * MG), ("morphine", 25 * MG)), "drug_twice", "morphine", None),
        (
            tuple((d, MG) for d in ("morphine", "bupivacaine", "clonidine", "ziconotide", "hydromorphone")),
            None,
            "5",
            "4",
        ),
    ],
)
def test_a_fill_the_formulary_does_not_allow_is_refused(
    model20: PumpModel, formulary: Formulary, contents: tuple, code: str | None, value: str, limit: str | None
) -> None:
    """Unknown drugs, too strong a solution, drugs that may not share the reservoir: refused with the limit."""
    fw = Firmware(model20, formulary)
    out = _refused(fw, Fill(20_000_000, contents), code or "too_many_drugs")
    assert out.refusal.value == value
    if limit is not None:
        assert out.refusal.limit == limit
    assert fw.status()["label"] == []


def test_the_strongest_allowed_solution_fills_and_the_label_carries_its_rule(pump: MakePump) -> None:
    """Morphine at exactly 25 mg/mL with bupivacaine is accepted; the label holds both with their hard limits."""
    fw = pump((("morphine", 25 * MG), ("bupivacaine", 10 * MG)), None)
    assert fw.status()["label"] == [
        {"drug": "morphine", "concentration_ng_per_ml": 25 * MG},
        {"drug": "bupivacaine", "concentration_ng_per_ml": 10 * MG},
    ]
    assert [e.rule.max_daily_dose_ng_per_day for e in fw.state.label] == [20 * MG, 20 * MG]


# ------------------------------------------------------------ the daily limit


@pytest.mark.parametrize("contents", [MORPHINE_10, MORPHINE_25])
def test_six_hundred_milligrams_a_day_of_morphine_is_refused(pump: MakePump, contents: tuple) -> None:
    """600 mg/day is refused on the drug's 20 mg/day hard limit, whatever flow it would need."""
    fw = pump(contents, None)
    r = _refused(fw, Program(DoseSchedule.continuous(600 * MG)), "above_max_daily_dose").refusal
    assert (r.field, r.value, r.limit) == ("daily_dose.morphine", "600.000 mg/day worst case", "20.000 mg/day")
    assert "morphine" in r.message


def test_the_daily_limit_counts_the_highest_flexible_step(pump: MakePump) -> None:
    """A step of 21 mg/day for an hour is refused even though the day's total is lower; 20 mg/day passes."""
    fw = pump(MORPHINE_25, None)
    low, high = DoseStep(0, 2 * MG), DoseStep(3 * MS_PER_HOUR, 21 * MG)
    _refused(fw, Program(DoseSchedule.daily((low, high, DoseStep(4 * MS_PER_HOUR, 2 * MG)))), "above_max_daily_dose")
    assert fw.handle(Program(DoseSchedule.daily((low, DoseStep(3 * MS_PER_HOUR, 20 * MG))))).accepted


@pytest.mark.parametrize(
    ("limits", "code"),
    [
        # 5 mg a press is ten times the hard limit of one demand dose.
        (DemandLimits(5 * MG, 10 * MS_PER_MIN, 0, 4), "above_max_demand_dose"),
        # 0.5 mg with no lockout and 24 a day: 12 mg + 10 mg/day basal = 22 mg in the worst 24 h.
        (DemandLimits(MG // 2, 10 * MS_PER_MIN, 0, 24), "above_max_daily_dose"),
        # The same with a 1 h lockout and at most 20 a day: 10 + 10 = 20 mg, at the limit.
        (DemandLimits(MG // 2, 10 * MS_PER_MIN, MS_PER_HOUR, 20), None),
    ],
)
def test_demand_doses_count_in_the_worst_day(pump: MakePump, limits: DemandLimits, code: str | None) -> None:
    """Demand settings are refused when one dose, or every press used with the basal, passes a hard limit."""
    fw = pump(MORPHINE_10, 10 * MG)
    if code is None:
        assert fw.handle(SetDemandLimits(limits)).accepted
    else:
        _refused(fw, SetDemandLimits(limits), code)


def test_demand_doses_of_ziconotide_are_refused(pump: MakePump) -> None:
    """Ziconotide is given only as a continuous infusion: the pump refuses any demand dose setting."""
    fw = pump((("ziconotide", 25 * MCG),), 1_200)  # 1.2 mcg/day is 0.048 mL/day
    r = _refused(fw, SetDemandLimits(DemandLimits(100, 10 * MS_PER_MIN, 4 * MS_PER_HOUR, 2)), "demand_not_allowed")
    assert r.refusal.field == "demand.ziconotide"


def test_an_admixture_partner_is_held_to_its_own_limit(pump: MakePump) -> None:
    """Clonidine goes along with the morphine dose: 10 mg/day of morphine at 10 mg/mL carries 0.96+ mg of it."""
    # Clonidine 1 mg/mL beside morphine 10 mg/mL: 10 mg/day of morphine gives 1 mg/day of clonidine (hard: 0.96).
    fw = pump(MORPHINE_10, 10 * MG)
    r = _refused(fw, Fill(20_000_000, (("morphine", 10 * MG), ("clonidine", MG))), "above_max_daily_dose").refusal
    assert (r.field, r.limit) == ("daily_dose.clonidine", "0.960 mg/day")
    assert fw.handle(Fill(20_000_000, (("morphine", 10 * MG), ("clonidine", MG * 96 // 100)))).accepted


# ------------------------------------------------------------ single doses


def test_a_hundred_milligram_clinician_bolus_is_refused(pump: MakePump) -> None:
    """A clinician bolus above 1 mg of morphine is refused; 1 mg itself is given, as 0.1 mL."""
    fw = pump()
    r = _refused(fw, ClinicianBolus(100 * MG, 6 * MS_PER_HOUR), "above_max_bolus").refusal
    assert (r.value, r.limit) == ("100.000 mg", "1.000 mg")
    out = fw.handle(ClinicianBolus(MG, 6 * MS_PER_HOUR))
    assert out.accepted and out.info["volume_nl"] == 100_000


def test_a_periodic_bolus_above_the_single_dose_limit_is_refused(pump: MakePump) -> None:
    """A periodic bolus is held to the same single-dose limit as a clinician bolus."""
    fw = pump()
    plan = PeriodicBolusPlan(2 * MG, 30 * MS_PER_MIN, 12 * MS_PER_HOUR, 0)
    assert _refused(fw, SetPeriodicBolus(plan), "above_max_bolus").refusal.limit == "1.000 mg"


def test_a_priming_bolus_of_fifteen_millilitres_is_refused(pump: MakePump) -> None:
    """375 mg of morphine as a 15 mL priming bolus is refused; priming fills the dead volume and no more."""
    fw = pump(MORPHINE_25)
    _refused(fw, PrimingBolus(15_000_000, 15 * MS_PER_HOUR), "above_dead_volume")
    assert fw.status()["dead_volume_nl"] == 220_000  # the pump's tubing; no catheter set yet
    assert fw.handle(SetCatheter(180_000)).accepted
    assert fw.status()["catheter_volume_nl"] == 180_000 and fw.status()["dead_volume_nl"] == 400_000
    _refused(fw, PrimingBolus(400_001, MS_PER_HOUR), "above_dead_volume")
    assert fw.handle(PrimingBolus(400_000, MS_PER_HOUR)).accepted


# ------------------------------------------------------------ the transition rule


def test_settings_replaced_in_the_last_day_still_count(pump: MakePump) -> None:
    """Demand doses turned off still count for 24 h: a higher basal dose within that day is refused, after it not.

    Before: 15 mg/day basal and up to 10 demand doses of 0.5 mg (5 mg): 20 mg, at the limit.
    After: 19 mg/day basal alone. Each is within the limit, but a day holding the ten demand doses taken
    just before the change and 19 mg/day just after would not be.
    """
    fw = pump(MORPHINE_10, 15 * MG)
    assert fw.handle(SetDemandLimits(DemandLimits(MG // 2, 10 * MS_PER_MIN, 2 * MS_PER_HOUR, 10))).accepted
    fw.advance(5 * MS_PER_HOUR)
    assert fw.handle(SetDemandLimits(None)).accepted
    off = fw.state.now_ms
    fw.advance(off + MS_PER_DAY - 1)
    r = _refused(fw, Program(DoseSchedule.continuous(19 * MG)), "above_max_daily_dose").refusal
    assert "10 demand doses" in r.message and r.value == "24.000 mg/day worst case"
    fw.advance(off + MS_PER_DAY)
    assert fw.handle(Program(DoseSchedule.continuous(19 * MG))).accepted


def test_the_pump_counts_every_periodic_bolus_of_the_day_across_a_change_of_plan(pump: MakePump) -> None:
    """After a change of plan no 24 h gets more periodic boluses than the present plan allows in a day."""
    fw = pump(MORPHINE_10, MG)
    # Two a day, then right after the first one a plan of two a day starting at once: the third is skipped.
    assert fw.handle(SetPeriodicBolus(PeriodicBolusPlan(MG // 2, 10 * MS_PER_MIN, 12 * MS_PER_HOUR, 0))).accepted
    fw.advance(12 * MS_PER_HOUR + MS_PER_HOUR)  # boluses at 0 and 12 h
    out = fw.handle(SetPeriodicBolus(PeriodicBolusPlan(MG // 2, 10 * MS_PER_MIN, 12 * MS_PER_HOUR, fw.state.wall_ms)))
    assert out.accepted
    skipped = _logged(out.actions, "periodic_bolus_skipped")
    assert [e.get("reason") for e in skipped] == ["daily_maximum"]
    later = fw.advance(MS_PER_DAY + 2 * MS_PER_HOUR)  # the next start, 25 h: the bolus of 0 h has left the window
    assert [e.get("kind") for e in _logged(later, "bolus_start")] == ["periodic"]


# ------------------------------------------------------------ doses kept as doses


def test_a_refill_to_a_stronger_solution_keeps_every_dose(pump: MakePump) -> None:
    """10 → 25 mg/mL: the basal stays 1.5 mg/day (0.15 → 0.06 mL/day) and a demand dose stays 0.1 mg (10 → 4 uL)."""
    fw = pump(MORPHINE_10, 1_500_000)
    assert fw.handle(SetDemandLimits(DemandLimits(100_000, 10 * MS_PER_MIN, MS_PER_HOUR, 6))).accepted
    out = fw.handle(RequestDemandBolus())
    assert [e.get("volume_nl") for e in _logged(out.actions, "bolus_start")] == [10_000]
    assert fw.status()["basal_flow_nl_per_day"] == 150_000
    fw.advance(2 * MS_PER_HOUR)
    assert fw.handle(Fill(20_000_000, MORPHINE_25)).accepted
    assert fw.status()["basal_flow_nl_per_day"] == 60_000
    assert fw.status()["demand"] == {
        "dose_ng": 100_000,
        "duration_ms": 600_000,
        "lockout_ms": 3_600_000,
        "max_per_24h": 6,
    }
    out = fw.handle(RequestDemandBolus())
    assert [e.get("volume_nl") for e in _logged(out.actions, "bolus_start")] == [4_000]


def test_a_refill_with_another_drug_drops_the_settings(pump: MakePump) -> None:
    """Morphine → hydromorphone (with a bridge): prescription, demand and periodic are dropped and logged."""
    fw = pump(MORPHINE_10, 1_500_000)
    assert fw.handle(SetDemandLimits(DemandLimits(100_000, 10 * MS_PER_MIN, MS_PER_HOUR, 6))).accepted
    out = fw.handle(Fill(20_000_000, (("hydromorphone", 2 * MG),), bridge=True))
    assert out.accepted
    (dropped,) = _logged(out.actions, "settings_dropped")
    assert dropped.get("settings") == "prescription, demand"
    status = fw.status()
    assert status["prescription"] is None and status["demand"] is None and status["periodic"] is None
    # The old morphine still in the tubing goes out at its old flow; no dose of the new drug can be given yet.
    assert status["mode"] == "bridge" and status["basal_flow_nl_per_day"] == 150_000
    assert fw.handle(ClinicianBolus(100_000, MS_PER_HOUR)).refusal.code == "bridge_running"
    fw.advance(3 * MS_PER_DAY)  # 0.22 mL at 0.15 mL/day: the bridge ends after about 1.5 days
    assert fw.status()["bridge"] is None and fw.mode() == "not_programmed"
    assert fw.status()["basal_flow_nl_per_day"] == 0


@pytest.mark.parametrize(
    "contents", [(("morphine", 5 * MG),), (("hydromorphone", 2 * MG),)], ids=["weaker solution", "another drug"]
)
def test_a_refill_that_would_push_the_old_solution_too_fast_needs_a_bridge(pump: MakePump, contents: tuple) -> None:
    """A weaker solution or another drug under a prescription is refused without a bridge, accepted with one."""
    fw = pump(MORPHINE_10, 1_500_000)
    r = _refused(fw, Fill(20_000_000, contents), "bridge_needed").refusal
    assert r.limit == "bridge of 0.220 mL"
    assert fw.handle(Fill(20_000_000, contents, bridge=True)).accepted
    bridge = fw.status()["bridge"]
    assert bridge["remaining_nl"] == 220_000
    assert bridge["label"] == [{"drug": "morphine", "concentration_ng_per_ml": 10 * MG}]
    assert bridge["prescription"] == [[[0, 1_500_000]]] * 7


def test_the_bridge_carries_the_old_dose_and_then_the_new_flows_begin(pump: MakePump) -> None:
    """10 → 5 mg/mL with a bridge: 0.15 mL/day until the 0.22 mL dead volume has gone, then 0.3 mL/day."""
    fw = pump(MORPHINE_10, 1_500_000)
    out = fw.handle(Fill(20_000_000, (("morphine", 5 * MG),), bridge=True))
    assert [e.get("kind") for e in _logged(out.actions, "bolus_start")] == ["bridge"]
    # 220 000 nL at 150 000 nL/day: ⌈220 000 × 86 400 000 / 150 000⌉ = 126 720 000 ms.
    actions = fw.advance(2 * MS_PER_DAY)
    (end,) = _logged(actions, "bolus_end")
    assert end.at_ms == 126_720_000 and end.get("kind") == "bridge"
    rates = [(d.start_ms, d.end_ms, d.rate_nl_per_day) for d in actions if isinstance(d, Delivery)]
    assert rates == [(0, 126_720_000, 150_000), (126_720_000, 2 * MS_PER_DAY, 300_000)]


# ------------------------------------------------------------ status


def test_the_demand_status_agrees_with_the_pump_for_a_lockout_longer_than_a_day(pump: MakePump) -> None:
    """With a 36 h lockout, 25 h after a dose the status and the refusal both say: not before 36 h."""
    fw = pump(MORPHINE_10, 1_500_000)
    fw.handle(SetClock(1_767_225_600_000))
    wall0 = fw.state.wall_ms
    assert fw.handle(SetDemandLimits(DemandLimits(200_000, 10 * MS_PER_MIN, 36 * MS_PER_HOUR, 3))).accepted
    status = fw.status()
    assert (status["demand_next_allowed_wall_ms"], status["demand_left_24h"]) == (wall0, 3)
    assert fw.handle(RequestDemandBolus()).accepted
    fw.advance(25 * MS_PER_HOUR)
    status = fw.status()
    # The dose has left the 24 h window (3 left), but the lockout holds until 36 h.
    assert (status["demand_next_allowed_wall_ms"], status["demand_left_24h"]) == (wall0 + 36 * MS_PER_HOUR, 3)
    out = fw.handle(RequestDemandBolus())
    assert out.refusal.code == "locked_out"
    assert out.refusal.until_ms + fw.state.wall_offset_ms == status["demand_next_allowed_wall_ms"]
    fw.advance(36 * MS_PER_HOUR)
    assert fw.status()["demand_next_allowed_wall_ms"] == fw.state.wall_ms
    assert fw.handle(RequestDemandBolus()).accepted


CONTRACT_KEYS = {
    "model",
    "now_ms",
    "wall_ms",
    "reservoir_nl",
    "reservoir_capacity_nl",
    "low_reservoir_alarm_nl",
    "label",
    "prescription",
    "demand",
    "periodic",
    "catheter_volume_nl",
    "dead_volume_nl",
    "dose_raised_wall_ms",
    "demand_next_allowed_wall_ms",
    "demand_left_24h",
    "demand_not_now",
    "recent_exposures",
    "bridge",
    "mode",
    "basal_flow_nl_per_day",
    "bolus_flow_nl_per_day",
    "bolus",
    "strokes_total",
    "delivered_nl_total",
    "alarms",
    "battery_used_fraction",
    "eri_at_ms",
    "fills_total",
    "log_next_seq",
    "telemetry_rejections_unlogged",
    "demand_refusals_unlogged",
}


def test_the_status_has_the_contract_keys_and_round_trips_through_json(pump: MakePump) -> None:
    """Every key of the contract, nothing else, and plain JSON values; doses shown as doses."""
    fw = pump(MORPHINE_10, 1_500_000)
    assert fw.handle(SetCatheter(200_000)).accepted
    assert fw.handle(SetPeriodicBolus(PeriodicBolusPlan(200_000, 10 * MS_PER_MIN, 8 * MS_PER_HOUR, 0))).accepted
    assert fw.handle(Fill(20_000_000, (("morphine", 5 * MG),), bridge=True)).accepted
    status = fw.status()
    assert set(status) == CONTRACT_KEYS
    assert json.loads(json.dumps(status)) == status
    assert status["prescription"] == [[[0, 1_500_000]]] * 7
    assert status["periodic"] == {
        "dose_ng": 200_000,
        "duration_ms": 600_000,
        "interval_ms": 8 * MS_PER_HOUR,
        "first_wall_ms": 0,
    }
    assert status["bridge"]["remaining_nl"] == 420_000 and status["dose_raised_wall_ms"] == 0


def test_dose_raised_is_when_the_highest_basal_dose_last_went_up(pump: MakePump) -> None:
    """Raising any step's dose above the old highest sets the time; lowering or reshaping below it does not."""
    fw = pump(MORPHINE_10, None)
    assert fw.status()["dose_raised_wall_ms"] is None
    fw.advance(MS_PER_HOUR)
    assert fw.handle(Program(DoseSchedule.continuous(MG))).accepted
    assert fw.status()["dose_raised_wall_ms"] == MS_PER_HOUR
    fw.advance(2 * MS_PER_HOUR)
    assert fw.handle(Program(DoseSchedule.daily((DoseStep(0, MG // 2), DoseStep(MS_PER_HOUR, MG))))).accepted
    assert fw.handle(StopTherapy()).accepted
    assert fw.status()["dose_raised_wall_ms"] == MS_PER_HOUR
    fw.advance(3 * MS_PER_HOUR)
    assert fw.handle(Program(DoseSchedule.continuous(MG + 1))).accepted
    assert fw.status()["dose_raised_wall_ms"] == 3 * MS_PER_HOUR


# ------------------------------------------------------------ no 24 h above the limit


basal_dose = st.integers(MG // 2, 20 * MG)
# Durations differ from one setting to the next: a long dose before a 24 h window must count in it.
dose_minutes = st.sampled_from([10, 10, 13, 45, 100, 120])
demand_settings = st.one_of(
    st.none(),
    st.tuples(
        st.integers(10_000, MG // 2),
        st.sampled_from([0, 0, MS_PER_HOUR, 3 * MS_PER_HOUR, 5 * MS_PER_HOUR]),
        st.integers(1, 24),
        dose_minutes,
    ),
)
periodic_settings = st.one_of(
    st.none(), st.tuples(st.integers(10_000, MG), st.integers(2 * MS_PER_HOUR, 12 * MS_PER_HOUR), dose_minutes)
)
action = st.one_of(
    st.tuples(st.just("program"), basal_dose),
    st.tuples(st.just("demand"), demand_settings),
    st.tuples(st.just("periodic"), periodic_settings),
    st.tuples(st.just("greedy"), st.integers(MS_PER_HOUR, 30 * MS_PER_HOUR)),
    st.tuples(st.just("wait"), st.integers(1, 20 * MS_PER_HOUR)),
    st.tuples(st.just("bolus"), st.integers(MG // 10, MG)),
)


def _greedy_patient(fw: Firmware, for_ms: int, take: Callable[[object], None]) -> None:
    """Press as soon as every press is allowed, for a while: the patient who takes every dose there is."""
    deadline = fw.state.now_ms + for_ms
    while fw.state.now_ms < deadline:
        out = fw.handle(RequestDemandBolus())
        take(out.actions)
        if out.accepted:
            next_ms = int(out.info["ends_ms"])
        elif out.refusal.until_ms is not None:
            next_ms = out.refusal.until_ms
        else:
            next_ms = deadline  # demand off, or the pump cannot give a bolus now
        take(fw.advance(min(max(next_ms, fw.state.now_ms + 1), deadline)))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.tuples(basal_dose, demand_settings, periodic_settings),
    actions=st.lists(action, min_size=3, max_size=25),
)
# Demand doses used to the full, then turned off and the basal raised: the old doses still count for a day.
@example(
    first=(8 * MG, (MG // 2, 0, 24, 10), None), actions=[("demand", None), ("program", 20 * MG), ("wait", MS_PER_DAY)]
)
# Four quick presses under one setting, then a 3 h lockout allowing 24 a day: the pump counts the four.
@example(
    first=(15_500_000, (MG // 2, 0, 4, 10), None),
    actions=[("demand", (MG // 2, 3 * MS_PER_HOUR, 24, 10)), ("greedy", 30 * MS_PER_HOUR)],
)
# Two large periodic boluses a day, then eight small ones: the most boluses times the largest dose count.
@example(
    first=(18 * MG, None, (MG, 12 * MS_PER_HOUR, 10)),
    actions=[("periodic", (MG // 4, 3 * MS_PER_HOUR, 10)), ("wait", MS_PER_DAY)],
)
# A new plan whose first bolus comes 2 h after the last of the old plan, every 3 h: the pump counts the old ones.
@example(
    first=(12 * MG, None, (MG, 3 * MS_PER_HOUR, 10)),
    actions=[("wait", 2 * MS_PER_HOUR), ("periodic", (MG, 3 * MS_PER_HOUR, 10)), ("wait", 2 * MS_PER_DAY)],
)
# One dose a day of 0.5 mg over 100 min, then the daily maximum of 13-min doses: the long one counts until
# 24 h after it ended.
@example(
    first=(10 * MG, (MG // 2, MS_PER_HOUR, 20, 100), None),
    actions=[("greedy", MS_PER_HOUR), ("demand", (MG // 2, MS_PER_HOUR, 20, 13)), ("greedy", 30 * MS_PER_HOUR)],
)
# A 5 h lockout (5 doses a day), the first dose over 2 h and the rest over 10 min: no shorter dose may end
# sooner than the lockout after the long one did.
@example(
    first=(17_500_000, (MG // 2, 5 * MS_PER_HOUR, 24, 120), None),
    actions=[("greedy", MS_PER_HOUR), ("demand", (MG // 2, 5 * MS_PER_HOUR, 24, 10)), ("greedy", 30 * MS_PER_HOUR)],
)
# 18.9 mg/day and a 1 mg clinician bolus every two hours: the second within 24 h of the first is refused.
@example(
    first=(18_900_000, None, None),
    actions=[("bolus", MG), ("wait", 2 * MS_PER_HOUR), ("bolus", MG), ("wait", 2 * MS_PER_HOUR), ("bolus", MG)],
)
def test_no_day_passes_the_daily_limit_whatever_the_sequence_of_settings(
    model20: PumpModel,
    formulary: Formulary,
    first: tuple[int, object, object],
    actions: list[tuple[str, object]],
) -> None:
    """Random changes of basal, demand and periodic settings (of different durations), clinician boluses and a
    greedy patient: no 24 h ever passes 20 mg."""
    fw = Firmware(model20, formulary)
    assert fw.handle(Fill(20_000_000, MORPHINE_10)).accepted
    strokes: list[int] = []

    def take(actions: object) -> None:
        for a in actions:  # type: ignore[attr-defined]
            if isinstance(a, Delivery):
                strokes.extend(a.stroke_times_ms())

    basal, demand, periodic = first
    steps = [("program", basal), ("demand", demand), ("periodic", periodic), ("greedy", 30 * MS_PER_HOUR), *actions]
    for kind, arg in steps:
        if kind == "program":
            take(fw.handle(Program(DoseSchedule.continuous(arg))).actions)  # type: ignore[arg-type]
        elif kind == "demand":
            limits = None
            if arg is not None:
                dose, lockout, most, minutes = arg  # type: ignore[misc]
                limits = DemandLimits(dose, minutes * MS_PER_MIN, lockout, most)
            take(fw.handle(SetDemandLimits(limits)).actions)
        elif kind == "periodic":
            plan = None
            if arg is not None:
                dose, interval, minutes = arg  # type: ignore[misc]
                plan = PeriodicBolusPlan(dose, minutes * MS_PER_MIN, interval, fw.state.wall_ms + interval // 3)
            take(fw.handle(SetPeriodicBolus(plan)).actions)
        elif kind == "bolus":
            take(fw.handle(ClinicianBolus(arg, MS_PER_HOUR)).actions)  # type: ignore[arg-type]
        elif kind == "greedy":
            _greedy_patient(fw, arg, take)  # type: ignore[arg-type]
        else:
            take(fw.advance(fw.state.now_ms + arg))  # type: ignore[operator]
    _greedy_patient(fw, MS_PER_DAY, take)
    # Each stroke moves 250 nL of 10 mg/mL: 2.5 mcg. Strokes lag the exact flow integral by less than one
    # stroke, so a 24 h window holds at most one stroke more than the settings allow.
    stroke_ng = model20.stroke_nl * MORPHINE_10[0][1] // NL_PER_ML
    limit = 20 * MG + stroke_ng
    start = 0
    for end, t in enumerate(strokes):
        while strokes[start] <= t - MS_PER_DAY:
            start += 1
        assert (end - start + 1) * stroke_ng <= limit, f"{(end - start + 1) * stroke_ng} ng in the 24 h up to {t} ms"


exposure = st.builds(
    Exposure,
    st.just("morphine"),
    st.integers(0, 20 * MG),
    st.integers(0, MG),
    st.integers(0, 48),
    st.integers(0, MG // 2),
    st.integers(0, 24),
    st.integers(0, 4 * MS_PER_HOUR),
)


@settings(max_examples=200, deadline=None)
@given(changes=st.lists(st.tuples(st.integers(1, 6 * MS_PER_HOUR), exposure), min_size=1, max_size=40), now=exposure)
def test_the_record_of_replaced_settings_stays_small_and_never_forgets_a_risk(
    changes: list[tuple[int, Exposure]], now: Exposure
) -> None:
    """However many changes, the record keeps a few entries per drug and its worst case is never below the truth."""
    records: tuple[Replaced, ...] = ()
    everything: list[Replaced] = []
    t = 0
    for dt, ended in changes:
        t += dt
        records = remember(records, [ended], t)
        everything.append(Replaced(t, ended))
        assert len(records) <= MAX_REPLACED_PER_DRUG
        assert all(r.ended_ms > t - MS_PER_DAY for r in records)
    kept = worst_case(now, records, t)
    truth = worst_case(now, everything, t)  # every setting of the last 24 h, unpruned
    assert kept.basal_ng >= truth.basal_ng
    assert kept.periodic_ng >= truth.periodic_ng
    assert kept.demand_ng >= truth.demand_ng
