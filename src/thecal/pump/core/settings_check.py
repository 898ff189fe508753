"""The one check of dose-based settings: the firmware runs it on every change, the therapy layer to predict it.

The settings are the drug label, the prescription, the periodic bolus and the
demand limits, with the bridge that may run after a change of solution. They
pass when, in this order (the drug's limits first: a dose beyond them is the
more important thing to say):

* one periodic bolus and one demand dose stay within the drug's single-dose
  limits (`hard_limits.py`);
* the worst 24 h of every drug, counting the settings replaced and the
  clinician boluses of the last 24 h, and the old solution the tubing still
  holds, stays within the drug's daily limit;
* the prescription's flows are flows the pump delivers: at the label's
  concentration, and, while a stronger solution of the drug that no
  prescription pushes is still in the tubing, at that one (the flows it runs
  at meanwhile);
* one periodic bolus and one demand dose are at least 1 nL of the solution
  they are measured out with, and their flow at the label's concentration (the
  larger volume, once any bridge has ended) on top of the highest basal flow
  stays within the pump's bolus flow. A setting the pump would refuse at every
  press, or skip at every start, is refused when it is made, with the shortest
  duration that works.

Nothing here keeps state: the caller passes the record of what counts from the
last 24 h (`hard_limits.remember`), and makes the settings its own if they pass.
"""

from __future__ import annotations

from thecal.pump.core.actions import Refusal
from thecal.pump.core.commands import DemandLimits, PeriodicBolusPlan
from thecal.pump.core.figures import PumpFigures
from thecal.pump.core.flow import max_basal_flow
from thecal.pump.core.hard_limits import (
    Exposure,
    Replaced,
    bolus_dose_refusal,
    daily_refusal,
    demand_dose_refusal,
    exposures,
    merged,
    one_off_exposures,
    periodic_boluses_per_24h,
    scaled_ng,
    with_one_off,
)
from thecal.pump.core.integers import NL_PER_ML, ceil_div, format_concentration, format_mass
from thecal.pump.core.label import DrugLabel
from thecal.pump.core.limits import bolus_flow_refusal, prescription_refusal
from thecal.pump.core.refusals import RefusalCode
from thecal.pump.core.schedule import DoseSchedule, WeekSchedule
from thecal.pump.core.solutions import dose_concentration
from thecal.pump.core.state import Bridge


def lead_of(label: DrugLabel) -> tuple[str, int] | None:
    """A label's lead drug and concentration, or None for an empty label."""
    return (label[0].drug, label[0].concentration_ng_per_ml) if label else None


def measuring_concentration(label: DrugLabel, bridge: Bridge | None) -> int | None:
    """The concentration a dose of the lead drug is measured out with now, or None while none can be."""
    return dose_concentration(lead_of(label), lead_of(bridge.label) if bridge is not None else None)


def dose_volume_nl(label: DrugLabel, bridge: Bridge | None, dose_ng: int) -> int | None:
    """The volume that gives at most `dose_ng` of the lead drug now, or None while none can."""
    concentration = measuring_concentration(label, bridge)
    return None if concentration is None else dose_ng * NL_PER_ML // concentration


def _pushes_unprogrammed(label: DrugLabel, bridge: Bridge | None) -> int | None:
    """The stronger concentration the prescription's flows are measured with while a bridge that has no flows of
    its own runs on the same drug, or None."""
    if bridge is None or bridge.doses is not None or not label:
        return None
    concentration = measuring_concentration(label, bridge)
    return concentration if concentration != label[0].concentration_ng_per_ml else None


def setting_flows(label: DrugLabel, prescription: DoseSchedule | None, bridge: Bridge | None) -> WeekSchedule | None:
    """The flows that carry the prescription now, or None when there is none.

    At the label's concentration; while a stronger solution of the drug that no old prescription pushes is
    still in the tubing, at that one, so that the old solution does not go at the new volumes.
    """
    if not label or prescription is None:
        return None
    stronger = _pushes_unprogrammed(label, bridge)
    return prescription.flows(label[0].concentration_ng_per_ml if stronger is None else stronger)


def in_force(
    label: DrugLabel,
    prescription: DoseSchedule | None,
    periodic: PeriodicBolusPlan | None,
    demand: DemandLimits | None,
    bridge: Bridge | None,
) -> tuple[Exposure, ...]:
    """What these settings, and the old solution a bridge still pushes, can give of each drug in any 24 h."""
    by_drug = {e.drug: e for e in exposures(label, prescription, periodic, demand)}
    if bridge is not None:
        for e in _tubing(label, prescription, periodic, demand, bridge):
            by_drug[e.drug] = merged(by_drug[e.drug], e) if e.drug in by_drug else e
    return tuple(by_drug.values())


def _tubing(
    label: DrugLabel,
    prescription: DoseSchedule | None,
    periodic: PeriodicBolusPlan | None,
    demand: DemandLimits | None,
    bridge: Bridge,
) -> tuple[Exposure, ...]:
    """What the old solution in the tubing gives of each of its drugs while the bridge pushes it.

    The basal is the old prescription's, or, when nothing was programmed before the change, the new one's at
    the flows it runs at meanwhile. A periodic or demand dose of the same drug is measured out with the
    stronger solution, so it carries at most its dose of the lead drug, and the old solution's other drugs in
    proportion; no dose of a new drug is given while another is in the tubing.
    """
    if not label:
        return ()
    measured = measuring_concentration(label, bridge)
    pushed_with = measured or label[0].concentration_ng_per_ml
    old_lead = bridge.label[0]

    def mass(lead_ng: int, concentration: int) -> int:
        return ceil_div(lead_ng * concentration, pushed_with)

    out = []
    for entry in bridge.label:
        c = entry.concentration_ng_per_ml
        if bridge.doses is not None:
            basal = scaled_ng(bridge.doses.max_dose_ng_per_day(), entry, old_lead)
        else:
            basal = mass(prescription.max_dose_ng_per_day(), c) if prescription is not None else 0
        e = Exposure(entry.drug, basal)
        if measured is not None and periodic is not None:
            boluses = periodic_boluses_per_24h(periodic.interval_ms)
            e = merged(e, Exposure(entry.drug, periodic_dose_ng=mass(periodic.dose_ng, c), periodic_per_24h=boluses))
        if measured is not None and demand is not None:
            e = merged(
                e,
                Exposure(
                    entry.drug,
                    demand_dose_ng=mass(demand.dose_ng, c),
                    demand_max_per_24h=demand.max_per_24h,
                    demand_lockout_ms=demand.lockout_ms,
                ),
            )
        out.append(e)
    return tuple(out)


def checked_label(label: DrugLabel, bridge: Bridge | None) -> DrugLabel:
    """The drugs whose daily limit a check covers: the label's, and those of the old solution in the tubing."""
    if bridge is None:
        return label
    held = {e.drug for e in label}
    return label + tuple(e for e in bridge.label if e.drug not in held)


def settings_refusal(
    model: PumpFigures,
    label: DrugLabel,
    prescription: DoseSchedule | None,
    periodic: PeriodicBolusPlan | None,
    demand: DemandLimits | None,
    bridge: Bridge | None,
    replaced: tuple[Replaced, ...],
    now_ms: int,
) -> Refusal | None:
    """Why these settings cannot be the pump's, or None; `replaced` is the record that counts from now on."""
    if not label:
        return None
    if periodic is not None:
        refusal = bolus_dose_refusal(label, periodic.dose_ng, "periodic")
        if refusal is not None:
            return refusal
    if demand is not None:
        refusal = demand_dose_refusal(label, demand)
        if refusal is not None:
            return refusal
    current = in_force(label, prescription, periodic, demand, bridge)
    refusal = daily_refusal(checked_label(label, bridge), current, replaced, now_ms)
    if refusal is not None:
        return refusal
    concentration = label[0].concentration_ng_per_ml
    if prescription is not None:
        refusal = prescription_refusal(model, prescription, concentration)
        stronger = _pushes_unprogrammed(label, bridge)
        if refusal is None and stronger is not None:
            refusal = prescription_refusal(model, prescription, stronger)
        if refusal is not None:
            return refusal
    # The highest basal flow, and the larger volume of a dose: what any bolus of these settings runs on top of.
    basal = max_basal_flow(None if prescription is None else prescription.flows(concentration), bridge)
    for field, dose_ng, duration_ms in _boluses(periodic, demand):
        refusal = too_small_refusal(label, bridge, dose_ng, field) or bolus_flow_refusal(
            model, dose_ng * NL_PER_ML // concentration, duration_ms, basal, field
        )
        if refusal is not None:
            return refusal
    return None


def _boluses(periodic: PeriodicBolusPlan | None, demand: DemandLimits | None) -> list[tuple[str, int, int]]:
    """The periodic bolus and the demand dose of these settings: (field, dose in ng, duration in ms)."""
    out = []
    if periodic is not None:
        out.append(("periodic", periodic.dose_ng, periodic.duration_ms))
    if demand is not None:
        out.append(("demand", demand.dose_ng, demand.duration_ms))
    return out


def too_small_refusal(label: DrugLabel, bridge: Bridge | None, dose_ng: int, field: str) -> Refusal | None:
    """Why a dose is less than 1 nL of the solution it is measured out with, or None."""
    concentration = measuring_concentration(label, bridge) or label[0].concentration_ng_per_ml
    if dose_ng * NL_PER_ML // concentration > 0:
        return None
    return Refusal(
        RefusalCode.DOSE_TOO_SMALL,
        f"{format_mass(dose_ng)} at {format_concentration(concentration)} is less than 1 nL, "
        "less than the pump can measure out; give a larger dose or use a weaker solution",
        f"{field}.dose",
        format_mass(dose_ng),
        format_mass(ceil_div(concentration, NL_PER_ML)),
    )


def one_off_refusal(
    label: DrugLabel, dose_ng: int, current: tuple[Exposure, ...], replaced: tuple[Replaced, ...], now_ms: int
) -> Refusal | None:
    """Why a clinician bolus of `dose_ng` now passes a single-bolus or (with the settings in force and what counts
    from the last 24 h) a daily limit of some drug, or None."""
    refusal = bolus_dose_refusal(label, dose_ng, "bolus")
    if refusal is not None:
        return refusal
    return daily_refusal(label, with_one_off(current, one_off_exposures(label, dose_ng)), replaced, now_ms)
