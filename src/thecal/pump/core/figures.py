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
