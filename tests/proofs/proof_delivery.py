"""What reached the patient, and what was sent: the record a safety property is judged on.

`TipLedger` keeps the drug that left the catheter tip, stretch by stretch, as
the virtual pump reports it. Within one stretch the pump runs at one rate, so
the cumulative mass at the tip is taken as linear between the stretch's ends,
where it is exact. The heaviest 24 h window of a piecewise-linear curve starts
or ends at one of its corners, so looking at those windows finds it exactly;
it can differ from the true stroke-by-stroke heaviest window only by the
strokes cut at the window's two ends.

`AuditedService` is a `TherapyService` that keeps every execution, whichever
door asked for it, so the property can look at what was sent and by whom.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from thecal.pump.device import DeliveryRecord
from thecal.therapy import Actor, Execution, Plan, TherapyService

MS_PER_DAY = 86_400_000


@dataclass
class TipLedger:
    """The drug that left the catheter tip, stretch by stretch: (start, end, ng of each drug)."""

    stretches: list[tuple[int, int, dict[str, float]]] = field(default_factory=list)

    def record(self, record: DeliveryRecord) -> None:
        """Add one stretch reported by the virtual pump."""
        self.stretches.append((record.start_ms, record.end_ms, dict(record.at_tip.drugs_ng)))

    def drugs(self) -> set[str]:
        """Every drug that reached the tip."""
        return {drug for _, _, masses in self.stretches for drug, ng in masses.items() if ng > 0}

    def heaviest_day(self, drug: str) -> tuple[float, int]:
        """The most of a drug that reached the tip in any 24 h, and when that window started."""
        times: list[int] = []
        totals: list[float] = []
        total = 0.0
        for start, end, masses in self.stretches:
            if not times or times[-1] != start:
                times.append(start)
                totals.append(total)
            total += masses.get(drug, 0.0)
            times.append(end)
            totals.append(total)
        if not times:
            return 0.0, 0

        def at(t: int) -> float:
            i = bisect_right(times, t) - 1
            if i < 0:
                return 0.0
            if i + 1 >= len(times):
                return totals[-1]
            t0, t1 = times[i], times[i + 1]
            return totals[i] + (totals[i + 1] - totals[i]) * (t - t0) / (t1 - t0)

        starts = set(times) | {t - MS_PER_DAY for t in times}
        return max((at(t + MS_PER_DAY) - at(t), t) for t in starts)


class AuditedService(TherapyService):
    """The therapy service, keeping every execution for the audit the property checks."""

    executions: list[Execution]

    def execute(self, plan: Plan, actor: Actor, confirmed: bool) -> Execution:
        """Execute as the service does, and keep the execution."""
        execution = super().execute(plan, actor, confirmed)
        if not hasattr(self, "executions"):
            self.executions = []
        self.executions.append(execution)
        return execution
