"""What a handler plans with: the pump as interrogated, the patient, the clinic's settings and who acts."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from thecal.pump.core.label import DrugLabel, Formulary, LabelEntry
from thecal.pump.core.state import Bridge
from thecal.therapy.roles import Actor
from thecal.therapy.settings import TherapySettings
from thecal.therapy.snapshot import Label, PumpSnapshot

# A daily total that more than doubles in one change is worth a second look (assumption: a clinic setting).
DEFAULT_DAILY_JUMP_FACTOR = Fraction(2)


@dataclass(frozen=True)
class PatientFacts:
    """What the therapy layer must know about the patient to apply the drug library's rules."""

    opioid_naive: bool = False


@dataclass(frozen=True)
class ClinicSettings:
    """Choices a clinic makes for all its patients."""

    # Warn when the worst-case daily total of the lead drug grows by more than this factor in one change.
    daily_jump_factor: Fraction = field(default=DEFAULT_DAILY_JUMP_FACTOR)


@dataclass(frozen=True)
class Context:
    """One planning: the pump's snapshot and settings, the patient, the clinic, the formulary and the actor."""

    snapshot: PumpSnapshot
    patient: PatientFacts
    clinic: ClinicSettings
    formulary: Formulary
    actor: Actor

    @property
    def before(self) -> TherapySettings:
        """The settings the pump holds now."""
        return TherapySettings.of(self.snapshot)

    def entries(self, label: Label) -> DrugLabel | None:
        """A label with the pump's rule for each drug, as the firmware will hold it; None for an unknown drug."""
        if not all(drug in self.formulary for drug, _ in label):
            return None
        return tuple(LabelEntry(drug, conc, self.formulary[drug]) for drug, conc in label)

    def running_bridge(self) -> Bridge | None:
        """The bridge the pump runs now, as the firmware holds it: the old solution and the prescription pushing it."""
        s = self.snapshot
        entries = self.entries(s.bridge_label)
        if s.bridge_remaining_nl is None or not entries:
            return None
        return Bridge(entries, s.bridge_prescription, s.bridge_remaining_nl, s.now_ms)

    def bridge_after(self, before: TherapySettings, starts_bridge: bool) -> Bridge | None:
        """The bridge once a plan is done: one a fill starts (the old solution, the whole dead volume), or the one
        that runs now."""
        if not starts_bridge:
            return self.running_bridge()
        entries = self.entries(before.label)
        if not entries:
            return None
        return Bridge(entries, before.prescription, self.snapshot.dead_volume_nl, self.snapshot.now_ms)
