"""What each `thecal calc` subcommand does with its arguments: read them, calculate, print or refuse.

Quantities are read with their units at this edge; a refusal becomes one
InputError paragraph (the caller prints it and exits with code 2). With --json
the result, with its verdict, is printed even when it is refused.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import date

from thecal.cli.calc_render import result_text, results_json
from thecal.clinical.bolus import CatheterSegment, bridge_bolus, priming_bolus
from thecal.clinical.convert import convert_opioid
from thecal.clinical.demand import demand_worst_case
from thecal.clinical.flow import dose_for_flow, flow_for_dose
from thecal.clinical.library import library_json, library_text
from thecal.clinical.pump import model_with_reservoir
from thecal.clinical.refill import plan_refill, reconcile_refill
from thecal.clinical.result import Result
from thecal.clinical.titrate import titration_plan
from thecal.clinical.trial import BOLUS, CONTINUOUS, trial_dose
from thecal.drugs.fill import Fill
from thecal.drugs.verdict import Override, Verdict
from thecal.errors import InputError
from thecal.pump.model import PumpModel, load_model
from thecal.units import (
    CONCENTRATION,
    DOSE_RATE,
    DURATION,
    FLOW,
    LENGTH,
    MASS,
    MS_PER_DAY,
    VOLUME,
    VOLUME_PER_LENGTH,
    parse_typed_int,
    percent_bp,
    percent_fraction,
)

# Refusals about these fields follow from the dose or flow as typed, so the typed text is repeated.
TYPED_FIELDS = ("daily dose", "daily dose for an opioid-naïve patient", "flow")
# Without --pump-model (or, for a refill, --reservoir) the calculators use the shipped 20 mL pump.
DEFAULT_PUMP_MODEL = "programmable-20"


def run_flow(args: argparse.Namespace) -> int:
    """Print the flow for a daily dose, or refuse it."""
    fill = _contents(args)
    dose = parse_typed_int(args.dose, DOSE_RATE, "dose")
    result = flow_for_dose(
        fill,
        dose,
        drug=args.for_drug,
        opioid_naive=args.opioid_naive,
        override=_override(args),
        pump=_model(args),
        typed=args.dose,
    )
    return _emit(args, [result], _vial_check(args, fill), typed=args.dose)


def run_dose(args: argparse.Namespace) -> int:
    """Print the daily doses at a flow, or refuse them."""
    fill = _contents(args)
    flow = parse_typed_int(args.flow, FLOW, "flow")
    result = dose_for_flow(
        fill, flow, opioid_naive=args.opioid_naive, override=_override(args), pump=_model(args), typed=args.flow
    )
    return _emit(args, [result], _vial_check(args, fill), typed=args.flow)


def run_convert(args: argparse.Namespace) -> int:
    """Print an opioid conversion as ranges."""
    result = convert_opioid(
        parse_typed_int(args.dose, DOSE_RATE, "dose"),
        from_drug=args.drug,
        from_route=args.from_route,
        to_route=args.to_route,
        to_drug=args.to_drug,
    )
    return _emit(args, [result])


def run_refill(args: argparse.Namespace) -> int:
    """Print the refill reconciliation and plan, or refuse them."""
    fill = _contents(args)
    pump = _pump(args)
    today = _date(args.date, "date") if args.date else date.today()
    override = _override(args)
    results: list[Result] = []
    flow = parse_typed_int(args.flow, FLOW, "flow") if args.flow else None
    if args.aspirated is not None:
        results.append(_reconcile(args, pump, flow, today, override))
    new_flow = parse_typed_int(args.new_flow, FLOW, "new flow") if args.new_flow else flow
    if new_flow is None:
        raise InputError(
            "flow", None, "the flow after the refill is missing", 'give --flow or --new-flow, like "0.5 mL/day"'
        )
    results.append(
        plan_refill(
            fill=fill,
            fill_volume_nl=parse_typed_int(args.fill_volume, VOLUME, "fill volume"),
            flow_nl_per_day=new_flow,
            refill_date=today,
            demand_volume_per_day_nl=parse_typed_int(args.demand_volume, FLOW, "demand volume")
            if args.demand_volume
            else 0,
            pump=pump,
            alarm_volume_nl=parse_typed_int(args.alarm, VOLUME, "alarm volume") if args.alarm else None,
            clinic_date=_date(args.clinic_date, "clinic date") if args.clinic_date else None,
            first_fill=args.first_fill,
            undiluted=args.undiluted,
            override=override,
        )
    )
    return _emit(args, results, _vial_check(args, fill))


def _reconcile(
    args: argparse.Namespace, pump: PumpModel, flow: int | None, today: date, override: Override | None
) -> Result:
    if flow is None or args.last_fill is None:
        raise InputError(
            "reconciliation",
            args.aspirated,
            "needs the programmed flow and the volume after the last refill",
            'give --flow and --last-fill, like --flow "0.5 mL/day" --last-fill "20 mL"',
        )
    if (args.since is None) == (args.last_refill is None):
        raise InputError(
            "time since the last refill",
            args.since or args.last_refill,
            "give exactly one of --since and --last-refill",
            'write --since "30 d", or --last-refill 2025-01-30 with --date',
        )
    if args.since is not None:
        elapsed = parse_typed_int(args.since, DURATION, "since")
    else:
        elapsed = (today - _date(args.last_refill, "last refill")).days * MS_PER_DAY
    threshold = parse_typed_int(args.flag_threshold, VOLUME, "flag threshold") if args.flag_threshold else None
    return reconcile_refill(
        volume_after_last_fill_nl=parse_typed_int(args.last_fill, VOLUME, "last fill"),
        flow_nl_per_day=flow,
        elapsed_ms=elapsed,
        aspirated_nl=parse_typed_int(args.aspirated, VOLUME, "aspirated"),
        bolus_volume_nl=parse_typed_int(args.bolus_volume, VOLUME, "bolus volume") if args.bolus_volume else 0,
        pump=pump,
        flag_threshold_nl=threshold,
        override=override,
    )


def run_prime(args: argparse.Namespace) -> int:
    """Print the priming bolus."""
    pump = _pump_volume(args, _model(args))
    result = priming_bolus(
        segments=_segments(args),
        after=args.after,
        fill=_contents(args) if (args.drug or args.admixture) else None,
        pump=pump,
        rate_nl_per_day=parse_typed_int(args.rate, FLOW, "rate") if args.rate else None,
        override=_override(args),
    )
    return _emit(args, [result])


def run_bridge(args: argparse.Namespace) -> int:
    """Print the bridge bolus, or refuse it."""
    old = _bridge_fill(args.old_admixture, args.drug, args.old_concentration, "old")
    new = _bridge_fill(args.new_admixture, args.drug, args.new_concentration, "new")
    result = bridge_bolus(
        segments=_segments(args),
        old_fill=old,
        old_dose_ng_per_day=parse_typed_int(args.old_dose, DOSE_RATE, "old dose"),
        new_fill=new,
        new_dose_ng_per_day=parse_typed_int(args.new_dose, DOSE_RATE, "new dose"),
        pump=_pump_volume(args, _model(args)),
        opioid_naive=args.opioid_naive,
        override=_override(args),
    )
    return _emit(args, [result])


def run_titrate(args: argparse.Namespace) -> int:
    """Print the titration plan, or refuse it."""
    step = step_bp = None
    if args.step is not None:
        if "%" in args.step or "percent" in args.step:
            step_bp = percent_bp(args.step, "step")
        else:
            step = parse_typed_int(args.step, DOSE_RATE, "step")
    result = titration_plan(
        args.drug,
        current_ng_per_day=parse_typed_int(args.current, DOSE_RATE, "current"),
        target_ng_per_day=parse_typed_int(args.target, DOSE_RATE, "target"),
        step_ng_per_day=step,
        step_bp=step_bp,
        interval_ms=parse_typed_int(args.every, DURATION, "every") if args.every else None,
        since_last_increase_ms=parse_typed_int(args.since_last_increase, DURATION, "since last increase")
        if args.since_last_increase
        else None,
        start_date=_date(args.start, "start") if args.start else None,
        concentration_ng_per_ml=parse_typed_int(args.concentration, CONCENTRATION, "concentration")
        if args.concentration
        else None,
        opioid_naive=args.opioid_naive,
        override=_override(args),
        pump=_model(args),
    )
    return _emit(args, [result])


def run_trial(args: argparse.Namespace) -> int:
    """Print the screening-trial dose, or refuse it."""
    mode = CONTINUOUS if args.continuous else BOLUS
    dose = None
    if args.dose is not None:
        dose = parse_typed_int(args.dose, DOSE_RATE if args.continuous else MASS, "dose")
    result = trial_dose(
        args.drug,
        mode=mode,
        dose=dose,
        concentration_ng_per_ml=parse_typed_int(args.concentration, CONCENTRATION, "concentration")
        if args.concentration
        else None,
        opioid_naive=args.opioid_naive,
        override=_override(args),
        pump=_model(args),
    )
    return _emit(args, [result])


def run_demand(args: argparse.Namespace) -> int:
    """Print the demand-bolus worst case, or refuse it."""
    result = demand_worst_case(
        _contents(args),
        continuous_ng_per_day=parse_typed_int(args.continuous, DOSE_RATE, "continuous"),
        bolus_ng=parse_typed_int(args.bolus, MASS, "bolus"),
        lockout_ms=parse_typed_int(args.lockout, DURATION, "lockout"),
        max_per_day=args.max_per_day,
        opioid_naive=args.opioid_naive,
        override=_override(args),
        pump=_model(args),
    )
    return _emit(args, [result])


def run_library(args: argparse.Namespace) -> int:
    """Print the drug library, or one drug of it."""
    print(library_json(args.drug) if args.json else library_text(args.drug))
    return 0


def _emit(
    args: argparse.Namespace, results: list[Result], vial: Verdict | None = None, typed: str | None = None
) -> int:
    """Print results, or refuse with one paragraph if any limit refuses them (a vial mix-up first)."""
    if args.json:
        print(results_json(results))
    if vial is not None:
        vial.raise_if_refused()
    for result in results:
        try:
            result.raise_if_refused()
        except InputError as error:
            if typed is None or error.field not in TYPED_FIELDS or typed.strip() == error.value:
                raise
            raise InputError(
                error.field, error.value, f"{error.problem} (You typed {typed.strip()!r}.)", error.action, error.limit
            ) from None
    if not args.json:
        print("\n\n".join(result_text(r) for r in results))
    return 0


def _vial_check(args: argparse.Namespace, programmed: Fill) -> Verdict | None:
    """Compare what is programmed with what the vial labels say is in the reservoir."""
    if not args.vial:
        return None
    text = args.vial.strip()
    if text[:1].isdigit() or text[:1] == ".":
        if programmed.is_admixture:
            raise InputError(
                "vial", args.vial, "an admixture needs every drug named", 'write it like "morphine 10 mg/mL + ..."'
            )
        vial = Fill.single(programmed.lead.drug, _conc(text, "vial"))
    else:
        vial = Fill.parse(text, "vial")
    return programmed.check_against_vial(vial)


def _contents(args: argparse.Namespace) -> Fill:
    if args.admixture:
        if args.drug or args.concentration:
            raise InputError(
                "admixture", args.admixture, "give either --admixture or --drug with --concentration", "choose one"
            )
        return Fill.parse(args.admixture, "admixture")
    if not args.drug or not args.concentration:
        raise InputError(
            "drug",
            args.drug,
            "the drug and its concentration are both needed",
            'give --drug and --concentration, like --drug morphine --concentration "10 mg/mL"',
        )
    return Fill.single(args.drug, _conc(args.concentration, "concentration"))


def _bridge_fill(admixture: str | None, drug: str | None, concentration: str | None, which: str) -> Fill:
    if admixture:
        return Fill.parse(admixture, f"{which} admixture")
    if not drug or not concentration:
        raise InputError(
            f"{which} concentration",
            concentration,
            "the drug and the old and new concentrations are needed",
            f"give --drug and --{which}-concentration, or --{which}-admixture",
        )
    return Fill.single(drug, _conc(concentration, f"{which} concentration"))


def _segments(args: argparse.Namespace) -> tuple[CatheterSegment, ...]:
    if len(args.catheter) != len(args.volume_per_cm):
        raise InputError(
            "catheter",
            " + ".join(args.catheter),
            "each catheter length needs its own volume per cm",
            "give one --volume-per-cm for every --catheter, in the same order",
        )
    return tuple(
        CatheterSegment(
            parse_typed_int(length, LENGTH, "catheter"),
            parse_typed_int(volume, VOLUME_PER_LENGTH, "volume per cm"),
        )
        for length, volume in zip(args.catheter, args.volume_per_cm, strict=True)
    )


def _model(args: argparse.Namespace) -> PumpModel:
    """The pump model named by --pump-model (a shipped model or a model file), else the shipped 20 mL pump."""
    return load_model(args.pump_model or DEFAULT_PUMP_MODEL)


def _pump(args: argparse.Namespace) -> PumpModel:
    """The refill's pump: --pump-model, or the shipped model with the --reservoir size; --accuracy replaces its own."""
    if args.pump_model:
        pump = load_model(args.pump_model)
    elif args.reservoir:
        pump = model_with_reservoir(parse_typed_int(args.reservoir, VOLUME, "reservoir"))
    else:
        raise InputError(
            "pump",
            None,
            "the refill needs to know the pump: its reservoir size or its model",
            'give --reservoir "20 mL" or --pump-model programmable-40 (or the path of a model file)',
        )
    if args.accuracy:
        pump = replace(pump, accuracy=percent_fraction(args.accuracy, "accuracy"))
    return pump


def _pump_volume(args: argparse.Namespace, pump: PumpModel) -> PumpModel:
    if not args.pump_volume:
        return pump
    return replace(pump, internal_volume_nl=parse_typed_int(args.pump_volume, VOLUME, "pump volume"))


def _override(args: argparse.Namespace) -> Override | None:
    if args.reason is None and args.role is None:
        return None
    if args.reason is None:
        raise InputError("reason", None, "a soft limit is passed only with a written reason", 'add --reason "..."')
    if args.role is None:
        raise InputError("role", None, "say who passes the soft limit", "add --role physician")
    return Override(args.role, args.reason)


def _conc(text: str, field: str) -> int:
    return parse_typed_int(text, CONCENTRATION, field)


def _date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            field, text, "not a date that can be read", "write it as YYYY-MM-DD, like 2025-03-01"
        ) from None
