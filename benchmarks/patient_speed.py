"""The virtual patient's speed: patient-days simulated per CPU-second, against simglucose's T1D patient in the same run.

The thecal workload is realistic days of intrathecal therapy, played by the
product's scenario runner with a virtual patient (`thecal.sim.runner.run` with
a `PatientLink`): a 20 mL pump on morphine 10 mg/mL, implanted, primed and
programmed to continuous 1.5 mg/day on the first day, PTM demand doses (0.1
mg, lockout 3 h, 4 a day) pressed through the therapy layer when the patient's
reported pain is high, and modified-release oral morphine 60 mg twice a day,
for a cancer patient drawn from a population on 200 mg/day oral morphine,
over a month (`DAYS`).

The goal's comparison (issue 11: at least 10,000 times simglucose per
patient-day) is a patient-day as each simulates it: simglucose's at its own
settings, thecal's as the product simulates one unless told otherwise, the
patient observed (and free to press) every hour, the default of `PatientLink`,
of a scenario's `[virtual_patient]`, of `thecal forecast` and of the clinic's
forecast panel. The body is solved in closed form between inputs whatever the
interval, so the interval decides how many reports a day has, not how finely
the drug is followed. Two readings are printed beside it, and are not the
goal's comparison:
- the same days observed every 3 min, the interval at which simglucose's
  default CGM sensor reports (read from simglucose: its Dexcom sensor), 20
  times the reports, each a decision to press or not;
- Smith 2002's IDDS + CMM journey as `thecal trial` plays it (pump, therapy
  layer and patient; pain scored as the protocol's diary asks).

Figures for thecal:
- the patient: every call the runner made on the patient (the pump's delivery
  records, the oral doses, the observations, noted one at a time where the
  patient may press and as series where it cannot, the press rule and the
  pump's answers) is written down, then replayed on copies of the patient as it
  was drawn, so each works out its own responses as a new patient of a trial
  does; only the replay is timed. The replay must give the very observations
  the run saw, or nothing is printed
  (tests/patient/test_patient_bench_equivalence.py holds the same);
- the runner at 3 min: pump firmware, therapy layer and patient together.

simglucose (installed by the `bench` extra): `T1DSimEnv` with its adolescent#001
patient, Dexcom sensor, Insulet pump, a random meal scenario and its
basal-bolus controller, run by its own `SimObj.simulate` for one day (its
patient model steps every minute; it reports at the sensor's interval; its
set-up is not timed).

They are timed in turns, one repetition of each, so a change of machine
load hits both; CPU time (`time.process_time`), medians of the repetitions,
and each ratio is the median of the pairs. The machine's load average is shown
before and after: other work on the machine slows both, not only one.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from thecal.patient import Observation, PopulationSpec, VirtualPatient, sample_patient
from thecal.patient.observation import ObservationSeries
from thecal.sim import runner
from thecal.sim.patient_link import OralRegimen, PatientLink
from thecal.sim.scenario import Scenario, parse_scenario
from thecal.trials.journey import simulate_patient
from thecal.trials.protocol import load_protocol
from thecal.units import MS_PER_MIN

REPETITIONS = 3
# Days of the scenario, implant, priming and programming on the first, then therapy: a month, as the scenario is
# written, so that the work a new patient does once (about 0.5 ms: its responses to the inputs and its first step
# of each length) weighs on a patient-day as it does where the product follows a patient for weeks (a forecast) to
# years (a trial).
DAYS = 30
COPIES = 3  # patients replayed per repetition (copies of the same patient before the run)
TRIAL_PATIENTS = 8  # Smith 2002 IDDS + CMM journeys per repetition
TRIAL_PROTOCOL = Path(__file__).resolve().parents[1] / "examples" / "trials" / "smith2002.toml"
SIMGLUCOSE_DAYS = 1
GOAL = 10_000  # thecal patient-days per CPU-second over simglucose's (issue 11)
DEFAULT_SAMPLE_MIN = 3  # simglucose's Dexcom sensor, used when simglucose is absent
HOURLY_MIN = 60  # the product's default observation interval: the goal's comparison

SCENARIO = """
[scenario]
name = "bench: a day of intrathecal morphine with PTM and oral morphine"
seed = 3

[pump]
model = "programmable-20"

[patient]
opioid_naive = false

[[timeline]]
at = "0 d"
action = "fill"
drug = "morphine"
concentration = "10 mg/mL"
volume = "20 mL"

[[timeline]]
at = "0 d"
action = "prime"

[[timeline]]
at = "2 h"
action = "program"
mode = "continuous"
dose = "1.5 mg/day"
override_reason = "opioid-tolerant cancer patient on 200 mg/day oral morphine"

[[timeline]]
at = "2 h"
action = "demand_settings"
dose = "0.1 mg"
duration = "10 min"
lockout = "3 h"
max_per_day = 4

[run]
duration = "30 d"
"""


def population() -> PopulationSpec:
    """The benchmark's patients: refractory cancer pain on 200 mg/day oral morphine."""
    return PopulationSpec(indication="cancer", entry_pain_mean=7.5, oral_mme_mg_per_day_median=200.0)


@dataclass
class Recorded:
    """The calls the runner made on one patient over a run, and what the patient answered."""

    start: VirtualPatient  # the patient before the run
    calls: list[tuple[str, tuple[Any, ...]]]
    observations: list[Observation]
    days: float


_CALLS = ("deliver", "take_oral", "run_to", "observe", "observe_many", "note", "note_many", "noted", "may_press")
_PRESS_CALLS = ("wants", "pressed")


class _Recorder:
    """Wraps a patient's methods so every call the runner makes is written down in order."""

    def __init__(self, patient: VirtualPatient):
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.observations: list[Observation] = []
        for name in _CALLS:
            setattr(patient, name, self._wrap(name, getattr(patient, name)))
        for name in _PRESS_CALLS:
            setattr(patient.press, name, self._wrap(f"press.{name}", getattr(patient.press, name)))

    def _wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            if name == "deliver":
                args = (tuple(args[0]),)
            self.calls.append((name, args))
            result = method(*args)
            if name == "observe":
                self.observations.append(result)
            elif name in ("observe_many", "noted"):
                self.observations.extend(result.observations())
            return result

        return call


def scenario(days: int) -> Scenario:
    """The benchmark's scenario, `days` long."""
    return parse_scenario(SCENARIO.replace('duration = "30 d"', f'duration = "{days} d"'), "<bench>")


def link(sample_min: int, seed: int) -> PatientLink:
    """A patient of the benchmark's population, observed every `sample_min`, pressing, on oral morphine."""
    patient = sample_patient(population(), np.random.default_rng(seed))
    return PatientLink(patient, observe_ms=sample_min * MS_PER_MIN, oral=OralRegimen("morphine", 120.0, 2, 8.0, "mr"))


def record(sample_min: int, days: int = DAYS, seed: int = 0) -> Recorded:
    """Run the scenario with a patient through the runner, writing down every call made on the patient."""
    linked, scene = link(sample_min, seed), scenario(days)
    linked.start_clock(scene.start_wall_ms)  # as the run will: the start is the patient the run begins with
    start = linked.patient.fork()
    recorder = _Recorder(linked.patient)
    runner.run(scene, linked)
    return Recorded(start, recorder.calls, recorder.observations, float(days))


def replay(recorded: Recorded, patient: VirtualPatient) -> list[Observation | ObservationSeries]:
    """Make the same calls on `patient` (a copy of the recorded start) and return what it reported, as it came."""
    seen: list[Observation | ObservationSeries] = []
    press = patient.press
    for name, args in recorded.calls:
        if name == "observe":
            seen.append(patient.observe())
        elif name == "observe_many":
            seen.append(patient.observe_many(*args))
        elif name == "note":
            patient.note(*args)
        elif name == "note_many":
            patient.note_many(*args)
        elif name == "noted":
            seen.append(patient.noted())
        elif name == "may_press":
            patient.may_press(*args)
        elif name == "run_to":
            patient.run_to(*args)
        elif name == "deliver":
            patient.deliver(*args)
        elif name == "take_oral":
            patient.take_oral(*args)
        elif name == "press.wants":
            press.wants(*args)
        else:
            press.pressed(*args)
    return seen


def observations_of(reported: list[Observation | ObservationSeries]) -> list[Observation]:
    """What `replay` returned, as one list of observations."""
    out: list[Observation] = []
    for r in reported:
        out.extend(r.observations() if isinstance(r, ObservationSeries) else (r,))
    return out


def cold_copy(start: VirtualPatient) -> VirtualPatient:
    """The patient as it was drawn, with nothing worked out yet: a fork would share what the run already worked
    out (its responses to the inputs), which a new patient of a trial has to work out for itself."""
    if start.now_ms != 0:
        raise AssertionError("the recorded start is not a patient as drawn")
    cold = VirtualPatient(start.params)
    cold.set_time_of_day(start.time_of_day_at_0_ms)
    return cold


def thecal_patient_seconds(recorded: Recorded, copies: int = COPIES) -> float:
    """CPU seconds to replay the recorded run on `copies` copies of the patient (the copies made beforehand)."""
    patients = [cold_copy(recorded.start) for _ in range(copies)]
    start = time.process_time()
    for p in patients:
        replay(recorded, p)
    return time.process_time() - start


def thecal_loop_seconds(sample_min: int, days: int = DAYS, seed: int = 0) -> float:
    """CPU seconds of the runner playing the scenario with its patient: pump firmware, therapy layer and patient."""
    scene, linked = scenario(days), link(sample_min, seed)
    start = time.process_time()
    runner.run(scene, linked)
    return time.process_time() - start


def trial_journey_seconds(patients: int = TRIAL_PATIENTS) -> tuple[float, float]:
    """CPU seconds and patient-days simulated of Smith 2002's IDDS + CMM journeys, each as `thecal trial` runs it."""
    protocol = load_protocol(TRIAL_PROTOCOL)
    days = 0.0
    start = time.process_time()
    for index in range(patients):
        days += float(simulate_patient(protocol, "idds+cmm", index).endpoints["followed_days"] or 0.0)
    return time.process_time() - start, days


def simglucose_available() -> bool:
    """Whether simglucose (the `bench` extra) is installed."""
    try:
        import simglucose  # noqa: F401
    except ImportError:
        return False
    return True


def simglucose_sample_min() -> int:
    """The interval at which simglucose's default CGM sensor reports, in minutes."""
    from simglucose.sensor.cgm import CGMSensor

    return int(CGMSensor.withName("Dexcom", seed=1).sample_time)


def simglucose_seconds(days: int = SIMGLUCOSE_DAYS, seed: int = 1) -> float:
    """CPU seconds of simglucose simulating its T1D patient for `days` with its own simulator (setup not timed)."""
    from datetime import datetime, timedelta

    from simglucose.actuator.pump import InsulinPump
    from simglucose.controller.basal_bolus_ctrller import BBController
    from simglucose.patient.t1dpatient import T1DPatient
    from simglucose.sensor.cgm import CGMSensor
    from simglucose.simulation.env import T1DSimEnv
    from simglucose.simulation.scenario_gen import RandomScenario
    from simglucose.simulation.sim_engine import SimObj

    logging.getLogger("simglucose").setLevel(logging.WARNING)
    start_time = datetime(2026, 1, 5, 0, 0, 0)
    env = T1DSimEnv(
        T1DPatient.withName("adolescent#001"),
        CGMSensor.withName("Dexcom", seed=seed),
        InsulinPump.withName("Insulet"),
        RandomScenario(start_time=start_time, seed=seed),
    )
    sim = SimObj(env, BBController(), timedelta(days=days), animate=False, path=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.process_time()
        sim.simulate()
        return time.process_time() - start


def run(repetitions: int = REPETITIONS) -> dict[str, float]:
    """Measure, in turns, and return the figures (simglucose's only when it is installed).

    `patient_days_per_cpu_s` and `ratio` are the goal's comparison (observed hourly); `dense_...` the same days
    observed at simglucose's sensor interval, `loop_...` the runner at that interval, `trial_...` the trial journey.
    """
    have_peer = simglucose_available()
    sample_min = simglucose_sample_min() if have_peer else DEFAULT_SAMPLE_MIN
    hourly = record(HOURLY_MIN, DAYS)
    dense = record(sample_min, DAYS)
    for r in (hourly, dense):
        if observations_of(replay(r, r.start.fork())) != r.observations:
            raise AssertionError("the replay of the recorded run does not give the runner's observations")
    rates: dict[str, list[float]] = {name: [] for name in ("peer", "hourly", "dense", "loop", "trial")}
    for _ in range(repetitions):
        if have_peer:
            rates["peer"].append(SIMGLUCOSE_DAYS / simglucose_seconds())
        rates["hourly"].append(hourly.days * COPIES / thecal_patient_seconds(hourly, COPIES))
        rates["dense"].append(dense.days * COPIES / thecal_patient_seconds(dense, COPIES))
        rates["loop"].append(dense.days / thecal_loop_seconds(sample_min, DAYS))
        trial_cpu_s, trial_days = trial_journey_seconds(TRIAL_PATIENTS)
        rates["trial"].append(trial_days / trial_cpu_s)
    figures = {
        "sample_min": float(sample_min),
        "observations_per_day": float(len(hourly.observations)) / hourly.days,
        "dense_observations_per_day": float(len(dense.observations)) / dense.days,
        "series_share": float(sum(len(a[0]) for name, a in dense.calls if name in ("observe_many", "note_many")))
        / len(dense.observations),
        "deliveries_per_day": float(sum(1 for name, _ in dense.calls if name == "deliver")) / dense.days,
        "presses_per_day": float(sum(1 for name, _ in dense.calls if name == "press.pressed")) / dense.days,
        "oral_doses_per_day": float(sum(1 for name, _ in dense.calls if name == "take_oral")) / dense.days,
        "patient_days_per_cpu_s": statistics.median(rates["hourly"]),
        "dense_patient_days_per_cpu_s": statistics.median(rates["dense"]),
        "loop_days_per_cpu_s": statistics.median(rates["loop"]),
        "trial_patient_days_per_cpu_s": statistics.median(rates["trial"]),
        "repetitions": float(repetitions),
    }
    if have_peer:
        figures["simglucose_days_per_cpu_s"] = statistics.median(rates["peer"])
        for key, name in (("ratio", "hourly"), ("dense_ratio", "dense"), ("trial_ratio", "trial")):
            figures[key] = statistics.median(ours / peer for ours, peer in zip(rates[name], rates["peer"], strict=True))
    return figures


def report() -> None:
    """Print the figures."""
    load_before = os.getloadavg()[0]
    r = run()
    load_after = os.getloadavg()[0]
    print(
        "Virtual patient: IT morphine 1.5 mg/day with PTM and oral morphine, observed every hour as the product "
        f"observes unless told otherwise ({r['observations_per_day']:.0f} observations a day, at each of which the "
        f"patient, if awake, may press); beside it the same days observed every {r['sample_min']:.0f} min, "
        f"simglucose's sensor interval ({r['dense_observations_per_day']:.0f} observations, "
        f"{r['deliveries_per_day']:.0f} delivery records, {r['presses_per_day']:.1f} presses, "
        f"{r['oral_doses_per_day']:.0f} oral doses a day; {100 * r['series_share']:.0f} % of the observations "
        "worked out as series)"
    )
    print(f"  machine load average {load_before:.2f} before, {load_after:.2f} after (2 cores)")
    print(f"  thecal patient, hourly      {r['patient_days_per_cpu_s']:10.1f} patient-days per CPU-second")
    print(
        f"  thecal patient, {r['sample_min']:.0f} min       {r['dense_patient_days_per_cpu_s']:10.1f} patient-days per "
        "CPU-second"
    )
    print(
        f"  thecal pump + patient, {r['sample_min']:.0f} min{r['loop_days_per_cpu_s']:10.1f} patient-days per "
        "CPU-second (closed loop: pump firmware, therapy layer and patient)"
    )
    print(
        f"  thecal trial journey        {r['trial_patient_days_per_cpu_s']:10.1f} patient-days per CPU-second "
        "(Smith 2002 IDDS + CMM: pump, therapy layer and patient; pain scored once a day, four times a day in "
        "the assessment weeks, as the protocol's diary asks)"
    )
    if "ratio" not in r:
        print("  simglucose is not installed: pip install -e '.[bench]' (make bench does) to compare")
        return
    print(f"  simglucose T1D patient      {r['simglucose_days_per_cpu_s']:10.3f} patient-days per CPU-second")
    verdict = "met" if r["ratio"] >= GOAL else "NOT met"
    print(
        f"  ratio thecal / simglucose, a patient-day as each simulates it (thecal observed hourly), median of "
        f"{r['repetitions']:.0f} pairs in turns: {r['ratio']:,.0f}x (goal {GOAL:,}x: {verdict})"
    )
    print(
        f"  readings beside it, not the goal's comparison: thecal observed every {r['sample_min']:.0f} min "
        f"{r['dense_ratio']:,.0f}x; thecal's trial journey {r['trial_ratio']:,.0f}x"
    )
