"""What the pump knows about the drug in its reservoir: the label, and the hard limits that travel with it.

A real pump's memory holds the drug label of its reservoir, so any programmer
that interrogates it knows what is inside. This pump also holds the *hard*
limits of every drug it can be filled with (its formulary, installed with the
firmware and generated from the drug library). When the reservoir is filled,
each drug of the fill is looked up in the formulary and its rule is copied
into the label; from then on the firmware refuses any setting that would pass
one of those limits, whichever programmer sent it. The therapy layer checks
the same limits, and the soft ones, before anything is sent; this is the
second line of defence, for a programmer that skips it.

Everything is an integer in the base unit named in the field: ng, ng/day,
ng/mL, nL, ms.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DrugRule:
    """The hard limits of one drug, as the pump enforces them."""

    drug: str
    opioid: bool
    max_concentration_ng_per_ml: int
    # The most that may reach the patient in any 24 h: basal at its highest step all day long,
    # plus every periodic bolus, plus every demand dose the patient may take.
    max_daily_dose_ng_per_day: int
    max_bolus_ng: int  # one clinician or periodic bolus
    demand_allowed: bool
    max_demand_dose_ng: int  # one demand (PTM) dose; 0 when demand doses are not allowed
    partners: tuple[str, ...] = ()  # drugs this one may share a reservoir with


class Formulary(Mapping[str, DrugRule]):
    """The drugs this pump may be filled with, by name, each with its hard limits."""

    __slots__ = ("_rules",)

    def __init__(self, rules: Iterable[DrugRule] = ()):
        self._rules = {rule.drug: rule for rule in rules}

    def __getitem__(self, drug: str) -> DrugRule:
        return self._rules[drug]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._rules))

    def __len__(self) -> int:
        return len(self._rules)


@dataclass(frozen=True, slots=True)
class LabelEntry:
    """One drug in the reservoir, at its concentration, with the rule it was filled under."""

    drug: str
    concentration_ng_per_ml: int
    rule: DrugRule


# The reservoir's label: one entry per drug, the lead drug first. Doses are programmed in the lead drug;
# every other drug of an admixture goes along at the same flow.
DrugLabel = tuple[LabelEntry, ...]

MAX_LABEL_ENTRIES = 4
