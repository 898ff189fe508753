"""Refill arithmetic: reconcile what came out of the reservoir, then plan the next refill.

Reconciliation is the defence against pocket fill. The pump never measures its
reservoir: the volume it shows is worked out from what it was told to deliver.
So the volume aspirated at a refill is compared with the volume expected from
the programmed delivery. A difference within the pump's accuracy is normal;
one beyond 1 mL (20 mL pump) or 2 mL (40 mL pump) stops the refill until
someone finds out why.

Planning gives the dates that bound the next refill: the low-reservoir alarm
the pump will raise, the earlier date the reservoir really reaches the alarm
volume if the pump runs at the fast end of its accuracy (an over-infusing pump
does not alarm in time), the drug's stability, and the clinic's own choice. The
next refill is the earliest of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from thecal.clinical.pump import PUMP_20, PumpFacts, flow_text, refill_flag_nl, reservoir_findings, volume_text
from thecal.clinical.result import Reasoning, Result, limit_line
from thecal.drugs.checks import check_refill_interval
from thecal.drugs.fill import Fill
from thecal.drugs.limits import rule_finding
from thecal.drugs.verdict import Finding, Override, Tier, Verdict
from thecal.errors import InputError
from thecal.units import BP_PER_ONE, MS_PER_DAY, format_exact

CONSISTENT = "consistent"
OUTSIDE_ACCURACY = "outside accuracy"
FLAGGED = "flagged"
POCKET_FILL_SOURCE = (
    "DESIGN.md: pocket fill caused 8 deaths and 270 serious injuries 1996-2010; flag aspirated-vs-expected "
    "differences over 1 mL (20 mL pump) or 2 mL (40 mL pump)"
)
RECONCILE_FORMULA = (
    "expected volume = volume after the last fill − programmed flow × time since then − bolus volume given; "
    "difference = aspirated − expected; normal spread = pump accuracy × volume delivered"
)
PLAN_FORMULA = (
    "days to alarm = (fill volume − alarm volume) ÷ daily volume; at the fast end of the pump's accuracy the "
    "daily volume is (1 + accuracy) times larger; next refill = earliest of the alarm dates, the drug's "
    "stability and the clinic's date"
)


@dataclass(frozen=True, kw_only=True)
class Reconciliation(Result):
    """Aspirated against expected reservoir volume, judged against the pump's accuracy and the flag threshold."""

    CALCULATOR = "refill-reconcile"

    expected_nl: int
    aspirated_nl: int
    delivered_nl: int
    difference_nl: int
    accuracy_spread_nl: int
    flag_threshold_nl: int
    status: str


@dataclass(frozen=True)
class RefillDate:
    """One date that bounds the next refill, and why."""

    reason: str
    after_ms: int
    on: date


@dataclass(frozen=True, kw_only=True)
class RefillPlan(Result):
    """The dates after a refill: alarm, worst-case alarm and empty, stability, and the next refill."""

    CALCULATOR = "refill-plan"

    fill_volume_nl: int
    daily_volume_nl: int
    bounds: tuple[RefillDate, ...]
    empty_worst_case: RefillDate | None
    next_refill: RefillDate


def reconcile_refill(
    *,
    volume_after_last_fill_nl: int,
    flow_nl_per_day: int,
    elapsed_ms: int,
    aspirated_nl: int,
    bolus_volume_nl: int = 0,
    pump: PumpFacts = PUMP_20,
    flag_threshold_nl: int | None = None,
    override: Override | None = None,
) -> Reconciliation:
    """Compare the volume aspirated at a refill with the volume the programmed delivery leaves."""
    for name, value in (
        ("volume after the last fill", volume_after_last_fill_nl),
        ("flow", flow_nl_per_day),
        ("time since the last fill", elapsed_ms),
        ("aspirated volume", aspirated_nl),
        ("bolus volume", bolus_volume_nl),
    ):
        if value < 0:
            raise InputError(name, value, "cannot be negative", "enter the value from the pump and the syringe")
    threshold = refill_flag_nl(pump.reservoir_nl) if flag_threshold_nl is None else flag_threshold_nl
    programmed = Fraction(flow_nl_per_day * elapsed_ms, MS_PER_DAY) + bolus_volume_nl
    delivered = round(programmed)
    expected = max(0, volume_after_last_fill_nl - delivered)
    spread = round(Fraction(delivered * pump.accuracy_bp, BP_PER_ONE))
    difference = aspirated_nl - expected
    findings = reservoir_findings("volume after the last fill", volume_after_last_fill_nl, pump)
    findings += reservoir_findings("aspirated volume", aspirated_nl, pump)
    if abs(difference) > threshold:
        status = FLAGGED
        findings.append(_discrepancy_finding(difference, expected, aspirated_nl, threshold))
    elif abs(difference) > spread:
        status = OUTSIDE_ACCURACY
    else:
        status = CONSISTENT
    notes = [_status_note(status, difference, spread, threshold)]
    if volume_after_last_fill_nl - delivered < 0:
        notes.append(
            "By the programmed delivery the reservoir should have run empty before today: check for an empty "
            "reservoir alarm and for withdrawal."
        )
    return Reconciliation(
        title="Refill reconciliation",
        summary=(
            ("expected in reservoir", volume_text(expected)),
            ("aspirated", volume_text(aspirated_nl)),
            ("difference", _signed(difference)),
            ("normal spread (pump accuracy)", f"± {volume_text(spread)}"),
            ("flag above", volume_text(threshold)),
            ("status", status),
        ),
        reasoning=Reasoning(
            inputs=(
                ("reservoir", volume_text(pump.reservoir_nl)),
                ("volume after the last fill", volume_text(volume_after_last_fill_nl)),
                ("programmed flow", flow_text(flow_nl_per_day)),
                ("time since the last fill", format_exact(elapsed_ms, MS_PER_DAY, "days", decimals=3)),
                ("bolus volume given", volume_text(bolus_volume_nl)),
                ("aspirated volume", volume_text(aspirated_nl)),
                ("pump accuracy", format_exact(pump.accuracy_bp, 100, "%")),
            ),
            formula=RECONCILE_FORMULA,
            steps=(
                f"delivered = {flow_text(flow_nl_per_day)} × "
                f"{format_exact(elapsed_ms, MS_PER_DAY, 'days', decimals=3)} + {volume_text(bolus_volume_nl)} = "
                f"{volume_text(delivered)}",
                f"expected = {volume_text(volume_after_last_fill_nl)} − {volume_text(delivered)} = "
                f"{volume_text(expected)}",
                f"difference = {volume_text(aspirated_nl)} − {volume_text(expected)} = {_signed(difference)}",
                f"normal spread = {format_exact(pump.accuracy_bp, 100, '%')} × {volume_text(delivered)} = "
                f"{volume_text(spread)}",
            ),
            limits=(
                f"flag threshold {volume_text(threshold)} for a {volume_text(pump.reservoir_nl)} reservoir "
                f"({POCKET_FILL_SOURCE})",
                f"pump accuracy ± {format_exact(pump.accuracy_bp, 100, '%')} (TGA notice 2014)",
            ),
            sources=(POCKET_FILL_SOURCE, "TGA notice 2016: the reservoir volume is calculated, never measured"),
            notes=tuple(notes),
        ),
        verdict=Verdict.of(findings, override),
        expected_nl=expected,
        aspirated_nl=aspirated_nl,
        delivered_nl=delivered,
        difference_nl=difference,
        accuracy_spread_nl=spread,
        flag_threshold_nl=threshold,
        status=status,
    )


def plan_refill(
    *,
    fill: Fill,
    fill_volume_nl: int,
    flow_nl_per_day: int,
    refill_date: date,
    demand_volume_per_day_nl: int = 0,
    pump: PumpFacts = PUMP_20,
    alarm_volume_nl: int | None = None,
    clinic_date: date | None = None,
    first_fill: bool = False,
    undiluted: bool = False,
    override: Override | None = None,
) -> RefillPlan:
    """The alarm dates, stability date and next refill date after filling the reservoir."""
    alarm = pump.low_reservoir_alarm_nl if alarm_volume_nl is None else alarm_volume_nl
    for name, value in (
        ("fill volume", fill_volume_nl),
        ("flow", flow_nl_per_day),
        ("demand volume per day", demand_volume_per_day_nl),
        ("alarm volume", alarm),
    ):
        if value < 0:
            raise InputError(name, value, "cannot be negative", "enter the value from the pump and the syringe")
    findings: list[Finding] = [*fill.check().findings, *reservoir_findings("fill volume", fill_volume_nl, pump)]
    if alarm >= fill_volume_nl:
        raise InputError(
            "fill volume",
            volume_text(fill_volume_nl),
            f"is not above the low-reservoir alarm volume {volume_text(alarm)}",
            "fill the reservoir above the alarm volume",
        )
    daily = flow_nl_per_day + demand_volume_per_day_nl
    fast = Fraction(daily * (BP_PER_ONE + pump.accuracy_bp), BP_PER_ONE)
    drug, limit = fill.refill_limit(first_fill=first_fill, undiluted=undiluted)
    bounds: list[RefillDate] = []
    nominal: RefillDate | None = None
    empty: RefillDate | None = None
    if daily > 0:
        usable = fill_volume_nl - alarm
        nominal = _bound("low-reservoir alarm (as the pump calculates it)", Fraction(usable, daily), refill_date)
        bounds.append(nominal)
        bounds.append(
            _bound(
                f"alarm volume reached if the pump runs {format_exact(pump.accuracy_bp, 100, '%')} fast "
                "(the pump would not alarm)",
                usable / fast,
                refill_date,
            )
        )
        empty = _bound("reservoir empty if the pump runs fast", fill_volume_nl / fast, refill_date)
    bounds.append(
        RefillDate(
            f"{drug.name} stability in the pump", limit.hard, refill_date + timedelta(days=limit.hard // MS_PER_DAY)
        )
    )
    if clinic_date is not None:
        clinic_ms = (clinic_date - refill_date).days * MS_PER_DAY
        if clinic_ms <= 0:
            raise InputError(
                "clinic date", clinic_date.isoformat(), "is not after the refill date", "choose a later date"
            )
        bounds.append(RefillDate("date chosen by the clinic", clinic_ms, clinic_date))
        findings += _clinic_findings(fill, clinic_ms, nominal, empty, first_fill, undiluted)
    next_refill = min(bounds, key=lambda b: (b.on, b.after_ms))
    return RefillPlan(
        title=f"Refill plan for {fill.text()}",
        summary=(
            *((b.reason, b.on.isoformat()) for b in bounds),
            *((("reservoir empty if the pump runs fast", empty.on.isoformat()),) if empty else ()),
            ("next refill", f"{next_refill.on.isoformat()} ({next_refill.reason})"),
        ),
        reasoning=Reasoning(
            inputs=(
                ("fill", fill.text()),
                ("fill volume", volume_text(fill_volume_nl)),
                ("reservoir", volume_text(pump.reservoir_nl)),
                ("flow", flow_text(flow_nl_per_day)),
                ("demand boluses, worst case per day", volume_text(demand_volume_per_day_nl)),
                ("low-reservoir alarm volume", volume_text(alarm)),
                ("refill date", refill_date.isoformat()),
                ("first fill of a new pump", "yes" if first_fill else "no"),
            ),
            formula=PLAN_FORMULA,
            steps=tuple(_plan_steps(fill_volume_nl, alarm, daily, fast)),
            limits=(
                limit_line(drug, limit),
                f"reservoir holds at most {volume_text(pump.reservoir_nl)} (pump model)",
            ),
            sources=(
                limit.hard_source,
                "TGA notice 2016: an over-infusing pump can empty without a low-reservoir alarm",
            ),
            notes=("Dates are rounded down to whole days, so each comes no later than the exact time.",),
        ),
        verdict=Verdict.of(findings, override),
        fill_volume_nl=fill_volume_nl,
        daily_volume_nl=daily,
        bounds=tuple(bounds),
        empty_worst_case=empty,
        next_refill=next_refill,
    )


def _bound(reason: str, days: Fraction, start: date) -> RefillDate:
    after_ms = int(days * MS_PER_DAY)
    return RefillDate(reason, after_ms, start + timedelta(days=after_ms // MS_PER_DAY))


def _plan_steps(volume: int, alarm: int, daily: int, fast: Fraction) -> list[str]:
    if daily == 0:
        return ["no flow: only the drug's stability bounds the next refill"]
    return [
        f"days to alarm = ({volume_text(volume)} − {volume_text(alarm)}) ÷ {flow_text(daily)} = "
        f"{format_exact(Fraction(volume - alarm, daily), 1, 'days', decimals=2)}",
        f"fast pump: {flow_text(daily)} × (1 + accuracy) = {flow_text(round(fast))}; days to alarm = "
        f"{format_exact((volume - alarm) / fast, 1, 'days', decimals=2)}, to empty = "
        f"{format_exact(volume / fast, 1, 'days', decimals=2)}",
    ]


def _clinic_findings(
    fill: Fill,
    clinic_ms: int,
    nominal: RefillDate | None,
    empty: RefillDate | None,
    first_fill: bool,
    undiluted: bool,
) -> list[Finding]:
    findings: list[Finding] = []
    for component in fill.components:
        findings += check_refill_interval(
            component.drug, clinic_ms, first_fill=first_fill, undiluted=undiluted
        ).findings
    if empty is not None and clinic_ms > empty.after_ms:
        findings.append(
            rule_finding(
                "clinic refill date",
                f"after {clinic_ms // MS_PER_DAY} days",
                f"before the reservoir may be empty ({empty.on.isoformat()})",
                "The reservoir may run empty before the chosen refill date if the pump runs fast: the patient "
                "would lose the drug suddenly (withdrawal; with clonidine, dangerous high blood pressure).",
                "choose an earlier refill date",
                "TGA notice 2016: an over-infusing pump can empty without a low-reservoir alarm",
            )
        )
    elif nominal is not None and clinic_ms > nominal.after_ms:
        findings.append(
            Finding(
                Tier.SOFT,
                "clinic refill date",
                f"after {clinic_ms // MS_PER_DAY} days",
                f"before the low-reservoir alarm ({nominal.on.isoformat()})",
                "The chosen refill date is after the low-reservoir alarm: the patient will hear the alarm and "
                "the reservoir will be near empty.",
                "choose a date before the alarm",
                "manufacturer: low-reservoir alarm at 2 mL by default",
            )
        )
    return findings


def _discrepancy_finding(difference: int, expected: int, aspirated: int, threshold: int) -> Finding:
    if difference < 0:
        message = (
            f"{volume_text(-difference)} less came back than the pump's records expect "
            f"({volume_text(aspirated)} instead of {volume_text(expected)}). Possible causes: drug injected "
            "into the pocket under the skin at the last refill (pocket fill), the pump giving more than "
            "programmed (over-infusion), or the needle not in the reservoir now."
        )
        action = (
            "stop: do not inject the new drug; check the needle position, watch the patient for signs of "
            "overdose, and ask the physician to have the pump checked"
        )
    else:
        message = (
            f"{volume_text(difference)} more came back than the pump's records expect "
            f"({volume_text(aspirated)} instead of {volume_text(expected)}). The pump may have given less than "
            "programmed (under-infusion: motor stall, blocked catheter), so the patient may have had too little "
            "drug, or a volume was recorded wrongly."
        )
        action = (
            "stop: do not inject the new drug; check the patient for pain and withdrawal, and ask the physician to "
            "have the pump and catheter checked"
        )
    return Finding(
        Tier.SOFT,
        "aspirated volume",
        f"{volume_text(aspirated)} (expected {volume_text(expected)})",
        f"within {volume_text(threshold)} of the expected volume",
        message,
        action,
        POCKET_FILL_SOURCE,
    )


def _status_note(status: str, difference: int, spread: int, threshold: int) -> str:
    if status == CONSISTENT:
        return f"The difference {_signed(difference)} is within the pump's normal spread of ± {volume_text(spread)}."
    if status == OUTSIDE_ACCURACY:
        return (
            f"The difference {_signed(difference)} is beyond the pump's normal spread (± {volume_text(spread)}) "
            f"but within the flag threshold ({volume_text(threshold)}): record it and compare at the next refill."
        )
    text = f"The difference {_signed(difference)} is over the flag threshold of {volume_text(threshold)}."
    if abs(difference) <= spread:
        text += (
            f" It is within the pump's labeled spread (± {volume_text(spread)}), so a pump running at the edge of "
            "its accuracy is one explanation, but pocket fill must be ruled out first."
        )
    return text


def _signed(nl: int) -> str:
    return f"+{volume_text(nl)}" if nl > 0 else volume_text(nl)
