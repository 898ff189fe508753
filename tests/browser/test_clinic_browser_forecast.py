"""The Finish screen's forecast panel in Debian's chromium: shown at once as working, then filled with no click."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.browser.browser_rig import live_server
from tests.browser.test_clinic_browser_workflows import sign_in
from tests.clinic.clinic_web_rig import WebClinic, web_clinic

from thecal.apps.clinic.web.forecast_panel import ForecastSettings

SERIAL = "NGP-BFC-1"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[WebClinic, str]]:
    """A clinic with one patient whose pump (morphine 10 mg/mL, 1 mg/day) was set up 7 days ago, served live."""
    with web_clinic(f"sqlite:///{tmp_path / 'clinic.db'}", tmp_path) as clinic:
        clinic.add_patient("MRN-BFC-1", "Haddad", serial=SERIAL)
        clinic.start_pump(SERIAL)
        clinic.app.state.forecast_settings = ForecastSettings(draws=2, weeks=1)
        with live_server(clinic.app) as base:
            yield clinic, base


def test_the_forecast_panel_fills_in_after_the_finish_screen_is_shown(
    page: Page, served: tuple[WebClinic, str]
) -> None:
    _, base = served
    sign_in(page, base, "nurse")
    page.goto(f"{base}/pumps/{SERIAL}/workflow/prescribe")
    page.get_by_label("Continuous: one daily dose around the clock").check()
    page.get_by_label("Daily dose", exact=True).fill("1.2 mg/day")
    page.get_by_role("button", name="Plan it: show the Finish screen").click()
    expect(page.get_by_role("heading", name="Finish: prescription change")).to_be_visible()
    panel = page.locator("#forecast")
    expect(panel.get_by_role("heading", name="What the model forecasts")).to_be_visible()
    expect(page.get_by_role("button", name="Send to pump")).to_be_enabled()  # never waits for the forecast
    table = panel.locator("#forecast-table")
    expect(table).to_contain_text("continuous 1.2 mg/day", timeout=60_000)
    expect(table).to_contain_text("mg/day")
    expect(panel).to_have_attribute("aria-busy", "false")
    expect(panel).to_contain_text("not a measurement of this patient")
