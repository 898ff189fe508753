"""Refill arithmetic: reconcile what came out of the reservoir, then plan the next refill.

Reconciliation is the defence against pocket fill. The pump never measures its
reservoir: the volume it shows is worked out from what it was told to deliver.
So the volume aspirated at a refill is compared with the volume expected: the
pump's own calculated volume, or the volume the programmed delivery leaves. A
difference within the pump's accuracy is normal; one beyond the pump model's
threshold (1 mL for the 20 mL pump, 2 mL for the 40 mL pump) stops the refill
until someone finds out why. This is the one reconciliation: the therapy layer
and the scenario runner use it as the calculator does.

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

from thecal.clinical.pump import accuracy_text, flow_text, reservoir_findings, volume_text
from thecal.clinical.result import Reasoning, Result, limit_line
from thecal.drugs.checks import check_refill_interval
from thecal.drugs.fill import Fill
from thecal.drugs.limits import rule_finding
from thecal.drugs.verdict import Finding, Override, Tier, Verdict
from thecal.errors import InputError
from thecal.pump.model import PumpModel
from thecal.units import MS_PER_DAY, format_exact

CONSISTENT = "consistent"
OUTSIDE_ACCURACY = "outside accuracy"
FLAGGED = "flagged"
FROM_PUMP = "the pump's calculated reservoir volume"
FROM_PROGRAM = "the programmed delivery since the last fill"
POCKET_FILL_SOURCE = (
    "Medtronic urgent medical device correction, January 2011 (FDA class I recall, February 2011): pocket fills "
    "caused 8 deaths and 270 serious injuries from May 1996 to September 2010, up to 1 in 10,000 refills"
)
OVER_INFUSION_SOURCE = "TGA notice 2016: an over-infusing pump can empty without a low-reservoir alarm"
CALCULATED_SOURCE = "TGA notice 2016: the reservoir volume is calculated from the programmed delivery, never measured"
RECONCILE_FORMULA = (
    "expected volume = the pump's calculated reservoir volume, or volume after the last fill − programmed flow × "
    "time since then − bolus volume given; difference = aspirated − expected; normal spread = pump accuracy × "
    "volume delivered; flagged when the difference is beyond the pump model's threshold"
)
PLAN_FORMULA = (
    "days to alarm = (fill volume − alarm volume) ÷ daily volume; at the fast end of the pump's accuracy the "
    "daily volume is (1 + accuracy) times larger; next refill = earliest of the alarm dates, the drug's "
    "stability and the clinic's date"
)


@dataclass(frozen=True, kw_only=True)
class Reconciliation(Result):
    """Aspirated against expected reservoir volume, judged against the pump's accuracy and its flag threshold.

    `flagged` is the one answer a programmer needs: the refill stops until
    someone finds out why. `words` says what the difference means and what to
    do, and `threshold_source` where the threshold comes from.
    """

    CALCULATOR = "refill-reconcile"

    expected_nl: int
    expected_from: str
    aspirated_nl: int
    delivered_nl: int | None
    difference_nl: int
    accuracy_spread_nl: int | None
    flag_threshold_nl: int
    threshold_source: str
    status: str
    flagged: bool
    words: str


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
    aspirated_nl: int,
    pump: PumpModel,
    expected_nl: int | None = None,
    volume_after_last_fill_nl: int | None = None,
    flow_nl_per_day: int | None = None,
    elapsed_ms: int | None = None,
    bolus_volume_nl: int = 0,
    flag_threshold_nl: int | None = None,
    override: Override | None = None,
) -> Reconciliation:
    """Compare the volume aspirated at a refill with the volume expected in the reservoir.

    The expected volume is either the pump's own calculated reservoir volume
    (`expected_nl`, read at interrogation; with `volume_after_last_fill_nl`
    the accuracy spread is judged too) or worked out from the programmed
    delivery (`volume_after_last_fill_nl`, `flow_nl_per_day`, `elapsed_ms` and
    any `bolus_volume_nl`). The threshold is the pump model's; a clinic may set
    a stricter one with `flag_threshold_nl`, never a looser one.
    """
    for name, value in (
        ("expected volume", expected_nl),
        ("volume after the last fill", volume_after_last_fill_nl),
        ("flow", flow_nl_per_day),
        ("time since the last fill", elapsed_ms),
        ("aspirated volume", aspirated_nl),
        ("bolus volume", bolus_volume_nl),
    ):
        if value is not None and value < 0:
            raise InputError(name, value, "cannot be negative", "enter the value from the pump and the syringe")
    threshold, threshold_source = _threshold(pump, flag_threshold_nl)
    from_program = flow_nl_per_day is not None or elapsed_ms is not None or bolus_volume_nl
    if expected_nl is not None and from_program:
        raise InputError(
            "expected volume",
            volume_text(expected_nl),
            "give either the pump's calculated reservoir volume or the programmed delivery, not both",
            "use the volume the pump shows at interrogation, or the flow and the time since the last fill",
        )
    findings: list[Finding] = []
    if volume_after_last_fill_nl is not None:
        findings += reservoir_findings("volume after the last fill", volume_after_last_fill_nl, pump)
    findings += reservoir_findings("aspirated volume", aspirated_nl, pump)
    if expected_nl is not None:
        findings += reservoir_findings("expected volume", expected_nl, pump)
    expectation = _expectation(expected_nl, volume_after_last_fill_nl, flow_nl_per_day, elapsed_ms, bolus_volume_nl)
    expected, source, delivered = expectation.expected_nl, expectation.source, expectation.delivered_nl
    steps, notes = list(expectation.steps), list(expectation.notes)
    spread = None if delivered is None else round(delivered * pump.accuracy)
    difference = aspirated_nl - expected
    steps.append(f"difference = {volume_text(aspirated_nl)} − {volume_text(expected)} = {_signed(difference)}")
    if spread is not None:
        steps.append(f"normal spread = {accuracy_text(pump)} × {volume_text(delivered or 0)} = {volume_text(spread)}")
    if abs(difference) > threshold:
        status = FLAGGED
        findings.append(_discrepancy_finding(difference, expected, aspirated_nl, threshold, threshold_source))
    elif spread is not None and abs(difference) > spread:
        status = OUTSIDE_ACCURACY
    else:
        status = CONSISTENT
    words = _status_note(status, difference, spread, threshold)
    if status == FLAGGED:
        words += f" {findings[-1].message} What to do: {findings[-1].action}."
    return Reconciliation(
        title="Refill reconciliation",
        summary=(
            ("expected in reservoir", volume_text(expected)),
            ("aspirated", volume_text(aspirated_nl)),
            ("difference", _signed(difference)),
            ("normal spread (pump accuracy)", "not known" if spread is None else f"± {volume_text(spread)}"),
            ("flag above", volume_text(threshold)),
            ("status", status),
        ),
        reasoning=Reasoning(
            inputs=(
                ("pump model", f"{pump.name} ({volume_text(pump.reservoir_nl)} reservoir)"),
                ("expected from", source),
                *(
                    (("volume after the last fill", volume_text(volume_after_last_fill_nl)),)
                    if volume_after_last_fill_nl is not None
                    else ()
                ),
                *(
                    (
                        ("programmed flow", flow_text(flow_nl_per_day or 0)),
                        ("time since the last fill", _days(elapsed_ms or 0)),
                        ("bolus volume given", volume_text(bolus_volume_nl)),
                    )
                    if source == FROM_PROGRAM
                    else ()
                ),
                ("aspirated volume", volume_text(aspirated_nl)),
                ("pump accuracy", accuracy_text(pump)),
            ),
            formula=RECONCILE_FORMULA,
            steps=tuple(steps),
            limits=(
                f"flag threshold {volume_text(threshold)} for pump model {pump.name} ({threshold_source})",
                f"pump accuracy ± {accuracy_text(pump)} ({pump.source('accuracy')})",
            ),
            sources=(threshold_source, POCKET_FILL_SOURCE, CALCULATED_SOURCE),
            notes=(words, *notes),
        ),
        verdict=Verdict.of(findings, override),
        expected_nl=expected,
        expected_from=source,
        aspirated_nl=aspirated_nl,
        delivered_nl=delivered,
        difference_nl=difference,
        accuracy_spread_nl=spread,
        flag_threshold_nl=threshold,
        threshold_source=threshold_source,
        status=status,
        flagged=status == FLAGGED,
        words=words,
    )


@dataclass(frozen=True)
class _Expectation:
    """What the reservoir should hold, where that figure comes from, and how it was worked out."""

    expected_nl: int
    source: str
    delivered_nl: int | None
    steps: tuple[str, ...]
    notes: tuple[str, ...] = ()


def _expectation(
    expected_nl: int | None,
    after_last_fill_nl: int | None,
    flow_nl_per_day: int | None,
    elapsed_ms: int | None,
    bolus_nl: int,
) -> _Expectation:
    """The expected reservoir volume: the pump's own figure, or the one the programmed delivery leaves."""
    if expected_nl is not None:
        steps = [f"expected = the pump's calculated reservoir volume = {volume_text(expected_nl)}"]
        if after_last_fill_nl is None:
            return _Expectation(expected_nl, FROM_PUMP, None, tuple(steps))
        delivered = max(0, after_last_fill_nl - expected_nl)
        steps.append(
            f"delivered = {volume_text(after_last_fill_nl)} − {volume_text(expected_nl)} = {volume_text(delivered)}"
        )
        return _Expectation(expected_nl, FROM_PUMP, delivered, tuple(steps))
    if after_last_fill_nl is None or flow_nl_per_day is None or elapsed_ms is None:
        raise InputError(
            "expected volume",
            None,
            "the expected reservoir volume cannot be worked out from what was given",
            "give the pump's calculated reservoir volume, or the volume after the last fill with the programmed "
            "flow and the time since then",
        )
    delivered = round(Fraction(flow_nl_per_day * elapsed_ms, MS_PER_DAY) + bolus_nl)
    expected = max(0, after_last_fill_nl - delivered)
    steps = [
        f"delivered = {flow_text(flow_nl_per_day)} × {_days(elapsed_ms)} + {volume_text(bolus_nl)} = "
        f"{volume_text(delivered)}",
        f"expected = {volume_text(after_last_fill_nl)} − {volume_text(delivered)} = {volume_text(expected)}",
    ]
    notes = []
    if after_last_fill_nl - delivered < 0:
        notes.append(
            "By the programmed delivery the reservoir should have run empty before today: check for an empty "
            "reservoir alarm and for withdrawal."
        )
    return _Expectation(expected, FROM_PROGRAM, delivered, tuple(steps), tuple(notes))


def _threshold(pump: PumpModel, clinic_nl: int | None) -> tuple[int, str]:
    """The flag threshold and its source: the pump model's, or a stricter one the clinic sets."""
    model_nl = pump.refill_discrepancy_flag_nl
    if clinic_nl is None:
        return model_nl, pump.source("refill_discrepancy_flag_nl")
    if clinic_nl <= 0 or clinic_nl > model_nl:
        raise InputError(
            "flag threshold",
            volume_text(clinic_nl),
            f"a clinic may only set a stricter threshold than the pump model's {volume_text(model_nl)}",
            f"enter a threshold above 0 mL and at most {volume_text(model_nl)}, or leave it to the pump model",
            limit=f"at most {volume_text(model_nl)} ({pump.source('refill_discrepancy_flag_nl')})",
        )
    return clinic_nl, f"set by the clinic, stricter than the pump model's {volume_text(model_nl)}"


def plan_refill(
    *,
    fill: Fill,
    fill_volume_nl: int,
    flow_nl_per_day: int,
    refill_date: date,
    demand_volume_per_day_nl: int = 0,
    pump: PumpModel,
    alarm_volume_nl: int | None = None,
    clinic_date: date | None = None,
    first_fill: bool = False,
    undiluted: bool = False,
    override: Override | None = None,
) -> RefillPlan:
    """The alarm dates, stability date and next refill date after filling the reservoir."""
    alarm = pump.low_reservoir_alarm_default_nl if alarm_volume_nl is None else alarm_volume_nl
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
    fast = daily * (1 + pump.accuracy)
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
                f"alarm volume reached if the pump runs {accuracy_text(pump)} fast (the pump would not alarm)",
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
        findings += _clinic_findings(fill, clinic_ms, nominal, empty, first_fill, undiluted, pump)
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
                f"reservoir holds at most {volume_text(pump.reservoir_nl)} "
                f"(pump model {pump.name}: {pump.source('reservoir_nl')})",
            ),
            sources=(limit.hard_source, OVER_INFUSION_SOURCE, pump.source("accuracy")),
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
    pump: PumpModel,
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
                OVER_INFUSION_SOURCE,
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
                pump.source("low_reservoir_alarm_default_nl"),
            )
        )
    return findings


def _discrepancy_finding(difference: int, expected: int, aspirated: int, threshold: int, source: str) -> Finding:
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
        f"{source}; {POCKET_FILL_SOURCE}",
    )


def _status_note(status: str, difference: int, spread: int | None, threshold: int) -> str:
    if status == CONSISTENT and spread is None:
        return (
            f"The difference {_signed(difference)} is within the flag threshold of {volume_text(threshold)}; "
            "without the volume after the last fill the pump's normal spread cannot be judged."
        )
    if status == CONSISTENT:
        return (
            f"The difference {_signed(difference)} is within the pump's normal spread of ± {volume_text(spread or 0)}."
        )
    if status == OUTSIDE_ACCURACY:
        return (
            f"The difference {_signed(difference)} is beyond the pump's normal spread (± {volume_text(spread or 0)}) "
            f"but within the flag threshold ({volume_text(threshold)}): record it and compare at the next refill."
        )
    text = f"The difference {_signed(difference)} is over the flag threshold of {volume_text(threshold)}."
    if spread is not None and abs(difference) <= spread:
        text += (
            f" It is within the pump's labeled spread (± {volume_text(spread)}), so a pump running at the edge of "
            "its accuracy is one explanation, but pocket fill must be ruled out first."
        )
    return text


def _signed(nl: int) -> str:
    return f"+{volume_text(nl)}" if nl > 0 else volume_text(nl)


def _days(ms: int) -> str:
    return format_exact(ms, MS_PER_DAY, "days", decimals=3)
