"""The browser fixtures themselves: Debian's chromium opens a page served on loopback and clicks its button."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from tests.browser.browser_rig import CHROMIUM, Viewport, live_server

PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Smoke</title></head>
<body><h1>Pump check</h1>
<button type="button" id="place">Place the programmer head over the pump</button>
<p role="status" id="said">Not yet placed</p>
<script>
document.getElementById("place").addEventListener("click", () => {
  document.getElementById("said").textContent = "Head placed; window " + window.innerWidth + " px wide";
});
</script></body></html>
"""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served() -> Iterator[str]:
    """The tiny page, served on 127.0.0.1 for the test."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_the_browser_is_debians_chromium(browser: Browser) -> None:
    assert CHROMIUM.exists()
    assert browser.browser_type.name == "chromium"
    assert browser.version.split(".")[0].isdigit()


@pytest.mark.parametrize("viewport", ["desktop", "phone"], indirect=True)
def test_a_click_changes_the_page(page: Page, served: str, viewport: Viewport) -> None:
    page.goto(served)
    assert page.get_by_role("heading", name="Pump check").is_visible()
    status = page.get_by_role("status")
    assert status.inner_text() == "Not yet placed"
    page.get_by_role("button", name="Place the programmer head over the pump").click()
    assert status.inner_text() == f"Head placed; window {viewport.width} px wide"


@pytest.mark.viewport("phone")
def test_the_viewport_marker_gives_a_phone(page: Page, served: str) -> None:
    page.goto(served)
    assert page.evaluate("window.innerWidth") == 390
    assert page.evaluate("navigator.maxTouchPoints") > 0


async def _asgi_page(scope: dict[str, object], receive: object, send: Any) -> None:
    """The same tiny page as an ASGI app, as the clinic's app is served."""
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
    await send({"type": "http.response.body", "body": PAGE})


def test_a_live_server_serves_an_asgi_app(page: Page) -> None:
    with live_server(_asgi_page) as url:
        page.goto(url)
        page.get_by_role("button", name="Place the programmer head over the pump").click()
        assert page.get_by_role("status").inner_text().startswith("Head placed")
