"""`thecal simulate`: run a scenario file and print, save or plot what happened."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `simulate` command."""
    p = subparsers.add_parser(
        "simulate",
        help="run a scenario file against a virtual pump",
        description="Run a scenario (a TOML timeline of fills, programs, boluses, refills, MRI scans and faults) "
        "against a virtual pump and report alarms, drug delivered at the pump and at the catheter tip, and the "
        "calculated against the actual reservoir. A scenario with a [virtual_patient] section is played with that "
        "patient, and the patient's pain, presses and side effects are reported too. The file format is in "
        "docs/scenario.md.",
    )
    p.add_argument("scenario", help="path of the scenario .toml file")
    p.add_argument("--json", action="store_true", help="print the result as JSON (format in docs/scenario.md)")
    p.add_argument("--plot", metavar="FILE.png", help="also draw reservoir and delivery over time to this PNG file")
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Run the scenario named on the command line."""
    from thecal.sim.runner import run
    from thecal.sim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    patient = None
    if scenario.virtual_patient is not None:
        # Loaded only here: a scenario without a patient never waits for the patient model and numpy.
        from thecal.sim.virtual_patient import patient_link

        patient = patient_link(scenario)
    result = run(scenario, patient=patient)
    if args.json:
        # The text json.dumps(indent=1, sort_keys=True) gives, made faster and written at once.
        sys.stdout.write(result.to_json_text() + "\n")
    else:
        print(result.summary())
        if "patient" in result.data:
            print("\n" + patient_summary(result.data["patient"], result.data["scenario"]["start_wall_ms"]))
    if args.plot:
        from thecal.sim.plot import plot_result

        path = Path(args.plot)
        path.parent.mkdir(parents=True, exist_ok=True)
        plot_result(result, path)
        if not args.json:
            print(f"\nPlot written to {path}")
    return 0


_OUTCOME_WORDS = {"locked_out": "locked out", "daily_max": "daily maximum reached", "refused": "refused"}


def patient_summary(patient: dict[str, Any], start_wall_ms: int) -> str:
    """The virtual patient's part of a run, for a person: pain, presses, side effects, oral doses, alive or not."""
    from thecal.sim.scenario import timeline_time
    from thecal.units import MS_PER_DAY

    def at(t_ms: int) -> str:
        return timeline_time(start_wall_ms, t_ms)

    series = patient["series"]
    observed = len(series["t_ms"])
    # After a death the model still computes a pain; nobody feels or reports it, so it is left out.
    alive = [i for i in range(observed) if series["alive"][i]]
    lines = [
        f"Virtual patient: {patient['indication'].replace('_', '-')} pain {patient['entry_pain']:.1f} (0-10) before "
        f"the pump on {patient['prior_oral_mme_mg_per_day']:g} mg/day oral morphine; observed every "
        f"{_interval(patient['observe_ms'])} ({observed} observations)",
    ]
    if alive:
        first, last = alive[0], alive[-1]
        felt = [series["pain"][i] for i in alive]
        lines.append(
            f"  pain (0-10) felt / reported: {series['pain'][first]:.1f} / {series['pain_score'][first]} at the first "
            f"observation ({at(series['t_ms'][first])}), {series['pain'][last]:.1f} / {series['pain_score'][last]} "
            f"at the last ({at(series['t_ms'][last])}); felt lowest {min(felt):.1f}, highest {max(felt):.1f}"
        )
        toxicity = [series["toxicity"][i] for i in alive]
        worst = alive[toxicity.index(max(toxicity))]
        lines.append(
            f"  toxicity (sum of side-effect grades): highest {max(toxicity)} at {at(series['t_ms'][worst])}, "
            f"{series['toxicity'][last]} at the last observation"
        )
    presses = patient["presses"]
    given = sum(1 for p in presses if p["outcome"] == "given")
    not_given: dict[str, int] = {}
    for p in presses:
        if p["outcome"] != "given":
            not_given[p["outcome"]] = not_given.get(p["outcome"], 0) + 1
    why = ", ".join(f"{_OUTCOME_WORDS.get(k, k)} {n}" for k, n in sorted(not_given.items()))
    lines.append(
        f"  PTM presses of the patient: {len(presses)}, doses given {given}, not given {len(presses) - given}"
        + (f" ({why})" if why else "")
    )
    oral = patient["oral_doses"]
    if oral:
        by_drug: dict[str, float] = {}
        for dose in oral:
            by_drug[dose["drug"]] = by_drug.get(dose["drug"], 0.0) + dose["dose_mg"]
        taken = ", ".join(f"{drug} {mg:g} mg" for drug, mg in sorted(by_drug.items()))
        lines.append(f"  oral doses taken beside the pump: {len(oral)}, {taken} in all")
    else:
        lines.append("  oral doses taken beside the pump: none")
    death = patient["death_ms"]
    if death is None:
        lines.append("  alive at the end of the run")
    else:
        lines.append(f"  died on day {death // MS_PER_DAY} of the run ({at(death)})")
    return "\n".join(lines)


def _interval(ms: int) -> str:
    """An observation interval as a person says it: "1 h", "15 min", "1 d"."""
    from thecal.units import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN, format_duration

    for unit, size in (("d", MS_PER_DAY), ("h", MS_PER_HOUR), ("min", MS_PER_MIN)):
        if ms % size == 0:
            return f"{ms // size} {unit}"
    return format_duration(ms)
