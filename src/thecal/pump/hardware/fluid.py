"""Fluid with drugs in it: a volume and the mass of each drug it carries."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Parcel:
    """A volume of fluid (nL) and the drug masses (ng) in it."""

    volume_nl: float = 0.0
    drugs_ng: dict[str, float] = field(default_factory=dict)

    def take(self, volume_nl: float) -> Parcel:
        """Remove `volume_nl` from this parcel, well mixed, and return it."""
        if self.volume_nl <= 0 or volume_nl <= 0:
            return Parcel()
        volume_nl = min(volume_nl, self.volume_nl)
        share = volume_nl / self.volume_nl
        taken = Parcel(volume_nl, {d: m * share for d, m in self.drugs_ng.items()})
        self.volume_nl -= volume_nl
        for d in self.drugs_ng:
            self.drugs_ng[d] -= taken.drugs_ng[d]
        return taken

    def add(self, other: Parcel) -> None:
        """Mix `other` into this parcel."""
        self.volume_nl += other.volume_nl
        for d, m in other.drugs_ng.items():
            self.drugs_ng[d] = self.drugs_ng.get(d, 0.0) + m


def solution(volume_nl: float, contents: tuple[tuple[str, int], ...]) -> Parcel:
    """A parcel of a solution with the given concentrations in ng/mL."""
    return Parcel(volume_nl, {d: volume_nl * c / 1_000_000 for d, c in contents})
