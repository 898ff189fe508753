"""The patient's app beyond a press: alarms explained, the diary kept and sent, the information pages."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from fastapi.testclient import TestClient
from tests.patient_app.patient_rig import Rig, answer_kind, make_rig, press_form, text_of

from thecal.apps.patient.clinic_sync import ClinicObservations, SyncError
from thecal.apps.patient.store import HandsetStore
from thecal.pump.core.alarms import RULES, Alarm


def test_an_alarm_is_explained_with_its_sound_and_what_to_do(rig: Rig, client: TestClient) -> None:
    rig.motor_stall()
    html = client.get("/").text
    text = text_of(html)
    assert answer_kind(html) == "alarm" and 'role="alert"' in html
    assert "The pump's motor has stopped: you may be getting no medicine." in text
    assert "Sound: two tones, repeated (a critical alarm)." in text
    assert "Call your clinic now" in text and "emergency department today" in text
    pressed = client.post("/dose", data=press_form(html)).text
    assert answer_kind(pressed) == "alarm" and "no dose was given" in text_of(pressed) and rig.doses_given() == 0


def test_the_alarm_page_names_every_firmware_alarm_and_its_source(client: TestClient) -> None:
    text = text_of(client.get("/alarms").text)
    for alarm in Alarm:
        assert ("Critical: " if RULES[alarm].critical else "Warning: ") in text
    assert text.count("Sound: two tones") == sum(RULES[a].critical for a in Alarm)
    assert text.count("Sound: a single tone") == sum(not RULES[a].critical for a in Alarm)
    assert "Medtronic patient pages" in text


def test_a_diary_entry_is_stored_in_the_device_directory(rig: Rig, client: TestClient) -> None:
    key = press_form(client.get("/").text)["form_key"]
    form = {"form_key": key, "pain": "6", "activity": "walking", "side_effects": ["nausea", "itching"], "notes": "x"}
    saved = client.post("/diary", data=form)
    assert saved.status_code == 200 and "Saved in your diary." in saved.text
    store = HandsetStore(rig.state.device_dir / "patient_app.sqlite3")  # read back as a fresh process would
    (entry,) = store.entries()
    store.close()
    assert (entry.pain, entry.activity, entry.side_effects, entry.notes) == (6, "walking", ("nausea", "itching"), "x")
    assert "<svg" in saved.text and "1 pain scores" in saved.text


@pytest.mark.parametrize(
    ("pain", "words"), [("11", "pain = '11': is outside 0 to 10"), ("", "is not a pain score"), ("٥", "pain")]
)
def test_a_bad_pain_score_is_refused_by_name(rig: Rig, client: TestClient, pain: str, words: str) -> None:
    key = press_form(client.get("/").text)["form_key"]
    reply = client.post("/diary", data={"form_key": key, "pain": pain, "activity": "resting"})
    assert reply.status_code == 422 and words in text_of(reply.text) and rig.state.store.entries() == []


def test_the_chart_shows_the_doses_taken(rig: Rig, client: TestClient) -> None:
    client.post("/dose", data=press_form(client.get("/").text))
    assert "and 1 doses" in client.get("/diary").text


class _Clinic(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict]]] = []
    answer = 201

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Clinic.received.append((self.headers["Authorization"], body))
        self.send_response(_Clinic.answer)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_diary_entries_go_to_the_clinic_as_observations_and_wait_when_it_refuses(tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Clinic)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    rig = make_rig(tmp_path, ClinicObservations(url, "tok-123"))
    try:
        with TestClient(rig.app()) as client:
            key = press_form(client.get("/").text)["form_key"]
            _Clinic.answer = 503
            client.post("/diary", data={"form_key": key, "pain": "4", "activity": "resting"})
            assert len(rig.state.store.unsent()) == 1
            assert "1 entry waiting to be sent to your clinic" in text_of(client.get("/diary").text)
            _Clinic.answer = 201
            client.post("/diary", data={"form_key": key, "pain": "3", "activity": "sleeping", "notes": "better"})
            assert rig.state.store.unsent() == []
            assert "Every entry has reached your clinic." in text_of(client.get("/diary").text)
    finally:
        server.shutdown()
        rig.state.store.close()
        rig.pump.stop()
    auth, body = _Clinic.received[-1]
    assert auth == "Bearer tok-123"
    assert body["pain_0_10"] == 3 and body["loinc"] == "72514-3" and body["notes"] == "better"
    assert {b["pain_0_10"] for _, b in _Clinic.received} == {3, 4}


def test_an_unreachable_clinic_is_a_sync_error_that_names_the_address() -> None:
    from thecal.apps.patient.store import DiaryEntry

    sink = ClinicObservations("http://127.0.0.1:9", "t")
    with pytest.raises(SyncError, match=r"127\.0\.0\.1:9/api/patient/observations"):
        sink.send("x", DiaryEntry(1, 0, 3, "resting", (), ""))


def test_the_information_pages(rig: Rig, client: TestClient) -> None:
    mri = text_of(client.get("/mri").text)
    assert "stops the pump's motor for the scan" in mri and "resumes on its own" in mri
    assert "The clinic must check the pump after the scan" in mri and "+44 20 7946 0000" in mri
    help_text = text_of(client.get("/help").text)
    assert "Ask your clinic for your next refill date." in help_text
    (rig.state.device_dir / "patient.json").write_text('{"next_refill": "2024-02-01"}')
    with TestClient(rig.app()) as again:
        rig.state.info = type(rig.state.info).load(rig.state.device_dir)
        assert "due by 2024-02-01" in text_of(again.get("/help").text)


def test_every_page_names_its_controls(client: TestClient) -> None:
    html = client.get("/").text
    assert '<button type="submit" class="dose"' in html and "Request dose</button>" in html
    assert 'lang="en"' in html and 'name="viewport"' in html


def test_the_serve_command_refuses_a_bad_pump_port(capsys) -> None:
    from thecal.cli import main

    assert main(["ptm", "serve", "--device", "/nonexistent", "--pump-port", "70000"]) == 2
    assert "--pump-port" in capsys.readouterr().err
