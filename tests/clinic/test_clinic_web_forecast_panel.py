"""The Finish screen's forecast panel: the placeholder at once, the fragment from its own route, 404 once gone.

Each test runs on SQLite and on PostgreSQL, with a pump daemon set up through the therapy layer days before. The
forecast is kept small (2 draws, 1 week) through the app's forecast settings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.clinic.clinic_web_rig import WebClinic, web_clinic
from tests.clinic.test_clinic_web_finish import words

from thecal.apps.clinic.web.forecast_panel import ForecastSettings

SERIAL = "NGP-FC-1"


@pytest.fixture
def clinic(clinic_db_url: str, tmp_path: Path) -> Iterator[WebClinic]:
    """A clinic with one patient whose pump (morphine 10 mg/mL, 1 mg/day) was set up 7 days ago; small forecasts."""
    with web_clinic(clinic_db_url, tmp_path) as clinic:
        clinic.add_patient("MRN-FC-1", "Adeyemi", serial=SERIAL)
        clinic.start_pump(SERIAL)
        clinic.app.state.forecast_settings = ForecastSettings(draws=2, weeks=1)
        yield clinic


def test_the_finish_screen_shows_the_panel_at_once_and_its_route_fills_it(clinic: WebClinic) -> None:
    nurse = clinic.client("nurse")
    finish = nurse.post(f"/pumps/{SERIAL}/workflow/prescribe", {"mode": "continuous", "dose": "1.2 mg/day"})
    assert finish.status_code == 200
    page = finish.text
    assert 'id="forecast"' in page and "What the model forecasts" in page and "Working out the forecast…" in page
    assert '<script src="/static/clinic-forecast.js" defer></script>' in page
    token = nurse.plan_token()
    assert f'data-forecast-url="/plans/{token}/forecast"' in page
    assert 'id="send"' in page  # the plan can be sent while the forecast is worked out

    panel = nurse.get(f"/plans/{token}/forecast")
    assert panel.status_code == 200 and panel.headers["content-type"].startswith("text/html")
    text = words(panel.text)
    assert "continuous 1 mg/day" in text and "continuous 1.2 mg/day" in text
    assert "Pain felt, week 1 (0-10)" in text and "Toxicity" in text
    assert "Morphine reaching the catheter tip, per day" in text and "mg/day (" in text
    # A model's median is shown to three significant figures, not to the nanogram.
    tip_row = text[text.index("Morphine reaching the catheter tip, per day") : text.index("Reservoir low")]
    doses = re.findall(r"([0-9.]+) mg/day", tip_row)
    assert len(doses) == 6 and all(len(d.replace(".", "").lstrip("0")) <= 3 for d in doses), doses
    assert "Reservoir low (2 mL alarm)" in text and "Reservoir empty" in text and "in " in text
    assert "Planned minus current" in text
    assert "no pain score on record: the model assumes pain 7.5 before the pump" in text
    assert "a model's forecast for planning, not a measurement of this patient" in text
    # Kept for the plan: asked again (a reload), the same panel comes back.
    assert nurse.get(f"/plans/{token}/forecast").text == panel.text
    assert clinic.app.state.forecasts.kept(token) is not None

    static = nurse.get("/static/clinic-forecast.js")
    assert static.status_code == 200 and "forecastUrl" in static.text


def test_an_unknown_or_gone_plan_gives_404_in_words(clinic: WebClinic) -> None:
    nurse = clinic.client("nurse")
    missing = nurse.get("/plans/no-such-token/forecast")
    assert missing.status_code == 404
    assert "No forecast: this plan is no longer waiting" in words(missing.text)
    finish = nurse.post(f"/pumps/{SERIAL}/workflow/prescribe", {"mode": "continuous", "dose": "1.2 mg/day"})
    assert finish.status_code == 200
    token = nurse.plan_token()
    nurse.post(f"/plans/{token}/cancel")
    assert nurse.get(f"/plans/{token}/forecast").status_code == 404


def test_a_viewer_is_refused_as_everywhere_and_a_signed_out_browser_goes_to_sign_in(clinic: WebClinic) -> None:
    viewer = clinic.client("viewer")
    refused = viewer.get("/plans/anything/forecast")
    assert refused.status_code == 403 and "Not permitted" in refused.text
    out = clinic.client()
    answer = out.get("/plans/anything/forecast", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_a_plan_that_does_not_change_the_basal_dose_has_no_panel(clinic: WebClinic) -> None:
    nurse = clinic.client("nurse")
    finish = nurse.post(f"/pumps/{SERIAL}/workflow/prescribe", {"mode": "continuous", "dose": "1 mg/day"})
    assert 'id="forecast"' not in finish.text
