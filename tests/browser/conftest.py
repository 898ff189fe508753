"""Browser fixtures: Debian's chromium driven by Playwright (sync API), headless.

The project's set-up (`.ci/setup-system`) installs Debian's chromium at
/usr/bin/chromium; the browser Playwright would download cannot be fetched
here, so it is launched by its executable path. A missing chromium fails the
test (it is never skipped): run `.ci/setup-system` as root.

`page` opens a fresh browser context per test. Its viewport is the desktop
one unless the test asks for a phone, either by a marker,
`@pytest.mark.viewport("phone")`, or by parametrizing the `viewport` fixture
indirectly: `@pytest.mark.parametrize("viewport", ["phone", "desktop"], indirect=True)`.
A test serves the app it drives with `browser_rig.live_server(app)`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from tests.browser.browser_rig import CHROMIUM, VIEWPORTS, Viewport, launch_arguments


def pytest_configure(config: pytest.Config) -> None:
    """Register the viewport marker."""
    config.addinivalue_line("markers", f"viewport(name): show the test's page on one of: {', '.join(VIEWPORTS)}")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """The Playwright driver, for the whole test session."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's chromium, headless, for the whole test session; the test fails when it is missing."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Debian's chromium is missing at {CHROMIUM}: the browser tests need it. Run `.ci/setup-system` as root "
            "(it runs `apt-get install -y chromium`), then run the tests again.",
            pytrace=False,
        )
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=launch_arguments())
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def viewport(request: pytest.FixtureRequest) -> Viewport:
    """The screen of the test's page: a parameter of this fixture, else the viewport marker, else the desktop."""
    name = getattr(request, "param", None)
    if name is None:
        marker = request.node.get_closest_marker("viewport")
        name = marker.args[0] if marker is not None and marker.args else "desktop"
    if name not in VIEWPORTS:
        pytest.fail(f"viewport {name!r} is not one of: {', '.join(VIEWPORTS)}", pytrace=False)
    return VIEWPORTS[name]


@pytest.fixture
def page(browser: Browser, viewport: Viewport) -> Iterator[Page]:
    """A new page in a fresh context (no cookies, no storage) on the test's viewport."""
    context = browser.new_context(
        viewport={"width": viewport.width, "height": viewport.height},
        device_scale_factor=viewport.scale,
        is_mobile=viewport.mobile,
        has_touch=viewport.mobile,
    )
    try:
        yield context.new_page()
    finally:
        context.close()
