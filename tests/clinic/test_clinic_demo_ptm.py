"""The demo clinic's handsets: each demo patient with demand doses gets a paired therapy manager app beside the
programmer, with a diary token the clinic issued, so a diary entry reaches the clinic's record; stopped on exit."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.browser.browser_rig import live_server

from thecal.apps.clinic.demo import DemoClinic
from thecal.apps.patient.demo import DemoHandsets, HandsetPatient
from thecal.cli.clinic import DEMO_CLINIC_NAME, DEMO_CLINIC_PHONE, demo_app, demo_handset_patients

WITH_PTM, WITHOUT_PTM = "NGP-DEMO-001", "NGP-DEMO-003"  # morphine with a handset; ziconotide without one


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoClinic, Any, Path]]:
    folder = tmp_path_factory.mktemp("demo-ptm")
    with DemoClinic(folder, accel=60.0, serials=[WITH_PTM, WITHOUT_PTM]) as demo:
        app, _, close = demo_app(demo, folder)
        try:
            yield demo, app, folder
        finally:
            close()


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as reply:
        return reply.read().decode()


def _post(url: str, fields: dict[str, str]) -> int:
    body = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(url, data=body, method="POST")
    with urllib.request.urlopen(request, timeout=30) as reply:
        return reply.status


def test_only_the_patients_with_demand_doses_get_a_handset_each_with_a_token(clinic) -> None:
    demo, app, _ = clinic
    patients = demo_handset_patients(demo, app.state.desk.store)
    assert [p.serial for p in patients] == [WITH_PTM]
    patient: HandsetPatient = patients[0]
    assert patient.name == "Maja Lindqvist" and patient.drug == "morphine"
    assert patient.clinic_token and patient.pump_port == demo.pumps.link(WITH_PTM).port


def test_the_handset_is_served_paired_and_its_diary_reaches_the_clinic(clinic) -> None:
    demo, app, _ = clinic
    store = app.state.desk.store
    patients = demo_handset_patients(demo, store)
    with live_server(app) as clinic_url:
        handsets = DemoHandsets(clinic_name=DEMO_CLINIC_NAME, clinic_phone=DEMO_CLINIC_PHONE, clinic_url=clinic_url)
        with handsets:
            served = handsets.start(patients, [0], demo.pumps.place_head)
            assert [(h.serial, h.name) for h in served] == [(WITH_PTM, "Maja Lindqvist")]
            url = served[0].url
            home = _get(url + "/")
            assert "Maja Lindqvist" in home and 'data-kind="possible"' in home  # paired: the pump answered
            assert DEMO_CLINIC_PHONE in _get(url + "/help")
            diary = _get(url + "/diary")
            key = re.search(r'name="form_key" value="([^"]+)"', diary)[1]  # type: ignore[index]
            fields = {"form_key": key, "pain": "4", "activity": "walking", "notes": "demo entry"}
            assert _post(url + "/diary", fields) == 200  # redirected to the saved diary
            record = store.patient_by_mrn(demo.patients()[0].mrn)
            kept = store.observations(record.id)
            assert [(o.pain_0_10, o.activity, o.notes) for o in kept] == [(4, "walking", "demo entry")]
        with pytest.raises(urllib.error.URLError):
            _get(url + "/")  # stopped with the demo
