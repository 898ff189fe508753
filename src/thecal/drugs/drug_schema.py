"""The schema of a drug data file (pydantic): every table and field, every required limit, every source.

A data file that is wrong is a safety problem, so the schema is strict: it
knows every table and field, every required limit must be present, every
figure must carry its source, a soft tier may never be looser than its hard
tier, and quantities must carry units of the right kind. It is imported only
when a data file is checked (`thecal.drugs.loader` keeps what the check gave).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError, create_model
from pydantic import model_validator as after_checks

from thecal.drugs.loader import FIX
from thecal.drugs.model import (
    DEMAND_LIMITS,
    LIMIT_SPECS,
    Direction,
    DoseRange,
    Drug,
    Limit,
    LimitSpec,
    Measure,
    quantity_text,
)
from thecal.errors import InputError, schema_error
from thecal.units import BP_PER_ONE, CONCENTRATION, DOSE_RATE, DURATION, MASS, percent_bp, reader


def parse_drug(data: dict[str, Any], origin: str) -> Drug:
    """Build a Drug from the contents of one data file, refusing anything incomplete or inconsistent."""
    try:
        return DrugFile.model_validate(data).to_drug()
    except ValidationError as exc:
        raise schema_error(origin, exc, FIX, DrugFile) from None


class Table(BaseModel):
    """A table of a data file: no unknown names, no silent conversion of one type into another."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# Every figure carries its source, so source texts may not be blank.
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


# The value of a limit, read by the kind of quantity it measures.
DoseRateText = Annotated[int, BeforeValidator(reader(DOSE_RATE))]
ConcentrationText = Annotated[int, BeforeValidator(reader(CONCENTRATION))]
MassText = Annotated[int, BeforeValidator(reader(MASS))]
DurationText = Annotated[int, BeforeValidator(reader(DURATION))]
PercentText = Annotated[int, BeforeValidator(lambda text: percent_bp(text, ""))]
# A count is a bare whole number; "6" in quotes or true are refused by the schema's strict int.
Count = Annotated[int, Field(ge=0)]
_VALUES: dict[Measure, Any] = {
    Measure.DOSE_RATE: DoseRateText,
    Measure.CONCENTRATION: ConcentrationText,
    Measure.MASS: MassText,
    Measure.DURATION: DurationText,
    Measure.PERCENT: PercentText,
    Measure.COUNT: Count,
}


def _limit_table(measure: Measure) -> type[Table]:
    value = _VALUES[measure]
    return create_model(
        f"Limit{measure.name.title().replace('_', '')}",
        __base__=Table,
        __doc__=f"One two-tier limit measured as {measure.value}, with the sources of both tiers and why it exists.",
        soft=(value, ...),
        hard=(value, ...),
        soft_source=(Text, ...),
        hard_source=(Text, ...),
        why=(Text, ...),
    )


_LIMIT_TABLES = {measure: _limit_table(measure) for measure in Measure}


def _check_tiers(limits: BaseModel) -> BaseModel:
    for key, spec in LIMIT_SPECS.items():
        entry = _entry(limits, key)
        if entry is not None:
            _check_tier(spec, entry.soft, entry.hard)
    return limits


def _check_tier(spec: LimitSpec, soft: int, hard: int) -> None:
    # The soft tier warns before the hard tier refuses; a soft tier beyond the hard one would never be seen.
    looser = soft > hard if spec.direction is Direction.MAX else soft < hard
    if looser:
        shown = _shown(spec.measure, hard)
        raise InputError(
            f"{spec.key}.soft", _shown(spec.measure, soft), f"the soft tier is beyond the hard tier {shown}", FIX
        )
    if spec.key == "max_step_down" and hard > BP_PER_ONE:
        raise InputError(f"{spec.key}.hard", _shown(spec.measure, hard), "a decrease cannot be more than 100 %", FIX)


def _shown(measure: Measure, value: int) -> str:
    """A limit value in its base unit, for an error about a file (the drug's display unit is not known yet)."""
    return (
        quantity_text(measure, value)
        if measure in (Measure.PERCENT, Measure.COUNT, Measure.DURATION)
        else f"{value} {measure.value}"
    )


Limits: type[Table] = create_model(  # type: ignore[call-overload]
    "Limits",
    __base__=Table,
    __doc__="The drug's limits, one optional table per limit the library knows (thecal.drugs.model.LIMIT_SPECS).",
    __validators__={"tiers": after_checks(mode="after")(_check_tiers)},
    **{key: (_LIMIT_TABLES[spec.measure] | None, None) for key, spec in LIMIT_SPECS.items()},
)


class Approval(Table):
    """Whether the pump's labeling approves the drug."""

    approved_for_pump: bool
    source: Text


class Permission(Table):
    """A yes-or-no rule (opioid-naïve patients, demand boluses) and its source."""

    allowed: bool
    source: Text


class Concentrations(Table):
    """The strengths the drug comes in."""

    available: Annotated[list[ConcentrationText], Field(min_length=1)]
    source: Text


class Admixture(Table):
    """The drugs it may share a fill with."""

    partners: list[Text]
    source: Text


class DoseRateRange(Table):
    """A published range of daily doses."""

    low: DoseRateText
    high: DoseRateText
    source: Text

    @after_checks(mode="after")
    def _ordered(self) -> DoseRateRange:
        if self.low > self.high:
            raise InputError("low", f"{self.low} ng/day", f"low is above high ({self.high} ng/day)", FIX)
        return self


class MassRange(Table):
    """A published range of single doses."""

    low: MassText
    high: MassText
    source: Text

    @after_checks(mode="after")
    def _ordered(self) -> MassRange:
        if self.low > self.high:
            raise InputError("low", f"{self.low} ng", f"low is above high ({self.high} ng)", FIX)
        return self


class Doses(Table):
    """The published dose ranges: starting, usual, and the trial bolus."""

    start: DoseRateRange
    usual: DoseRateRange
    trial_bolus: MassRange


class DrugFile(Table):
    """One drug data file, as written (docs/drugs.md describes every field)."""

    name: Text
    description: Text
    aliases: list[Text]
    mass_unit: Literal["mg", "mcg"]
    opioid: bool
    notes: list[Text]
    approval: Approval
    opioid_naive: Permission
    demand_bolus: Permission
    concentrations: Concentrations
    admixture: Admixture
    doses: Doses
    limits: Limits

    @after_checks(mode="after")
    def _complete(self) -> DrugFile:
        required = [key for key, spec in LIMIT_SPECS.items() if spec.required]
        if self.opioid and self.opioid_naive.allowed:
            required.append("max_daily_dose_opioid_naive")
        if self.demand_bolus.allowed:
            required.extend(DEMAND_LIMITS)
        missing = [key for key in required if _entry(self.limits, key) is None]
        if _entry(self.limits, "max_step_up") is None and _entry(self.limits, "max_step_up_amount") is None:
            missing.append("max_step_up or max_step_up_amount")
        if missing:
            raise InputError("limits", ", ".join(missing), "required limits are missing", FIX)
        hard = _entry(self.limits, "max_concentration").hard
        for strength in self.concentrations.available:
            if strength > hard:
                raise InputError(
                    "concentrations.available",
                    f"{strength} ng/mL",
                    f"a listed strength is above the hard concentration limit ({hard} ng/mL)",
                    FIX,
                )
        return self

    def to_drug(self) -> Drug:
        """The library's view of the file: integers in base units, limits keyed by name."""
        limits = {
            key: Limit(
                spec=spec,
                soft=entry.soft,
                hard=entry.hard,
                soft_source=entry.soft_source,
                hard_source=entry.hard_source,
                why=entry.why,
            )
            for key, spec in LIMIT_SPECS.items()
            if (entry := _entry(self.limits, key)) is not None
        }
        return Drug(
            name=self.name.lower(),
            description=self.description,
            aliases=tuple(alias.lower() for alias in self.aliases),
            mass_unit=self.mass_unit,
            opioid=self.opioid,
            approved_for_pump=self.approval.approved_for_pump,
            approved_source=self.approval.source,
            allowed_opioid_naive=self.opioid_naive.allowed if self.opioid else True,
            opioid_naive_source=self.opioid_naive.source,
            demand_bolus_allowed=self.demand_bolus.allowed,
            demand_bolus_source=self.demand_bolus.source,
            concentrations_ng_per_ml=tuple(sorted(self.concentrations.available)),
            concentrations_source=self.concentrations.source,
            start_dose=_range(self.doses.start),
            usual_dose=_range(self.doses.usual),
            trial_bolus=_range(self.doses.trial_bolus),
            limits=limits,
            admixture_partners=tuple(p.lower() for p in self.admixture.partners),
            admixture_source=self.admixture.source,
            notes=tuple(self.notes),
        )


def _entry(limits: BaseModel, key: str) -> Any:
    """One limit's table of a drug file, or None; the Limits table is built from LIMIT_SPECS, so by name."""
    return getattr(limits, key)


def _range(entry: DoseRateRange | MassRange) -> DoseRange:
    return DoseRange(entry.low, entry.high, entry.source)
