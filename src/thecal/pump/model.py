"""Pump models as data: the figures of a pump type, read from a TOML file with units."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path

from thecal.errors import InputError
from thecal.units import DURATION, FLOW, VOLUME, Kind, parse_int

CHARGE = Kind("charge", "picocoulomb", '"1.6 A*h", "60 uC"')
CURRENT = Kind("current", "nanoampere", '"25 uA"')


@dataclass(frozen=True)
class PumpModel:
    """Everything the firmware and the virtual hardware need to know about one pump type."""

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

    @classmethod
    def from_toml(cls, text: str, source: str = "<model>") -> PumpModel:
        """Build a model from the text of a model file."""
        data = tomllib.loads(text)

        def get(section: str, key: str) -> object:
            try:
                return data[section][key] if section else data[key]
            except KeyError:
                raise InputError(
                    f"{source}: {section}.{key}" if section else f"{source}: {key}",
                    None,
                    "missing from the pump model file",
                    "add it with its unit and its source",
                ) from None

        def q(section: str, key: str, kind: Kind) -> int:
            return parse_int(get(section, key), kind, f"{source}: {section}.{key}")

        accuracy_text = get("flow", "accuracy")
        if not isinstance(accuracy_text, str) or not accuracy_text.strip().endswith("%"):
            raise InputError(f"{source}: flow.accuracy", accuracy_text, "must be a percentage", 'write "14.5 %"')
        accuracy = Fraction(accuracy_text.strip()[:-1].strip()) / 100
        model = cls(
            name=str(get("", "name")),
            description=str(get("", "description")),
            reservoir_nl=q("reservoir", "capacity", VOLUME),
            dead_space_nl=q("reservoir", "dead_space", VOLUME),
            low_reservoir_alarm_default_nl=q("reservoir", "low_reservoir_alarm_default", VOLUME),
            low_reservoir_alarm_min_nl=q("reservoir", "low_reservoir_alarm_min", VOLUME),
            low_reservoir_alarm_max_nl=q("reservoir", "low_reservoir_alarm_max", VOLUME),
            refill_discrepancy_flag_nl=q("reservoir", "refill_discrepancy_flag", VOLUME),
            min_programmable_flow_nl_per_day=q("flow", "min_programmable", FLOW),
            minimum_rate_mode_flow_nl_per_day=q("flow", "minimum_rate_mode", FLOW),
            max_continuous_flow_nl_per_day=q("flow", "max_continuous", FLOW),
            max_bolus_flow_nl_per_day=q("flow", "max_bolus", FLOW),
            stroke_nl=q("flow", "stroke_volume", VOLUME),
            accuracy=accuracy,
            internal_volume_nl=q("flow", "internal_volume", VOLUME),
            battery_capacity_pc=q("battery", "capacity", CHARGE),
            baseline_current_na=q("battery", "baseline_current", CURRENT),
            stroke_charge_pc=q("battery", "stroke_charge", CHARGE),
            telemetry_session_charge_pc=q("battery", "telemetry_session_charge", CHARGE),
            eri_reserve_pc=q("battery", "eri_reserve", CHARGE),
            end_of_service_after_eri_ms=q("battery", "end_of_service_after_eri", DURATION),
            noncritical_tone_interval_ms=q("alarms", "noncritical_tone_interval", DURATION),
            critical_tone_interval_ms=q("alarms", "critical_tone_interval", DURATION),
            event_log_entries=int(get("memory", "event_log_entries")),  # type: ignore[call-overload]
            max_steps_per_day=int(get("therapy", "max_steps_per_day")),  # type: ignore[call-overload]
            septum_punctures=int(get("therapy", "septum_punctures")),  # type: ignore[call-overload]
        )
        model._check(source)
        return model

    def _check(self, source: str) -> None:
        if self.stroke_nl <= 0:
            raise InputError(f"{source}: flow.stroke_volume", self.stroke_nl, "must be positive", "fix the file")
        if (
            not self.low_reservoir_alarm_min_nl
            <= self.low_reservoir_alarm_default_nl
            <= (self.low_reservoir_alarm_max_nl)
        ):
            raise InputError(
                f"{source}: reservoir.low_reservoir_alarm_default",
                self.low_reservoir_alarm_default_nl,
                "must lie inside the programmable range",
                "fix the file",
            )
        if self.eri_reserve_pc >= self.battery_capacity_pc:
            raise InputError(
                f"{source}: battery.eri_reserve",
                self.eri_reserve_pc,
                "must be below the capacity",
                "fix the file",
            )

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
        return PumpModel.from_toml(path.read_text(), str(path))
    if name_or_path not in model_names():
        raise InputError(
            "pump.model",
            name_or_path,
            "unknown pump model",
            f"use one of: {', '.join(model_names())}, or the path of a model file",
        )
    text = (resources.files("thecal.pump") / "models" / f"{name_or_path}.toml").read_text()
    return PumpModel.from_toml(text, name_or_path)
