"""The catheter: a thin tube whose dead volume delivers fluid first in, first out, and can fail.

The pump's internal tubing and the catheter lumen hold the dead volume. Fluid
pushed in at the pump end pushes the same volume out at the tip, in the order
it entered: after a concentration change the patient keeps receiving the old
drug until the whole dead volume has been pushed through.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from thecal.pump.hardware.fluid import Parcel


class CatheterFault(StrEnum):
    """What can go wrong with a catheter."""

    NONE = "none"
    OCCLUSION = "occlusion"
    LEAK = "leak"
    DISCONNECTION = "disconnection"


@dataclass
class Catheter:
    """A FIFO of parcels of a fixed dead volume, with a fault switch."""

    dead_volume_nl: float
    fault: CatheterFault = CatheterFault.NONE
    leak_fraction: float = 0.0
    _lumen: deque[Parcel] = field(default_factory=deque)
    _volume_nl: float = 0.0

    def __post_init__(self) -> None:
        if not self._lumen and self.dead_volume_nl > 0:
            # A new catheter holds saline or CSF: no drug until it is primed.
            self._lumen.append(Parcel(self.dead_volume_nl))
            self._volume_nl = self.dead_volume_nl

    @property
    def blocked(self) -> bool:
        """True when nothing can flow through."""
        return self.fault is CatheterFault.OCCLUSION

    def contents(self) -> Parcel:
        """Everything in the lumen now, mixed."""
        total = Parcel()
        for p in self._lumen:
            total.add(Parcel(p.volume_nl, dict(p.drugs_ng)))
        return total

    def push(self, parcel: Parcel) -> tuple[Parcel, Parcel]:
        """Push a parcel in at the pump end; return (what leaves at the tip, what is lost outside)."""
        if self.fault is CatheterFault.DISCONNECTION:
            return Parcel(), parcel
        lost = Parcel()
        if self.fault is CatheterFault.LEAK and self.leak_fraction > 0:
            lost = parcel.take(parcel.volume_nl * self.leak_fraction)
        if parcel.volume_nl <= 0:
            return Parcel(), lost
        self._lumen.append(parcel)
        self._volume_nl += parcel.volume_nl
        out = Parcel()
        excess = self._volume_nl - self.dead_volume_nl
        while excess > 1e-9 and self._lumen:
            head = self._lumen[0]
            if head.volume_nl <= excess + 1e-9:
                out.add(self._lumen.popleft())
                excess -= head.volume_nl
            else:
                out.add(head.take(excess))
                excess = 0
        self._volume_nl -= out.volume_nl
        return out, lost
