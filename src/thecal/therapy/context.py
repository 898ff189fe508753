"""What a handler plans with: the pump as interrogated, the patient, the clinic's settings and who acts."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from thecal.pump.core.label import DrugLabel, Formulary, LabelEntry
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
