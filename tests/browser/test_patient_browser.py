"""The patient's app in Debian's chromium at a phone's size, against a real pump daemon: the answers a patient meets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.browser.browser_rig import live_server
from tests.patient_app.patient_rig import Rig, make_rig

from thecal.devices.programmer import ProgrammerClient

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
pytestmark = pytest.mark.viewport("phone")
LIVE_MS = 250  # how often a page reads the pump again in these tests (the app's default is 10 s)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = make_rig(tmp_path)
    made.state.refresh_ms = 0  # a page reads the pump again by itself only where a test asks for it (LIVE_MS)
    yield made
    made.state.store.close()
    made.pump.stop()


@pytest.fixture
def base(rig: Rig) -> Iterator[str]:
    with live_server(rig.app()) as url:
        yield url


def pump_log_doses(rig: Rig) -> int:
    """Demand doses the pump's event log shows started, read by the clinician's programmer over telemetry."""
    entries = ProgrammerClient(rig.pump.session("clinician")).read_whole_log()
    return sum(1 for e in entries if e["kind"] == "bolus_start" and e["detail"].get("kind") == "demand")  # type: ignore[union-attr,attr-defined]


def request_dose(page: Page, base: str) -> None:
    page.goto(base + "/")
    page.get_by_role("button", name="Request dose").click()
    page.wait_for_url("**/dose/**")


def test_a_dose_given_on_a_phone(page: Page, base: str, rig: Rig) -> None:
    page.goto(base + "/")
    button = page.get_by_role("button", name="Request dose")
    box = button.bounding_box()
    assert box is not None and box["width"] >= 44 and box["height"] >= 44
    button.focus()
    page.keyboard.press("Enter")  # operable by keyboard
    page.wait_for_url("**/dose/**")
    answer = page.get_by_role("status")
    expect(answer).to_contain_text("Dose given")
    expect(answer).to_contain_text("0.1 mg of morphine started at 22:13")
    expect(answer).to_contain_text("Next dose possible at 23:13")
    assert rig.doses_given() == 1
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / "ptm-dose-given.png"), full_page=True)


def test_a_press_during_the_lockout_shows_the_right_time_and_the_countdown_moves(
    page: Page, base: str, rig: Rig
) -> None:
    rig.state.refresh_ms = LIVE_MS
    request_dose(page, base)
    rig.pump_hours(0.25)
    request_dose(page, base)
    answer = page.get_by_role("status")
    expect(answer).to_contain_text("Locked out until 23:13: no dose was given")
    expect(answer).to_contain_text("in 45 min")
    countdown = answer.locator(".countdown .count-shown")
    expect(countdown).to_have_text("in 45 min")  # the script shows the moving figure
    rig.pump_hours(0.2)  # twelve pump minutes pass: the page follows the pump's clock without a press
    expect(countdown).to_have_text("in 33 min")
    expect(answer).to_contain_text("Locked out until 23:13")  # the time itself does not move
    # Said to a screen reader politely, by its own region, not the ticking figure.
    expect(page.locator("#countdown-said")).to_have_attribute("aria-live", "polite")
    expect(page.locator("#countdown-said")).to_have_text("Next dose possible in 33 min.")
    expect(countdown).to_have_attribute("aria-hidden", "true")
    assert rig.doses_given() == 1 and pump_log_doses(rig) == 1
    page.screenshot(path=str(IMAGES / "ptm-locked-out.png"), full_page=True)


def test_without_scripts_the_lockout_time_and_minutes_are_right(browser, base: str, rig: Rig) -> None:
    request = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    try:
        page = request.new_page()
        request_dose(page, base)
        rig.pump_hours(0.25)
        request_dose(page, base)
        answer = page.locator("#answer")
        expect(answer).to_contain_text("Locked out until 23:13: no dose was given")
        expect(answer).to_contain_text("The next dose is possible at 23:13 (in 45 min).")
        expect(answer.locator(".count-shown")).to_be_hidden()
    finally:
        request.close()


def test_the_start_page_shows_the_end_of_a_dose_and_a_new_alarm_without_a_press(
    page: Page, base: str, rig: Rig
) -> None:
    rig.state.refresh_ms = LIVE_MS
    request_dose(page, base)
    page.goto(base + "/")
    answer = page.locator("#answer")
    expect(answer).to_contain_text("Your extra dose is being given now; it ends at 22:18.")
    rig.pump_hours(0.1)
    expect(answer).to_contain_text("Your last extra dose has been given completely (it ended at 22:18).")
    rig.motor_stall()
    expect(answer).to_have_attribute("role", "alert")
    expect(answer).to_contain_text("The pump's motor has stopped")
    expect(answer).to_contain_text("Call your clinic now")
    # Any other page shows it too.
    page.goto(base + "/diary")
    expect(page.locator("#pump-alarm")).to_contain_text("The pump's motor has stopped")
    assert pump_log_doses(rig) == 1


def test_the_daily_maximum(page: Page, base: str, rig: Rig) -> None:
    for _ in range(4):
        request_dose(page, base)
        expect(page.get_by_role("status")).to_contain_text("Dose given")
        rig.pump_hours(1.1)
    request_dose(page, base)
    answer = page.get_by_role("status")
    expect(answer).to_contain_text("Daily maximum reached")
    expect(answer).to_contain_text("4 of 4 doses allowed in the last 24 hours")
    expect(answer).to_contain_text("frees up at 22:18")
    assert rig.doses_given() == 4


def test_link_loss_mid_request_is_not_confirmed_then_the_delivered_dose(page: Page, base: str, rig: Rig) -> None:
    page.goto(base + "/")
    rig.link.lose_the_reply_then_range()
    page.get_by_role("button", name="Request dose").click()
    page.wait_for_url("**/dose/**")
    alert = page.locator("#answer")
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_contain_text("NOT CONFIRMED: the dose may have been given")
    page.screenshot(path=str(IMAGES / "ptm-not-confirmed.png"), full_page=True)
    page.get_by_role("button", name="Check with the pump").click()
    expect(page.get_by_text("The pump was not found. Nothing was sent.")).to_be_visible()
    rig.link.in_range()
    page.get_by_role("button", name="Check with the pump").click()
    expect(page.get_by_role("status")).to_contain_text("Dose given: the pump confirms it")
    expect(page.get_by_role("status")).to_contain_text("The pump's event log shows that this request gave the dose.")
    page.reload()
    expect(page.get_by_role("status")).to_contain_text("Dose given")
    page.go_back()
    page.reload()
    assert rig.doses_given() == 1 and pump_log_doses(rig) == 1


def test_a_not_confirmed_page_settles_itself_once_the_pump_is_reachable(page: Page, base: str, rig: Rig) -> None:
    rig.state.refresh_ms = LIVE_MS
    page.goto(base + "/")
    rig.link.lose_the_reply_then_range()
    page.get_by_role("button", name="Request dose").click()
    page.wait_for_url("**/dose/**")
    expect(page.locator("#answer")).to_contain_text("NOT CONFIRMED: the dose may have been given")
    rig.link.in_range()
    answer = page.get_by_role("status")
    expect(answer).to_contain_text("Dose given: the pump confirms it")
    expect(answer).to_contain_text("started at 22:13")
    assert pump_log_doses(rig) == 1


def test_a_double_click_gives_one_dose(page: Page, base: str, rig: Rig) -> None:
    page.goto(base + "/")
    page.get_by_role("button", name="Request dose").dblclick()
    page.wait_for_url("**/dose/**")
    live = page.locator("#answer[aria-live=polite]")
    expect(live).to_contain_text("Dose given")  # announced through the live region
    assert rig.doses_given() == 1 and pump_log_doses(rig) == 1


def test_a_double_click_without_scripts_gives_one_dose(browser, base: str, rig: Rig) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(base + "/")
        page.get_by_role("button", name="Request dose").dblclick()
        page.wait_for_url("**/dose/**")
        expect(page.locator("#answer")).to_contain_text("Dose given")
    finally:
        context.close()
    assert rig.doses_given() == 1


def test_an_alarm_explained(page: Page, base: str, rig: Rig) -> None:
    rig.motor_stall()
    page.goto(base + "/")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Your pump has an alarm")
    expect(alert).to_contain_text("The pump's motor has stopped")
    expect(alert).to_contain_text("two tones, repeated")
    expect(alert).to_contain_text("Call your clinic now")
    page.screenshot(path=str(IMAGES / "ptm-alarm.png"), full_page=True)
