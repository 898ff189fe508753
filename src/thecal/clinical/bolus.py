"""Priming and bridge boluses: moving drug through the dead volume of pump tubing and catheter.

The dead volume is the catheter's length × its volume per cm (from the catheter
labeling) plus the pump's internal tubing. Drug reaches the spinal fluid only
after this volume has been pushed through, in the order it went in.

A priming bolus fills an empty catheter (after implant, or after a catheter
revision when the pump tubing is still full) so that drug arrives at the tip.
A bridge bolus follows a change of concentration: the old drug still in the
tubing and catheter is pushed out at the old flow, so the patient keeps the old
dose until the new drug reaches the tip.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from thecal.clinical.flow import ComponentDose
from thecal.clinical.pump import flow_findings, flow_text, volume_text
from thecal.clinical.result import Reasoning, Result, limit_line
from thecal.drugs.dosing import ceil, mass_ng
from thecal.drugs.fill import Fill
from thecal.drugs.limits import rule_finding
from thecal.drugs.model import Drug
from thecal.drugs.verdict import Finding, Override, Verdict
from thecal.errors import InputError
from thecal.pump.model import PumpModel
from thecal.units import MS_PER_DAY, MS_PER_MIN, format_exact

UM_PER_CM = 10_000
IMPLANT = "implant"
REVISION = "revision"
PRIMING_FORMULA = (
    "priming volume = catheter length × volume per cm (+ pump tubing volume after an implant); "
    "duration = priming volume ÷ bolus rate"
)
CATHETER_SOURCE = "catheter labeling (Medtronic intrathecal catheters): internal volume per cm of catheter length"
BRIDGE_SOURCE = (
    "Medtronic SynchroMed II clinician programming guide: a bridge bolus after a change of concentration delivers "
    "the old drug in the pump tubing and catheter at the old dose rate"
)
BRIDGE_FORMULA = (
    "dead volume = catheter length × volume per cm + pump tubing volume; bridge runs at the old flow "
    "(old dose ÷ old concentration) for dead volume ÷ old flow, so the patient keeps the old dose"
)


@dataclass(frozen=True)
class CatheterSegment:
    """A length of catheter and its internal volume per cm, from the catheter labeling."""

    length_um: int
    volume_nl_per_cm: int

    def volume(self) -> Fraction:
        """The exact internal volume of the segment, in nL."""
        return Fraction(self.length_um * self.volume_nl_per_cm, UM_PER_CM)

    def text(self) -> str:
        """The segment for people."""
        return (
            f"{format_exact(self.length_um, UM_PER_CM, 'cm')} × {format_exact(self.volume_nl_per_cm, 1_000, 'µL/cm')}"
        )


@dataclass(frozen=True)
class DrugAmount:
    """An amount of one drug of a fill."""

    drug: Drug
    mass_ng: int


@dataclass(frozen=True, kw_only=True)
class PrimingResult(Result):
    """A priming bolus: volume, rate and duration, and the drug it would push if the catheter were full."""

    CALCULATOR = "prime"

    catheter_volume_nl: int
    pump_volume_nl: int
    volume_nl: int
    rate_nl_per_day: int
    duration_ms: int
    drug_if_catheter_full: tuple[DrugAmount, ...]


@dataclass(frozen=True, kw_only=True)
class BridgeResult(Result):
    """A bridge bolus: how long the old drug runs at the old flow, and what the patient gets meanwhile."""

    CALCULATOR = "bridge"

    dead_volume_nl: int
    old_flow_nl_per_day: int
    new_flow_nl_per_day: int
    duration_ms: int
    doses_during_bridge: tuple[ComponentDose, ...]
    drug_during_bridge: tuple[DrugAmount, ...]
    doses_without_bridge: tuple[ComponentDose, ...]
    without_bridge_duration_ms: int


def catheter_volume_nl(segments: tuple[CatheterSegment, ...]) -> int:
    """The catheter's internal volume, rounded down so a priming bolus never pushes past the tip."""
    if not segments:
        raise InputError("catheter", "", "no catheter length given", 'give its length and volume per cm, like "45 cm"')
    for segment in segments:
        if segment.length_um <= 0 or segment.volume_nl_per_cm <= 0:
            raise InputError(
                "catheter",
                segment.text(),
                "length and volume per cm must be above zero",
                "take both from the catheter labeling and the implant record",
            )
    return int(sum((s.volume() for s in segments), Fraction(0)))


def priming_bolus(
    *,
    segments: tuple[CatheterSegment, ...],
    after: str = IMPLANT,
    fill: Fill | None = None,
    pump: PumpModel,
    rate_nl_per_day: int | None = None,
    override: Override | None = None,
) -> PrimingResult:
    """The priming bolus that fills an empty catheter (and, after an implant, the pump tubing)."""
    if after not in (IMPLANT, REVISION):
        raise InputError("after", after, f"must be {IMPLANT!r} or {REVISION!r}", "say why the catheter is empty")
    rate = pump.max_bolus_flow_nl_per_day if rate_nl_per_day is None else rate_nl_per_day
    if rate <= 0:
        raise InputError("bolus rate", flow_text(rate), "must be above zero", 'enter the bolus rate, like "1 mL/h"')
    catheter = catheter_volume_nl(segments)
    tubing = pump.internal_volume_nl if after == IMPLANT else 0
    volume = catheter + tubing
    duration = ceil(Fraction(volume * MS_PER_DAY, rate))
    findings: list[Finding] = list(fill.check().findings) if fill else []
    if rate > pump.max_bolus_flow_nl_per_day:
        findings.append(_rate_finding(rate, pump))
    amounts = (
        tuple(DrugAmount(c.drug, mass_ng(volume, c.concentration_ng_per_ml)) for c in fill.components) if fill else ()
    )
    steps = [
        *(f"catheter {s.text()} = {volume_text(round(s.volume()))}" for s in segments),
        f"catheter volume, rounded down: {volume_text(catheter)}",
        f"pump tubing: {volume_text(tubing)}" + ("" if after == IMPLANT else " (still full after a catheter revision)"),
        f"priming volume = {volume_text(volume)}; duration = {volume_text(volume)} ÷ {flow_text(rate)} = "
        f"{_minutes(duration)}",
    ]
    return PrimingResult(
        title=f"Priming bolus after {'an implant' if after == IMPLANT else 'a catheter revision'}",
        summary=(
            ("priming volume", volume_text(volume)),
            ("rate", f"{flow_text(rate)} ({format_exact(rate, 24_000_000, 'mL/h')})"),
            ("duration", _minutes(duration)),
            *(
                (f"{a.drug.name} pushed if the catheter were already full", a.drug.mass_text(a.mass_ng))
                for a in amounts
            ),
        ),
        reasoning=Reasoning(
            inputs=(
                ("catheter", " + ".join(s.text() for s in segments)),
                ("after", after),
                ("pump tubing volume", volume_text(pump.internal_volume_nl)),
                ("bolus rate", flow_text(rate)),
                *((("fill", fill.text()),) if fill else ()),
            ),
            formula=PRIMING_FORMULA,
            steps=tuple(steps),
            limits=(
                f"bolus rate at most {flow_text(pump.max_bolus_flow_nl_per_day)} "
                f"(pump model {pump.name}: {pump.source('max_bolus_flow_nl_per_day')})",
            ),
            sources=(CATHETER_SOURCE, pump.source("internal_volume_nl")),
            notes=_priming_notes(amounts, duration),
        ),
        verdict=Verdict.of(findings, override),
        catheter_volume_nl=catheter,
        pump_volume_nl=tubing,
        volume_nl=volume,
        rate_nl_per_day=rate,
        duration_ms=duration,
        drug_if_catheter_full=amounts,
    )


def bridge_bolus(
    *,
    segments: tuple[CatheterSegment, ...],
    old_fill: Fill,
    old_dose_ng_per_day: int,
    new_fill: Fill,
    new_dose_ng_per_day: int,
    pump: PumpModel,
    opioid_naive: bool = False,
    override: Override | None = None,
) -> BridgeResult:
    """The bridge after a concentration change: the old drug in the dead volume runs out at the old dose."""
    dead = catheter_volume_nl(segments) + pump.internal_volume_nl
    old_flow = old_fill.flow_for_dose(old_dose_ng_per_day)
    new_flow = new_fill.flow_for_dose(new_dose_ng_per_day)
    if old_flow <= 0:
        raise InputError(
            "old dose",
            old_fill.lead.drug.dose_text(old_dose_ng_per_day),
            "a bridge runs at the old flow, which must be above zero",
            "enter the daily dose the patient had before the change",
        )
    if new_flow <= 0:
        raise InputError(
            "new dose",
            new_fill.lead.drug.dose_text(new_dose_ng_per_day),
            "must be above zero for a bridge",
            "enter the new daily dose",
        )
    duration = ceil(Fraction(dead * MS_PER_DAY, old_flow))
    without_duration = ceil(Fraction(dead * MS_PER_DAY, new_flow))
    during = tuple(ComponentDose(c.drug, c.concentration_ng_per_ml, d) for c, d in old_fill.doses_at_flow(old_flow))
    amounts = tuple(DrugAmount(c.drug, mass_ng(dead, c.concentration_ng_per_ml)) for c in old_fill.components)
    without = tuple(ComponentDose(c.drug, c.concentration_ng_per_ml, d) for c, d in old_fill.doses_at_flow(new_flow))
    verdict = old_fill.check_flow(old_flow, opioid_naive=opioid_naive).combine(
        new_fill.check_flow(new_flow, opioid_naive=opioid_naive),
        Verdict(tuple(flow_findings(old_flow, pump) + flow_findings(new_flow, pump))),
    )
    lead = old_fill.lead.drug
    return BridgeResult(
        title=f"Bridge from {old_fill.text()} to {new_fill.text()}",
        summary=(
            ("dead volume", volume_text(dead)),
            ("bridge flow (old flow)", flow_text(old_flow)),
            ("bridge duration", _hours(duration)),
            *((f"{d.drug.name} during the bridge", d.drug.dose_text(d.dose_ng_per_day)) for d in during),
            ("new flow after the bridge", flow_text(new_flow)),
            *(
                (f"{d.drug.name} without a bridge, for {_hours(without_duration)}", d.drug.dose_text(d.dose_ng_per_day))
                for d in without
            ),
        ),
        reasoning=Reasoning(
            inputs=(
                ("catheter", " + ".join(s.text() for s in segments)),
                ("pump tubing volume", volume_text(pump.internal_volume_nl)),
                ("old fill", old_fill.text()),
                (f"old daily dose of {lead.name}", lead.dose_text(old_dose_ng_per_day)),
                ("new fill", new_fill.text()),
                (f"new daily dose of {new_fill.lead.drug.name}", new_fill.lead.drug.dose_text(new_dose_ng_per_day)),
            ),
            formula=BRIDGE_FORMULA,
            steps=(
                f"dead volume = {volume_text(dead - pump.internal_volume_nl)} catheter + "
                f"{volume_text(pump.internal_volume_nl)} pump tubing = {volume_text(dead)}",
                f"old flow = {lead.dose_text(old_dose_ng_per_day)} ÷ "
                f"{lead.concentration_text(old_fill.lead.concentration_ng_per_ml)} = {flow_text(old_flow)}",
                f"bridge duration = {volume_text(dead)} ÷ {flow_text(old_flow)} = {_hours(duration)}",
                f"new flow = {new_fill.lead.drug.dose_text(new_dose_ng_per_day)} ÷ "
                f"{new_fill.lead.drug.concentration_text(new_fill.lead.concentration_ng_per_ml)} = "
                f"{flow_text(new_flow)}",
                f"without a bridge the old drug runs at the new flow for {volume_text(dead)} ÷ "
                f"{flow_text(new_flow)} = {_hours(without_duration)}",
            ),
            limits=tuple(
                limit_line(c.drug, c.drug.max_daily_dose) for c in (*old_fill.components, *new_fill.components)
            ),
            sources=(BRIDGE_SOURCE, CATHETER_SOURCE, pump.source("internal_volume_nl")),
            notes=_bridge_notes(old_fill, new_fill, new_flow, without, _hours(without_duration)),
        ),
        verdict=Verdict.of(verdict.findings, override),
        dead_volume_nl=dead,
        old_flow_nl_per_day=old_flow,
        new_flow_nl_per_day=new_flow,
        duration_ms=duration,
        doses_during_bridge=during,
        drug_during_bridge=amounts,
        doses_without_bridge=without,
        without_bridge_duration_ms=without_duration,
    )


def _priming_notes(amounts: tuple[DrugAmount, ...], duration: int) -> tuple[str, ...]:
    notes = [
        "Give a priming bolus only into an empty catheter (after an implant or a catheter revision). "
        "The patient gets no drug during priming; drug reaches the catheter tip as it ends."
    ]
    for amount in amounts:
        largest = amount.drug.require_limit("max_trial_bolus").hard
        times = format_exact(Fraction(amount.mass_ng, largest), 1, "times", decimals=1)
        notes.append(
            f"If the catheter already holds drug, this bolus pushes {amount.drug.mass_text(amount.mass_ng)} of "
            f"{amount.drug.name} into the spinal fluid within {_minutes(duration)}: {times} the largest single "
            f"intrathecal dose the library accepts ({amount.drug.mass_text(largest)})."
        )
    return tuple(notes)


def _bridge_notes(
    old_fill: Fill, new_fill: Fill, new_flow: int, without: tuple[ComponentDose, ...], hours: str
) -> tuple[str, ...]:
    notes: list[str] = []
    if old_fill.components == new_fill.components:
        notes.append("The concentrations did not change: no bridge is needed.")
    new_doses = {c.drug.name: d for c, d in new_fill.doses_at_flow(new_flow)}
    for dose in without:
        intended = new_doses.get(dose.drug.name, 0)
        notes.append(
            f"Without a bridge, {dose.drug.name} would run at {dose.drug.dose_text(dose.dose_ng_per_day)} for "
            f"{hours} instead of {dose.drug.dose_text(intended)}."
        )
        limit = dose.drug.max_daily_dose
        if limit.hard_exceeded(dose.dose_ng_per_day):
            notes.append(
                f"Without a bridge, {dose.drug.name} would run at {dose.drug.dose_text(dose.dose_ng_per_day)}, "
                f"above its hard limit of {dose.drug.dose_text(limit.hard)}."
            )
    return tuple(notes)


def _rate_finding(rate: int, pump: PumpModel) -> Finding:
    return rule_finding(
        "bolus rate",
        flow_text(rate),
        f"at most {flow_text(pump.max_bolus_flow_nl_per_day)}",
        f"The bolus rate {flow_text(rate)} is faster than the pump's bolus ceiling "
        f"({flow_text(pump.max_bolus_flow_nl_per_day)}).",
        "use the pump's bolus rate or slower",
        pump.source("max_bolus_flow_nl_per_day"),
    )


def _minutes(ms: int) -> str:
    return format_exact(ms, MS_PER_MIN, "min", decimals=1)


def _hours(ms: int) -> str:
    return f"{format_exact(ms, 3_600_000, 'h', decimals=1)} ({format_exact(ms, MS_PER_DAY, 'days', decimals=2)})"
