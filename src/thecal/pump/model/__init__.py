"""Pump models as data: the figures of a pump type, read from a TOML file in which every figure has its source.

A model file (src/thecal/pump/models/*.toml) holds sections of figures, each
written as `{ value = "20 mL", source = "..." }`. Its schema
(`thecal.pump.model.schema`, pydantic) refuses an unknown name, a figure
without a source, a unit of the wrong kind and figures that contradict each
other, naming the file, the field and the value. What a check gave is kept in
the user's cache (`thecal.units.checked`) and read back while the file and
thecal's code are the same. Every other part of thecal (firmware, hardware,
calculators, therapy) takes its pump figures from a `PumpModel`, never from a
copy of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

from thecal.errors import InputError
from thecal.units import Kind, checked, read_text_file

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
        return checked("pump-model", [text], lambda: _check_model(text, source))

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


def _check_model(text: str, source: str) -> PumpModel:
    """A model file checked in full by its schema (pydantic, imported only for this)."""
    from thecal.pump.model.schema import check_model

    return check_model(text, source)


def model_names() -> list[str]:
    """Names of the pump models shipped with thecal."""
    return [name.removesuffix(".toml") for name, _ in model_files()]


@lru_cache(maxsize=1)
def model_files() -> tuple[tuple[str, bytes], ...]:
    """The model files shipped with thecal, by file name, with their bytes, in name order."""
    folder = Path(__file__).parent.parent / "models"  # installed beside this package
    return tuple(sorted((p.name, p.read_bytes()) for p in folder.iterdir() if p.name.endswith(".toml")))


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
    text = dict(model_files())[f"{name_or_path}.toml"].decode("utf-8")
    return PumpModel.from_toml(text, f"{name_or_path}.toml")


def shipped_models() -> list[PumpModel]:
    """Every pump model shipped with thecal."""
    return [load_model(name) for name in model_names()]


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
