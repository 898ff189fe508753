"""Test helpers for the patient's app: a filled pump with demand doses on, its PTM paired, a link that can be lost.

The pump is the daemon of tests/daemon/daemon_rig.py (in this process, on loopback TCP, a fake time source at
1440× so 2.5 s of fake time is one pump hour). The app reaches it through a second server of the same daemon whose
frames pass or are lost as the test says (`Link`): out of range loses every request; `lose_the_reply_then_range`
lets the eligibility read through, loses the reply to the dose request after the pump acted, then every frame.
"""

from __future__ import annotations

import random
import re
from collections import deque
from dataclasses import dataclass
from html import unescape
from pathlib import Path

from tests.daemon.daemon_rig import DEMAND_LIMITS, MORPHINE_FILL, START_WALL_MS, RunningPump, continuous, start

from thecal.apps.patient.web import PatientApp, build_app
from thecal.devices.daemon import init_state
from thecal.devices.ptm import TherapyManagerClient
from thecal.telemetry.transport import Fate

PUMP_HOUR_S = 2.5  # fake real seconds per pump hour at the rig's 1440×
DIARY_START_MS = START_WALL_MS  # the phone's clock in the tests starts with the pump's


class Link:
    """A loss model the test switches: scripted fates first, then the standing one."""

    def __init__(self) -> None:
        self.script: deque[Fate] = deque()
        self.standing = Fate.DELIVER

    def fate(self, rng: random.Random) -> Fate:
        """The next fate."""
        return self.script.popleft() if self.script else self.standing

    def out_of_range(self) -> None:
        """Every request from now on is lost before the pump sees it."""
        self.script.clear()
        self.standing = Fate.DROP_REQUEST

    def in_range(self) -> None:
        """Every frame passes."""
        self.script.clear()
        self.standing = Fate.DELIVER

    def lose_the_reply_then_range(self) -> None:
        """The eligibility read passes; the pump acts on the dose request but its reply is lost; then out of range."""
        self.script.extend([Fate.DELIVER, Fate.DROP_REPLY])
        self.standing = Fate.DROP_REQUEST

    def lose_the_request_then_range(self) -> None:
        """The eligibility read passes; the dose request is lost before the pump sees it, then every frame."""
        self.script.extend([Fate.DELIVER])
        self.standing = Fate.DROP_REQUEST


class Clock:
    """The phone's local clock for the diary: moves only when told."""

    def __init__(self) -> None:
        self.now_ms = DIARY_START_MS

    def __call__(self) -> int:
        return self.now_ms


@dataclass
class Rig:
    """A running pump, the lossy link the app uses, and the app's state."""

    pump: RunningPump
    link: Link
    state: PatientApp
    clock: Clock

    def app(self):
        """The web app over this rig's state."""
        return build_app(self.state)

    def doses_given(self) -> int:
        """Demand doses the pump's own log shows started."""
        return sum(
            1
            for e in self.pump.daemon.pump.firmware.state.log
            if e.kind == "bolus_start" and dict(e.detail).get("kind") == "demand"
        )

    def pump_hours(self, hours: float) -> None:
        """Let pump time pass (the pump catches up when the next frame arrives)."""
        self.pump.time.now_s += hours * PUMP_HOUR_S

    def motor_stall(self) -> None:
        """Inject a motor stall into the pump's hardware (a critical, two-tone alarm)."""
        with self.pump.daemon._lock:
            self.pump.daemon.pump.motor_fault(True)


def make_rig(tmp_path: Path, sink=None) -> Rig:
    """A filled pump at 5 mg/day with demand doses of 0.1 mg (1 h lockout, 4 a day), its PTM paired, the app."""
    layout = init_state(tmp_path / "pump", wall_ms=START_WALL_MS)
    pump = start(layout)
    pump.pair("clinician")
    clinician = pump.session("clinician")
    assert clinician.request("refill_update", **MORPHINE_FILL).ok
    assert clinician.request("program_therapy", **continuous(5_000_000)).ok
    assert clinician.request("ptm_settings", **DEMAND_LIMITS).ok
    pump.pair("ptm")
    link = Link()
    server = pump.daemon.server(0, link).start()
    pump.extra_servers.append(server)
    device = layout.device("ptm")
    (device / "patient.json").write_text('{"drug": "morphine", "clinic_phone": "+44 20 7946 0000"}')
    client = TherapyManagerClient.connect(device, server.port)
    clock = Clock()
    state = PatientApp(device, lambda: client, sink, clock)
    return Rig(pump, link, state, clock)


PRESS_ID = re.compile(r'name="press_id" value="([^"]+)"')
FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')


def press_form(html: str) -> dict[str, str]:
    """The fields of the Request dose form on a page."""
    return {"press_id": PRESS_ID.search(html)[1], "form_key": FORM_KEY.search(html)[1]}  # type: ignore[index]


def answer_kind(html: str) -> str:
    """The kind of the first answer on a page."""
    return re.search(r'data-kind="([a-z_]+)"', html)[1]  # type: ignore[index]


def text_of(html: str) -> str:
    """The page's text without tags, spaces folded."""
    inline = re.sub(r"</?span[^>]*>", "", html)  # a span sits inside a sentence (the countdown): no space for it
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", inline)).split())
