"""What the tubing and catheter hold across a change of solution: the bridge rules of a fill, and doses meanwhile.

After a fill that changes the drug or its concentration, the dead volume (the
pump's tubing and the catheter) still holds the old solution, and the next dead
volume of anything the motor moves, basal or bolus, pushes it out first. The
tubing may hold it whenever the reservoir was filled before, programmed or not,
so a fill that leaves a stronger solution there (a weaker one of the same drug,
or another drug) is refused without a bridge. A second change of solution waits
until the bridge of the first has pushed it. While a bridge runs, a dose of the
drug is measured out with the stronger of the two solutions, since the volume
pushes the old one out first; no dose of a new drug can be measured out while
the tubing holds another.

The firmware judges a fill with `bridge_refusal`, and the therapy layer calls
the same function to refuse such a refill before the needle goes in.
"""

from __future__ import annotations

from dataclasses import dataclass

from thecal.pump.core.actions import Refusal
from thecal.pump.core.commands import Fill
from thecal.pump.core.integers import format_volume
from thecal.pump.core.refusals import RefusalCode

# A drug and its concentration in ng/mL: a label's lead, or what a fill's contents lead with.
Solution = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Tubing:
    """What a fill is judged against: what the reservoir's label leads with, a running bridge, the dead volume."""

    lead: Solution | None  # None before the first fill, or after a fill that emptied the reservoir
    bridge_remaining_nl: int | None  # None while no bridge runs
    dead_volume_nl: int


@dataclass(frozen=True, slots=True)
class SolutionChange:
    """How a fill's contents differ from the solution the reservoir held."""

    drug_changed: bool
    strength_changed: bool
    stronger_old: bool  # the old solution left in the tubing is the stronger one, or another drug

    @property
    def changed(self) -> bool:
        """True when the fill changes the drug or its concentration."""
        return self.drug_changed or self.strength_changed


def solution_change(old: Solution | None, contents: tuple[tuple[str, int], ...]) -> SolutionChange:
    """How contents (lead first) change the solution `old`; nothing changes before the first fill."""
    if old is None:
        return SolutionChange(False, False, False)
    if not contents:
        return SolutionChange(True, False, False)  # emptied: nothing new goes into the tubing
    drug, concentration = contents[0]
    if drug != old[0]:
        return SolutionChange(True, False, True)
    if concentration == old[1]:
        return SolutionChange(False, False, False)
    return SolutionChange(False, True, concentration < old[1])


def bridge_refusal(tubing: Tubing, fill: Fill) -> Refusal | None:
    """Why this fill would leave the solution in the tubing to go too fast, or change it again too soon; or None."""
    change = solution_change(tubing.lead, fill.contents)
    if not fill.contents or not change.changed:
        return None
    if tubing.bridge_remaining_nl is not None:
        return Refusal(
            RefusalCode.BRIDGE_RUNNING,
            "the bridge after the last change of solution is still running; refill with the same drug and "
            "concentration, or wait until the bridge has ended",
            "fill.contents",
            f"{format_volume(tubing.bridge_remaining_nl)} left to bridge",
        )
    if change.stronger_old and not fill.bridge:
        return Refusal(
            RefusalCode.BRIDGE_NEEDED,
            "the tubing and catheter still hold the old solution, which the new volumes would push too fast; "
            "refill with a bridge",
            "fill.bridge",
            "no bridge",
            f"bridge of {format_volume(tubing.dead_volume_nl)}",
        )
    return None


def dose_concentration(lead: Solution | None, bridged: Solution | None) -> int | None:
    """The concentration a dose of the lead drug is measured out with: the stronger one while a bridge of the
    same drug runs (`bridged` being the old solution), None while none can be (no drug, or another in the tubing)."""
    if lead is None:
        return None
    if bridged is None:
        return lead[1]
    if bridged[0] != lead[0]:
        return None
    return max(bridged[1], lead[1])
