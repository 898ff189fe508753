"""The dose safety checks of the drug library, one per question a programmer asks.

Each check returns a Verdict and never raises for a value that is merely beyond
a limit: the caller decides whether to show, override or refuse. Bad input (a
negative dose, a zero concentration) raises InputError at once. Checks stack: a
check that builds on another (a titration step also checks the new daily dose)
keeps all the other's findings, so stacking can only tighten.
"""

from __future__ import annotations

from fractions import Fraction

from thecal.drugs.limits import limit_findings, rule_finding
from thecal.drugs.model import Drug, Limit
from thecal.drugs.verdict import Finding, Override, Verdict
from thecal.errors import InputError

# The pump counts demand doses in 24 h; the library asks the same question, so it uses the pump's answer.
from thecal.pump.core.hard_limits import demand_presses_per_24h as demand_presses_per_day
from thecal.units import BP_PER_ONE, MS_PER_DAY, format_exact

# A new dose 20 to 28 times the old one (or the inverse) is the signature of a
# per-hour figure typed as per-day, the error behind a 24-fold baclofen overdose.
PER_HOUR_CONFUSION = (Fraction(20), Fraction(28))
MEDTRONIC_PTM_NAIVE = (
    "Medtronic SynchroMed II labeling: demand boluses of opioid are contraindicated for opioid-naive patients"
)


def check_daily_dose(
    drug: Drug, dose_ng_per_day: int, *, opioid_naive: bool = False, override: Override | None = None
) -> Verdict:
    """Check a daily dose against the drug's maximum, and the opioid-naïve rules when they apply."""
    _non_negative(dose_ng_per_day, "daily dose")
    findings = limit_findings(drug, drug.max_daily_dose, dose_ng_per_day)
    findings += _naive_findings(drug, opioid_naive, dose_ng_per_day)
    return Verdict.of(findings, override)


def check_concentration(drug: Drug, ng_per_ml: int, override: Override | None = None) -> Verdict:
    """Check a concentration against the drug's maximum concentration."""
    if ng_per_ml <= 0:
        raise InputError(
            "concentration",
            drug.concentration_text(ng_per_ml),
            "a concentration must be above zero",
            "enter the concentration on the vial label",
        )
    return Verdict.of(limit_findings(drug, drug.max_concentration, ng_per_ml), override)


def check_start_dose(
    drug: Drug, dose_ng_per_day: int, *, opioid_naive: bool = False, override: Override | None = None
) -> Verdict:
    """Check the first daily dose of intrathecal therapy, stacked on the daily-dose check."""
    _non_negative(dose_ng_per_day, "starting daily dose")
    findings = limit_findings(drug, drug.require_limit("max_start_dose"), dose_ng_per_day)
    daily = check_daily_dose(drug, dose_ng_per_day, opioid_naive=opioid_naive)
    return Verdict.of(findings + list(daily.findings), override)


def check_titration_step(
    drug: Drug,
    current_ng_per_day: int,
    new_ng_per_day: int,
    *,
    since_last_increase_ms: int | None = None,
    opioid_naive: bool = False,
    override: Override | None = None,
) -> Verdict:
    """Check a change of daily dose: step size, time since the last increase, and the new dose itself."""
    # since_last_increase_ms is None when no earlier increase is on record; a change from zero is a start.
    _non_negative(current_ng_per_day, "current daily dose")
    _non_negative(new_ng_per_day, "new daily dose")
    if current_ng_per_day == 0:
        return check_start_dose(drug, new_ng_per_day, opioid_naive=opioid_naive, override=override)
    findings: list[Finding] = []
    change = f"from {drug.dose_text(current_ng_per_day)} to {drug.dose_text(new_ng_per_day)}"
    note = _per_hour_note(current_ng_per_day, new_ng_per_day)
    if new_ng_per_day > current_ng_per_day:
        # Rising to no more than the usual starting dose exposes the patient to no more than starting
        # afresh at that dose would, so only a rise beyond it is limited by the step size.
        if new_ng_per_day > drug.require_limit("max_start_dose").soft:
            findings += _step_up_findings(drug, current_ng_per_day, new_ng_per_day, change, note)
        if since_last_increase_ms is not None:
            _non_negative(since_last_increase_ms, "time since the last increase")
            findings += limit_findings(drug, drug.require_limit("min_step_interval"), since_last_increase_ms)
    elif new_ng_per_day < current_ng_per_day and current_ng_per_day > drug.start_dose.low:
        # At or below the lowest starting dose, stopping is no riskier than never having started.
        drop = Fraction((current_ng_per_day - new_ng_per_day) * BP_PER_ONE, current_ng_per_day)
        findings += limit_findings(
            drug,
            drug.require_limit("max_step_down"),
            drop,
            value_text=f"{_percent(drop)} ({change})",
            note=note,
        )
    findings += check_daily_dose(drug, new_ng_per_day, opioid_naive=opioid_naive).findings
    return Verdict.of(findings, override)


def check_trial_bolus(
    drug: Drug, dose_ng: int, *, opioid_naive: bool = False, override: Override | None = None
) -> Verdict:
    """Check a single screening-trial bolus against the drug's trial limits and opioid-naïve rule."""
    _non_negative(dose_ng, "trial bolus dose")
    findings = limit_findings(drug, drug.require_limit("max_trial_bolus"), dose_ng)
    findings += _naive_findings(drug, opioid_naive, None)
    return Verdict.of(findings, override)


def check_demand_bolus(
    drug: Drug,
    *,
    bolus_ng: int,
    max_per_day: int,
    lockout_ms: int,
    continuous_ng_per_day: int,
    opioid_naive: bool = False,
    override: Override | None = None,
) -> Verdict:
    """Check patient demand-bolus settings, including the 24 h worst case with every press used."""
    _non_negative(bolus_ng, "demand bolus dose")
    _non_negative(max_per_day, "demand boluses per 24 h")
    _non_negative(lockout_ms, "demand bolus lockout")
    _non_negative(continuous_ng_per_day, "continuous daily dose")
    findings: list[Finding] = []
    if not drug.demand_bolus_allowed:
        findings.append(
            rule_finding(
                "demand bolus",
                drug.name,
                "continuous infusion only",
                f"{drug.name.capitalize()} is given only as a continuous infusion; the patient handset "
                "must not give it.",
                "set no demand bolus for this fill",
                drug.demand_bolus_source,
            )
        )
    elif drug.opioid and opioid_naive:
        findings.append(
            rule_finding(
                "demand bolus",
                "opioid-naïve patient",
                "opioid-tolerant patients only",
                "Demand boluses of an opioid are not for a patient who is opioid-naïve: the extra doses can "
                "stop breathing.",
                "set no demand bolus until the patient is opioid-tolerant",
                MEDTRONIC_PTM_NAIVE,
            )
        )
    else:
        findings += limit_findings(drug, drug.require_limit("max_demand_bolus"), bolus_ng)
        findings += limit_findings(drug, drug.require_limit("max_demand_per_day"), max_per_day)
        findings += limit_findings(drug, drug.require_limit("min_demand_lockout"), lockout_ms)
    presses = demand_presses_per_day(lockout_ms, max_per_day)
    worst = continuous_ng_per_day + presses * bolus_ng
    worst_note = (
        f"This is the worst case in 24 h: {drug.dose_text(continuous_ng_per_day)} continuous plus "
        f"{presses} demand boluses of {drug.mass_text(bolus_ng)}."
    )
    findings += [_with_note(f, worst_note) for f in check_daily_dose(drug, worst, opioid_naive=opioid_naive).findings]
    return Verdict.of(findings, override)


def refill_interval_limit(drug: Drug, *, first_fill: bool = False, undiluted: bool = False) -> Limit:
    """The refill-interval limit that applies: first fill, undiluted drug, or the usual one."""
    if first_fill and (limit := drug.limit("max_first_refill_interval")) is not None:
        return limit
    if undiluted and (limit := drug.limit("max_refill_interval_undiluted")) is not None:
        return limit
    return drug.require_limit("max_refill_interval")


def check_refill_interval(
    drug: Drug,
    interval_ms: int,
    *,
    first_fill: bool = False,
    undiluted: bool = False,
    override: Override | None = None,
) -> Verdict:
    """Check the time until the next refill against the drug's stability in the pump."""
    _non_negative(interval_ms, "time between refills")
    limit = refill_interval_limit(drug, first_fill=first_fill, undiluted=undiluted)
    shown = format_exact(interval_ms, MS_PER_DAY, "days", decimals=2)
    return Verdict.of(limit_findings(drug, limit, interval_ms, value_text=shown), override)


def check_fill_matches_program(drug: Drug, programmed_ng_per_ml: int, filled_ng_per_ml: int) -> Verdict:
    """Refuse a program whose concentration differs from the one in the reservoir (a concentration mix-up)."""
    check_concentration(drug, programmed_ng_per_ml)
    check_concentration(drug, filled_ng_per_ml)
    if programmed_ng_per_ml == filled_ng_per_ml:
        return Verdict()
    factor = Fraction(filled_ng_per_ml, programmed_ng_per_ml)
    effect = (
        "an overdose: the patient gets more drug than the screen shows"
        if factor > 1
        else "an underdose: the patient gets less drug than the screen shows, with pain or withdrawal"
    )
    finding = rule_finding(
        "programmed concentration",
        drug.concentration_text(programmed_ng_per_ml),
        f"must equal the reservoir concentration {drug.concentration_text(filled_ng_per_ml)}",
        f"The pump is programmed for {drug.concentration_text(programmed_ng_per_ml)} but the reservoir holds "
        f"{drug.concentration_text(filled_ng_per_ml)}: every dose would be {format_exact(factor, 1, 'times')} "
        f"the programmed dose, {effect}.",
        "program the concentration printed on the vial label, then recalculate the flow",
        "ISMP safety alerts: a concentration mixed up or defaulted in pump programming gave tenfold overdoses",
    )
    return Verdict((finding,))


def _step_up_findings(drug: Drug, current: int, new: int, change: str, note: str) -> list[Finding]:
    findings: list[Finding] = []
    rise = Fraction((new - current) * BP_PER_ONE, current)
    if (percent_limit := drug.limit("max_step_up")) is not None:
        findings += limit_findings(drug, percent_limit, rise, value_text=f"{_percent(rise)} ({change})", note=note)
    if (amount_limit := drug.limit("max_step_up_amount")) is not None:
        shown = f"{drug.dose_text(new - current)} ({change})"
        findings += limit_findings(drug, amount_limit, new - current, value_text=shown, note=note)
    return findings


def _naive_findings(drug: Drug, opioid_naive: bool, dose_ng_per_day: int | None) -> list[Finding]:
    if not (opioid_naive and drug.opioid):
        return []
    if not drug.allowed_opioid_naive:
        return [
            rule_finding(
                "opioid-naïve patient",
                drug.name,
                "opioid-tolerant patients only",
                f"{drug.name.capitalize()} is not for a patient who is opioid-naïve.",
                "choose a drug the library allows for opioid-naïve patients, such as morphine at a low dose",
                drug.opioid_naive_source,
            )
        ]
    if dose_ng_per_day is None:
        return []
    return limit_findings(drug, drug.require_limit("max_daily_dose_opioid_naive"), dose_ng_per_day)


def _per_hour_note(current: int, new: int) -> str:
    ratio = Fraction(max(current, new), max(min(current, new), 1))
    low, high = PER_HOUR_CONFUSION
    if low <= ratio <= high:
        return (
            f"The new dose is about {round(ratio)} times the old one: check whether a dose per hour "
            "was entered as a dose per day, or the other way round."
        )
    return ""


def _with_note(finding: Finding, note: str) -> Finding:
    return Finding(
        finding.tier,
        finding.field,
        finding.value,
        finding.limit,
        f"{finding.message} {note}",
        finding.action,
        finding.source,
        finding.overridden,
    )


def _percent(bp: Fraction) -> str:
    # Enough places that a value one nanogram past a limit never reads as the limit itself.
    return format_exact(bp, 100, "%", decimals=6)


def _non_negative(value: int, field: str) -> None:
    if value < 0:
        raise InputError(field, value, "cannot be negative", "enter zero or a positive value")
