"""Titration plans: the steps from the current daily dose to a target that keep to the drug's rules.

Each step's size starts as what is left to the target and is only ever made
smaller: by the step the prescriber chose, or else by the drug's usual largest
step (a percentage of the current dose, an amount, or both). Every step is then
checked like a real change of dose, so a chosen step beyond the usual limit
needs a physician's reason and one beyond the hard limit is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction

from thecal.clinical.pump import flow_findings, flow_text, require_pump
from thecal.clinical.result import Reasoning, Result, limit_line
from thecal.drugs.checks import check_concentration, check_daily_dose, check_titration_step
from thecal.drugs.dosing import flow_nl_per_day
from thecal.drugs.loader import get_drug
from thecal.drugs.model import Drug, duration_text
from thecal.drugs.verdict import Override, Verdict
from thecal.errors import InputError
from thecal.pump.model import PumpModel
from thecal.units import BP_PER_ONE, MS_PER_DAY, format_exact

MAX_STEPS = 60
FLOW_CHECK = "with a concentration, the flow of every step is checked against the pump's flow range"
FORMULA = (
    "each step changes the dose by the smallest of: what is left to the target, and the step chosen or else the "
    "drug's usual largest step; steps are spaced by the interval; every step is checked as a dose change"
)


@dataclass
class Constraint:
    """A value that limits may only make smaller, with the reason for each tightening."""

    value: int
    reasons: list[str] = field(default_factory=list)

    def tighten(self, candidate: int, reason: str) -> None:
        """Lower the value to `candidate` if that is smaller, and record why."""
        if candidate < self.value:
            self.value = candidate
            self.reasons.append(reason)


@dataclass(frozen=True)
class PlanStep:
    """One dose change of a titration plan."""

    number: int
    after_ms: int
    on: date | None
    dose_ng_per_day: int
    change_ng_per_day: int
    flow_nl_per_day: int | None


@dataclass(frozen=True, kw_only=True)
class TitrationPlan(Result):
    """The dose changes from the current dose to the target, spaced by the interval."""

    CALCULATOR = "titrate"

    drug: Drug
    current_ng_per_day: int
    target_ng_per_day: int
    interval_ms: int
    steps: tuple[PlanStep, ...]


def titration_plan(
    drug: Drug | str,
    *,
    current_ng_per_day: int,
    target_ng_per_day: int,
    step_ng_per_day: int | None = None,
    step_bp: int | None = None,
    interval_ms: int | None = None,
    since_last_increase_ms: int | None = None,
    start_date: date | None = None,
    concentration_ng_per_ml: int | None = None,
    opioid_naive: bool = False,
    override: Override | None = None,
    pump: PumpModel | None = None,
) -> TitrationPlan:
    """A plan of dose changes from the current daily dose to the target, each checked against the drug's rules."""
    drug = drug if isinstance(drug, Drug) else get_drug(drug)
    _validate(current_ng_per_day, target_ng_per_day, step_ng_per_day, step_bp, interval_ms)
    interval = drug.require_limit("min_step_interval").soft if interval_ms is None else interval_ms
    first_at = 0
    if since_last_increase_ms is not None and target_ng_per_day > current_ng_per_day:
        first_at = max(0, interval - since_last_increase_ms)
    target_verdict = check_daily_dose(drug, target_ng_per_day, opioid_naive=opioid_naive)
    if target_verdict.hard:
        # A target no one may reach is refused before any step is planned towards it.
        doses: list[int] = []
        reasons = ["no steps: the target itself is beyond a hard limit"]
    else:
        doses, reasons = _doses(drug, current_ng_per_day, target_ng_per_day, step_ng_per_day, step_bp)
    steps: list[PlanStep] = []
    verdict = target_verdict
    if concentration_ng_per_ml is not None:
        require_pump(pump, FLOW_CHECK)
        verdict = verdict.combine(check_concentration(drug, concentration_ng_per_ml))
    previous = current_ng_per_day
    for number, dose in enumerate(doses, start=1):
        after = first_at + (number - 1) * interval
        if number == 1:
            since = None if since_last_increase_ms is None else since_last_increase_ms + first_at
        else:
            since = interval
        verdict = verdict.combine(
            check_titration_step(drug, previous, dose, since_last_increase_ms=since, opioid_naive=opioid_naive)
        )
        flow = None
        if concentration_ng_per_ml is not None:
            flow = flow_nl_per_day(dose, concentration_ng_per_ml)
            verdict = verdict.combine(Verdict(tuple(flow_findings(flow, require_pump(pump, FLOW_CHECK)))))
        on = start_date + timedelta(milliseconds=after) if start_date is not None else None
        steps.append(PlanStep(number, after, on, dose, dose - previous, flow))
        previous = dose
    lines = [_step_line(drug, s) for s in steps]
    if not steps and not target_verdict.hard:
        lines = ["the current dose is the target: no change"]
    empty = "refused: the target is beyond a hard limit" if target_verdict.hard else "no change needed"
    return TitrationPlan(
        title=f"Titration of {drug.name} from {drug.dose_text(current_ng_per_day)} to "
        f"{drug.dose_text(target_ng_per_day)}",
        summary=tuple((f"step {s.number}", _step_line(drug, s)) for s in steps) or (("plan", empty),),
        reasoning=Reasoning(
            inputs=(
                ("drug", drug.name),
                ("current daily dose", drug.dose_text(current_ng_per_day)),
                ("target daily dose", drug.dose_text(target_ng_per_day)),
                ("step chosen", _chosen_step(drug, step_ng_per_day, step_bp)),
                ("interval", duration_text(interval)),
                ("patient", "opioid-naïve" if opioid_naive else "opioid-tolerant"),
            ),
            formula=FORMULA,
            steps=tuple(reasons + lines),
            limits=_limits(drug, opioid_naive),
            sources=(drug.require_limit("min_step_interval").soft_source, drug.max_daily_dose.soft_source),
            notes=tuple(drug.notes[:1]),
        ),
        verdict=Verdict.of(verdict.findings, override),
        drug=drug,
        current_ng_per_day=current_ng_per_day,
        target_ng_per_day=target_ng_per_day,
        interval_ms=interval,
        steps=tuple(steps),
    )


def _doses(drug: Drug, current: int, target: int, step: int | None, step_bp: int | None) -> tuple[list[int], list[str]]:
    doses: list[int] = []
    reasons: list[str] = []
    dose = current
    while dose != target:
        if len(doses) >= MAX_STEPS:
            raise InputError(
                "titration plan",
                f"{drug.dose_text(current)} to {drug.dose_text(target)}",
                f"would need more than {MAX_STEPS} steps",
                "choose a larger step or a nearer target",
            )
        floor = drug.start_dose.low
        if target < dose <= floor:
            change = Constraint(
                dose - target, [f"no step limit at or below the lowest starting dose {drug.dose_text(floor)}"]
            )
            next_dose = target
        elif dose < (start := drug.require_limit("max_start_dose").soft) and target > dose:
            # Up to the usual starting dose a change is checked as a start, so it may be reached at once.
            change = Constraint(target, ["the target"])
            change.tighten(start, f"the usual largest starting dose {drug.dose_text(start)}")
            next_dose = change.value
            change.value = next_dose - dose
        else:
            change = _change(drug, dose, target, step, step_bp)
            next_dose = dose + change.value if target > dose else dose - change.value
            next_dose = _tidy(dose, next_dose, target, change.value)
            if next_dose < floor < dose:
                # A taper rests at the lowest starting dose, from which it may stop in one step.
                next_dose = max(floor, target)
                change.reasons.append(f"the lowest starting dose {drug.dose_text(floor)}, from which a taper may stop")
        binding = change.reasons[-1]
        reason = binding if binding.startswith("no step limit") else f"step size limited by {binding}"
        if reason not in reasons:
            reasons.append(reason)
        doses.append(next_dose)
        dose = next_dose
    return doses, reasons


def _change(drug: Drug, dose: int, target: int, step: int | None, step_bp: int | None) -> Constraint:
    change = Constraint(abs(target - dose), ["what is left to the target"])
    if step is not None:
        change.tighten(step, f"the step chosen, {drug.dose_text(step)}")
    elif step_bp is not None:
        change.tighten(_share(dose, step_bp), f"the step chosen, {format_exact(step_bp, 100, '%')} of the dose")
    elif target > dose:
        if (percent := drug.limit("max_step_up")) is not None:
            share = _share(dose, percent.soft)
            change.tighten(share, f"the usual largest increase, {format_exact(percent.soft, 100, '%')} of the dose")
        if (amount := drug.limit("max_step_up_amount")) is not None:
            change.tighten(amount.soft, f"the usual largest increase, {drug.dose_text(amount.soft)}")
    else:
        down = drug.require_limit("max_step_down").soft
        change.tighten(_share(dose, down), f"the usual largest decrease, {format_exact(down, 100, '%')} of the dose")
    # A change too small to count in whole nanograms would never reach the target.
    change.value = max(change.value, 1)
    return change


def _share(dose: int, bp: int) -> int:
    return int(Fraction(dose * bp, BP_PER_ONE))


def _tidy(dose: int, next_dose: int, target: int, change: int) -> int:
    """Round an intermediate dose to a readable figure, towards the current dose so no step grows."""
    if next_dose == target:
        return next_dose
    unit = 10 ** max(len(str(change)) - 2, 0)
    tidy = next_dose - next_dose % unit if next_dose > dose else next_dose + (-next_dose) % unit
    return tidy if tidy != dose and (tidy > dose) == (next_dose > dose) else next_dose


def _step_line(drug: Drug, step: PlanStep) -> str:
    when = f"day {format_exact(step.after_ms, MS_PER_DAY, '', decimals=2)}"
    if step.on is not None:
        when += f" ({step.on.isoformat()})"
    sign = "+" if step.change_ng_per_day >= 0 else "−"
    text = f"{when}: {drug.dose_text(step.dose_ng_per_day)} ({sign}{drug.dose_text(abs(step.change_ng_per_day))})"
    if step.flow_nl_per_day is not None:
        text += f", flow {flow_text(step.flow_nl_per_day)}"
    return text


def _chosen_step(drug: Drug, step: int | None, step_bp: int | None) -> str:
    if step is not None:
        return drug.dose_text(step)
    if step_bp is not None:
        return format_exact(step_bp, 100, "%")
    return "the drug's usual largest step"


def _limits(drug: Drug, opioid_naive: bool) -> tuple[str, ...]:
    keys = ["max_step_up", "max_step_up_amount", "min_step_interval", "max_step_down", "max_daily_dose"]
    if opioid_naive:
        keys.append("max_daily_dose_opioid_naive")
    return tuple(limit_line(drug, limit) for key in keys if (limit := drug.limit(key)) is not None)


def _validate(current: int, target: int, step: int | None, step_bp: int | None, interval: int | None) -> None:
    for name, value in (("current daily dose", current), ("target daily dose", target)):
        if value < 0:
            raise InputError(name, value, "cannot be negative", "enter zero or a positive dose")
    if step is not None and step_bp is not None:
        raise InputError("step", "both an amount and a percentage", "give one kind of step", "choose one")
    for name, given in (("step", step), ("step", step_bp), ("interval", interval)):
        if given is not None and given <= 0:
            raise InputError(name, given, "must be above zero", "enter a positive step and interval")
