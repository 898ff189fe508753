"""What a clinician types at the pump's command line, read into the integers the therapy layer takes.

Every quantity carries its unit and is read strictly by `thecal.units` ("1,5
mg/day" is refused, never read as 15; "٢٠ mg/mL" is refused with the digit
named), within its field's physical range (docs/inputs.md); a flexible
schedule is written as in a scenario file's `steps`, and read by the scenario
reader itself, so both doors read it the same way. The prescription is a
dose, never a flow: `--steps` takes `dose` only. Each mistake is an
`InputError` naming the option, the value and what to do, raised before the
pump is reached.
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

from thecal.clinical.bolus import CatheterSegment
from thecal.drugs.fill import Fill
from thecal.errors import InputError
from thecal.pump.core.schedule import DoseSchedule, DoseStep
from thecal.pump.model import PumpModel, load_model
from thecal.sim import scenario as scenario_format
from thecal.units import (
    CATHETER_LENGTH,
    CATHETER_VOLUME,
    CATHETER_VOLUME_PER_LENGTH,
    CONCENTRATION_RANGE,
    DAILY_DOSE,
    DEMAND_DOSES_PER_DAY,
    DRUGS_PER_FILL,
    STEPS_PER_PRESCRIPTION,
    Range,
    count,
    plain_text,
    quantity,
    read_text_file,
)

STEPS_EXAMPLE = '[{days="all", at="00:00", dose="1.2 mg/day"}, {days="mon-fri", at="07:00", dose="1.8 mg/day"}]'
# Longer than any week of steps: 13 steps a day for 7 days, written out, fit in a few thousand characters.
STEPS_MAX_CHARACTERS = 16_384
NAME_MAX_CHARACTERS = 100
REASON_MAX_CHARACTERS = 1_000


def value(text: str, field: str, limits: Range) -> int:
    """A quantity typed with its unit, in the base unit's integer, within its field's range."""
    return quantity(text, field, limits)


def daily_dose(text: str, field: str) -> int:
    """A daily dose typed with its unit, in ng/day."""
    return quantity(text, field, DAILY_DOSE)


def time_of_day_ms(text: str, field: str) -> int:
    """A time of day like "08:00", in ms after midnight (read as a scenario reads `at`)."""
    return scenario_format.time_of_day_ms(text, field)


def demand_doses(text: str, field: str) -> int:
    """The most demand doses in 24 h: a whole number of ASCII digits, from 1 on."""
    return count(text, field, DEMAND_DOSES_PER_DAY)


def name(text: str, field: str) -> str:
    """A person's name for the record."""
    return plain_text(text, field, max_characters=NAME_MAX_CHARACTERS)


def reason(text: str | None, field: str = "--reason") -> str | None:
    """A physician's written reason, or None when none is given."""
    return None if text is None else plain_text(text, field, max_characters=REASON_MAX_CHARACTERS)


def pump_model(text: str, field: str) -> PumpModel:
    """A shipped pump model by name, or a model file by path, with any mistake named as the option."""
    if text.endswith(".toml") and Path(text).exists():
        read_text_file(text, field)  # readable, not too large, UTF-8: refused in words, not as a decoding error
    try:
        return load_model(text)
    except InputError as error:
        named = field if error.field == "pump.model" else f"{field}: {error.field}"
        raise InputError(named, error.value, error.problem, error.action, error.limit) from None
    except RecursionError:
        raise InputError(
            field, text, "is nested too deeply to be read", "write a model file as the shipped ones"
        ) from None


def dose_schedule(text: str, field: str = "--steps") -> DoseSchedule:
    """A flexible prescription written as a scenario's steps, e.g. '[{days="all", at="00:00", dose="1 mg/day"}]'."""
    like = f"write it like '{STEPS_EXAMPLE}'"
    if len(text) > STEPS_MAX_CHARACTERS:
        shown = f"{text[:40]}… ({len(text)} characters)"
        raise InputError(field, shown, f"is longer than any week of steps ({STEPS_MAX_CHARACTERS} characters)", like)
    try:
        data = tomllib.loads(f"steps = {text}")
    except tomllib.TOMLDecodeError as exc:
        raise InputError(field, text, f"is not a list of steps as a scenario writes them ({exc})", like) from None
    except RecursionError:
        raise InputError(field, text[:80], "is nested too deeply to be read: a step is one table", like) from None
    if set(data) != {"steps"}:  # "[…]\nother = 1" would add a key nothing reads
        raise InputError(field, text, "holds more than a list of steps", like)
    steps = data["steps"]
    if not isinstance(steps, list) or not steps:
        raise InputError(field, text, "must list at least one step", like)
    count(len(steps), field, STEPS_PER_PRESCRIPTION)
    for i, step in enumerate(steps):
        if isinstance(step, dict) and "flow" in step:
            raise InputError(
                f"{field}[{i}].flow",
                step["flow"],
                "the pump is prescribed in doses, not flows: it derives the flow from the concentration it holds",
                'write the step\'s daily dose instead, like dose = "1.2 mg/day"',
            )
        if isinstance(step, dict) and "dose" in step:
            daily_dose(step["dose"], f"{field}[{i}].dose")  # the strict reading a person's typing gets
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
        return DoseSchedule.continuous(daily_dose(args.dose, "--dose"))
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
        return checked_fill(Fill.parse(args.fill, "--fill"), "--fill", args.fill)
    if args.drug is None or args.concentration is None:
        missing = "--drug" if args.drug is None else "--concentration"
        raise InputError(
            missing,
            None,
            "is missing: the drug and its concentration are typed from the vial label, never assumed",
            'give --drug morphine --concentration "10 mg/mL", or --fill "morphine 10 mg/mL + bupivacaine 15 mg/mL"',
        )
    return Fill.single(args.drug, quantity(args.concentration, "--concentration", CONCENTRATION_RANGE))


def checked_fill(fill: Fill, field: str, written: str) -> Fill:
    """A fill as typed, refused when it lists more drugs than a fill holds, a drug twice, or a concentration
    outside the physical range (the drug library then holds each drug to its own)."""
    count(len(fill.components), field, DRUGS_PER_FILL)
    names = [c.drug.name for c in fill.components]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(
            field,
            written,
            f"lists {twice[0]} twice: a fill has one concentration per drug",
            "list each drug once with its final concentration",
        )
    low, high = CONCENTRATION_RANGE.bounds()
    for component in fill.components:
        if not low < component.concentration_ng_per_ml <= high:
            raise InputError(
                field,
                written,
                f"gives {component.drug.name} a concentration outside the physical range",
                f"enter each concentration {CONCENTRATION_RANGE.limit}",
                CONCENTRATION_RANGE.limit,
            )
    return fill


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
        return quantity(args.catheter_volume, "--catheter-volume", CATHETER_VOLUME)
    if args.catheter_length is None or args.volume_per_length is None:
        raise InputError(
            "--catheter-length" if args.catheter_length is None else "--volume-per-length",
            None,
            "is missing",
            'give --catheter-volume "0.1 mL", or --catheter-length "45 cm" with --volume-per-length "2.2 uL/cm" '
            "from the catheter labeling",
        )
    segment = CatheterSegment(
        quantity(args.catheter_length, "--catheter-length", CATHETER_LENGTH),
        quantity(args.volume_per_length, "--volume-per-length", CATHETER_VOLUME_PER_LENGTH),
    )
    return round(segment.volume())
