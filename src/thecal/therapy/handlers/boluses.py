"""Clinician, priming and periodic boluses."""

from __future__ import annotations

from thecal.drugs.dosing import mass_ng, volume_nl
from thecal.drugs.limits import rule_finding
from thecal.drugs.model import duration_text
from thecal.pump.core import commands as pump
from thecal.pump.core.integers import ceil_div
from thecal.therapy.checks import bolus_checks
from thecal.therapy.context import Context
from thecal.therapy.handlers.draft import Draft, no_drug
from thecal.therapy.intents import ClinicianBolus, PeriodicBolus, PeriodicBolusOff, PrimingBolus
from thecal.therapy.plan import PlanWarning
from thecal.therapy.settings import mass_text, volume_text
from thecal.units import MS_PER_DAY

DEAD_VOLUME_SOURCE = "pump model and catheter labeling: dead volume = pump tubing + catheter lumen"


def clinician_bolus(ctx: Context, intent: ClinicianBolus) -> Draft:
    """One dose now on top of the basal flow, checked as a single bolus and in the next 24 h."""
    label = ctx.snapshot.label
    findings = no_drug(ctx)
    warnings: list[PlanWarning] = []
    if label:
        findings += bolus_checks(ctx, label, intent.dose_ng)
        volume = volume_nl(intent.dose_ng, label[0][1])
        warnings.append(
            PlanWarning(
                "bolus",
                f"{mass_text(label, intent.dose_ng)} ({volume_text(volume)}) over {duration_text(intent.duration_ms)}, "
                "on top of the basal flow.",
            )
        )
    command = pump.ClinicianBolus(intent.dose_ng, intent.duration_ms)
    return Draft((command,), ctx.before, tuple(findings), tuple(warnings), one_off_ng=intent.dose_ng)


def priming_bolus(ctx: Context, intent: PrimingBolus) -> Draft:
    """Fill the empty catheter and tubing: by default the dead volume, at the fastest flow the pump allows."""
    snapshot = ctx.snapshot
    dead = snapshot.dead_volume_nl
    volume = dead if intent.volume_nl is None else intent.volume_nl
    fastest = ceil_div(volume * MS_PER_DAY, snapshot.model.max_bolus_flow_nl_per_day)
    duration = fastest if intent.duration_ms is None else intent.duration_ms
    findings = no_drug(ctx)
    if volume > dead or volume == 0:
        findings.append(
            rule_finding(
                "priming volume",
                volume_text(volume),
                f"above zero and at most the dead volume, {volume_text(dead)}",
                "A priming bolus fills the empty tubing and catheter; anything beyond their volume goes straight "
                "into the spinal fluid as a bolus of drug."
                if volume
                else "No dead volume is recorded, so there is nothing to prime.",
                "prime the dead volume, and record the catheter's volume first if it is missing",
                DEAD_VOLUME_SOURCE,
                code="priming_volume",
            )
        )
    warnings: list[PlanWarning] = []
    if snapshot.label:
        held = mass_text(snapshot.label, mass_ng(volume, snapshot.label[0][1]))
        warnings.append(
            PlanWarning(
                "priming",
                f"Priming moves {volume_text(volume)} ({held}) over {duration_text(duration)} in place of the basal "
                f"flow. If the catheter already holds drug, the patient gets {held} as a bolus: prime only an empty "
                "catheter.",
            )
        )
    return Draft((pump.PrimingBolus(volume, duration),), ctx.before, tuple(findings), tuple(warnings))


def periodic_bolus(ctx: Context, intent: PeriodicBolus) -> Draft:
    """A dose repeated every interval from a time of day; checked as a single bolus and in the 24 h worst case."""
    wall = ctx.snapshot.wall_ms
    first = wall - wall % MS_PER_DAY + intent.first_time_of_day_ms  # today; the pump steps on from a past start
    plan = pump.PeriodicBolusPlan(intent.dose_ng, intent.duration_ms, intent.interval_ms, first)
    after = ctx.before.but(periodic=plan)
    return Draft((pump.SetPeriodicBolus(plan),), after, tuple(no_drug(ctx)))


def periodic_bolus_off(ctx: Context, intent: PeriodicBolusOff) -> Draft:
    """End the periodic bolus."""
    if ctx.before.periodic is None:
        return Draft((), ctx.before)
    return Draft((pump.SetPeriodicBolus(None),), ctx.before.but(periodic=None))
