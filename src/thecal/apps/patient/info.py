"""What the patient needs to know beside a dose: the clinic's numbers, the refill date, the alarm tones, the MRI card.

The handset keeps what the clinic wrote into its device directory, in
`patient.json` (every field optional):

    {"drug": "morphine", "clinic_name": "Pain clinic", "clinic_phone": "+44 20 7946 0000",
     "emergency_number": "112", "next_refill": "2024-02-01", "patient_name": "A. Patient"}

The pump's alarms, which are critical and how they sound, come from the
firmware's table (pump/core/alarms.py); the tone intervals and their sources
from the pump model's data file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from thecal.apps.patient.answers import AlarmWords, alarm_words
from thecal.devices.daemon import DEFAULT_MODEL
from thecal.errors import InputError
from thecal.pump.core.alarms import Alarm
from thecal.pump.model import load_model
from thecal.units import calendar_date

INFO_FILE = "patient.json"
_FIELDS = ("drug", "clinic_name", "clinic_phone", "emergency_number", "next_refill", "patient_name")


@dataclass(frozen=True)
class HandsetInfo:
    """What the clinic wrote for this patient's handset."""

    drug: str | None = None
    clinic_name: str = "your pain clinic"
    clinic_phone: str | None = None
    emergency_number: str = "112 (Europe) or 911 (North America)"
    next_refill: date | None = None
    patient_name: str | None = None

    @classmethod
    def load(cls, device_dir: Path) -> HandsetInfo:
        """The handset's info file, or the defaults when there is none; InputError naming a bad field."""
        path = Path(device_dir) / INFO_FILE
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(str(path), None, f"could not be read as JSON ({exc})", "fix or remove the file") from None
        if not isinstance(data, dict):
            raise InputError(str(path), None, "is not a JSON object", f"write an object with {', '.join(_FIELDS)}")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise InputError(f"{path}: {unknown[0]}", None, "is not a field of the file", f"use {', '.join(_FIELDS)}")
        for key, value in data.items():
            if not isinstance(value, str):
                raise InputError(f"{path}: {key}", value, "is not text", "write it in quotes")
        refill = data.get("next_refill")
        return cls(
            drug=data.get("drug"),
            clinic_name=data.get("clinic_name") or cls.clinic_name,
            clinic_phone=data.get("clinic_phone"),
            emergency_number=data.get("emergency_number") or cls.emergency_number,
            next_refill=None if refill is None else calendar_date(refill, f"{path}: next_refill"),
            patient_name=data.get("patient_name"),
        )


@dataclass(frozen=True)
class ToneTable:
    """Every alarm of the pump in the patient's words, and where the tone figures come from."""

    alarms: tuple[AlarmWords, ...]
    noncritical_source: str
    critical_source: str


def tone_table() -> ToneTable:
    """The firmware's alarms, critical first, with the sources of the tones (the pump model's data file)."""
    model = load_model(DEFAULT_MODEL)
    words = sorted((alarm_words(a.value) for a in Alarm), key=lambda w: not w.critical)
    return ToneTable(
        tuple(words),
        model.source("noncritical_tone_interval_ms"),
        model.source("critical_tone_interval_ms"),
    )
