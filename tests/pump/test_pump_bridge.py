"""The old solution in the tubing after a change of solution, whether or not anything was programmed.

The dead volume (pump tubing 0.22 mL, no catheter set here) holds the old
solution after any earlier fill, and the next 0.22 mL of anything the motor
moves, basal or bolus, pushes it out first. Figures from the drug library
(hard tier): morphine at most 1 mg a bolus, 20 mg/day; hydromorphone at most
4 mg/day.
"""

from __future__ import annotations

from thecal.pump.core import (
    ClinicianBolus,
    Delivery,
    DoseSchedule,
    Fill,
    Firmware,
    Formulary,
    Logged,
    Program,
)
from thecal.pump.core.integers import MS_PER_DAY, MS_PER_HOUR
from thecal.pump.model import PumpModel

MG = 1_000_000
DEAD_NL = 220_000  # the 20 mL model's internal tubing


def _filled(model20: PumpModel, formulary: Formulary, contents: tuple) -> Firmware:
    fw = Firmware(model20, formulary)
    assert fw.handle(Fill(20_000_000, contents)).accepted
    return fw


def _bolus_volume(fw: Firmware, dose_ng: int) -> int:
    """Give a clinician bolus over an hour, run it to its end, and return the volume the pump measured out."""
    out = fw.handle(ClinicianBolus(dose_ng, MS_PER_HOUR))
    assert out.accepted, out.refusal
    fw.advance(fw.state.now_ms + MS_PER_HOUR)
    return int(out.info["volume_nl"])


def test_a_weaker_refill_with_nothing_programmed_needs_a_bridge(model20: PumpModel, formulary: Formulary) -> None:
    """Morphine 10 → 5 mg/mL with no prescription: refused without a bridge, taken with one that has no flows."""
    fw = _filled(model20, formulary, (("morphine", 10 * MG),))
    out = fw.handle(Fill(20_000_000, (("morphine", 5 * MG),)))
    assert not out.accepted and out.refusal.code == "bridge_needed"
    assert out.refusal.limit == "bridge of 0.220 mL"
    assert fw.handle(Fill(20_000_000, (("morphine", 5 * MG),), bridge=True)).accepted
    bridge = fw.status()["bridge"]
    assert bridge == {
        "remaining_nl": DEAD_NL,
        "label": [{"drug": "morphine", "concentration_ng_per_ml": 10 * MG}],
        "prescription": None,
    }
    # Nothing flows on its own: the pump is not programmed, and the old solution waits in the tubing.
    assert fw.mode() == "not_programmed" and fw.status()["basal_flow_nl_per_day"] == 0


def test_a_stronger_refill_needs_no_bridge_and_a_second_change_waits_for_the_first(
    model20: PumpModel, formulary: Formulary
) -> None:
    """The weaker old solution may go at the new, smaller volumes; a change while a bridge runs must wait."""
    fw = _filled(model20, formulary, (("morphine", 5 * MG),))
    assert fw.handle(Fill(20_000_000, (("morphine", 10 * MG),))).accepted
    assert fw.status()["bridge"] is None
    assert fw.handle(Fill(20_000_000, (("morphine", 5 * MG),), bridge=True)).accepted
    out = fw.handle(Fill(20_000_000, (("morphine", 10 * MG),), bridge=True))
    assert not out.accepted and out.refusal.code == "bridge_running"
    # The same solution again is no change: a refill of it is taken while the bridge runs.
    assert fw.handle(Fill(20_000_000, (("morphine", 5 * MG),))).accepted


def test_boluses_push_a_bridge_with_no_flows_and_are_measured_with_the_stronger_solution(
    model20: PumpModel, formulary: Formulary
) -> None:
    """0.5 mg boluses after 10 → 5 mg/mL: 0.05 mL each while the old solution is in the tubing, then 0.1 mL."""
    fw = _filled(model20, formulary, (("morphine", 10 * MG),))
    assert fw.handle(Fill(20_000_000, (("morphine", 5 * MG),), bridge=True)).accepted
    volumes = [_bolus_volume(fw, MG // 2) for _ in range(4)]
    # 4 × 50 000 nL pushed; 20 000 nL of the old solution are still in the tubing.
    assert volumes == [50_000] * 4
    assert fw.status()["bridge"]["remaining_nl"] == DEAD_NL - 200_000  # type: ignore[index]
    out = fw.handle(ClinicianBolus(MG // 2, MS_PER_HOUR))
    assert out.accepted and out.info["volume_nl"] == 50_000
    actions = fw.advance(fw.state.now_ms + MS_PER_HOUR)
    ended = [a.entry for a in actions if isinstance(a, Logged) and a.entry.kind == "bolus_end"]
    assert [e.get("kind") for e in ended] == ["bridge", "clinician"], "the bolus pushed the bridge to its end"
    assert fw.status()["bridge"] is None
    assert _bolus_volume(fw, MG // 2) == 100_000  # the tubing holds the new solution now


def test_a_prescription_made_during_a_bridge_with_no_flows_runs_at_the_stronger_solution_until_it_ends(
    model20: PumpModel, formulary: Formulary
) -> None:
    """1.5 mg/day after 10 → 5 mg/mL: 0.15 mL/day while the old solution goes, then 0.3 mL/day."""
    fw = _filled(model20, formulary, (("morphine", 10 * MG),))
    assert fw.handle(Fill(20_000_000, (("morphine", 5 * MG),), bridge=True)).accepted
    assert fw.handle(Program(DoseSchedule.continuous(1_500_000))).accepted
    assert fw.mode() == "bridge" and fw.status()["basal_flow_nl_per_day"] == 150_000
    actions = fw.advance(2 * MS_PER_DAY)
    rates = [(d.start_ms, d.end_ms, d.rate_nl_per_day) for d in actions if isinstance(d, Delivery)]
    # 220 000 nL at 150 000 nL/day: ⌈220 000 × 86 400 000 / 150 000⌉ = 126 720 000 ms.
    assert rates == [(0, 126_720_000, 150_000), (126_720_000, 2 * MS_PER_DAY, 300_000)]
    assert fw.mode() == "running"


def test_a_dose_too_small_to_run_at_the_stronger_solution_is_refused_while_it_is_in_the_tubing(
    model20: PumpModel, formulary: Formulary
) -> None:
    """0.5 mg/day after 20 → 10 mg/mL: 0.05 mL/day at 10 mg/mL, but 0.025 mL/day (below 0.048) at 20 mg/mL."""
    fw = _filled(model20, formulary, (("morphine", 20 * MG),))
    assert fw.handle(Fill(20_000_000, (("morphine", 10 * MG),), bridge=True)).accepted
    out = fw.handle(Program(DoseSchedule.continuous(MG // 2)))
    assert not out.accepted and out.refusal.code == "below_minimum_flow"
    assert "20 mg/mL" in out.refusal.message


def test_another_drug_with_nothing_programmed_is_bridged_and_its_new_flows_keep_the_old_drug_within_limits(
    model20: PumpModel, formulary: Formulary
) -> None:
    """Morphine 10 mg/mL → hydromorphone 1 mg/mL: the new flows push the morphine, so its daily limit holds too."""
    fw = _filled(model20, formulary, (("morphine", 10 * MG),))
    out = fw.handle(Fill(20_000_000, (("hydromorphone", MG),)))
    assert not out.accepted and out.refusal.code == "bridge_needed"
    assert fw.handle(Fill(20_000_000, (("hydromorphone", MG),), bridge=True)).accepted
    # 2.5 mg/day of hydromorphone is 2.5 mL/day, which would push 25 mg/day of morphine: above its 20 mg.
    out = fw.handle(Program(DoseSchedule.continuous(2_500_000)))
    assert not out.accepted and out.refusal.code == "above_max_daily_dose"
    assert out.refusal.field == "daily_dose.morphine"
    # 1.5 mg/day pushes 15 mg/day of morphine: taken. No dose of the new drug while the old one is in the tubing.
    assert fw.handle(Program(DoseSchedule.continuous(1_500_000))).accepted
    assert fw.handle(ClinicianBolus(100_000, MS_PER_HOUR)).refusal.code == "bridge_running"
    fw.advance(MS_PER_DAY)  # 0.22 mL at 1.5 mL/day: about 3.5 h
    assert fw.status()["bridge"] is None
    assert fw.handle(ClinicianBolus(100_000, MS_PER_HOUR)).accepted
