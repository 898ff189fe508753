"""What the browser tests share: Debian's chromium, the screens a page is shown on, and a live server.

`live_server(app)` serves an ASGI app (the clinic's FastAPI app) with uvicorn
on a free loopback port in a thread, for the length of a `with` block, and
gives its base URL.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
SERVER_START_TIMEOUT_S = 30.0  # a bound on waiting for the server, never a measure of its speed


@dataclass(frozen=True)
class Viewport:
    """A screen a page is shown on."""

    width: int
    height: int
    scale: float
    mobile: bool


VIEWPORTS = {
    "desktop": Viewport(1280, 800, 1.0, False),
    "phone": Viewport(390, 844, 3.0, True),  # a 6.1-inch phone's CSS pixels
}


def launch_arguments() -> list[str]:
    """Chromium's arguments: without its sandbox when running as root, which the sandbox refuses."""
    return ["--no-sandbox"] if os.geteuid() == 0 else []


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Serve an ASGI app on 127.0.0.1 in a thread for the block; its base URL, like http://127.0.0.1:PORT."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the live server did not start on 127.0.0.1:{port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(SERVER_START_TIMEOUT_S)
