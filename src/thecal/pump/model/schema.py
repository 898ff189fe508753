"""The schema of a pump model file (pydantic): every section and figure, each with its source and unit.

It refuses an unknown name, a figure without a source, a unit of the wrong
kind and figures that contradict each other, naming the file, the field and
the value. It is imported only when a model file is checked
(`thecal.pump.model` keeps what the check gave).
"""

from __future__ import annotations

import tomllib
from fractions import Fraction
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from thecal.errors import InputError, schema_error
from thecal.pump.model import CHARGE, CURRENT, FIELDS, FIX, PumpModel
from thecal.units import DURATION, FLOW, VOLUME, percent_fraction, reader


def check_model(text: str, source: str) -> PumpModel:
    """The model a model file's text describes, checked in full; `source` names the file in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(source, None, f"not a TOML file that can be read ({exc})", FIX) from None
    except RecursionError:
        raise InputError(source, None, "is nested too deeply to be a model file", FIX) from None
    try:
        figures = ModelFile.model_validate(data)
    except ValidationError as exc:
        raise schema_error(source, exc, FIX, ModelFile) from None
    return figures.to_model()


V = TypeVar("V")
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Volume = Annotated[int, BeforeValidator(reader(VOLUME))]
Flow = Annotated[int, BeforeValidator(reader(FLOW))]
Duration = Annotated[int, BeforeValidator(reader(DURATION))]
Charge = Annotated[int, BeforeValidator(reader(CHARGE))]
Current = Annotated[int, BeforeValidator(reader(CURRENT))]
Percent = Annotated[Fraction, BeforeValidator(lambda text: percent_fraction(text, ""))]
Count = Annotated[int, Field(ge=1)]


class Table(BaseModel):
    """A table of a model file: no unknown names, no silent conversion of one type into another."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Figure(Table, Generic[V]):
    """One figure: its value (with its unit, where it has one) and where it comes from."""

    value: V
    source: Text


class Reservoir(Table):
    """The drug reservoir and its alarms."""

    capacity: Figure[Volume]
    dead_space: Figure[Volume]
    low_reservoir_alarm_default: Figure[Volume]
    low_reservoir_alarm_min: Figure[Volume]
    low_reservoir_alarm_max: Figure[Volume]
    refill_discrepancy_flag: Figure[Volume]


class Flows(Table):
    """The pumping mechanism: flows it can run, its stroke, accuracy and tubing."""

    min_programmable: Figure[Flow]
    minimum_rate_mode: Figure[Flow]
    max_continuous: Figure[Flow]
    max_bolus: Figure[Flow]
    stroke_volume: Figure[Volume]
    accuracy: Figure[Percent]
    internal_volume: Figure[Volume]


class Battery(Table):
    """The battery's charge budget."""

    capacity: Figure[Charge]
    baseline_current: Figure[Current]
    stroke_charge: Figure[Charge]
    telemetry_session_charge: Figure[Charge]
    eri_reserve: Figure[Charge]
    end_of_service_after_eri: Figure[Duration]


class Alarms(Table):
    """How often alarm tones repeat."""

    noncritical_tone_interval: Figure[Duration]
    critical_tone_interval: Figure[Duration]


class Memory(Table):
    """The pump's memory."""

    event_log_entries: Figure[Count]


class Therapy(Table):
    """Limits of programming and refilling."""

    max_steps_per_day: Figure[Count]
    septum_punctures: Figure[Count]


class ModelFile(Table):
    """A pump model file, as written."""

    name: Text
    description: Text
    reservoir: Reservoir
    flow: Flows
    battery: Battery
    alarms: Alarms
    memory: Memory
    therapy: Therapy

    def figure(self, field: str) -> Figure[object]:
        """The figure behind a PumpModel field."""
        section, key = FIELDS[field]
        figure: Figure[object] = getattr(getattr(self, section), key)
        return figure

    @model_validator(mode="after")
    def _consistent(self) -> ModelFile:
        reservoir, flow, battery = self.reservoir, self.flow, self.battery
        for section, key, figure in (
            ("reservoir", "capacity", reservoir.capacity),
            ("reservoir", "refill_discrepancy_flag", reservoir.refill_discrepancy_flag),
            ("flow", "min_programmable", flow.min_programmable),
            ("flow", "max_bolus", flow.max_bolus),
            ("flow", "stroke_volume", flow.stroke_volume),
            ("battery", "capacity", battery.capacity),
        ):
            if figure.value <= 0:
                raise InputError(f"{section}.{key}", figure.value, "must be above zero", FIX)
        alarms = (
            reservoir.low_reservoir_alarm_min,
            reservoir.low_reservoir_alarm_default,
            reservoir.low_reservoir_alarm_max,
            reservoir.capacity,
        )
        if [a.value for a in alarms] != sorted(a.value for a in alarms):
            raise InputError(
                "reservoir.low_reservoir_alarm_default",
                f"{reservoir.low_reservoir_alarm_default.value} nL",
                "the low-reservoir alarm must satisfy min <= default <= max <= capacity",
                FIX,
            )
        if reservoir.refill_discrepancy_flag.value >= reservoir.capacity.value:
            raise InputError(
                "reservoir.refill_discrepancy_flag",
                f"{reservoir.refill_discrepancy_flag.value} nL",
                "must be below the reservoir capacity",
                FIX,
            )
        if flow.min_programmable.value > flow.max_continuous.value:
            raise InputError(
                "flow.min_programmable",
                f"{flow.min_programmable.value} nL/day",
                f"is above the maximum continuous flow ({flow.max_continuous.value} nL/day)",
                FIX,
            )
        if battery.eri_reserve.value >= battery.capacity.value:
            raise InputError(
                "battery.eri_reserve", f"{battery.eri_reserve.value} pC", "must be below the capacity", FIX
            )
        return self

    def to_model(self) -> PumpModel:
        """The figures as a PumpModel, integers in base units, with their sources."""
        values = {field: self.figure(field).value for field in FIELDS}
        return PumpModel(
            name=self.name,
            description=self.description,
            sources=tuple((field, self.figure(field).source) for field in FIELDS),
            **values,  # type: ignore[arg-type]
        )
