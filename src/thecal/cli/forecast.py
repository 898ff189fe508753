"""`thecal forecast`: fork a scenario's patient and pump at a moment and compare the current prescription with a
proposed one over the following weeks (docs/forecast.md).

Text for people: a table of the two prescriptions side by side (each figure the
median of the patient's draws with its 10-90 % band, every dose with its unit),
the paired difference, the refill dates, and what the rulebook said of the
proposal. `--json` prints the documented JSON document and nothing else.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thecal.sim.forecast import Forecast

INDICATIONS = ("cancer", "non_cancer")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `forecast` command."""
    p = subparsers.add_parser(
        "forecast",
        help="what if: the current prescription against a proposed one, in the weeks ahead",
        description="Play a scenario with a virtual patient up to a moment, fork the patient and the pump there, "
        "and run the current prescription and a proposed one (checked by the same rulebook as every door) over the "
        "following weeks: expected pain, side effects, drug at the catheter tip, reservoir and refill dates, with "
        "10-90 %% bands from the patient's parameter uncertainty. Format and method in docs/forecast.md.",
    )
    p.add_argument("scenario", help="path of the scenario .toml file (docs/scenario.md)")
    p.add_argument("--at", required=True, metavar="TIME", help='the moment to fork, as the timeline writes it: "20 d"')
    p.add_argument(
        "--propose",
        required=True,
        metavar="PRESCRIPTION",
        help='the proposed prescription: "continuous 2.5 mg/day", or a .toml file of a program entry',
    )
    p.add_argument("--reason", metavar="TEXT", help="a physician's written reason to pass a soft limit")
    p.add_argument("--weeks", metavar="N", default="4", help="weeks to forecast (default 4, at most 26)")
    p.add_argument(
        "--draws", metavar="N", default="20", help="draws of the patient's uncertain parameters (default 20)"
    )
    # The patient's options default to None: what is not given comes from the scenario's [virtual_patient]
    # section, else from its defaults (thecal.sim.virtual_patient).
    p.add_argument(
        "--seed",
        metavar="S",
        help="the seed of the patient and its draws (default: the scenario's [virtual_patient] seed, else 0)",
    )
    p.add_argument(
        "--observe",
        metavar="DURATION",
        help='how often the patient is observed (default: the scenario\'s [virtual_patient] observe, else "1 h")',
    )
    p.add_argument(
        "--indication",
        choices=INDICATIONS,
        help="the patient's pain (default: the scenario's [virtual_patient] indication, else non_cancer)",
    )
    p.add_argument(
        "--entry-pain",
        metavar="NRS",
        help="the patient's pain before the pump, 0-10 (default: the scenario's [virtual_patient], else 7.5)",
    )
    p.add_argument(
        "--prior-oral",
        metavar="DOSE",
        help='oral morphine before the pump, "60 mg/day" (default: the scenario\'s [virtual_patient], else 0 if '
        "the scenario says opioid-naive, else 60)",
    )
    p.add_argument(
        "--oral",
        metavar="DOSE",
        help='oral morphine the patient keeps taking, "60 mg/day" (default: the scenario\'s [virtual_patient], '
        "else none)",
    )
    p.add_argument("--json", action="store_true", help="print the forecast as JSON (format in docs/forecast.md)")
    p.add_argument("--plot", metavar="DIR", help="also draw the two futures to DIR/forecast.png")
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Make the forecast the command line asks for."""
    from thecal.sim import virtual_patient
    from thecal.sim.forecast import MAX_DRAWS, MAX_WEEKS, forecast, read_proposal
    from thecal.sim.scenario import load_scenario
    from thecal.sim.scenario_schema import entry_pain
    from thecal.sim.scenario_words import when
    from thecal.units import OBSERVE_INTERVAL, ORAL_WITH_PUMP, PRIOR_ORAL, Count, count, quantity

    weeks = count(args.weeks, "--weeks", Count("weeks", 1, MAX_WEEKS, "half a year: refill and review before"))
    draws = count(args.draws, "--draws", Count("draws", 1, MAX_DRAWS, "enough for a 10-90 % band"))
    scenario = load_scenario(args.scenario)
    seed = 0 if scenario.virtual_patient is None else scenario.virtual_patient.seed
    if args.seed is not None:
        seed = count(args.seed, "--seed", Count("seed", 0, 2**63 - 1, "the largest seed"))
    # A flag given replaces the section's key; the checks are the section's own, named by the flag.
    spec = virtual_patient.overridden(
        virtual_patient.spec_of(scenario),
        indication=args.indication,
        entry_pain=None if args.entry_pain is None else entry_pain(args.entry_pain, "--entry-pain"),
        prior_oral_ng_per_day=None
        if args.prior_oral is None
        else quantity(args.prior_oral, "--prior-oral", PRIOR_ORAL),
        oral_ng_per_day=None if args.oral is None else quantity(args.oral, "--oral", ORAL_WITH_PUMP),
        observe_ms=None if args.observe is None else quantity(args.observe, "--observe", OBSERVE_INTERVAL),
    )
    at = when(args.at, "--at").ms_after(scenario.start_wall_ms, "--at")
    proposal = read_proposal(args.propose, args.reason)
    result = forecast(
        scenario,
        at,
        proposal,
        weeks,
        seed,
        draws=draws,
        population=virtual_patient.population(scenario, spec),
        oral=virtual_patient.oral_regimen(spec),
        observe_ms=spec.observe_ms,
    )
    if args.json:
        sys.stdout.write(result.to_json_text() + "\n")
    else:
        print(summary(result))
    if args.plot:
        from thecal.sim.forecast_plot import plot_forecast

        path = plot_forecast(result, Path(args.plot))
        if not args.json:
            print(f"\nPlot written to {path}")
    return 0


def _band(b: dict[str, Any], unit: str = "", digits: int = 2, scale: float = 1.0) -> str:
    if b["median"] is None:
        return "—"
    mid, low, high = (b[k] * scale for k in ("median", "p10", "p90"))
    return f"{mid:.{digits}f}{unit} [{low:.{digits}f}-{high:.{digits}f}]"


def _signed_band(b: dict[str, Any], unit: str = "", digits: int = 2) -> str:
    if b["median"] is None:
        return "—"
    mid, low, high = (b[k] for k in ("median", "p10", "p90"))
    return f"{mid:+.{digits}f}{unit} [{low:+.{digits}f} to {high:+.{digits}f}]"


def _date(d: dict[str, Any]) -> str:
    if d["at"] is None:
        return "not reached (no drug used)"
    days = d["after_ms"]["median"] / 86_400_000
    seen = "" if d["seen_in_forecast"] else ", at the forecast's rate of use"
    return f"{d['at']} (in {days:.0f} days{seen})"


def summary(f: Forecast) -> str:
    """The forecast as text for a person: the two prescriptions side by side."""
    data = f.to_json_data()
    cur, pro = data["arms"]["current"], data["arms"]["proposed"]
    drug = data["drug"]
    p = data["patient"]
    lines = [
        f"What-if forecast for {data['scenario']['name']!r} from {data['at']}, {_weeks(data['weeks'])}; "
        f"{data['draws']} draws of the patient (seed {data['seed']}): median [10-90 %]",
        f"Patient: {p['indication'].replace('_', '-')} pain {p['entry_pain']:.1f} before the pump, prior oral morphine "
        f"{p['prior_oral_mme_mg_per_day']:.0f} mg/day, {p['weight_kg']:.0f} kg, tip {p['tip_to_pain_cm']:.1f} cm from "
        "the pain",
        "",
    ]
    rows: list[tuple[str, str, str]] = [
        ("prescription", cur["prescription"], pro["prescription"]),
        ("pain felt, mean (0-10)", _band(cur["pain"]), _band(pro["pain"])),
        ("toxicity, mean (sum of grades)", _band(cur["toxicity"]), _band(pro["toxicity"])),
    ]
    for item in ("sedation", "respiratory_depression", "nausea", "pruritus", "constipation", "confusion"):
        if item in cur["side_effect_severity"]:
            rows.append(
                (
                    f"{item.replace('_', ' ')} (severity 0-4)",
                    _band(cur["side_effect_severity"][item]),
                    _band(pro["side_effect_severity"][item]),
                )
            )
    rows += [
        (
            f"{drug} at the tip, per day",
            _band(cur["tip_ng_per_day"], " mg/day", 3, 1e-6),
            _band(pro["tip_ng_per_day"], " mg/day", 3, 1e-6),
        ),
        (f"{drug} at the tip, in all", _band(cur["tip_ng"], " mg", 2, 1e-6), _band(pro["tip_ng"], " mg", 2, 1e-6)),
        ("PTM presses / doses given", _presses(cur), _presses(pro)),
        (
            "reservoir at the end",
            _band(cur["reservoir_end_nl"], " mL", 2, 1e-6),
            _band(pro["reservoir_end_nl"], " mL", 2, 1e-6),
        ),
        (
            f"low reservoir alarm ({cur['refill']['low_reservoir_alarm_nl'] / 1e6:g} mL)",
            _date(cur["refill"]["low_reservoir_alarm"]),
            _date(pro["refill"]["low_reservoir_alarm"]),
        ),
        ("reservoir empty", _date(cur["refill"]["empty"]), _date(pro["refill"]["empty"])),
    ]
    width = max(len(r[0]) for r in rows) + 2
    col = max(len(r[1]) for r in rows) + 2
    lines.append(f"{'':<{width}}{'current':<{col}}proposed")
    lines += [f"{name:<{width}}{a:<{col}}{b}" for name, a, b in rows]
    diff = data["difference"]
    lines += [
        "",
        "Proposed minus current, paired by draw:",
        f"  pain {_signed_band(diff['pain'])}, toxicity {_signed_band(diff['toxicity'])}, "
        f"sedation {_signed_band(diff['sedation_severity'])}, {drug} at the tip "
        f"{_signed_band({k: None if v is None else v / 1e6 for k, v in diff['tip_ng'].items()}, ' mg')}",
        "",
        "Weekly pain felt (median [10-90 %]):",
    ]
    for wc, wp in zip(cur["weekly"], pro["weekly"], strict=True):
        lines.append(f"  week {wc['week']}: current {_band(wc['pain'])}, proposed {_band(wp['pain'])}")
    proposal = data["proposal"]
    lines += [
        "",
        "The rulebook on the proposal: allowed" + (" with a physician's reason" if proposal["overridden"] else ""),
    ]
    for change in proposal["settings"][:6]:
        old = change["old"]["text"] if change["old"] else "—"
        new = change["new"]["text"] if change["new"] else "—"
        lines.append(f"  {change['name']}: {old} -> {new}")
    if len(proposal["settings"]) > 6:
        lines.append(f"  … and {len(proposal['settings']) - 6} more settings")
    lines += [f"  warning: {w['message']}" for w in proposal["warnings"]]
    if data["at_ms"] != f.fork_ms:
        lines.append(f"  sent once the running bolus had ended (up to {(f.fork_ms - f.at_ms) / 60_000:.0f} min later)")
    lines.append("A forecast of a model, for planning; not a measurement of this patient.")
    return "\n".join(lines)


def _weeks(n: int) -> str:
    return "1 week" if n == 1 else f"{n} weeks"


def _presses(arm: dict[str, Any]) -> str:
    return f"{arm['presses']['median']:.0f} / {arm['doses_given']['median']:.0f}"
