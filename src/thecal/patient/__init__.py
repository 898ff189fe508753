"""The virtual patient: how the body takes up the drug and responds (PK, PD, pain, side effects), parameters as data.

The public surface:
- `PopulationSpec`, `sample_patient(spec, rng)` -> `VirtualPatient`
- `VirtualPatient.deliver(records)`, `.take_oral(...)`, `.take_subcutaneous(...)`, `.move_tip(...)`,
  `.advance(to_ms)` -> `Observation`, `.observe_many(times_ms)` -> `ObservationSeries` (the same, all at once),
  `.note(at_ms)`, `.note_many(times_ms)` and `.noted()` (moments kept now, observations worked out later),
  `.press` (the PTM press rule), `.fork()`
- `sample_events(rng, start_ms, end_ms, EventContext)` -> `EventRecord`s, `refill_error`, `battery_end`
Equations and the source of every figure: docs/patient.md.
"""

from thecal.patient.events import EventContext, EventRecord, battery_end, refill_error, sample_events
from thecal.patient.observation import ObservationSeries
from thecal.patient.pain import PressPolicy
from thecal.patient.patient import Observation, PatientParams, PopulationSpec, VirtualPatient, sample_patient

__all__ = [
    "EventContext",
    "EventRecord",
    "Observation",
    "ObservationSeries",
    "PatientParams",
    "PopulationSpec",
    "PressPolicy",
    "VirtualPatient",
    "battery_end",
    "refill_error",
    "sample_events",
    "sample_patient",
]
