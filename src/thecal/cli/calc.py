"""`thecal calc …`: the dose calculators on the command line, for clinicians.

Every quantity is typed with its unit ("1.5 mg/day", "0.15 mL/day", "45 cm")
and echoed back normalised. A value beyond a limit is refused with one
paragraph naming the field, the value, the limit and what to do (exit code 2);
a physician may pass a soft limit with --role physician and --reason.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int]
# Why a catheter is empty, in the words thecal.clinical.bolus takes (IMPLANT, REVISION; a test keeps them equal):
# written here so that `thecal calc --help` does not load the calculators, the drug library and the firmware.
PRIMING_AFTER = ("implant", "revision")

CALC_HELP = "dose calculators: flow, dose, conversions, refill, priming, bridge, titration, trial, demand bolus"
CALC_DESCRIPTION = """\
Dose arithmetic for intrathecal drug delivery, checked against the drug library.

Type every quantity with its unit, as you would write it: "1.5 mg/day",
"500 mcg/day", "0.15 mL/day", "0.02 mL/h", "10 mg/mL", "45 cm", "2.2 uL/cm".
A number without a unit, or a unit of the wrong kind, is refused, never guessed.
Each answer shows its inputs, the formula in words, the limits that applied and
their sources. A value beyond a limit is refused with what to do; a physician
may pass a soft limit with --role physician --reason "...". Hard limits cannot
be passed.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `calc` command and its subcommands to the thecal command line."""
    calc = subparsers.add_parser(
        "calc",
        help=CALC_HELP,
        description=CALC_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = calc.add_subparsers(dest="calc_command", metavar="CALCULATOR")
    calc.set_defaults(func=lambda args: _usage(calc))
    _flow_parser(commands)
    _dose_parser(commands)
    _convert_parser(commands)
    _refill_parser(commands)
    _prime_parser(commands)
    _bridge_parser(commands)
    _titrate_parser(commands)
    _trial_parser(commands)
    _demand_parser(commands)
    _library_parser(commands)


def _handler(name: str) -> Handler:
    """The calculator `name` of calc_commands, imported when it runs: building the parser needs none of them."""

    def run(args: argparse.Namespace) -> int:
        from thecal.cli import calc_commands

        handler: Handler = getattr(calc_commands, name)
        return handler(args)

    return run


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _command(
    commands: argparse._SubParsersAction, name: str, help_text: str, description: str, example: str, run: Handler
) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name,
        help=help_text,
        description=description,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=run)
    parser.add_argument("--json", action="store_true", help="print the result as JSON (values in nL, ng, ms)")
    parser.add_argument(
        "--pump-model",
        help="the pump: a shipped model (programmable-20, programmable-40) or the path of a model file "
        "(default programmable-20; for a refill, the shipped model with the --reservoir size)",
    )
    return parser


def _flow_parser(commands: argparse._SubParsersAction) -> None:
    parser = _command(
        commands,
        "flow",
        "pump flow for a daily dose",
        "The pump flow that gives a daily dose at the concentration in the reservoir.\n"
        "flow = daily dose ÷ concentration. In an admixture the flow is set by the first\n"
        "drug's dose (or --for), and every other drug's dose at that flow is shown and checked.",
        'thecal calc flow --drug morphine --dose "1.5 mg/day" --concentration "10 mg/mL"',
        _handler("run_flow"),
    )
    parser.add_argument("--dose", required=True, help='daily dose, e.g. "1.5 mg/day" or "500 mcg/day"')
    _contents_arguments(parser)
    parser.add_argument("--for", dest="for_drug", help="in an admixture, the drug whose dose is given")
    _patient_arguments(parser)


def _dose_parser(commands: argparse._SubParsersAction) -> None:
    parser = _command(
        commands,
        "dose",
        "daily dose delivered by a flow",
        "The daily dose each drug of the reservoir gives at a pump flow.\ndaily dose = flow × concentration.",
        'thecal calc dose --drug morphine --flow "0.15 mL/day" --concentration "10 mg/mL"',
        _handler("run_dose"),
    )
    parser.add_argument("--flow", required=True, help='pump flow, e.g. "0.15 mL/day" or "0.02 mL/h"')
    _contents_arguments(parser)
    _patient_arguments(parser)


def _convert_parser(commands: argparse._SubParsersAction) -> None:
    parser = _command(
        commands,
        "convert",
        "opioid conversion between routes and drugs, as ranges",
        "Equivalent daily dose of an opioid on another route (oral, iv, epidural, intrathecal)\n"
        "or of another opioid, shown as ranges with their sources, never as one number,\n"
        "together with the oral morphine equivalent. An estimate, not a prescription.",
        'thecal calc convert --dose "60 mg/day" --drug morphine --from oral --to intrathecal',
        _handler("run_convert"),
    )
    parser.add_argument("--dose", required=True, help='daily dose, e.g. "60 mg/day"')
    parser.add_argument("--drug", required=True, help="the opioid the patient takes now")
    parser.add_argument("--from", dest="from_route", required=True, help="route now: oral, iv, epidural, intrathecal")
    parser.add_argument("--to", dest="to_route", required=True, help="route to convert to")
    parser.add_argument("--to-drug", help="opioid to convert to (default: the same opioid)")


def _refill_parser(commands: argparse._SubParsersAction) -> None:
    parser = _command(
        commands,
        "refill",
        "refill reconciliation (pocket fill check) and next refill date",
        "At a refill: compare the volume aspirated from the reservoir with the volume the\n"
        "programmed delivery leaves, judged against the pump's accuracy; a difference over\n"
        "1 mL (20 mL pump) or 2 mL (40 mL pump) stops the refill (possible pocket fill,\n"
        "over- or under-infusion). Then the low-reservoir alarm date, the earlier date if\n"
        "the pump runs fast, the drug's stability date, and the next refill date.",
        'thecal calc refill --reservoir "20 mL" --drug morphine --concentration "10 mg/mL" '
        '--last-fill "20 mL" --flow "0.5 mL/day" --since "30 d" --aspirated "5.1 mL" '
        '--fill-volume "20 mL" --date 2025-03-01',
        _handler("run_refill"),
    )
    parser.add_argument("--reservoir", help='size of this pump\'s reservoir: "20 mL" or "40 mL" (or give --pump-model)')
    _contents_arguments(parser)
    parser.add_argument("--flow", help='programmed flow since the last refill, e.g. "0.5 mL/day"')
    parser.add_argument("--last-fill", help='volume in the reservoir after the last refill, e.g. "20 mL"')
    parser.add_argument("--since", help='time since the last refill, e.g. "30 d" (or use --last-refill)')
    parser.add_argument("--last-refill", help="date of the last refill, YYYY-MM-DD (with --date)")
    parser.add_argument("--aspirated", help='volume aspirated from the reservoir now, e.g. "5.1 mL"')
    parser.add_argument("--bolus-volume", help='volume given as boluses since the last refill, e.g. "0.2 mL"')
    parser.add_argument("--fill-volume", required=True, help='volume put into the reservoir now, e.g. "20 mL"')
    parser.add_argument("--new-flow", help="flow after the refill (default: --flow)")
    parser.add_argument("--demand-volume", help='worst-case demand-bolus volume per day, e.g. "0.05 mL/day"')
    parser.add_argument("--date", help="date of this refill, YYYY-MM-DD (default: today)")
    parser.add_argument("--clinic-date", help="refill date the clinic would choose, YYYY-MM-DD")
    parser.add_argument("--alarm", help='low-reservoir alarm volume (default "2 mL")')
    parser.add_argument("--accuracy", help='pump accuracy (default "14.5 %%")')
    parser.add_argument(
        "--flag-threshold", help="discrepancy that stops the refill (default: the pump model's; only stricter)"
    )
    parser.add_argument("--first-fill", action="store_true", help="first fill of a new pump (ziconotide: 14 days)")
    parser.add_argument("--undiluted", action="store_true", help="ziconotide used undiluted (84 days)")
    _override_arguments(parser)


def _prime_parser(commands: argparse._SubParsersAction) -> None:
    parser = _command(
        commands,
        "prime",
        "priming bolus to fill an empty catheter",
        "Volume, rate and duration of the priming bolus that fills an empty catheter after an\n"
        "implant (catheter and pump tubing) or a catheter revision (catheter only).\n"
        "volume = catheter length × volume per cm (+ pump tubing); duration = volume ÷ rate.",
        'thecal calc prime --catheter "45 cm" --volume-per-cm "2.2 uL/cm" --drug morphine --concentration "20 mg/mL"',
        _handler("run_prime"),
    )
    _catheter_arguments(parser)
    parser.add_argument("--after", choices=PRIMING_AFTER, default=PRIMING_AFTER[0], help="why the catheter is empty")
    parser.add_argument("--rate", help='bolus rate (default "1 mL/h", the pump model\'s bolus ceiling)')
    _contents_arguments(parser)
    _override_arguments(parser)


def _bridge_parser(commands: argparse._SubParsersAction) -> None:
    parser = _command(
        commands,
        "bridge",
        "bridge bolus after a concentration change",
        "After a refill with a new concentration, the old drug still in the pump tubing and\n"
        "catheter is pushed out at the old flow, so the patient keeps the old dose until the\n"
        "new drug reaches the tip. Shows the bridge's duration, the dose during it, and what\n"
        "the patient would get without it.",
        'thecal calc bridge --catheter "45 cm" --volume-per-cm "2.2 uL/cm" --drug morphine '
        '--old-concentration "10 mg/mL" --old-dose "2 mg/day" --new-concentration "20 mg/mL" --new-dose "2.5 mg/day"',
        _handler("run_bridge"),
    )
    _catheter_arguments(parser)
    parser.add_argument("--drug", help="the drug, when old and new fills hold one drug")
    parser.add_argument("--old-concentration", help='concentration before the refill, e.g. "10 mg/mL"')
    parser.add_argument("--new-concentration", help='concentration after the refill, e.g. "25 mg/mL"')
    parser.add_argument("--old-admixture", help="contents before, if an admixture")
    parser.add_argument("--new-admixture", help="contents after, if an admixture")
    parser.add_argument("--old-dose", required=True, help='daily dose before, of the first drug, e.g. "2 mg/day"')
    parser.add_argument("--new-dose", required=True, help='daily dose after, of the first drug, e.g. "2.5 mg/day"')
    _patient_arguments(parser)


def _titrate_parser(commands: argparse._SubParsersAction) -> None:
    parser = _command(
        commands,
        "titrate",
        "titration plan within the drug's rules",
        "The dose changes from the current daily dose to a target, each no larger than the\n"
        "step you choose or else the drug's usual largest step, spaced by the interval you\n"
        "choose or else the drug's usual shortest interval. Every step is checked.",
        'thecal calc titrate --drug ziconotide --current "1.2 mcg/day" --target "7.2 mcg/day" --start 2025-03-03',
        _handler("run_titrate"),
    )
    parser.add_argument("--drug", required=True, help="the drug to titrate")
    parser.add_argument("--current", required=True, help='current daily dose, e.g. "1.2 mcg/day" ("0 mg/day" to start)')
    parser.add_argument("--target", required=True, help='target daily dose, e.g. "7.2 mcg/day"')
    parser.add_argument("--step", help='largest change per step, e.g. "1.2 mcg/day" or "20 %%"')
    parser.add_argument("--every", help='time between steps, e.g. "72 h" or "7 d"')
    parser.add_argument("--since-last-increase", help='time since the last dose increase, e.g. "36 h"')
    parser.add_argument("--start", help="date of the first step, YYYY-MM-DD")
    parser.add_argument("--concentration", help="concentration in the pump, to show the flow of each step")
    _patient_arguments(parser)


def _trial_parser(commands: argparse._SubParsersAction) -> None:
    parser = _command(
        commands,
        "trial",
        "screening-trial dose and volume",
        "The published screening-trial range for a drug, the dose to start with (the low end)\n"
        "and the volume to draw up at your concentration; with --continuous, the starting\n"
        "daily dose and flow of a continuous trial.",
        'thecal calc trial --drug morphine --concentration "0.5 mg/mL" --opioid-naive',
        _handler("run_trial"),
    )
    parser.add_argument("--drug", required=True, help="the trial drug")
    parser.add_argument("--continuous", action="store_true", help="continuous trial instead of a single bolus")
    parser.add_argument("--dose", help='dose to give: "0.2 mg" for a bolus, "0.3 mg/day" for continuous')
    parser.add_argument("--concentration", help='concentration of the trial solution, e.g. "0.5 mg/mL"')
    _patient_arguments(parser)


def _demand_parser(commands: argparse._SubParsersAction) -> None:
    parser = _command(
        commands,
        "demand-max",
        "24 h worst case of patient demand boluses",
        "The most the patient can get in 24 h with every demand bolus used: continuous dose\n"
        "plus the presses the lockout and the daily cap allow, times the bolus. Not for\n"
        "opioid-naïve patients.",
        'thecal calc demand-max --drug morphine --concentration "10 mg/mL" --continuous "2 mg/day" '
        '--bolus "0.1 mg" --lockout "2 h" --max-per-day 6',
        _handler("run_demand"),
    )
    _contents_arguments(parser)
    parser.add_argument("--continuous", required=True, help='continuous daily dose, e.g. "2 mg/day"')
    parser.add_argument("--bolus", required=True, help='demand bolus dose, e.g. "0.1 mg"')
    parser.add_argument("--lockout", required=True, help='shortest time between boluses, e.g. "2 h"')
    parser.add_argument("--max-per-day", required=True, help="most boluses allowed in 24 h, e.g. 6")
    _patient_arguments(parser)


def _library_parser(commands: argparse._SubParsersAction) -> None:
    parser = _command(
        commands,
        "library",
        "the drug library: strengths, doses and limits with sources",
        "Show the drugs of the library, or one drug's strengths, dose ranges and two-tier\nlimits with their sources.",
        "thecal calc library ziconotide",
        _handler("run_library"),
    )
    # Named in words, not listed: the parser is built without reading the drug library.
    parser.add_argument("drug", nargs="?", help="a drug of the library by name or alias; without it, all of them")


def _contents_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--drug", help="drug in the reservoir, e.g. morphine")
    parser.add_argument("--concentration", help='concentration on the vial label, e.g. "10 mg/mL"')
    parser.add_argument(
        "--admixture",
        help='several drugs in one fill, e.g. "morphine 10 mg/mL + bupivacaine 15 mg/mL" (first drug leads)',
    )
    parser.add_argument("--vial", help="what the vial labels say, to catch a concentration mix-up")


def _catheter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catheter", action="append", required=True, help='catheter length, e.g. "45 cm" (repeat for segments)'
    )
    parser.add_argument(
        "--volume-per-cm",
        action="append",
        required=True,
        help='catheter volume per cm from its labeling, e.g. "2.2 uL/cm" (one per --catheter)',
    )
    parser.add_argument("--pump-volume", help='pump internal tubing volume (default "0.22 mL", an assumption)')


def _patient_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--opioid-naive", action="store_true", help="the patient does not take opioids every day")
    _override_arguments(parser)


def _override_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--role", help="who passes a soft limit: physician")
    parser.add_argument("--reason", help="the physician's written reason for passing a soft limit")
