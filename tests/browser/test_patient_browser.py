"""The patient's app in Debian's chromium at a phone's size, against a real pump daemon: the answers a patient meets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.browser.browser_rig import live_server
from tests.patient_app.patient_rig import Rig, make_rig

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
pytestmark = pytest.mark.viewport("phone")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = make_rig(tmp_path)
    yield made
    made.state.store.close()
    made.pump.stop()


@pytest.fixture
def base(rig: Rig) -> Iterator[str]:
    with live_server(rig.app()) as url:
        yield url


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


def test_a_press_during_the_lockout_shows_the_right_time(page: Page, base: str, rig: Rig) -> None:
    request_dose(page, base)
    rig.pump_hours(0.25)
    request_dose(page, base)
    answer = page.get_by_role("status")
    expect(answer).to_contain_text("Locked out until 23:13: no dose was given")
    expect(answer).to_contain_text("in 45 min")
    assert rig.doses_given() == 1
    page.screenshot(path=str(IMAGES / "ptm-locked-out.png"), full_page=True)


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
    page.reload()
    expect(page.get_by_role("status")).to_contain_text("Dose given")
    page.go_back()
    page.reload()
    assert rig.doses_given() == 1


def test_a_double_click_gives_one_dose(page: Page, base: str, rig: Rig) -> None:
    page.goto(base + "/")
    page.get_by_role("button", name="Request dose").dblclick()
    page.wait_for_url("**/dose/**")
    expect(page.get_by_role("status")).to_contain_text("Dose given")
    assert rig.doses_given() == 1


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
