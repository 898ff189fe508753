"""The drug label's hard limits: what the pump refuses whichever programmer sent the command.

The label is made at a fill from the pump's formulary: only known drugs, each
at a concentration above zero and at most its maximum, no drug twice, at most
one opioid, and every pair of drugs listed as partners of each other.

The daily limit is checked on the worst case of any 24 h, drug by drug, by
one function for every command that changes the label or a dose-based
setting. For one drug of the label, the worst case is the sum of three terms:

* basal: the highest step of the prescription, as ng/day of that drug;
* periodic: the boluses that can start in 24 h, ⌈24 h / interval⌉, times the
  mass of one;
* demand: the presses that fit in 24 h, min(max per 24 h, 24 h // lockout + 1)
  (the maximum per 24 h when there is no lockout), times the mass of one.

Doses are programmed in the lead drug; another drug of an admixture goes
along in proportion to its concentration, rounded up.

Across a change the settings replaced in the last 24 h still count: each term
uses the largest value among the settings in force during the last 24 h, so
no 24 h window that spans a change can pass the limit. A count and a dose are
combined only after each has taken its largest value: the largest number of
demand presses (from the largest maximum per 24 h and the shortest lockout)
times the largest demand dose, and the most periodic boluses times the
largest periodic dose. This holds because the pump counts every demand dose
and every periodic bolus of the last 24 h, whatever the settings were when it
was given, and gives no more than the present settings allow.

A clinician bolus is a one-off exposure: its mass is added, not compared, and
it counts until 24 h after its delivery ends. It is kept in the same record as
the replaced settings. The record is small and bounded: records whose end is
more than 24 h ago are dropped, a record that a newer one covers in every term
is dropped (a one-off is never covered: boluses add up), and when too many
remain the two oldest are merged into one that covers both (one-offs summed,
ending at the later end).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from thecal.pump.core.actions import Refusal
from thecal.pump.core.commands import DemandLimits, PeriodicBolusPlan
from thecal.pump.core.integers import (
    MS_PER_DAY,
    ceil_div,
    format_concentration,
    format_dose_rate,
    format_duration,
    format_mass,
)
from thecal.pump.core.label import MAX_LABEL_ENTRIES, DrugLabel, Formulary, LabelEntry
from thecal.pump.core.refusals import RefusalCode
from thecal.pump.core.schedule import DoseSchedule

# Replaced settings kept per drug at most; beyond that the two oldest merge into one that covers both.
MAX_REPLACED_PER_DRUG = 8


# ------------------------------------------------------------------ the label


def label_refusal(formulary: Formulary, contents: tuple[tuple[str, int], ...]) -> Refusal | None:
    """Why these contents cannot go into the reservoir under this formulary, or None."""
    if len(contents) > MAX_LABEL_ENTRIES:
        return Refusal(
            RefusalCode.TOO_MANY_DRUGS,
            f"the pump's label holds at most {MAX_LABEL_ENTRIES} drugs; check the prescription of the fill",
            "fill.contents",
            str(len(contents)),
            str(MAX_LABEL_ENTRIES),
        )
    seen: set[str] = set()
    for drug, conc in contents:
        if drug not in formulary:
            return Refusal(
                RefusalCode.UNKNOWN_DRUG,
                f"{drug!r} is not a drug this pump may hold; check the name on the vial "
                f"(the pump knows {', '.join(formulary)})",
                f"fill.{drug}",
                drug,
                ", ".join(formulary),
            )
        if drug in seen:
            return Refusal(
                RefusalCode.DRUG_TWICE,
                f"{drug} appears twice in the fill; give each drug once, with its concentration",
                f"fill.{drug}",
                drug,
            )
        seen.add(drug)
        rule = formulary[drug]
        if conc <= 0:
            return Refusal(
                RefusalCode.BAD_CONCENTRATION, "a concentration must be above zero", f"fill.{drug}", str(conc)
            )
        if conc > rule.max_concentration_ng_per_ml:
            return Refusal(
                RefusalCode.ABOVE_MAX_CONCENTRATION,
                f"{drug} at {format_concentration(conc)} is stronger than the pump's hard limit; "
                "check the vial and the unit (mg/mL or mcg/mL)",
                f"fill.{drug}",
                format_concentration(conc),
                format_concentration(rule.max_concentration_ng_per_ml),
            )
    opioids = [drug for drug, _ in contents if formulary[drug].opioid]
    if len(opioids) > 1:
        return Refusal(
            RefusalCode.TWO_OPIOIDS,
            f"{' and '.join(opioids)} are both opioids; a reservoir holds at most one",
            "fill.contents",
            ", ".join(opioids),
            "1 opioid",
        )
    for i, (a, _) in enumerate(contents):
        for b, _ in contents[i + 1 :]:
            if b not in formulary[a].partners or a not in formulary[b].partners:
                return Refusal(
                    RefusalCode.NOT_PARTNERS,
                    f"{a} and {b} may not share the reservoir; fill one of them alone",
                    "fill.contents",
                    f"{a} + {b}",
                    f"{a} with: {', '.join(formulary[a].partners) or 'nothing'}",
                )
    return None


def make_label(formulary: Formulary, contents: tuple[tuple[str, int], ...]) -> DrugLabel:
    """The label for contents that `label_refusal` accepted: each drug with its rule from the formulary."""
    return tuple(LabelEntry(drug, conc, formulary[drug]) for drug, conc in contents)


def scaled_ng(lead_ng: int, entry: LabelEntry, lead: LabelEntry) -> int:
    """The mass of `entry`'s drug that goes along with `lead_ng` of the lead drug, rounded up."""
    return ceil_div(lead_ng * entry.concentration_ng_per_ml, lead.concentration_ng_per_ml)


# --------------------------------------------------------------- the 24 h worst case


def periodic_boluses_per_24h(interval_ms: int) -> int:
    """The most periodic boluses that can start in any 24 h."""
    return ceil_div(MS_PER_DAY, interval_ms)


def demand_presses_per_24h(lockout_ms: int, max_per_24h: int) -> int:
    """The most demand doses that fit in any 24 h, given the lockout and the daily maximum."""
    # A press at the very start and one at the very end of a 24 h window both count.
    if lockout_ms <= 0:
        return max_per_24h
    return min(max_per_24h, MS_PER_DAY // lockout_ms + 1)


@dataclass(frozen=True, slots=True)
class Exposure:
    """What a set of dose-based settings can give of one drug in any 24 h, term by term."""

    drug: str
    basal_ng_per_day: int = 0
    periodic_dose_ng: int = 0
    periodic_per_24h: int = 0  # 0 when there is no periodic bolus
    demand_dose_ng: int = 0
    demand_max_per_24h: int = 0  # 0 when demand doses are off
    demand_lockout_ms: int = 0
    one_off_ng: int = 0  # clinician boluses: added up, never compared

    def covers(self, other: Exposure) -> bool:
        """True when every term of this exposure is at least that of `other`."""
        return (
            self.basal_ng_per_day >= other.basal_ng_per_day
            and self.periodic_dose_ng >= other.periodic_dose_ng
            and self.periodic_per_24h >= other.periodic_per_24h
            and self.demand_dose_ng >= other.demand_dose_ng
            and self.demand_max_per_24h >= other.demand_max_per_24h
            and (other.demand_max_per_24h == 0 or self.demand_lockout_ms <= other.demand_lockout_ms)
            and self.one_off_ng >= other.one_off_ng
        )

    def to_data(self) -> dict[str, int | str]:
        """The exposure as plain JSON-ready fields, named as here."""
        return {
            "drug": self.drug,
            "basal_ng_per_day": self.basal_ng_per_day,
            "periodic_dose_ng": self.periodic_dose_ng,
            "periodic_per_24h": self.periodic_per_24h,
            "demand_dose_ng": self.demand_dose_ng,
            "demand_max_per_24h": self.demand_max_per_24h,
            "demand_lockout_ms": self.demand_lockout_ms,
            "one_off_ng": self.one_off_ng,
        }


@dataclass(frozen=True, slots=True)
class Replaced:
    """Settings that were in force until `ended_ms` (pump time), or a bolus whose delivery ends then."""

    ended_ms: int
    exposure: Exposure

    def to_data(self) -> dict[str, int | str]:
        """The record as plain JSON-ready fields: the end (pump time) and the exposure's terms."""
        return {"ended_ms": self.ended_ms, **self.exposure.to_data()}


@dataclass(frozen=True, slots=True)
class WorstCase:
    """The worst case of one drug in any 24 h, by term, in ng."""

    drug: str
    basal_ng: int
    periodic_ng: int
    periodic_boluses: int
    demand_ng: int
    demand_presses: int
    one_off_ng: int = 0  # clinician boluses of the last 24 h (and the one being given)

    @property
    def total_ng(self) -> int:
        """Every term together."""
        return self.basal_ng + self.periodic_ng + self.demand_ng + self.one_off_ng


def exposures(
    label: DrugLabel,
    prescription: DoseSchedule | None,
    periodic: PeriodicBolusPlan | None,
    demand: DemandLimits | None,
) -> tuple[Exposure, ...]:
    """What these settings can give of each drug of the label in any 24 h."""
    if not label:
        return ()
    lead = label[0]
    out = []
    for entry in label:
        basal = scaled_ng(prescription.max_dose_ng_per_day(), entry, lead) if prescription else 0
        periodic_dose, boluses = 0, 0
        if periodic is not None and periodic.interval_ms > 0:
            periodic_dose = scaled_ng(periodic.dose_ng, entry, lead)
            boluses = periodic_boluses_per_24h(periodic.interval_ms)
        demand_dose, presses, lockout = 0, 0, 0
        if demand is not None:
            demand_dose = scaled_ng(demand.dose_ng, entry, lead)
            presses, lockout = demand.max_per_24h, demand.lockout_ms
        out.append(Exposure(entry.drug, basal, periodic_dose, boluses, demand_dose, presses, lockout))
    return tuple(out)


def one_off_exposures(label: DrugLabel, dose_ng: int) -> tuple[Exposure, ...]:
    """A clinician bolus of `dose_ng` of the lead drug, as a one-off exposure of each drug of the label."""
    if not label:
        return ()
    return tuple(Exposure(entry.drug, one_off_ng=scaled_ng(dose_ng, entry, label[0])) for entry in label)


def with_one_off(current: Iterable[Exposure], one_off: Iterable[Exposure]) -> tuple[Exposure, ...]:
    """The settings in force with a one-off bolus added, drug by drug."""
    by_drug = {e.drug: e for e in current}
    for e in one_off:
        by_drug[e.drug] = merged(by_drug[e.drug], e) if e.drug in by_drug else e
    return tuple(by_drug.values())


def merged(a: Exposure, b: Exposure) -> Exposure:
    """One exposure that covers both (same drug): the larger of each setting's term, the one-offs added."""
    if not a.demand_max_per_24h:
        lockout = b.demand_lockout_ms
    elif not b.demand_max_per_24h:
        lockout = a.demand_lockout_ms
    else:
        lockout = min(a.demand_lockout_ms, b.demand_lockout_ms)
    return Exposure(
        a.drug,
        max(a.basal_ng_per_day, b.basal_ng_per_day),
        max(a.periodic_dose_ng, b.periodic_dose_ng),
        max(a.periodic_per_24h, b.periodic_per_24h),
        max(a.demand_dose_ng, b.demand_dose_ng),
        max(a.demand_max_per_24h, b.demand_max_per_24h),
        lockout,
        a.one_off_ng + b.one_off_ng,
    )


def worst_case(current: Exposure, replaced: Iterable[Replaced], now_ms: int) -> WorstCase:
    """The worst 24 h of one drug from now on, counting the settings replaced in the last 24 h."""
    total = current
    for r in replaced:
        if r.exposure.drug == current.drug and r.ended_ms > now_ms - MS_PER_DAY:
            total = merged(total, r.exposure)
    presses = 0
    if total.demand_max_per_24h:
        presses = demand_presses_per_24h(total.demand_lockout_ms, total.demand_max_per_24h)
    return WorstCase(
        current.drug,
        total.basal_ng_per_day,
        total.periodic_per_24h * total.periodic_dose_ng,
        total.periodic_per_24h,
        presses * total.demand_dose_ng,
        presses,
        total.one_off_ng,
    )


def recent(replaced: Iterable[Replaced], now_ms: int) -> tuple[Replaced, ...]:
    """The records that still count at `now_ms`: those whose end is less than 24 h ago (or still to come)."""
    return tuple(r for r in replaced if r.ended_ms > now_ms - MS_PER_DAY)


def remember(replaced: tuple[Replaced, ...], ended: Iterable[Exposure], now_ms: int) -> tuple[Replaced, ...]:
    """The record of replaced settings after `ended` went out of force now, pruned and bounded."""
    records = list(recent(replaced, now_ms))
    for exposure in ended:
        if exposure == Exposure(exposure.drug):
            continue  # nothing was in force
        # A record that ended no later and gave no more in any term adds nothing (a one-off is never covered).
        records = [r for r in records if r.exposure.drug != exposure.drug or not exposure.covers(r.exposure)]
        records.append(Replaced(now_ms, exposure))
        _bound(records, exposure.drug)
    return tuple(records)


def remember_one_off(
    replaced: tuple[Replaced, ...], one_off: Iterable[Exposure], ends_ms: int, now_ms: int
) -> tuple[Replaced, ...]:
    """The record after a clinician bolus that ends at `ends_ms`: it counts until 24 h after that."""
    records = list(recent(replaced, now_ms))
    for exposure in one_off:
        if exposure.one_off_ng:
            records.append(Replaced(ends_ms, exposure))
            _bound(records, exposure.drug)
    return tuple(records)


def _bound(records: list[Replaced], drug: str) -> None:
    """Merge the two oldest records of a drug while it has too many: the merged one covers both, to the later end."""
    mine = [i for i, r in enumerate(records) if r.exposure.drug == drug]
    if len(mine) > MAX_REPLACED_PER_DRUG:
        first, second = records[mine[0]], records[mine[1]]
        ended = max(first.ended_ms, second.ended_ms)
        records[mine[1]] = Replaced(ended, merged(first.exposure, second.exposure))
        del records[mine[0]]


def daily_refusal(
    label: DrugLabel, current: Iterable[Exposure], replaced: Iterable[Replaced], now_ms: int
) -> Refusal | None:
    """Why the worst 24 h of some drug of the label would pass its hard daily limit, or None."""
    replaced = tuple(replaced)
    by_drug = {e.drug: e for e in current}
    for entry in label:
        exposure = by_drug.get(entry.drug, Exposure(entry.drug))
        worst = worst_case(exposure, replaced, now_ms)
        limit = entry.rule.max_daily_dose_ng_per_day
        if worst.total_ng > limit:
            boluses = f", {format_mass(worst.one_off_ng)} of clinician boluses" if worst.one_off_ng else ""
            return Refusal(
                RefusalCode.ABOVE_MAX_DAILY_DOSE,
                f"{entry.drug}: in the worst 24 h the patient could get {format_mass(worst.total_ng)} "
                f"({format_dose_rate(worst.basal_ng)} basal, {worst.periodic_boluses} periodic boluses making "
                f"{format_mass(worst.periodic_ng)}, {worst.demand_presses} demand doses making "
                f"{format_mass(worst.demand_ng)}{boluses}, "
                "counting settings replaced in the last 24 h), more than the pump's hard limit; "
                "lower the dose, the periodic bolus or the demand doses"
                + (", or wait until the earlier boluses are 24 h past" if worst.one_off_ng else ""),
                f"daily_dose.{entry.drug}",
                f"{format_dose_rate(worst.total_ng)} worst case",
                format_dose_rate(limit),
            )
    return None


# ------------------------------------------------------------------ single doses


def bolus_dose_refusal(label: DrugLabel, dose_ng: int, field: str) -> Refusal | None:
    """Why one clinician or periodic bolus of `dose_ng` of the lead drug passes a hard limit, or None."""
    lead = label[0]
    for entry in label:
        mass = scaled_ng(dose_ng, entry, lead)
        if mass > entry.rule.max_bolus_ng:
            return Refusal(
                RefusalCode.ABOVE_MAX_BOLUS,
                f"{entry.drug}: one bolus of {format_mass(mass)} is more than the pump's hard limit "
                "for a single bolus; give a smaller dose",
                f"{field}.{entry.drug}",
                format_mass(mass),
                format_mass(entry.rule.max_bolus_ng),
            )
    return None


def demand_dose_refusal(label: DrugLabel, limits: DemandLimits) -> Refusal | None:
    """Why demand doses of these settings pass a hard limit of some drug of the label, or None."""
    lead = label[0]
    for entry in label:
        if not entry.rule.demand_allowed:
            return Refusal(
                RefusalCode.DEMAND_NOT_ALLOWED,
                f"{entry.drug} is given only as a continuous infusion; the patient's handset must not give it. "
                "Turn demand doses off",
                f"demand.{entry.drug}",
                format_mass(scaled_ng(limits.dose_ng, entry, lead)),
                "no demand doses",
            )
        mass = scaled_ng(limits.dose_ng, entry, lead)
        if mass > entry.rule.max_demand_dose_ng:
            return Refusal(
                RefusalCode.ABOVE_MAX_DEMAND_DOSE,
                f"{entry.drug}: one demand dose of {format_mass(mass)} is more than the pump's hard limit; "
                "set a smaller demand dose",
                f"demand.{entry.drug}",
                format_mass(mass),
                format_mass(entry.rule.max_demand_dose_ng),
            )
    return None


def demand_settings_refusal(limits: DemandLimits) -> Refusal | None:
    """Why demand settings make no sense whatever the drug, or None."""
    if limits.max_per_24h < 1 or limits.lockout_ms < 0 or limits.dose_ng <= 0 or limits.duration_ms <= 0:
        return Refusal(
            RefusalCode.BAD_DEMAND_LIMITS,
            "demand limits need a dose, a duration, a lockout of zero or more and at least one per 24 h",
            "demand",
            f"{format_mass(limits.dose_ng)} over {format_duration(limits.duration_ms)}, lockout "
            f"{format_duration(limits.lockout_ms)}, {limits.max_per_24h} per 24 h",
        )
    return None
