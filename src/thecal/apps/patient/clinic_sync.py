"""The diary's way to the clinic: each entry sent as an observation over the clinic's API, with its token.

`ObservationSink` is the interface the app uses; `ClinicObservations` is the
HTTP client for the clinic programmer's route

    POST {clinic_url}/api/patient/observations
    Authorization: Bearer {clinic_token}
    {"source_id": "...", "effective_local": "2024-01-05T08:30", "pain_0_10": 4, "loinc": "72514-3", ...}

answered 200/201 once the entry is kept (a repeat of the same source_id is
kept once). An entry that could not be sent stays queued and is sent again
with the next entry or visit to the diary: sending an observation twice is
harmless, unlike a dose.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Protocol

from thecal.apps.patient.store import DiaryEntry
from thecal.errors import ThecalError

OBSERVATIONS_PATH = "/api/patient/observations"
PAIN_LOINC = "72514-3"  # pain severity 0–10, verbal numeric rating (LOINC)
TIMEOUT_S = 5.0


class SyncError(ThecalError):
    """The clinic did not take an observation: the entry stays queued."""


class ObservationSink(Protocol):
    """Where diary entries go as observations for the patient's record."""

    def send(self, source_id: str, entry: DiaryEntry) -> None:
        """Hand over one entry; SyncError when the clinic did not take it."""
        ...


def observation(source_id: str, entry: DiaryEntry) -> dict[str, object]:
    """One diary entry as the observation the clinic's API takes."""
    return {
        "source_id": source_id,
        "effective_local": datetime.fromtimestamp(entry.at_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M"),
        "pain_0_10": entry.pain,
        "loinc": PAIN_LOINC,
        "activity": entry.activity,
        "side_effects": list(entry.side_effects),
        "notes": entry.notes,
    }


class ClinicObservations:
    """The clinic programmer's observations API, reached with the token the clinic issued to this patient."""

    def __init__(self, clinic_url: str, token: str):
        self.url = clinic_url.rstrip("/") + OBSERVATIONS_PATH
        self._token = token

    def send(self, source_id: str, entry: DiaryEntry) -> None:
        """POST one observation; SyncError with the clinic's answer when it is not taken."""
        body = json.dumps(observation(source_id, entry)).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self._token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            raise SyncError(f"the clinic refused the diary entry (HTTP {exc.code} from {self.url})") from None
        except (urllib.error.URLError, OSError) as exc:
            raise SyncError(f"the clinic could not be reached at {self.url} ({exc}); the entry stays queued") from None
        if status not in (200, 201):
            raise SyncError(f"the clinic answered HTTP {status} at {self.url}; the entry stays queued")
