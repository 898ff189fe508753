"""Each gap listed at the top of issue 8 ("One rulebook at every door"), as a test a person's door would show.

Most are scenario files run with `thecal simulate`, as a new user tried them:
the scenario format and the command are the same before and after the
redesign, so each of these tests ran unchanged on the code before it and
failed there (an exit code 0 where a limit should stop the file, or doses
that changed with the concentration). The two about the live pump go through
`thecal pump` and `thecal ptm` against a daemon. The import contract has its
own test (tests/test_house.py).
"""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from thecal.cli import main

ROOT = Path(__file__).resolve().parents[2]
MG = 1_000_000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000
REASON = 'override_reason = "reviewed by the prescribing physician: needed for this patient"'


@dataclass(frozen=True)
class Ran:
    """One `thecal` command line: its exit code and what it printed."""

    code: int
    out: str
    err: str

    def result(self) -> dict[str, object]:
        """The simulation's JSON document."""
        assert self.code == 0, self.err
        data = json.loads(self.out)
        assert isinstance(data, dict)
        return data


def thecal(*argv: str) -> Ran:
    """Run `thecal ARGV…` in this process."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return Ran(code, out.getvalue(), err.getvalue())


def simulate(tmp_path: Path, timeline: str, *, drug: str = "morphine", concentration: str = "10 mg/mL") -> Ran:
    """`thecal simulate --json` of a 40 mL pump filled with the drug at 0 d, then the timeline, for 20 days."""
    path = tmp_path / "scenario.toml"
    path.write_text(
        f"""[scenario]
start = "2026-01-05T08:00"
seed = 3

[pump]
model = "programmable-40"
accuracy_error = "0 %"

[run]
duration = "20 d"
sample = "1 d"

[[timeline]]
at = "0 d"
action = "fill"
drug = "{drug}"
concentration = "{concentration}"
volume = "30 mL"

[[timeline]]
at = "0 d"
action = "prime"

{timeline}
"""
    )
    return thecal("simulate", str(path), "--json")


def stopped_at(ran: Ran, entry: str) -> str:
    """The error a scenario stopped with, once it is known to name the entry and to have written nothing."""
    assert ran.code == 2, f"the scenario ran to its end (exit {ran.code}); a limit should have stopped it"
    assert entry in ran.err, ran.err
    assert ran.out == "", "a scenario stopped by a limit writes no result"
    return ran.err


def program(at: str, rate: str, *, reason: bool = True) -> str:
    """A continuous `program` entry."""
    return f'[[timeline]]\nat = "{at}"\naction = "program"\nmode = "continuous"\n{rate}\n{REASON if reason else ""}\n'


# ------------------------------------------------------------- the scenario runner's limits


def test_a_flow_typed_in_ml_per_hour_beyond_the_daily_limit_stops_the_scenario(tmp_path: Path) -> None:
    """0.1 mL/h of 10 mg/mL is 24 mg/day: beyond the 20 mg/day hard limit, and 24 times the day before."""
    timeline = program("0 d 09:00", 'dose = "1 mg/day"') + program("5 d 09:00", 'flow = "0.1 mL/h"')
    error = stopped_at(simulate(tmp_path, timeline), "timeline[3] (program)")
    assert "hard limit" in error and "per hour" in error


@pytest.mark.parametrize("concentration", ["30 mg/mL", "50 mg/mL"])
def test_morphine_stronger_than_its_hard_concentration_limit_cannot_be_filled(
    tmp_path: Path, concentration: str
) -> None:
    """The library's hard limit is 25 mg/mL (the strongest labelled solution)."""
    error = stopped_at(simulate(tmp_path, "", concentration=concentration), "timeline[0] (fill)")
    assert "25 mg/mL" in error and "No one can override this limit" in error


def test_ziconotide_cannot_start_at_3_mcg_per_day(tmp_path: Path) -> None:
    """Prialt: start at no more than 2.4 mcg/day."""
    timeline = program("0 d 09:00", 'dose = "3 mcg/day"')
    error = stopped_at(simulate(tmp_path, timeline, drug="ziconotide", concentration="25 mcg/mL"), "timeline[2]")
    assert "starting daily dose" in error and "2.4 mcg/day" in error


def test_ziconotide_cannot_go_from_1_2_to_6_mcg_per_day_in_one_step(tmp_path: Path) -> None:
    """Prialt: raise by no more than 2.4 mcg/day at a time."""
    timeline = program("0 d 09:00", 'dose = "1.2 mcg/day"') + program("5 d 09:00", 'dose = "6 mcg/day"')
    error = stopped_at(simulate(tmp_path, timeline, drug="ziconotide", concentration="25 mcg/mL"), "timeline[3]")
    assert "dose increase" in error and "2.4 mcg/day" in error


def test_ziconotide_cannot_go_from_2_4_to_19_2_mcg_per_day_within_24_h(tmp_path: Path) -> None:
    """Steps of 2.4 mcg/day three hours apart: the second comes before the 24 h every increase must wait."""
    doses = [2.4 * k for k in range(1, 9)]  # 2.4, 4.8, … 19.2 mcg/day
    timeline = "".join(program(f"{1 + 3 * i} h", f'dose = "{d:.1f} mcg/day"') for i, d in enumerate(doses))
    error = stopped_at(simulate(tmp_path, timeline, drug="ziconotide", concentration="25 mcg/mL"), "timeline[3]")
    assert "time since the last increase" in error and "24 h" in error


def test_morphine_cannot_go_from_half_a_mg_a_day_to_half_a_mg_an_hour(tmp_path: Path) -> None:
    """0.5 mg/h is 12 mg/day: 24 times the dose, the signature of a per-hour dose typed as per-day."""
    timeline = program("0 d 09:00", 'dose = "0.5 mg/day"', reason=False) + program("5 d 09:00", 'dose = "0.5 mg/h"')
    error = stopped_at(simulate(tmp_path, timeline), "timeline[3] (program)")
    assert "per hour" in error


def test_ziconotide_is_never_a_demand_dose(tmp_path: Path) -> None:
    """Prialt is given only as a continuous infusion."""
    timeline = (
        program("0 d 09:00", 'dose = "1.2 mcg/day"')
        + '[[timeline]]\nat = "1 d"\naction = "demand_settings"\ndose = "1 mcg"\nduration = "10 min"\n'
        'lockout = "4 h"\nmax_per_day = 3\n'
    )
    error = stopped_at(simulate(tmp_path, timeline, drug="ziconotide", concentration="25 mcg/mL"), "timeline[3]")
    assert "continuous infusion" in error


def test_demand_doses_of_1_mg_with_no_lockout_and_24_a_day_are_refused(tmp_path: Path) -> None:
    """1 mg a press, no lockout, 24 a day: 24 mg of morphine in a day from the handset alone."""
    timeline = (
        program("0 d 09:00", 'dose = "1 mg/day"')
        + '[[timeline]]\nat = "1 d"\naction = "demand_settings"\ndose = "1 mg"\nduration = "10 min"\n'
        'lockout = "0 min"\nmax_per_day = 24\n'
    )
    error = stopped_at(simulate(tmp_path, timeline), "timeline[3] (demand_settings)")
    assert "hard limit" in error


# ---------------------------------------------------------------------- doses stay doses


def demand_doses_ng(result: dict[str, object]) -> list[int]:
    """Every demand dose the pump started, as a dose: its volume at the concentration of the fill in force."""
    concentration = 0
    doses = []
    for event in result["events"]:  # type: ignore[attr-defined]
        detail = event["detail"]
        if event["kind"] == "fill":
            concentration = detail["morphine_ng_per_ml"]
        elif event["kind"] == "bolus_start" and detail["kind"] == "demand":
            doses.append(detail["volume_nl"] * concentration // MG)
    return doses


def test_the_demo_keeps_every_demand_dose_at_0_1_mg_after_the_refill_to_25_mg_per_ml() -> None:
    """examples/demo.toml: 0.1 mg a press at 10 mg/mL, and still 0.1 mg after the refill to 25 mg/mL."""
    ran = thecal("simulate", str(ROOT / "examples" / "demo.toml"), "--json")
    doses = demand_doses_ng(ran.result())
    assert len(doses) > 150 and set(doses) == {100_000}, sorted(set(doses))
    summary = thecal("simulate", str(ROOT / "examples" / "demo.toml"))
    assert summary.code == 0
    shown = re.search(r"demand doses of morphine: (\d+) × ([\d.]+) mg", summary.out)
    assert shown is not None, summary.out
    assert (int(shown[1]), Decimal(shown[2])) == (len(doses), Decimal("0.1"))


def tip_ng_per_day(result: dict[str, object], from_day: int, to_day: int) -> float:
    """The mean daily morphine at the catheter tip between two days of the run."""
    series = result["series"]
    times = series["t_ms"]  # type: ignore[index]
    tip = series["tip_cumulative_ng:morphine"]  # type: ignore[index]
    at = {t // MS_PER_DAY: ng for t, ng in zip(times, tip, strict=True)}
    return (at[to_day] - at[from_day]) / (to_day - from_day)


def test_a_refill_with_a_new_concentration_and_no_new_prescription_keeps_the_dose(tmp_path: Path) -> None:
    """1 mg/day at 10 mg/mL, refilled with 20 mg/mL and nothing reprogrammed: still 1 mg/day, not 2."""
    timeline = program("0 d 09:00", 'dose = "1 mg/day"') + (
        '[[timeline]]\nat = "5 d 09:00"\naction = "refill"\ndrug = "morphine"\nconcentration = "20 mg/mL"\n'
        'volume = "30 mL"\n'
    )
    result = simulate(tmp_path, timeline).result()
    assert tip_ng_per_day(result, 2, 5) == pytest.approx(1 * MG, rel=0.01)
    # Days 12 to 20: long after the old solution in the tubing and catheter has gone through.
    assert tip_ng_per_day(result, 12, 20) == pytest.approx(1 * MG, rel=0.01)


def test_a_concentration_change_without_a_bridge_is_warned_of(tmp_path: Path) -> None:
    """10 to 20 mg/mL with `bridge = false`: the old solution goes at the new volumes, and the plan says so."""
    timeline = program("0 d 09:00", 'dose = "1 mg/day"') + (
        '[[timeline]]\nat = "5 d 09:00"\naction = "refill"\ndrug = "morphine"\nconcentration = "20 mg/mL"\n'
        'volume = "30 mL"\nbridge = false\n'
    )
    result = simulate(tmp_path, timeline).result()
    warned = [w for w in result["warnings"] if w["timeline_index"] == 3]  # type: ignore[union-attr]
    assert any("No bridge" in w["message"] for w in warned), warned


# ------------------------------------------------------------- one rule, in one place


def test_the_patients_handset_and_the_pump_agree_on_a_36_h_lockout(tmp_path: Path) -> None:
    """A dose, then 25 h later: the handset says not before 36 h after the dose, and the pump holds to it."""
    from tests.daemon.daemon_rig import START_WALL_MS, start

    from thecal.devices.daemon import init_state

    pump = start(init_state(tmp_path / "pump", wall_ms=START_WALL_MS), accel=1.0)
    try:
        pump.pair("clinician")
        pump.pair("ptm")
        where = ("--state", str(pump.layout.root), "--port", str(pump.port))
        doctor = (*where, "--by", "physician", "--name", "Dr Rivera", "--yes")
        assert (
            thecal(
                "pump", "fill", *doctor, "--drug", "morphine", "--concentration", "10 mg/mL", "--volume", "20 mL"
            ).code
            == 0
        )
        ptm = ("--dose", "0.1 mg", "--duration", "10 min", "--lockout", "36 h", "--max-per-day", "2")
        assert thecal("pump", "ptm-settings", *doctor, *ptm).code == 0
        assert thecal("ptm", "bolus", *where).code == 0
        pressed_wall_ms = int(pump.daemon.status()["wall_ms"])  # type: ignore[call-overload]
        pump.time.now_s += 25 * 3600  # 25 h of pump time at the rig's still clock (accel 1)
        status = json.loads(thecal("ptm", "status", *where, "--json").out)
        assert status["demand_next_allowed_wall_ms"] == pressed_wall_ms + 36 * MS_PER_HOUR
        assert thecal("ptm", "bolus", *where).code == 2  # not possible now, says the handset: the pump agrees
        pump.time.now_s += 11 * 3600 + 1
        status = json.loads(thecal("ptm", "status", *where, "--json").out)
        assert status["demand_next_allowed_wall_ms"] <= status["wall_ms"]
        assert thecal("ptm", "bolus", *where).code == 0
    finally:
        pump.stop()


def test_one_steps_per_day_rule_the_pump_models_at_every_door(tmp_path: Path) -> None:
    """As many steps a day as the pump model allows pass every door; one or two more are refused with its figure."""
    from thecal.pump.model import load_model

    most = load_model("programmable-40").max_steps_per_day

    def steps(n: int) -> str:
        rows = [f'{{ days = "all", at = "{h:02d}:00", dose = "1 mg/day" }}' for h in range(n)]
        return f"[{', '.join(rows)}]"

    for n, allowed in ((most, True), (most + 1, False), (most + 2, False)):
        flexible = f'[[timeline]]\nat = "1 d"\naction = "program"\nmode = "flexible"\nsteps = {steps(n)}\n{REASON}\n'
        ran = simulate(tmp_path, flexible)
        if allowed:
            assert ran.code == 0, ran.err
        else:
            assert f"{most}" in stopped_at(ran, "timeline[2] (program)")
        # The same schedule at the programmer's command line, and raw over telemetry (the engineering tool).
        assert _command_line_steps(tmp_path / f"cli-{n}", steps(n), n) == (allowed, "" if allowed else f"{most}")


def _command_line_steps(directory: Path, steps: str, n: int) -> tuple[bool, str]:
    """Whether `pump prescribe --steps` and `pump send program_therapy` take n steps a day; the limit they name."""
    from tests.daemon.daemon_rig import START_WALL_MS, start

    from thecal.devices.daemon import init_state

    pump = start(init_state(directory, model="programmable-40", wall_ms=START_WALL_MS), accel=1.0)
    try:
        pump.pair("clinician")
        where = ("--state", str(pump.layout.root), "--port", str(pump.port))
        doctor = (*where, "--by", "physician", "--name", "Dr Rivera", "--yes", "--reason", "reviewed for this patient")
        assert (
            thecal(
                "pump", "fill", *doctor, "--drug", "morphine", "--concentration", "10 mg/mL", "--volume", "20 mL"
            ).code
            == 0
        )
        prescribed = thecal("pump", "prescribe", *doctor, "--steps", steps, "--json")
        day = [{"start_ms": h * MS_PER_HOUR, "dose_ng_per_day": MG} for h in range(n)]
        raw = thecal("pump", "send", *where, "--json", "program_therapy", json.dumps({"days": [day] * 7}))
        assert (prescribed.code == 0) == (raw.code == 0), (prescribed.out, raw.out)
        if prescribed.code == 0:
            return True, ""
        findings = json.loads(prescribed.out)["plan"]["findings"]
        (limit,) = {f["limit"] for f in findings if f["code"] == "too_many_steps"}
        assert json.loads(raw.out)["result"]["limit"] == limit
        return False, limit
    finally:
        pump.stop()
