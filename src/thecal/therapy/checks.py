"""The drug library's checks and the pump's own limits, stacked on a change of settings.

Every plan that changes what the patient gets runs the same checks, whatever
the intent: the prescription as a titration step (or a start), the demand and
periodic settings, and the daily dose on the worst case of any 24 h with every
periodic and demand dose used, computed by the firmware's own formula
(`pump.core.hard_limits`) for every drug of the reservoir. The drug library's
checks that bundle a daily-dose check of their own (a titration step, demand
settings) have that part replaced by the worst case, which is never lower, so
stacking still only tightens; the clinician boluses of the last 24 h, which the
pump shows in its record, count in it. The pump's own verdict is predicted by
calling the firmware's one check of settings (`pump.core.settings_check`) on
what the plan leaves, with the record the pump keeps of the settings replaced
and the boluses given in the last 24 h and the bridge it runs: its flows, its
daily limit, each periodic and demand bolus on top of the basal. So a plan a
person confirms is one the pump takes.
"""

from __future__ import annotations

from fractions import Fraction

from thecal.drugs.checks import (
    PER_HOUR_CONFUSION,
    check_daily_dose,
    check_demand_bolus,
    check_titration_step,
    check_trial_bolus,
)
from thecal.drugs.dosing import ceil
from thecal.drugs.fill import Fill
from thecal.drugs.limits import refusal_finding, rule_finding
from thecal.drugs.model import Drug
from thecal.drugs.verdict import Finding
from thecal.errors import InputError
from thecal.pump.core.actions import Refusal
from thecal.pump.core.hard_limits import WorstCase, exposures, recent, remember, worst_case
from thecal.pump.core.limits import prescription_refusal
from thecal.pump.core.settings_check import in_force, one_off_refusal, settings_refusal
from thecal.pump.core.state import Bridge
from thecal.therapy.context import Context
from thecal.therapy.plan import PlanWarning
from thecal.therapy.settings import TherapySettings, dose_rate_text, library_drug
from thecal.therapy.snapshot import Label
from thecal.units import format_exact

# Findings about the daily dose; where a library check bundles one, the worst-case check stands in for it.
DAILY_CODES = frozenset({"max_daily_dose", "max_daily_dose_opioid_naive"})
LIBRARY_SOURCE = "thecal drug library"


def pump_model_finding(refusal: Refusal | None, ctx: Context) -> list[Finding]:
    """A refusal predicted from the pump model's figures, as a finding naming the model file."""
    if refusal is None:
        return []
    return [refusal_finding(refusal, source=f"pump model {ctx.snapshot.model.name}")]


def library_fill(label: Label) -> tuple[Fill | None, list[Finding]]:
    """The drug library's view of a label, or a hard finding for a drug the library does not know."""
    try:
        return Fill.of(*label), []
    except InputError as error:
        names = ", ".join(d for d, _ in label)
        return None, [
            rule_finding(
                "drug",
                names,
                "a drug of the library",
                f"The drug library does not know {error.value!r}, so no limit can be checked for it.",
                "check the drug's name on the vial label",
                LIBRARY_SOURCE,
                code="unknown_drug",
            )
        ]


def without_daily(findings: tuple[Finding, ...] | list[Finding]) -> list[Finding]:
    """Findings less those on the daily dose, which the worst-case check gives for every drug."""
    return [f for f in findings if f.code not in DAILY_CODES]


def scaled(lead_ng: int, label: Label, concentration_ng_per_ml: int) -> int:
    """The mass of a drug of the label that goes along with `lead_ng` of the lead drug, rounded up."""
    return ceil(Fraction(lead_ng * concentration_ng_per_ml, label[0][1]))


def dose_checks(
    ctx: Context,
    before: TherapySettings,
    after: TherapySettings,
    *,
    one_off_ng: int = 0,
    starts_bridge: bool = False,
) -> tuple[list[Finding], list[PlanWarning]]:
    """Every check a change of dose-based settings (or a one-off dose now) must pass, and its warnings."""
    if not after.label or (not after.doses_differ(before) and not one_off_ng):
        return [], []
    findings, warnings = _library_checks(ctx, before, after, one_off_ng)
    pump = pump_finding(pump_refusal(ctx, before, after, ctx.bridge_after(before, starts_bridge), one_off_ng))
    # The pump's verdict, unless a check above already says the same words (its flows, from the pump model).
    if pump is not None and all(f.message != pump.message for f in findings):
        findings.append(pump)
    return findings, warnings


def pump_refusal(
    ctx: Context, before: TherapySettings, after: TherapySettings, bridge: Bridge | None, one_off_ng: int = 0
) -> Refusal | None:
    """What the pump would refuse of the settings `after` (or of a clinician bolus now), as the firmware
    checks it: with its record of the last 24 h and the bridge it would run."""
    entries = ctx.entries(after.label)
    if not entries:
        return None
    s = ctx.snapshot
    old_entries = ctx.entries(before.label) or ()
    held = in_force(old_entries, before.prescription, before.periodic, before.demand, ctx.running_bridge())
    if one_off_ng:
        return one_off_refusal(entries, one_off_ng, held, s.recent_exposures, s.now_ms)
    replaced = remember(s.recent_exposures, held, s.now_ms)
    return settings_refusal(
        s.model, entries, after.prescription, after.periodic, after.demand, bridge, replaced, s.now_ms
    )


def pump_finding(refusal: Refusal | None) -> Finding | None:
    """The pump's predicted refusal as the finding every door shows, or None."""
    return None if refusal is None else refusal_finding(refusal)


def _library_checks(
    ctx: Context, before: TherapySettings, after: TherapySettings, one_off_ng: int
) -> tuple[list[Finding], list[PlanWarning]]:
    """The drug library's checks of a change, with its limits and warnings, and the pump model's flows."""
    fill, findings = library_fill(after.label)
    if fill is None:
        return findings, []
    naive = ctx.patient.opioid_naive
    label_changed = after.label != before.label
    lead = fill.lead.drug
    if after.prescription is not None and (after.prescription != before.prescription or label_changed):
        findings += pump_model_finding(
            prescription_refusal(ctx.snapshot.model, after.prescription, after.label[0][1]), ctx
        )
    if after.prescription is not None and after.prescription != before.prescription:
        findings += _titration(ctx, before, after, lead)
    if after.demand is not None and (
        after.demand != before.demand or label_changed or after.prescription != before.prescription
    ):
        basal = after.prescription.max_dose_ng_per_day() if after.prescription else 0
        for drug, conc in after.label:
            known = library_drug(drug)
            if known is None:
                continue
            verdict = check_demand_bolus(
                known,
                bolus_ng=scaled(after.demand.dose_ng, after.label, conc),
                max_per_day=after.demand.max_per_24h,
                lockout_ms=after.demand.lockout_ms,
                continuous_ng_per_day=scaled(basal, after.label, conc),
                opioid_naive=naive,
            )
            findings += without_daily(verdict.findings)
    if after.periodic is not None and (after.periodic != before.periodic or label_changed):
        for drug, conc in after.label:
            known = library_drug(drug)
            if known is not None:
                findings += check_trial_bolus(known, scaled(after.periodic.dose_ng, after.label, conc)).findings
    worst, warnings = _worst_case(ctx, before, after, one_off_ng)
    return findings + worst, warnings


def _titration(ctx: Context, before: TherapySettings, after: TherapySettings, lead: Drug) -> list[Finding]:
    assert after.prescription is not None
    same_drug = bool(before.label) and before.label[0][0] == after.label[0][0]
    old = before.prescription.max_dose_ng_per_day() if before.prescription is not None and same_drug else 0
    raised = ctx.snapshot.dose_raised_wall_ms
    since = None if raised is None or not same_drug else max(0, ctx.snapshot.wall_ms - raised)
    verdict = check_titration_step(
        lead,
        old,
        after.prescription.max_dose_ng_per_day(),
        since_last_increase_ms=since,
        opioid_naive=ctx.patient.opioid_naive,
    )
    return without_daily(verdict.findings)


def _worst_case(
    ctx: Context, before: TherapySettings, after: TherapySettings, one_off_ng: int
) -> tuple[list[Finding], list[PlanWarning]]:
    """The daily-dose checks on the 24 h worst case, drug by drug, and the warnings it gives."""
    new_entries = ctx.entries(after.label)
    if new_entries is None:
        return [], []
    new = exposures(new_entries, after.prescription, after.periodic, after.demand)
    findings: list[Finding] = []
    words: list[str] = []
    totals: dict[str, int] = {}
    now = ctx.snapshot.now_ms
    for exposure, (drug, conc) in zip(new, after.label, strict=True):
        worst = worst_case(exposure, (), now)
        extra = scaled(one_off_ng, after.label, conc) if one_off_ng else 0
        records = recent(ctx.snapshot.recent_exposures, now)
        given = sum(r.exposure.one_off_ng for r in records if r.exposure.drug == drug)
        total = worst.total_ng + extra + given
        totals[drug] = total
        sentence = _worst_words(after.label, drug, worst, extra, given)
        words.append(sentence)
        known = library_drug(drug)
        if known is not None:
            verdict = check_daily_dose(known, total, opioid_naive=ctx.patient.opioid_naive)
            findings += [_noted(f, sentence) for f in verdict.findings]
    warnings = [PlanWarning("worst_case_24h", " ".join(words))] if any(totals.values()) else []
    warnings += _jump_warnings(ctx, before, after, totals)
    return findings, warnings


def _worst_words(label: Label, drug: str, worst: WorstCase, extra_ng: int, given_ng: int) -> str:
    known = library_drug(drug)
    total = worst.total_ng + extra_ng + given_ng

    def mass(ng: int) -> str:
        return known.mass_text(ng) if known else format_exact(ng, 1_000_000, "mg")

    parts = [f"{mass(worst.basal_ng)} basal at the highest step"]
    if worst.periodic_ng:
        parts.append(f"{mass(worst.periodic_ng)} of periodic boluses")
    if worst.demand_presses:
        parts.append(f"{worst.demand_presses} demand doses making {mass(worst.demand_ng)}")
    if given_ng:
        parts.append(f"{mass(given_ng)} of clinician boluses in the last 24 h")
    if extra_ng:
        parts.append(f"this bolus of {mass(extra_ng)}")
    return f"In the worst 24 h the patient could get {mass(total)} of {drug}: {', '.join(parts)}."


def _noted(finding: Finding, note: str) -> Finding:
    return Finding(
        finding.tier,
        finding.field,
        finding.value,
        finding.limit,
        f"{finding.message} {note}",
        finding.action,
        finding.source,
        finding.overridden,
        finding.code,
    )


def _jump_warnings(
    ctx: Context, before: TherapySettings, after: TherapySettings, new_totals: dict[str, int]
) -> list[PlanWarning]:
    """A daily total that jumps by more than the clinic's factor, or by the per-hour/per-day factor."""
    old_entries = ctx.entries(before.label)
    if not before.label or not old_entries or before.label[0][0] != after.label[0][0]:
        return []
    drug = after.label[0][0]
    old_exposure = exposures(old_entries, before.prescription, before.periodic, before.demand)[0]
    old = worst_case(old_exposure, (), ctx.snapshot.now_ms).total_ng
    new = new_totals[drug]
    warnings: list[PlanWarning] = []
    factor = ctx.clinic.daily_jump_factor
    if old > 0 and new > factor * old:
        warnings.append(
            PlanWarning(
                "daily_jump",
                f"The worst-case daily total of {drug} goes from {dose_rate_text(after.label, old)} to "
                f"{dose_rate_text(after.label, new)}, more than {format_exact(factor, 1, 'times')} the old one: "
                "check the new settings against the prescription.",
            )
        )
    low, high = PER_HOUR_CONFUSION
    if old > 0 and new > 0 and low <= Fraction(max(old, new), min(old, new)) <= high:
        warnings.append(
            PlanWarning(
                "per_hour_slip",
                f"The daily total of {drug} changes about {round(Fraction(max(old, new), min(old, new)))}-fold "
                f"({dose_rate_text(after.label, old)} to {dose_rate_text(after.label, new)}): check whether a dose "
                "per hour was entered as a dose per day, or the other way round.",
            )
        )
    return warnings


def bolus_checks(ctx: Context, label: Label, dose_ng: int) -> list[Finding]:
    """The single-bolus limit (the trial-bolus limit of the library) for every drug a bolus carries."""
    findings: list[Finding] = []
    for drug, conc in label:
        known = library_drug(drug)
        if known is not None:
            verdict = check_trial_bolus(known, scaled(dose_ng, label, conc), opioid_naive=ctx.patient.opioid_naive)
            findings += verdict.findings
    return findings
