"""What a report is made of: one patient's record, bundled from plain values, ready for the PDF, CSV and FHIR.

The store's records (Patient, Implant, DrugFill, PainScore, Visit) are read
through the Protocols below, which name only the fields a report reads: any
object with those fields will do, so the reports never import the store. The
values the store does not keep (the therapy settings before and after, the
alarms, the event log, the series for the plots) come in as the small frozen
records of this module. Every quantity carries its unit in its name or beside
it; a dose is kept as a dose (mg or mcg), not only as a volume.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from thecal.drugs import get_drug
from thecal.errors import InputError
from thecal.pump.model import shipped_models

MASS_UNITS = ("mg", "mcg")
MCG_PER_MG = 1000.0
NL_PER_ML = 1_000_000


class PatientLike(Protocol):
    """The fields of a clinic patient a report reads."""

    @property
    def id(self) -> int: ...
    @property
    def mrn(self) -> str: ...
    @property
    def family_name(self) -> str: ...
    @property
    def given_name(self) -> str: ...
    @property
    def birth_date(self) -> date: ...
    @property
    def weight_kg(self) -> float: ...
    @property
    def indication(self) -> str: ...
    @property
    def opioid_status(self) -> str: ...


class ImplantLike(Protocol):
    """The fields of an implant (pump and catheter) a report reads."""

    @property
    def id(self) -> int: ...
    @property
    def patient_id(self) -> int: ...
    @property
    def pump_model(self) -> str: ...
    @property
    def pump_serial(self) -> str: ...
    @property
    def implant_date(self) -> date: ...
    @property
    def catheter_model(self) -> str: ...
    @property
    def catheter_length_cm(self) -> float: ...
    @property
    def catheter_volume_ul_per_cm(self) -> float: ...
    @property
    def tip_level(self) -> str: ...
    @property
    def active(self) -> bool: ...


class DrugFillLike(Protocol):
    """The fields of a reservoir fill a report reads; `drugs` holds (drug, mg per mL) pairs."""

    @property
    def id(self) -> int: ...
    @property
    def implant_id(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def drugs(self) -> tuple[tuple[str, float], ...]: ...
    @property
    def volume_ml(self) -> float: ...
    @property
    def aspirated_ml(self) -> float | None: ...
    @property
    def expected_ml(self) -> float | None: ...
    @property
    def discrepancy_acknowledged(self) -> bool: ...
    @property
    def by_user_id(self) -> int: ...


class PainScoreLike(Protocol):
    """The fields of a pain score (0..10) a report reads."""

    @property
    def id(self) -> int: ...
    @property
    def patient_id(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def score(self) -> int: ...
    @property
    def source(self) -> str: ...
    @property
    def note(self) -> str: ...


class VisitLike(Protocol):
    """The fields of a visit a report reads."""

    @property
    def id(self) -> int: ...
    @property
    def patient_id(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def kind(self) -> str: ...
    @property
    def by_user_id(self) -> int: ...
    @property
    def summary(self) -> str: ...


def _mass_unit(value: str, field: str) -> str:
    """A mass unit of a dose, "mg" or "mcg", or an InputError naming the field."""
    if value not in MASS_UNITS:
        raise InputError(field, value, "not a mass unit of a dose", 'write "mg" or "mcg"')
    return value


def drug_mass_unit(drug: str) -> str:
    """The unit a drug's doses are written in: "mg" (morphine), "mcg" (ziconotide); "mg" for an unknown drug."""
    try:
        return get_drug(drug).mass_unit
    except InputError:
        return "mg"


def concentration_text(drug: str, mg_per_ml: float) -> str:
    """A drug's concentration in the unit its doses are written in: "25 mg/mL", "100 mcg/mL"."""
    unit = drug_mass_unit(drug)
    value = mg_per_ml * MCG_PER_MG if unit == "mcg" else mg_per_ml
    return f"{number_text(value)} {unit}/mL"


def number_text(value: float, digits: int = 4) -> str:
    """A number as a person reads it: up to `digits` significant digits, no exponent, no trailing zeros."""
    if value == 0:
        return "0"
    text = f"{value:.{digits}g}"
    if "e" in text:
        text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text


@dataclass(frozen=True)
class SettingRow:
    """One therapy setting before and after a change, in one unit; `changed` marks the rows to highlight."""

    name: str
    before: str
    after: str
    unit: str
    changed: bool

    @classmethod
    def compare(cls, name: str, before: float | str | None, after: float | str | None, unit: str) -> SettingRow:
        """A row whose `changed` is worked out from the values; None is shown as "not set"."""
        before_text, after_text = _setting_text(before), _setting_text(after)
        return cls(name, before_text, after_text, unit, before_text != after_text)


def _setting_text(value: float | str | None) -> str:
    if value is None:
        return "not set"
    if isinstance(value, str):
        return value
    return number_text(float(value))


@dataclass(frozen=True)
class Alarm:
    """An alarm the pump raised: when, what, how serious ("critical" or "non-critical") and whether still active."""

    at: datetime | None
    name: str
    severity: str
    active: bool
    detail: str = ""


@dataclass(frozen=True)
class Prescription:
    """What the pump is prescribed to deliver of one drug: the daily dose and the patient's demand bolus, in mass."""

    drug: str
    mass_unit: str
    dose_per_day: float
    concentration_mg_per_ml: float
    since: datetime | None = None
    ptm_bolus_dose: float | None = None
    ptm_max_per_day: int | None = None

    def __post_init__(self) -> None:
        _mass_unit(self.mass_unit, f"prescription of {self.drug}: mass_unit")


@dataclass(frozen=True)
class Bolus:
    """A bolus given: a clinician's, a priming, a bridge or a patient's (PTM) bolus, as a dose."""

    at: datetime
    kind: str
    drug: str
    dose: float
    mass_unit: str

    def __post_init__(self) -> None:
        _mass_unit(self.mass_unit, f"{self.kind} bolus of {self.drug}: mass_unit")


@dataclass(frozen=True)
class DoseSeries:
    """The dose of one drug the pump delivered, day by day, in `mass_unit` per day."""

    drug: str
    mass_unit: str
    points: tuple[tuple[date, float], ...]

    def __post_init__(self) -> None:
        _mass_unit(self.mass_unit, f"dose series of {self.drug}: mass_unit")
        object.__setattr__(self, "points", tuple(self.points))

    @property
    def unit(self) -> str:
        """The unit of the series' values: "mg/day" or "mcg/day"."""
        return f"{self.mass_unit}/day"


@dataclass(frozen=True)
class PtmPress:
    """A press on the patient's therapy manager: whether a dose was given, and why not when refused."""

    at: datetime
    given: bool
    reason: str = ""


@dataclass(frozen=True)
class PatientRecord:
    """Everything a report on one patient needs, as plain values: who, which pump, what was done, what it did.

    `implants`, `fills`, `pain_scores`, `visits` are the store's records (any
    objects with the Protocols' fields); `visit` is the visit the summary is
    for. `settings` holds the therapy settings before and after the visit,
    `events` an excerpt of the pump's event log (dicts with seq, at, kind,
    detail), `reservoir_ml` the reservoir volume over time in mL.
    """

    patient: PatientLike
    implants: Sequence[ImplantLike] = ()
    fills: Sequence[DrugFillLike] = ()
    pain_scores: Sequence[PainScoreLike] = ()
    visits: Sequence[VisitLike] = ()
    visit: VisitLike | None = None
    prescriptions: Sequence[Prescription] = ()
    settings: Sequence[SettingRow] = ()
    alarms: Sequence[Alarm] = ()
    events: Sequence[Mapping[str, object]] = ()
    boluses: Sequence[Bolus] = ()
    delivered: Sequence[DoseSeries] = ()
    reservoir_ml: Sequence[tuple[datetime, float]] = ()
    ptm_presses: Sequence[PtmPress] = ()

    def __post_init__(self) -> None:
        for name in (
            "implants",
            "fills",
            "pain_scores",
            "visits",
            "prescriptions",
            "settings",
            "alarms",
            "boluses",
            "delivered",
            "reservoir_ml",
            "ptm_presses",
        ):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "events", tuple(dict(event) for event in self.events))
        # Time order, whatever order the caller's lists came in: tables and plots read them front to back.
        object.__setattr__(self, "implants", tuple(sorted(self.implants, key=lambda i: (i.implant_date, i.id))))
        object.__setattr__(self, "fills", tuple(sorted(self.fills, key=lambda f: (f.at, f.id))))
        object.__setattr__(self, "pain_scores", tuple(sorted(self.pain_scores, key=lambda s: (s.at, s.id))))
        object.__setattr__(self, "visits", tuple(sorted(self.visits, key=lambda v: (v.at, v.id))))
        object.__setattr__(self, "boluses", tuple(sorted(self.boluses, key=lambda b: b.at)))
        object.__setattr__(self, "reservoir_ml", tuple(sorted(self.reservoir_ml, key=lambda p: p[0])))
        object.__setattr__(self, "ptm_presses", tuple(sorted(self.ptm_presses, key=lambda p: p.at)))
        for implant in self.implants:
            if implant.patient_id != self.patient.id:
                raise InputError(
                    "implant",
                    implant.pump_serial,
                    f"belongs to patient {implant.patient_id}, not to this record's patient {self.patient.id}",
                    "build the record from one patient's implants only",
                )
        for score in self.pain_scores:
            if score.patient_id != self.patient.id:
                raise InputError(
                    "pain score",
                    score.id,
                    f"belongs to patient {score.patient_id}, not to this record's patient {self.patient.id}",
                    "build the record from one patient's pain scores only",
                )

    @property
    def implant(self) -> ImplantLike | None:
        """The active implant, or the most recent one when none is active, or None."""
        active = [i for i in self.implants if i.active]
        pool = active or list(self.implants)
        return max(pool, key=lambda i: (i.implant_date, i.id)) if pool else None

    @property
    def last_fill(self) -> DrugFillLike | None:
        """The most recent fill of the current implant (of any implant when there is none), or None."""
        implant = self.implant
        pool = [f for f in self.fills if implant is None or f.implant_id == implant.id] or list(self.fills)
        return max(pool, key=lambda f: (f.at, f.id)) if pool else None

    def implant_of(self, fill: DrugFillLike) -> ImplantLike | None:
        """The implant a fill went into, or None when the record does not hold it."""
        return next((i for i in self.implants if i.id == fill.implant_id), None)


@dataclass(frozen=True)
class Reconciliation:
    """A refill's check: the volume drawn out of the reservoir against the volume the pump's records expect.

    `difference_ml` is aspirated − expected (negative: less came back than
    expected, the sign of a pocket fill or of over-infusion); `flagged` when
    its size is over the pump model's threshold (1 mL for a 20 mL pump, 2 mL
    for a 40 mL pump). None where the fill lacks a volume.
    """

    expected_ml: float | None
    aspirated_ml: float | None
    difference_ml: float | None
    flag_ml: float
    flag_source: str
    flagged: bool
    acknowledged: bool


def reconcile(fill: DrugFillLike, pump_model: str | None) -> Reconciliation:
    """The reconciliation of a fill with the flag threshold of its pump model (the strictest shipped one if unknown)."""
    models = {model.name: model for model in shipped_models()}
    model = models.get(pump_model or "")
    if model is not None:
        flag_nl, source = model.refill_discrepancy_flag_nl, model.source("refill_discrepancy_flag_nl")
    else:
        strictest = min(models.values(), key=lambda m: m.refill_discrepancy_flag_nl)
        flag_nl = strictest.refill_discrepancy_flag_nl
        source = f"pump model {pump_model!r} is not a shipped model: the strictest shipped threshold ({strictest.name})"
    flag_ml = flag_nl / NL_PER_ML
    difference = None
    if fill.expected_ml is not None and fill.aspirated_ml is not None:
        difference = round(fill.aspirated_ml - fill.expected_ml, 6)
    flagged = difference is not None and abs(difference) > flag_ml
    return Reconciliation(
        fill.expected_ml, fill.aspirated_ml, difference, flag_ml, source, flagged, fill.discrepancy_acknowledged
    )
