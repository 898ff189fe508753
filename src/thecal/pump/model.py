"""Pump models as data: the figures of a pump type, read from a TOML file in which every figure has its source.

A model file (src/thecal/pump/models/*.toml) holds sections of figures, each
written as `{ value = "20 mL", source = "..." }`. The schema below refuses an
unknown name, a figure without a source, a unit of the wrong kind and figures
that contradict each other, naming the file, the field and the value. Every
other part of thecal (firmware, hardware, calculators, therapy) takes its pump
figures from a `PumpModel`, never from a copy of its own.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from thecal.errors import InputError, schema_error
from thecal.units import DURATION, FLOW, VOLUME, Kind, percent_fraction, read_text_file, reader

CHARGE = Kind("charge", "picocoulomb", '"1.6 A*h", "60 uC"')
CURRENT = Kind("current", "nanoampere", '"25 uA"')
FIX = "correct the pump model file"


@dataclass(frozen=True)
class PumpModel:
    """Everything the firmware, the virtual hardware and the calculators need to know about one pump type."""

    name: str
    description: str
    reservoir_nl: int
    dead_space_nl: int
    low_reservoir_alarm_default_nl: int
    low_reservoir_alarm_min_nl: int
    low_reservoir_alarm_max_nl: int
    refill_discrepancy_flag_nl: int
    min_programmable_flow_nl_per_day: int
    minimum_rate_mode_flow_nl_per_day: int
    max_continuous_flow_nl_per_day: int
    max_bolus_flow_nl_per_day: int
    stroke_nl: int
    accuracy: Fraction
    internal_volume_nl: int
    battery_capacity_pc: int
    baseline_current_na: int
    stroke_charge_pc: int
    telemetry_session_charge_pc: int
    eri_reserve_pc: int
    end_of_service_after_eri_ms: int
    noncritical_tone_interval_ms: int
    critical_tone_interval_ms: int
    event_log_entries: int
    max_steps_per_day: int
    septum_punctures: int
    # The source of every figure, by field name, as the model file gives it.
    sources: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_toml(cls, text: str, source: str = "<model>") -> PumpModel:
        """Build a model from the text of a model file; `source` names the file in errors."""
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

    def source(self, field: str) -> str:
        """Where a figure of this model comes from, by its field name (such as "refill_discrepancy_flag_nl")."""
        for name, text in self.sources:
            if name == field:
                return text
        known = {f.name for f in fields(self)}
        if field not in known:
            raise KeyError(field)
        return f"pump model {self.name} (no source recorded)"

    @property
    def accuracy_bp(self) -> int:
        """The labeled accuracy in basis points (hundredths of a percent)."""
        return round(self.accuracy * 10_000)

    @property
    def dead_volume_nl(self) -> int:
        """The pump's own share of the dead volume: its internal tubing."""
        return self.internal_volume_nl


def model_names() -> list[str]:
    """Names of the pump models shipped with thecal."""
    folder = resources.files("thecal.pump") / "models"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def load_model(name_or_path: str) -> PumpModel:
    """Load a shipped model by name, or a model file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        return PumpModel.from_toml(read_text_file(path, "pump.model"), str(path))
    if name_or_path not in model_names():
        raise InputError(
            "pump.model",
            name_or_path,
            "unknown pump model",
            f"use one of: {', '.join(model_names())}, or the path of a model file",
        )
    text = (resources.files("thecal.pump") / "models" / f"{name_or_path}.toml").read_text(encoding="utf-8")
    return PumpModel.from_toml(text, f"{name_or_path}.toml")


def shipped_models() -> list[PumpModel]:
    """Every pump model shipped with thecal."""
    return [load_model(name) for name in model_names()]


# The schema of a model file.

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


# Where each PumpModel field is written in a model file: one table, read both ways.
FIELDS: dict[str, tuple[str, str]] = {
    "reservoir_nl": ("reservoir", "capacity"),
    "dead_space_nl": ("reservoir", "dead_space"),
    "low_reservoir_alarm_default_nl": ("reservoir", "low_reservoir_alarm_default"),
    "low_reservoir_alarm_min_nl": ("reservoir", "low_reservoir_alarm_min"),
    "low_reservoir_alarm_max_nl": ("reservoir", "low_reservoir_alarm_max"),
    "refill_discrepancy_flag_nl": ("reservoir", "refill_discrepancy_flag"),
    "min_programmable_flow_nl_per_day": ("flow", "min_programmable"),
    "minimum_rate_mode_flow_nl_per_day": ("flow", "minimum_rate_mode"),
    "max_continuous_flow_nl_per_day": ("flow", "max_continuous"),
    "max_bolus_flow_nl_per_day": ("flow", "max_bolus"),
    "stroke_nl": ("flow", "stroke_volume"),
    "accuracy": ("flow", "accuracy"),
    "internal_volume_nl": ("flow", "internal_volume"),
    "battery_capacity_pc": ("battery", "capacity"),
    "baseline_current_na": ("battery", "baseline_current"),
    "stroke_charge_pc": ("battery", "stroke_charge"),
    "telemetry_session_charge_pc": ("battery", "telemetry_session_charge"),
    "eri_reserve_pc": ("battery", "eri_reserve"),
    "end_of_service_after_eri_ms": ("battery", "end_of_service_after_eri"),
    "noncritical_tone_interval_ms": ("alarms", "noncritical_tone_interval"),
    "critical_tone_interval_ms": ("alarms", "critical_tone_interval"),
    "event_log_entries": ("memory", "event_log_entries"),
    "max_steps_per_day": ("therapy", "max_steps_per_day"),
    "septum_punctures": ("therapy", "septum_punctures"),
}


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
