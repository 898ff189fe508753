"""What is read alone is what an interrogation shows: the patient's status, and the flows now.

`Firmware.patient_status()` is made on its own, without the clinician's view,
for the patient's handset; every value in it must be the one `status()` shows
(whether therapy is stopped is the minimum-rate mode, whether demand doses are
on is whether demand settings are in force). `Firmware.rates()`, which a
scenario's samples read, must be the status's basal and bolus flows.
"""

from __future__ import annotations

from benchmarks.pump_core import _pump, _timeline

from thecal.pump.core import (
    Command,
    Firmware,
    MotorRecovered,
    MotorStalled,
    RequestDemandBolus,
    ResumeTherapy,
    StopTherapy,
)
from thecal.pump.core.integers import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN
from thecal.therapy.snapshot import PatientView, PumpSnapshot


def _patients_part(status: dict[str, object]) -> dict[str, object]:
    return {
        "wall_ms": status["wall_ms"],
        "alarms": status["alarms"],
        "therapy_stopped": status["mode"] == "minimum_rate",
        "demand_enabled": status["demand"] is not None,
        "demand_next_allowed_wall_ms": status["demand_next_allowed_wall_ms"],
        "demand_left_24h": status["demand_left_24h"],
        "demand_not_now": status["demand_not_now"],
    }


def _check(fw: Firmware, seen: set[tuple[object, object]]) -> None:
    status = fw.status()
    patient = fw.patient_status()
    assert patient == _patients_part(status)
    assert fw.rates() == (status["basal_flow_nl_per_day"], status["bolus_flow_nl_per_day"])
    assert PatientView.from_status(patient) == PumpSnapshot.from_status(status, fw.model).patient  # type: ignore[arg-type]
    seen.add((patient["therapy_stopped"], (status["demand_not_now"] or {}).get("code")))  # type: ignore[attr-defined]


def test_the_patients_status_and_the_flows_are_the_status_s_through_a_month() -> None:
    """Through 40 days of presses (given, and locked out), a stop at the minimum rate, a stalled motor and a
    refill, checked before and after every event and every 7 minutes."""
    fw = _pump(periodic=True)
    days = 40
    timeline: list[tuple[int, Command]] = list(_timeline(days / 365))
    for day in (3, 9, 17):
        # Presses close together: the first may give a dose, the rest are locked out.
        timeline += [(day * MS_PER_DAY + 9 * MS_PER_HOUR + k * 4 * MS_PER_MIN, RequestDemandBolus()) for k in range(6)]
    timeline += [
        (5 * MS_PER_DAY + MS_PER_HOUR, StopTherapy()),
        (6 * MS_PER_DAY + MS_PER_HOUR, ResumeTherapy()),
        (12 * MS_PER_DAY, MotorStalled("MRI")),
        (12 * MS_PER_DAY + 40 * MS_PER_MIN, MotorRecovered()),
    ]
    seen: set[tuple[object, object]] = set()
    for at, command in sorted(timeline, key=lambda e: e[0]):
        while fw.state.now_ms + 7 * MS_PER_MIN < at:
            fw.advance(fw.state.now_ms + 7 * MS_PER_MIN, deliveries=False)
            _check(fw, seen)
        fw.advance(at, deliveries=False)
        _check(fw, seen)
        fw.handle(command)
        _check(fw, seen)
    fw.advance(days * MS_PER_DAY, deliveries=False)
    _check(fw, seen)
    assert {(True, "stopped"), (False, None), (False, "locked_out"), (False, "motor_stall")} <= seen
