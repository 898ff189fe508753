"""What a clinician types at the pump's command line, read into the integers the therapy layer takes.

Every quantity carries its unit and is read strictly ("1,5 mg/day" is refused,
never read as 15); a flexible schedule is written as in a scenario file's
`steps`, and read by the scenario reader itself, so both doors read it the
same way. The prescription is a dose, never a flow: `--steps` takes `dose`
only. Each mistake is an `InputError` naming the option, the value and what
to do.
"""

from __future__ import annotations

import argparse
import tomllib

from thecal.clinical.bolus import CatheterSegment
from thecal.drugs.fill import Fill
from thecal.errors import InputError
from thecal.pump.core.schedule import DoseSchedule, DoseStep
from thecal.sim import scenario as scenario_format
from thecal.units import (
    CONCENTRATION,
    DOSE_RATE,
    DURATION,
    LENGTH,
    MASS,
    VOLUME,
    VOLUME_PER_LENGTH,
    parse_typed,
    parse_typed_int,
)

STEPS_EXAMPLE = '[{days="all", at="00:00", dose="1.2 mg/day"}, {days="mon-fri", at="07:00", dose="1.8 mg/day"}]'


def volume_nl(text: str, field: str) -> int:
    """A volume typed with its unit, in nL."""
    return parse_typed_int(text, VOLUME, field)


def mass_ng(text: str, field: str) -> int:
    """A dose (a mass of drug) typed with its unit, in ng."""
    return parse_typed_int(text, MASS, field)


def duration_ms(text: str, field: str) -> int:
    """A duration typed with its unit, in ms."""
    return parse_typed_int(text, DURATION, field)


def dose_ng_per_day(text: str, field: str) -> int:
    """A daily dose typed with its unit, in ng/day."""
    return parse_typed_int(text, DOSE_RATE, field)


def time_of_day_ms(text: str, field: str) -> int:
    """A time of day like "08:00", in ms after midnight (read as a scenario reads `at`)."""
    return scenario_format.time_of_day_ms(text, field)


def count(text: str, field: str) -> int:
    """A whole number of at least one."""
    try:
        value = int(text)
    except ValueError:
        raise InputError(field, text, "is not a whole number", "write it like 4") from None
    if value < 1:
        raise InputError(field, text, "must be at least 1", "give a number from 1 up, or use --off to switch off")
    return value


def dose_schedule(text: str, field: str = "--steps") -> DoseSchedule:
    """A flexible prescription written as a scenario's steps, e.g. '[{days="all", at="00:00", dose="1 mg/day"}]'."""
    try:
        steps = tomllib.loads(f"steps = {text}")["steps"]
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            field, text, f"is not a list of steps as a scenario writes them ({exc})", f"write it like '{STEPS_EXAMPLE}'"
        ) from None
    if not isinstance(steps, list) or not steps:
        raise InputError(field, text, "must list at least one step", f"write it like '{STEPS_EXAMPLE}'")
    for i, step in enumerate(steps):
        if isinstance(step, dict) and "flow" in step:
            raise InputError(
                f"{field}[{i}].flow",
                step["flow"],
                "the pump is prescribed in doses, not flows: it derives the flow from the concentration it holds",
                'write the step\'s daily dose instead, like dose = "1.2 mg/day"',
            )
        if isinstance(step, dict) and "dose" in step:
            parse_typed(step["dose"], DOSE_RATE, f"{field}[{i}].dose")  # the strict reading a person's typing gets
    try:
        flex = scenario_format.flex_steps({"mode": "flexible", "steps": steps}, field)
    except InputError as error:  # the scenario reader names the step inside an entry: "--steps.steps[0]"
        named = error.field.replace(f"{field}.steps", field)
        raise InputError(named, error.value, error.problem, error.action, error.limit) from None
    days: list[list[DoseStep]] = [[] for _ in range(7)]
    for step in flex:
        if step.rate.dose_ng_per_day is None:  # pragma: no cover - flows were refused above
            raise InputError(field, text, "gives a flow", "give doses")
        for day in step.days:
            days[day].append(DoseStep(step.start_ms, step.rate.dose_ng_per_day))
    try:
        return DoseSchedule(tuple(tuple(sorted(day, key=lambda s: s.start_ms)) for day in days))
    except ValueError as exc:
        raise InputError(
            field,
            text,
            f"is not a schedule the pump can hold ({exc})",
            'give every day a step at "00:00" and at most one step per day at each time',
        ) from None


def prescription(args: argparse.Namespace, required: bool) -> DoseSchedule | None:
    """The prescription of `--dose` (around the clock) or `--steps` (flexible), or None when neither is given."""
    if args.dose is not None:
        return DoseSchedule.continuous(dose_ng_per_day(args.dose, "--dose"))
    if args.steps is not None:
        return dose_schedule(args.steps)
    if required:
        raise InputError("--dose", None, "no prescription given", "give --dose \"1 mg/day\" or --steps '[...]'")
    return None


def fill(args: argparse.Namespace) -> Fill:
    """What goes into the reservoir: `--fill "a 10 mg/mL + b 15 mg/mL"`, or `--drug` with `--concentration`."""
    if args.fill is not None:
        if args.drug is not None or args.concentration is not None:
            raise InputError(
                "--fill", args.fill, "is given together with --drug or --concentration", "give one or the other"
            )
        return Fill.parse(args.fill, "--fill")
    if args.drug is None or args.concentration is None:
        missing = "--drug" if args.drug is None else "--concentration"
        raise InputError(
            missing,
            None,
            "is missing: the drug and its concentration are typed from the vial label, never assumed",
            'give --drug morphine --concentration "10 mg/mL", or --fill "morphine 10 mg/mL + bupivacaine 15 mg/mL"',
        )
    return Fill.single(args.drug, parse_typed_int(args.concentration, CONCENTRATION, "--concentration"))


def catheter_volume_nl(args: argparse.Namespace) -> int:
    """The catheter's volume: `--catheter-volume`, or `--catheter-length` × `--volume-per-length`."""
    if args.catheter_volume is not None:
        if args.catheter_length is not None or args.volume_per_length is not None:
            raise InputError(
                "--catheter-volume",
                args.catheter_volume,
                "is given together with a length",
                "give the volume, or the length and the volume per length",
            )
        return volume_nl(args.catheter_volume, "--catheter-volume")
    if args.catheter_length is None or args.volume_per_length is None:
        raise InputError(
            "--catheter-length" if args.catheter_length is None else "--volume-per-length",
            None,
            "is missing",
            'give --catheter-volume "0.1 mL", or --catheter-length "45 cm" with --volume-per-length "2.2 uL/cm" '
            "from the catheter labeling",
        )
    segment = CatheterSegment(
        parse_typed_int(args.catheter_length, LENGTH, "--catheter-length"),
        parse_typed_int(args.volume_per_length, VOLUME_PER_LENGTH, "--volume-per-length"),
    )
    return round(segment.volume())
