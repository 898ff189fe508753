"""The figures of a pump type that the firmware needs, as a protocol the pump model files satisfy.

The core imports nothing outside itself; `thecal.pump.model.PumpModel`
(read from the model files, with units and sources) provides these
attributes, and so does any test double.
"""

from __future__ import annotations

from typing import Protocol


class PumpFigures(Protocol):
    """What the firmware reads about its pump type, every value an integer in the base unit named."""

    @property
    def name(self) -> str: ...

    @property
    def reservoir_nl(self) -> int: ...

    @property
    def low_reservoir_alarm_default_nl(self) -> int: ...

    @property
    def low_reservoir_alarm_min_nl(self) -> int: ...

    @property
    def low_reservoir_alarm_max_nl(self) -> int: ...

    @property
    def min_programmable_flow_nl_per_day(self) -> int: ...

    @property
    def minimum_rate_mode_flow_nl_per_day(self) -> int: ...

    @property
    def max_continuous_flow_nl_per_day(self) -> int: ...

    @property
    def max_bolus_flow_nl_per_day(self) -> int: ...

    @property
    def stroke_nl(self) -> int: ...

    @property
    def internal_volume_nl(self) -> int: ...

    @property
    def battery_capacity_pc(self) -> int: ...

    @property
    def baseline_current_na(self) -> int: ...

    @property
    def stroke_charge_pc(self) -> int: ...

    @property
    def telemetry_session_charge_pc(self) -> int: ...

    @property
    def eri_reserve_pc(self) -> int: ...

    @property
    def end_of_service_after_eri_ms(self) -> int: ...

    @property
    def noncritical_tone_interval_ms(self) -> int: ...

    @property
    def critical_tone_interval_ms(self) -> int: ...

    @property
    def event_log_entries(self) -> int: ...

    @property
    def max_steps_per_day(self) -> int: ...


class Figures:
    """A pump type's figures copied into slots, for the firmware's own use.

    The motor reads a handful of figures at every stretch and every command; a slot reads about twice as fast as
    a field of the model record loaded from its file (an instance dict that does not share its keys), so the
    firmware copies them once.
    """

    __slots__ = (
        "baseline_current_na",
        "battery_capacity_pc",
        "critical_tone_interval_ms",
        "end_of_service_after_eri_ms",
        "eri_reserve_pc",
        "event_log_entries",
        "internal_volume_nl",
        "low_reservoir_alarm_default_nl",
        "low_reservoir_alarm_max_nl",
        "low_reservoir_alarm_min_nl",
        "max_bolus_flow_nl_per_day",
        "max_continuous_flow_nl_per_day",
        "max_steps_per_day",
        "min_programmable_flow_nl_per_day",
        "minimum_rate_mode_flow_nl_per_day",
        "name",
        "noncritical_tone_interval_ms",
        "reservoir_nl",
        "stroke_charge_pc",
        "stroke_nl",
        "telemetry_session_charge_pc",
    )

    name: str
    reservoir_nl: int
    low_reservoir_alarm_default_nl: int
    low_reservoir_alarm_min_nl: int
    low_reservoir_alarm_max_nl: int
    min_programmable_flow_nl_per_day: int
    minimum_rate_mode_flow_nl_per_day: int
    max_continuous_flow_nl_per_day: int
    max_bolus_flow_nl_per_day: int
    stroke_nl: int
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

    def __init__(self, model: PumpFigures) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(model, name))
