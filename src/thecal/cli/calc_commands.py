"""What each `thecal calc` subcommand does with its arguments: read them, calculate, print or refuse.

Quantities are read with their units at this edge, strictly and within each
field's physical range (`thecal.units`, docs/inputs.md), before anything is
worked out; a refusal becomes one InputError paragraph (the caller prints it
and exits with code 2). With --json the result, with its verdict, is printed
even when it is refused.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import date
from fractions import Fraction

from thecal.cli import typed_args
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
    ASPIRATED_VOLUME,
    BOLUS_DOSE,
    BOLUS_VOLUME_SINCE_REFILL,
    BP_PER_ONE,
    CATHETER_LENGTH,
    CATHETER_VOLUME,
    CATHETER_VOLUME_PER_LENGTH,
    CONCENTRATION_RANGE,
    CONVERTED_DOSE,
    CURRENT_DAILY_DOSE,
    DAILY_DOSE,
    DEMAND_DOSES_PER_DAY,
    DEMAND_VOLUME,
    FILL_VOLUME,
    FLAG_THRESHOLD,
    FLOW_RANGE,
    LAST_FILL_VOLUME,
    LOCKOUT,
    LOW_RESERVOIR_ALARM,
    MS_PER_DAY,
    PUMP_ACCURACY,
    PUMP_TUBING_VOLUME,
    RESERVOIR_SIZE,
    SINCE_LAST_INCREASE,
    SINCE_LAST_REFILL,
    TITRATION_INTERVAL,
    TITRATION_STEP,
    TITRATION_STEP_PERCENT,
    calendar_date,
    count,
    format_typed,
    percentage,
    quantity,
)
from thecal.units import FLOW as FLOW_KIND
from thecal.units import VOLUME as VOLUME_KIND

# Refusals about these fields follow from the dose or flow as typed, so the typed text is repeated.
TYPED_FIELDS = ("daily dose", "daily dose for an opioid-naïve patient", "flow")
# Without --pump-model (or, for a refill, --reservoir) the calculators use the shipped 20 mL pump.
DEFAULT_PUMP_MODEL = "programmable-20"


def run_flow(args: argparse.Namespace) -> int:
    """Print the flow for a daily dose, or refuse it."""
    fill = _contents(args)
    dose = quantity(args.dose, "dose", DAILY_DOSE)
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
    flow = quantity(args.flow, "flow", FLOW_RANGE)
    result = dose_for_flow(
        fill, flow, opioid_naive=args.opioid_naive, override=_override(args), pump=_model(args), typed=args.flow
    )
    return _emit(args, [result], _vial_check(args, fill), typed=args.flow)


def run_convert(args: argparse.Namespace) -> int:
    """Print an opioid conversion as ranges."""
    result = convert_opioid(
        quantity(args.dose, "dose", CONVERTED_DOSE),
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
    today = _date(args.date, "date") if args.date is not None else date.today()
    override = _override(args)
    results: list[Result] = []
    flow = _pump_flow(args.flow, "flow", pump) if args.flow is not None else None
    new_flow = _pump_flow(args.new_flow, "new flow", pump) if args.new_flow is not None else flow
    fill_volume = quantity(args.fill_volume, "fill volume", FILL_VOLUME)
    demand = quantity(args.demand_volume, "demand volume", DEMAND_VOLUME) if args.demand_volume is not None else 0
    alarm = quantity(args.alarm, "alarm volume", LOW_RESERVOIR_ALARM) if args.alarm is not None else None
    clinic_date = _date(args.clinic_date, "clinic date") if args.clinic_date is not None else None
    if args.aspirated is not None:
        results.append(_reconcile(args, pump, flow, today, override))
    if new_flow is None:
        raise InputError(
            "flow", None, "the flow after the refill is missing", 'give --flow or --new-flow, like "0.5 mL/day"'
        )
    results.append(
        plan_refill(
            fill=fill,
            fill_volume_nl=fill_volume,
            flow_nl_per_day=new_flow,
            refill_date=today,
            demand_volume_per_day_nl=demand,
            pump=pump,
            alarm_volume_nl=alarm,
            clinic_date=clinic_date,
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
        elapsed = quantity(args.since, "since", SINCE_LAST_REFILL)
    else:
        last = _date(args.last_refill, "last refill")
        if last > today:
            raise InputError(
                "last refill", args.last_refill, f"is after the date of this refill ({today.isoformat()})", "check both"
            )
        elapsed = (today - last).days * MS_PER_DAY
        SINCE_LAST_REFILL.check(elapsed, "last refill", args.last_refill)
    threshold = (
        quantity(args.flag_threshold, "flag threshold", FLAG_THRESHOLD) if args.flag_threshold is not None else None
    )
    return reconcile_refill(
        volume_after_last_fill_nl=quantity(args.last_fill, "last fill", LAST_FILL_VOLUME),
        flow_nl_per_day=flow,
        elapsed_ms=elapsed,
        aspirated_nl=quantity(args.aspirated, "aspirated", ASPIRATED_VOLUME),
        bolus_volume_nl=quantity(args.bolus_volume, "bolus volume", BOLUS_VOLUME_SINCE_REFILL)
        if args.bolus_volume is not None
        else 0,
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
        fill=_contents(args) if (args.drug is not None or args.admixture is not None) else None,
        pump=pump,
        rate_nl_per_day=quantity(args.rate, "rate", FLOW_RANGE) if args.rate is not None else None,
        override=_override(args),
    )
    if result.volume_nl > pump.reservoir_nl:
        # More than the pump holds cannot be primed from it: a catheter or tubing volume was entered wrong.
        raise InputError(
            "priming volume",
            format_typed(result.volume_nl, VOLUME_KIND),
            f"is more than the reservoir of {pump.name} holds ({format_typed(pump.reservoir_nl, VOLUME_KIND)})",
            "check the catheter length, its volume per cm and the pump tubing volume",
            f"at most {format_typed(pump.reservoir_nl, VOLUME_KIND)}",
        )
    return _emit(args, [result])


def run_bridge(args: argparse.Namespace) -> int:
    """Print the bridge bolus, or refuse it."""
    old = _bridge_fill(args.old_admixture, args.drug, args.old_concentration, "old")
    new = _bridge_fill(args.new_admixture, args.drug, args.new_concentration, "new")
    result = bridge_bolus(
        segments=_segments(args),
        old_fill=old,
        old_dose_ng_per_day=quantity(args.old_dose, "old dose", DAILY_DOSE),
        new_fill=new,
        new_dose_ng_per_day=quantity(args.new_dose, "new dose", DAILY_DOSE),
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
            step_bp = round(percentage(args.step, "step", TITRATION_STEP_PERCENT) * BP_PER_ONE)
        else:
            step = quantity(args.step, "step", TITRATION_STEP)
    result = titration_plan(
        args.drug,
        current_ng_per_day=quantity(args.current, "current", CURRENT_DAILY_DOSE),
        target_ng_per_day=quantity(args.target, "target", DAILY_DOSE),
        step_ng_per_day=step,
        step_bp=step_bp,
        interval_ms=quantity(args.every, "every", TITRATION_INTERVAL) if args.every is not None else None,
        since_last_increase_ms=quantity(args.since_last_increase, "since last increase", SINCE_LAST_INCREASE)
        if args.since_last_increase is not None
        else None,
        start_date=_date(args.start, "start") if args.start is not None else None,
        concentration_ng_per_ml=_conc(args.concentration, "concentration") if args.concentration is not None else None,
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
        dose = quantity(args.dose, "dose", DAILY_DOSE if args.continuous else BOLUS_DOSE)
    result = trial_dose(
        args.drug,
        mode=mode,
        dose=dose,
        concentration_ng_per_ml=_conc(args.concentration, "concentration") if args.concentration is not None else None,
        opioid_naive=args.opioid_naive,
        override=_override(args),
        pump=_model(args),
    )
    return _emit(args, [result])


def run_demand(args: argparse.Namespace) -> int:
    """Print the demand-bolus worst case, or refuse it."""
    result = demand_worst_case(
        _contents(args),
        continuous_ng_per_day=quantity(args.continuous, "continuous", DAILY_DOSE),
        bolus_ng=quantity(args.bolus, "bolus", BOLUS_DOSE),
        lockout_ms=quantity(args.lockout, "lockout", LOCKOUT),
        max_per_day=count(args.max_per_day, "max per day", DEMAND_DOSES_PER_DAY),
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
    if args.vial is None:
        return None
    text = args.vial.strip()
    if not text or text[0].isdigit() or text[0] in ".-−+":  # a number (in any script: refused with the digit named)
        if programmed.is_admixture:
            raise InputError(
                "vial", args.vial, "an admixture needs every drug named", 'write it like "morphine 10 mg/mL + ..."'
            )
        vial = Fill.single(programmed.lead.drug, _conc(text, "vial"))
    else:
        vial = typed_args.checked_fill(Fill.parse(text, "vial"), "vial", args.vial)
    return programmed.check_against_vial(vial)


def _contents(args: argparse.Namespace) -> Fill:
    if args.admixture is not None:
        if args.drug is not None or args.concentration is not None:
            raise InputError(
                "admixture", args.admixture, "give either --admixture or --drug with --concentration", "choose one"
            )
        return typed_args.checked_fill(Fill.parse(args.admixture, "admixture"), "admixture", args.admixture)
    if args.drug is None or args.concentration is None:
        raise InputError(
            "drug",
            args.drug,
            "the drug and its concentration are both needed",
            'give --drug and --concentration, like --drug morphine --concentration "10 mg/mL"',
        )
    return Fill.single(args.drug, _conc(args.concentration, "concentration"))


def _bridge_fill(admixture: str | None, drug: str | None, concentration: str | None, which: str) -> Fill:
    if admixture is not None:
        return typed_args.checked_fill(Fill.parse(admixture, f"{which} admixture"), f"{which} admixture", admixture)
    if drug is None or concentration is None:
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
    segments = tuple(
        CatheterSegment(
            quantity(length, "catheter", CATHETER_LENGTH),
            quantity(volume, "volume per cm", CATHETER_VOLUME_PER_LENGTH),
        )
        for length, volume in zip(args.catheter, args.volume_per_cm, strict=True)
    )
    # Segments add up: each may be plausible while the catheter they make is not.
    total = int(sum((s.volume() for s in segments), Fraction(0)))
    CATHETER_VOLUME.check(total, "catheter", f"{' + '.join(args.catheter)} ({format_typed(total, VOLUME_KIND)})")
    return segments


def _model(args: argparse.Namespace) -> PumpModel:
    """The pump model named by --pump-model (a shipped model or a model file), else the shipped 20 mL pump."""
    if args.pump_model is None:
        return load_model(DEFAULT_PUMP_MODEL)
    return typed_args.pump_model(args.pump_model, "pump model")


def _pump(args: argparse.Namespace) -> PumpModel:
    """The refill's pump: --pump-model, or the shipped model with the --reservoir size; --accuracy replaces its own."""
    if args.pump_model is not None:
        pump = typed_args.pump_model(args.pump_model, "pump model")
    elif args.reservoir is not None:
        pump = model_with_reservoir(quantity(args.reservoir, "reservoir", RESERVOIR_SIZE))
    else:
        raise InputError(
            "pump",
            None,
            "the refill needs to know the pump: its reservoir size or its model",
            'give --reservoir "20 mL" or --pump-model programmable-40 (or the path of a model file)',
        )
    if args.accuracy is not None:
        pump = replace(pump, accuracy=percentage(args.accuracy, "accuracy", PUMP_ACCURACY))
    return pump


def _pump_flow(text: str, field: str, pump: PumpModel) -> int:
    """A flow within the physical range, and within what this pump can run (a refill plan at 1000 mL/day is not)."""
    flow = quantity(text, field, FLOW_RANGE)
    low, high = pump.min_programmable_flow_nl_per_day, pump.max_continuous_flow_nl_per_day
    if not low <= flow <= high:
        limit = f"{format_typed(low, FLOW_KIND)} to {format_typed(high, FLOW_KIND)}"
        raise InputError(
            field, text, f"is outside the flows pump model {pump.name} can run", f"enter a flow from {limit}", limit
        )
    return flow


def _pump_volume(args: argparse.Namespace, pump: PumpModel) -> PumpModel:
    if args.pump_volume is None:
        return pump
    return replace(pump, internal_volume_nl=quantity(args.pump_volume, "pump volume", PUMP_TUBING_VOLUME))


def _override(args: argparse.Namespace) -> Override | None:
    if args.reason is None and args.role is None:
        return None
    typed_args.reason(args.reason, "reason")
    if args.reason is None:
        raise InputError("reason", None, "a soft limit is passed only with a written reason", 'add --reason "..."')
    if args.role is None:
        raise InputError("role", None, "say who passes the soft limit", "add --role physician")
    return Override(args.role, args.reason)


def _conc(text: str, field: str) -> int:
    return quantity(text, field, CONCENTRATION_RANGE)


def _date(text: str, field: str) -> date:
    return calendar_date(text, field)
