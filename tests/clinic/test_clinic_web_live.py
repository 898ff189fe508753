"""The pump page's "Now" panel and `GET /pumps/{serial}/live`: the pump now over telemetry, or why not, in words.

One clinic (SQLite) serves the module: a running, paired pump (morphine 10 mg/mL at 1 mg/day), a pump whose
daemon runs but is not paired, and a pump whose daemon is not running. Each test starts from an empty cache of
live reads, on a clock of its own where it counts reads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from markupsafe import escape
from tests.clinic.clinic_web_rig import SETUP, WebClinic, web_clinic

from thecal.apps.clinic.web.live import READ_EVERY_S, LiveReads
from thecal.therapy import ClinicianBolus, ExecutionStatus, PatientFacts, words

SERIAL = "NGP-LIVE-1"
UNPAIRED = "NGP-LIVE-2"
STOPPED = "NGP-LIVE-3"
ROLES = ("physician", "nurse", "viewer", "admin")


class Clock:
    """A monotonic clock moved by hand, for the cache of live reads."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebClinic]:
    """Three pumps of one clinic: paired and running; running, not paired; not running."""
    root: Path = tmp_path_factory.mktemp("live")
    with web_clinic(f"sqlite:///{root / 'clinic.db'}", root) as clinic:
        clinic.add_patient("MRN-LV-0001", "Okoye", serial=SERIAL)
        clinic.add_patient("MRN-LV-0002", "Brandt", serial=UNPAIRED)
        clinic.add_patient("MRN-LV-0003", "Lindqvist", serial=STOPPED)
        clinic.start_pump(SERIAL)
        clinic.pumps.create(UNPAIRED)
        clinic.pumps.start(UNPAIRED, accel=1.0)
        clinic.pumps.create(STOPPED)
        yield clinic


@pytest.fixture
def clock(clinic: WebClinic) -> Clock:
    """A fresh cache of live reads on a hand-moved clock."""
    moved = Clock()
    clinic.app.state.live_reads = LiveReads(clock=moved)
    return moved


@pytest.fixture
def reads(clinic: WebClinic, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every status read the app makes over telemetry, by serial."""
    seen: list[str] = []
    real = clinic.pumps.status

    def counted(serial: str) -> dict[str, object]:
        seen.append(serial)
        return real(serial)

    monkeypatch.setattr(clinic.pumps, "status", counted)
    return seen


def test_a_paired_pump_now_in_json(clinic: WebClinic, clock: Clock) -> None:
    """Mode, alarms, bolus, reservoir with its unit and the pump clock, read live; not cached by the browser."""
    answer = clinic.client("nurse").http.get(f"/pumps/{SERIAL}/live")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    now = answer.json()
    assert now["live"] is True and now["why"] is None
    assert now["mode"] == "running" and now["mode_text"] == "running the prescription"
    assert now["therapy_stopped"] is False
    assert now["alarms"] == [] and now["bolus"] is None
    beside = clinic.pumps.interrogate(SERIAL)  # read beside the app, a moment later
    reservoir = now["reservoir"]
    assert 0 <= reservoir["volume_nl"] - beside.reservoir_nl < 10_000  # 0.01 mL: hours of its 0.1 mL/day
    assert reservoir["capacity_nl"] == 20_000_000 and reservoir["low_alarm_text"] == "2 mL"
    assert " mL of 20 mL, holding " in reservoir["text"] and " mg of morphine" in reservoir["text"]
    assert 0 <= beside.wall_ms - now["pump_clock"]["wall_ms"] < 60_000
    assert now["pump_clock"]["text"] == words.local_time(now["pump_clock"]["wall_ms"])
    assert now["state"] == {
        "live": True,
        "why": None,
        "mode": "running",
        "mode_text": "running the prescription",
        "alarms": [],
        "bolus": False,
    }
    assert len(now["key"]) == 16  # what the panel says, in short: a page replaces its panel when it changes
    assert 'id="now-mode"' in now["html"] and "running the prescription" in now["html"]


def test_every_signed_in_role_may_read_it_and_a_signed_out_browser_is_sent_to_sign_in(
    clinic: WebClinic, clock: Clock
) -> None:
    """The pump page is everyone's to read, so is its panel; without a session: the sign-in page, no pump data."""
    for role in ROLES:
        answer = clinic.client(role).http.get(f"/pumps/{SERIAL}/live")
        assert answer.status_code == 200 and answer.json()["live"] is True, role
    signed_out = clinic.client().http.get(f"/pumps/{SERIAL}/live", follow_redirects=False)
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == f"/login?next=/pumps/{SERIAL}/live"


@pytest.mark.parametrize(
    ("serial", "words"),
    [
        (UNPAIRED, "the programmer is not paired with this pump: place the programmer head over the pump to pair"),
        (STOPPED, "this pump's daemon is not running, so it cannot be read now"),
    ],
)
def test_a_pump_that_cannot_be_read_is_said_in_words(
    clinic: WebClinic, clock: Clock, reads: list[str], serial: str, words: str
) -> None:
    """Not paired or not running: "live": false and why, never a server error and no read attempted."""
    answer = clinic.client("physician").http.get(f"/pumps/{serial}/live")
    assert answer.status_code == 200
    now = answer.json()
    assert now["live"] is False and now["why"] == f"Not read live: {words}."
    assert now["mode"] is None and now["alarms"] == [] and now["reservoir"] is None
    assert str(escape(now["why"])) in now["html"]
    assert reads == []


def test_a_pump_that_stops_answering_is_said_in_words(
    clinic: WebClinic, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read that fails (link lost, refusal) gives "live": false with the reason, not a 500."""
    from thecal.therapy import PortError

    def refused(serial: str) -> dict[str, object]:
        raise PortError(f"pump {serial} could not be read: the link was lost")

    monkeypatch.setattr(clinic.pumps, "status", refused)
    answer = clinic.client("physician").http.get(f"/pumps/{SERIAL}/live")
    assert answer.status_code == 200
    assert answer.json()["live"] is False
    assert "the link was lost" in answer.json()["why"] and "asked again shortly" in answer.json()["why"]


def test_a_serial_of_no_pump_of_the_clinic_is_refused_in_words(clinic: WebClinic, clock: Clock) -> None:
    """An unknown serial: 404 and what to do, not a read and not a cache entry."""
    answer = clinic.client("nurse").http.get("/pumps/NGP-NONE/live")
    assert answer.status_code == 404
    assert answer.json()["why"] == "Pump NGP-NONE is not a pump of this clinic: choose a pump from a patient's page."


def test_polls_write_no_audit_entry_and_keep_the_last_interrogation(
    clinic: WebClinic, clock: Clock, reads: list[str]
) -> None:
    """A status read is not a programming session: the trail and the stored last interrogation stay as they were."""
    nurse = clinic.client("nurse")
    nurse.get(f"/pumps/{SERIAL}")
    nurse.post(f"/pumps/{SERIAL}/interrogate")  # a deliberate interrogation: audited and kept
    trail = [(e.action, e.at) for e in clinic.store.audit_trail()]
    kept = clinic.store.last_interrogation(SERIAL)
    assert kept is not None
    reads.clear()  # the page's own panel read the pump once as it was served
    for _ in range(3):
        clock.seconds += READ_EVERY_S + 1
        assert nurse.http.get(f"/pumps/{SERIAL}/live").json()["live"] is True
    assert len(reads) == 3  # each poll past the cache read the pump...
    assert [(e.action, e.at) for e in clinic.store.audit_trail()] == trail  # ...and wrote nothing
    assert clinic.store.last_interrogation(SERIAL) == kept


def test_the_cache_bounds_reads_per_pump_whatever_the_tabs(clinic: WebClinic, clock: Clock, reads: list[str]) -> None:
    """Many polls within READ_EVERY_S, one after another or at once, make one read; the next window, one more."""
    tabs = [clinic.client(role) for role in ("physician", "nurse", "viewer")]
    for tab in tabs * 3:
        assert tab.http.get(f"/pumps/{SERIAL}/live").status_code == 200
    assert reads == [SERIAL]
    keys = {tab.http.get(f"/pumps/{SERIAL}/live").json()["key"] for tab in tabs}
    assert len(keys) == 1 and reads == [SERIAL]  # one read, one answer for every tab
    clock.seconds += READ_EVERY_S - 0.5
    tabs[0].http.get(f"/pumps/{SERIAL}/live")
    assert reads == [SERIAL]
    clock.seconds += 1.0  # the window is over
    answers: list[int] = []

    def poll(tab: object) -> None:
        answers.append(tab.http.get(f"/pumps/{SERIAL}/live").status_code)  # type: ignore[attr-defined]

    threads = [threading.Thread(target=poll, args=(tab,)) for tab in tabs * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * len(threads)
    assert reads == [SERIAL, SERIAL]


def test_the_pump_page_shows_the_panel_as_served_and_a_running_bolus_as_a_dose(clinic: WebClinic, clock: Clock) -> None:
    """The page is right without scripts: the panel is rendered with it; a bolus shows its dose, unit and end."""
    viewer = clinic.client("viewer")
    page = viewer.get(f"/pumps/{SERIAL}").text  # type: ignore[attr-defined]
    assert '<section id="now"' in page and 'aria-live="polite"' in page
    assert 'data-live-url="/pumps/NGP-LIVE-1/live"' in page and 'data-refresh-ms="10000"' in page
    assert "running the prescription" in page and '<script src="/static/clinic-live.js" defer>' in page
    service = clinic.pumps.service(SERIAL, patient=PatientFacts())
    plan = service.plan(ClinicianBolus(100_000, 6 * 3_600_000), SETUP)  # 0.1 mg over 6 h: it runs past the test
    assert plan.allowed, [f.message for f in plan.findings]
    assert service.execute(plan, SETUP, confirmed=True).status is ExecutionStatus.DONE
    clock.seconds += READ_EVERY_S
    bolus = viewer.http.get(f"/pumps/{SERIAL}/live").json()["bolus"]
    assert bolus["kind"] == "clinician" and bolus["volume_nl"] == 10_000
    assert bolus["text"].startswith("clinician bolus of 0.1 mg of morphine (0.01 mL): ")
    assert bolus["ends_text"].startswith("ends about ") and bolus["ends_text"].endswith(" (pump clock)")
    assert bolus["ends_wall_ms"] > 0
    page = viewer.get(f"/pumps/{SERIAL}").text  # type: ignore[attr-defined]
    assert "clinician bolus of 0.1 mg of morphine" in page
