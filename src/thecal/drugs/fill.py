"""What is in the reservoir: one drug, or an admixture of several, each at its own concentration.

One flow carries every component at once, so in an admixture the flow chosen
for one drug's dose fixes the dose of all the others. Every component is
checked at that flow; the fill is only as safe as its least safe component, and
it is refilled by the shortest stability of its components.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import combinations

from thecal.drugs.checks import (
    check_concentration,
    check_daily_dose,
    check_fill_matches_program,
    refill_interval_limit,
)
from thecal.drugs.dosing import dose_ng_per_day, flow_nl_per_day
from thecal.drugs.limits import rule_finding
from thecal.drugs.loader import get_drug
from thecal.drugs.model import Drug, Limit
from thecal.drugs.verdict import Finding, Override, Verdict
from thecal.errors import InputError
from thecal.units import CONCENTRATION, MS_PER_DAY, parse_typed_int

ONE_OPIOID_SOURCE = "assumption: the library allows at most one opioid in a fill"
_PART = re.compile(r"\s*(?P<name>[^\d.]+?)\s+(?P<quantity>[\d.].*?)\s*")


@dataclass(frozen=True)
class Component:
    """One drug in a fill, at its concentration."""

    drug: Drug
    concentration_ng_per_ml: int

    def text(self) -> str:
        """The component for people, like 'morphine 10 mg/mL'."""
        return f"{self.drug.name} {self.drug.concentration_text(self.concentration_ng_per_ml)}"


@dataclass(frozen=True)
class Fill:
    """The contents of one reservoir fill: one drug or an admixture of several."""

    components: tuple[Component, ...]

    def __post_init__(self) -> None:
        if not self.components:
            raise InputError("fill", "", "a fill needs at least one drug", 'write it like "morphine 10 mg/mL"')
        for component in self.components:
            if component.concentration_ng_per_ml <= 0:
                raise InputError(
                    "concentration",
                    component.text(),
                    "a concentration must be above zero",
                    "enter the concentration on the vial label",
                )

    @classmethod
    def single(cls, drug: Drug | str, concentration_ng_per_ml: int) -> Fill:
        """A fill of one drug."""
        return cls((Component(_drug(drug), concentration_ng_per_ml),))

    @classmethod
    def of(cls, *parts: tuple[Drug | str, int]) -> Fill:
        """A fill of several drugs, each given as (drug, concentration in ng/mL); the first leads."""
        return cls(tuple(Component(_drug(drug), concentration) for drug, concentration in parts))

    @classmethod
    def parse(cls, text: str, field: str = "fill") -> Fill:
        """A fill written as people write it: 'morphine 10 mg/mL + bupivacaine 15 mg/mL'."""
        parts: list[tuple[Drug | str, int]] = []
        for part in str(text).split("+"):
            match = _PART.fullmatch(part)
            if match is None:
                raise InputError(
                    field,
                    text,
                    f"cannot read {part.strip()!r} as a drug and its concentration",
                    'write each drug and its concentration joined by "+", like "morphine 10 mg/mL + '
                    'bupivacaine 15 mg/mL"',
                )
            parts.append((match["name"], parse_typed_int(match["quantity"], CONCENTRATION, field)))
        return cls.of(*parts)

    @property
    def lead(self) -> Component:
        """The first component, whose dose sets the flow."""
        return self.components[0]

    @property
    def is_admixture(self) -> bool:
        """True when the fill holds more than one drug."""
        return len(self.components) > 1

    def text(self) -> str:
        """The fill for people, like 'morphine 10 mg/mL + bupivacaine 15 mg/mL'."""
        return " + ".join(component.text() for component in self.components)

    def component(self, drug: Drug | str) -> Component:
        """The component holding a drug of the fill."""
        wanted = _drug(drug)
        for component in self.components:
            if component.drug == wanted:
                return component
        raise InputError("drug", wanted.name, f"not in this fill ({self.text()})", "choose a drug of the fill")

    def flow_for_dose(self, dose: int, drug: Drug | str | None = None) -> int:
        """The flow (nL/day) that gives one component (the lead by default) its daily dose."""
        component = self.lead if drug is None else self.component(drug)
        return flow_nl_per_day(dose, component.concentration_ng_per_ml)

    def doses_at_flow(self, flow: int) -> tuple[tuple[Component, int], ...]:
        """The daily dose (ng/day) of every component at a flow (nL/day)."""
        return tuple((c, dose_ng_per_day(flow, c.concentration_ng_per_ml)) for c in self.components)

    def check(self, override: Override | None = None) -> Verdict:
        """Check the fill itself: its combination of drugs and every concentration."""
        findings: list[Finding] = list(self._combination_findings())
        for component in self.components:
            findings += check_concentration(component.drug, component.concentration_ng_per_ml).findings
        return Verdict.of(findings, override)

    def check_flow(self, flow: int, *, opioid_naive: bool = False, override: Override | None = None) -> Verdict:
        """Check the fill and the daily dose every component gets at a flow (nL/day)."""
        verdict = self.check()
        for component, dose in self.doses_at_flow(flow):
            verdict = verdict.combine(check_daily_dose(component.drug, dose, opioid_naive=opioid_naive))
        return Verdict.of(verdict.findings, override)

    def check_against_vial(self, vial: Fill) -> Verdict:
        """Refuse a programmed fill that differs from what the vial labels say is in the reservoir."""
        programmed = {c.drug.name: c for c in self.components}
        filled = {c.drug.name: c for c in vial.components}
        if programmed.keys() != filled.keys():
            finding = rule_finding(
                "programmed fill",
                self.text(),
                f"must match the reservoir contents {vial.text()}",
                f"The pump is programmed for {self.text()} but the reservoir holds {vial.text()}.",
                "program exactly the drugs printed on the vial labels, then recalculate the flow",
                "ISMP safety alerts: a concentration mixed up or defaulted in pump programming gave tenfold overdoses",
            )
            return Verdict((finding,))
        verdict = Verdict()
        for name, component in programmed.items():
            verdict = verdict.combine(
                check_fill_matches_program(
                    component.drug, component.concentration_ng_per_ml, filled[name].concentration_ng_per_ml
                )
            )
        return verdict

    def refill_limit(self, *, first_fill: bool = False, undiluted: bool = False) -> tuple[Drug, Limit]:
        """The component whose stability limit is shortest, and that limit."""
        limits = [
            (c.drug, refill_interval_limit(c.drug, first_fill=first_fill, undiluted=undiluted)) for c in self.components
        ]
        return min(limits, key=lambda pair: pair[1].hard)

    @property
    def max_refill_interval_days(self) -> int:
        """The longest time between refills for the fill, in whole days."""
        return self.refill_limit()[1].hard // MS_PER_DAY

    def _combination_findings(self) -> list[Finding]:
        findings: list[Finding] = []
        names = [c.drug.name for c in self.components]
        for name in sorted({n for n in names if names.count(n) > 1}):
            findings.append(
                rule_finding(
                    "fill",
                    self.text(),
                    "each drug once",
                    f"{name.capitalize()} is listed twice in one fill.",
                    "list each drug once with its final concentration",
                    "a fill has one concentration per drug",
                )
            )
        opioids = [c.drug.name for c in self.components if c.drug.opioid]
        if len(set(opioids)) > 1:
            findings.append(
                rule_finding(
                    "fill",
                    self.text(),
                    "at most one opioid",
                    f"This fill holds more than one opioid ({', '.join(sorted(set(opioids)))}).",
                    "keep one opioid in the fill",
                    ONE_OPIOID_SOURCE,
                )
            )
        for a, b in combinations({c.drug.name: c.drug for c in self.components}.values(), 2):
            if b.name not in a.admixture_partners:
                findings.append(
                    rule_finding(
                        "fill",
                        self.text(),
                        "only combinations the library lists",
                        f"{a.name.capitalize()} and {b.name} are not a combination the library lists for one fill.",
                        "fill them separately or choose a listed combination",
                        a.admixture_source,
                    )
                )
        return findings


Admixture = Fill


def _drug(drug: Drug | str) -> Drug:
    return drug if isinstance(drug, Drug) else get_drug(drug)
