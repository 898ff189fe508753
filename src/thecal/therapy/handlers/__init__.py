"""One handler per clinical intent, wired by one table.

A handler turns an intent into the firmware commands and the settings they
leave, with the findings only that intent has; the checks every change of dose
shares run afterwards, in the service, for all of them. The patient's press
has no handler here: it is planned from the patient's view of the pump alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from thecal.therapy import intents
from thecal.therapy.context import Context
from thecal.therapy.handlers.alarm_test import alarm_test
from thecal.therapy.handlers.boluses import clinician_bolus, periodic_bolus, periodic_bolus_off, priming_bolus
from thecal.therapy.handlers.demand import ptm_off, ptm_settings
from thecal.therapy.handlers.draft import Draft
from thecal.therapy.handlers.fills import first_fill, implant, refill
from thecal.therapy.handlers.prescription import prescribe, titrate
from thecal.therapy.handlers.pump_state import (
    clear_alarm,
    low_reservoir_alarm,
    post_mri_check,
    resume_therapy,
    stop_therapy,
)

# Each handler takes the intent type it is filed under; the table is what ties them.
Handler = Callable[[Context, Any], Draft]

HANDLERS: Mapping[type, Handler] = {
    intents.Implant: implant,
    intents.FirstFill: first_fill,
    intents.Refill: refill,
    intents.Prescribe: prescribe,
    intents.Titrate: titrate,
    intents.ClinicianBolus: clinician_bolus,
    intents.PrimingBolus: priming_bolus,
    intents.PeriodicBolus: periodic_bolus,
    intents.PeriodicBolusOff: periodic_bolus_off,
    intents.PtmSettings: ptm_settings,
    intents.PtmOff: ptm_off,
    intents.StopTherapy: stop_therapy,
    intents.ResumeTherapy: resume_therapy,
    intents.ClearAlarm: clear_alarm,
    intents.PostMriCheck: post_mri_check,
    intents.LowReservoirAlarm: low_reservoir_alarm,
    intents.AlarmTest: alarm_test,
}

__all__ = ["HANDLERS", "Draft", "Handler"]
