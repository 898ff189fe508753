"""The integer arithmetic between dose, flow, volume and concentration, with its rounding rules.

Two rules keep rounding on the safe side: a flow computed from a dose is rounded
down, so the pump never delivers more than the prescribed dose; a dose computed
from a flow is rounded up, so a limit check never sees less than what is
delivered. Both are off by less than one nanogram or nanolitre per day.
"""

from __future__ import annotations

from fractions import Fraction

from thecal.errors import InputError
from thecal.units import NL_PER_ML


def exact_flow(dose_ng_per_day: int, concentration_ng_per_ml: int) -> Fraction:
    """The exact flow (nL/day) that carries a daily dose at a concentration."""
    _positive_concentration(concentration_ng_per_ml)
    return Fraction(dose_ng_per_day * NL_PER_ML, concentration_ng_per_ml)


def flow_nl_per_day(dose_ng_per_day: int, concentration_ng_per_ml: int) -> int:
    """The flow (nL/day) for a daily dose, rounded down so the pump never gives more than prescribed."""
    return int(exact_flow(dose_ng_per_day, concentration_ng_per_ml))


def exact_dose(flow_nl_per_day: int, concentration_ng_per_ml: int) -> Fraction:
    """The exact daily dose (ng/day) a flow carries at a concentration."""
    _positive_concentration(concentration_ng_per_ml)
    return Fraction(flow_nl_per_day * concentration_ng_per_ml, NL_PER_ML)


def dose_ng_per_day(flow_nl_per_day: int, concentration_ng_per_ml: int) -> int:
    """The daily dose (ng/day) a flow carries, rounded up so a check never sees less than is given."""
    return ceil(exact_dose(flow_nl_per_day, concentration_ng_per_ml))


def mass_ng(volume_nl: int, concentration_ng_per_ml: int) -> int:
    """The drug (ng) in a volume at a concentration, rounded up so a check never sees less."""
    return ceil(Fraction(volume_nl * concentration_ng_per_ml, NL_PER_ML))


def volume_nl(mass: int, concentration_ng_per_ml: int) -> int:
    """The volume (nL) that holds a mass of drug, rounded down so no more than the mass is drawn."""
    _positive_concentration(concentration_ng_per_ml)
    return int(Fraction(mass * NL_PER_ML, concentration_ng_per_ml))


def ceil(value: Fraction) -> int:
    """The smallest integer not below an exact value."""
    return -((-value.numerator) // value.denominator)


def _positive_concentration(concentration_ng_per_ml: int) -> None:
    if concentration_ng_per_ml <= 0:
        raise InputError(
            "concentration",
            concentration_ng_per_ml,
            "a concentration must be above zero",
            'enter the concentration on the vial label, like "10 mg/mL"',
        )
