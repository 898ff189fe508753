"""Accessibility of every page of the patient's app: axe-core in Debian's chromium at a phone's size.

axe-core comes with the `axe-playwright-python` package (nothing is downloaded at test time). Every page, and every
kind of answer a press can get, is checked for violations of serious or critical impact; every control (button,
link, field) has an accessible name in the browser's own accessibility tree; the answer to a press is in a live
region.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from tests.browser.browser_rig import live_server
from tests.patient_app.patient_rig import Rig, make_rig

from thecal.telemetry.transport import Fate

pytestmark = pytest.mark.viewport("phone")
BLOCKING = ("serious", "critical")
CONTROL_ROLES = {"button", "link", "textbox", "combobox", "radio", "checkbox", "listbox", "menuitem", "switch"}


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = make_rig(tmp_path)
    made.state.refresh_ms = 0  # a page that reads the pump again would change under the check
    yield made
    made.state.store.close()
    made.pump.stop()


@pytest.fixture
def base(rig: Rig) -> Iterator[str]:
    with live_server(rig.app()) as url:
        yield url


def blocking_violations(axe: Axe, page: Page) -> list[str]:
    """axe-core's violations of serious or critical impact on the page, each as rule: nodes."""
    found = axe.run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}" for v in found if v["impact"] in BLOCKING]


def unnamed_controls(page: Page) -> list[str]:
    """Controls in chromium's accessibility tree without an accessible name."""
    cdp = page.context.new_cdp_session(page)
    try:
        nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        cdp.detach()
    out = []
    for node in nodes:
        role = (node.get("role") or {}).get("value")
        if node.get("ignored") or role not in CONTROL_ROLES:
            continue
        name = str((node.get("name") or {}).get("value") or "").strip()
        if not name:
            out.append(f"{role} #{node.get('backendDOMNodeId')}")
    return out


def check(axe: Axe, page: Page) -> int:
    """Assert the page has no serious or critical violation and no unnamed control; how many controls it has."""
    assert blocking_violations(axe, page) == [], page.url
    assert unnamed_controls(page) == [], page.url
    return page.locator("button, a[href], input:not([type=hidden]), select, textarea").count()


def press(page: Page, base: str) -> None:
    page.goto(base + "/")
    page.get_by_role("button", name="Request dose").click()
    page.wait_for_url("**/dose/**")


def answer_in_live_region(page: Page, kind: str, words: str) -> None:
    """The answer of a press is in a live region, of this kind, saying these words."""
    answer = page.locator("#answer")
    expect(answer).to_have_attribute("data-kind", kind)
    expect(answer).to_have_attribute("aria-live", "assertive" if kind in ("not_confirmed", "alarm") else "polite")
    expect(answer).to_contain_text(words)


@pytest.mark.parametrize("path", ["/", "/diary", "/alarms", "/mri", "/help", "/dose/no-such-request"])
def test_every_page_passes_axe(page: Page, base: str, axe: Axe, path: str) -> None:
    page.goto(base + path)
    assert check(axe, page) > 0


def test_the_diary_with_entries_and_its_chart_passes_axe(page: Page, base: str, axe: Axe, rig: Rig) -> None:
    press(page, base)
    page.goto(base + "/diary")
    # An empty submit: the browser's own check stops it; a kept error is shown by the server on a bad value.
    for pain, effect in ((6, "nausea"), (3, "itching")):
        page.get_by_role("radio", name=str(pain), exact=True).check()
        page.get_by_role("checkbox", name=effect).check()
        page.get_by_role("button", name="Save entry").click()
        expect(page.get_by_role("status")).to_contain_text("Saved in your diary.")
    expect(page.locator("figure.chart svg")).to_be_visible()
    check(axe, page)


PressSetUp = Callable[[Rig, Page, str], None]


def _given(rig: Rig, page: Page, base: str) -> None:
    press(page, base)


def _locked_out(rig: Rig, page: Page, base: str) -> None:
    press(page, base)
    rig.pump_hours(0.25)
    press(page, base)


def _daily_maximum(rig: Rig, page: Page, base: str) -> None:
    for _ in range(4):
        press(page, base)
        rig.pump_hours(1.1)
    press(page, base)


def _out_of_range(rig: Rig, page: Page, base: str) -> None:
    page.goto(base + "/")
    rig.link.out_of_range()
    page.get_by_role("button", name="Request dose").click()
    page.wait_for_url("**/dose**")


def _not_confirmed(rig: Rig, page: Page, base: str) -> None:
    page.goto(base + "/")
    rig.link.lose_the_reply_then_range()
    page.get_by_role("button", name="Request dose").click()
    page.wait_for_url("**/dose/**")


def _not_given(rig: Rig, page: Page, base: str) -> None:
    page.goto(base + "/")
    rig.link.script.extend([Fate.DELIVER])
    rig.link.standing = Fate.DROP_REQUEST
    page.get_by_role("button", name="Request dose").click()
    page.wait_for_url("**/dose/**")
    rig.link.in_range()
    page.get_by_role("button", name="Check with the pump").click()


def _alarm(rig: Rig, page: Page, base: str) -> None:
    rig.motor_stall()
    page.goto(base + "/")


def _off(rig: Rig, page: Page, base: str) -> None:
    assert rig.pump.session("clinician").request("ptm_off").ok
    page.goto(base + "/")


ANSWERS: dict[str, tuple[PressSetUp, str, str]] = {
    "given": (_given, "given", "Dose given"),
    "locked out": (_locked_out, "locked_out", "Locked out until 23:13"),
    "daily maximum": (_daily_maximum, "daily_maximum", "4 of 4 doses"),
    "out of range": (_out_of_range, "out_of_range", "Pump not found: nothing was given"),
    "not confirmed": (_not_confirmed, "not_confirmed", "NOT CONFIRMED"),
    "not given": (_not_given, "not_given", "The pump confirms: no dose was given"),
    "alarm": (_alarm, "alarm", "two tones, repeated"),
    "demand doses off": (_off, "off", "Extra doses are not switched on"),
}


@pytest.mark.parametrize("name", list(ANSWERS))
def test_each_answer_passes_axe_and_is_in_a_live_region(page: Page, base: str, axe: Axe, rig: Rig, name: str) -> None:
    set_up, kind, words = ANSWERS[name]
    set_up(rig, page, base)
    answer_in_live_region(page, kind, words)
    check(axe, page)


def test_the_mri_card_is_one_labelled_card(page: Page, base: str, axe: Axe) -> None:
    page.goto(base + "/mri")
    card = page.get_by_role("article", name="MRI card: implanted drug pump")
    expect(card).to_contain_text("The clinic must check the pump after the scan")
    check(axe, page)


def test_the_check_itself_finds_an_unnamed_button(page: Page, axe: Axe) -> None:
    # The same two checks on a page with a nameless button: both must see it, or the passes above prove nothing.
    page.set_content('<!doctype html><html lang="en"><title>x</title><main><h1>x</h1><button></button></main></html>')
    assert any(v.startswith("button-name (critical)") for v in blocking_violations(axe, page))
    missing = unnamed_controls(page)
    assert len(missing) == 1 and missing[0].startswith("button")


def test_a_new_alarm_shown_on_another_page_passes_axe(page: Page, base: str, axe: Axe, rig: Rig) -> None:
    rig.state.refresh_ms = 250  # this page reads the pump again by itself
    page.goto(base + "/diary")
    rig.motor_stall()
    banner = page.locator("#pump-alarm")
    expect(banner).to_contain_text("The pump's motor has stopped")
    expect(banner).to_have_attribute("aria-live", "assertive")
    check(axe, page)
