"""The pump page's "Now" panel in Debian's chromium: the pump's clock moves, the panel follows with no click.

The pump lives in this process on a clock moved by hand (`HandClock`), served over loopback TCP and ticked as
its daemon process ticks itself, so the test decides when pump time passes: a clinician bolus runs while the
page is open, then the days until the low-reservoir alarm pass at once; the bolus ends and the reservoir falls
below its alarm level.
The clinic reaches the pump through its ordinary programmer and telemetry; only where the daemon listens is
told to it (`HandPumps`). axe-core then checks the page with its panel.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from tests.browser.browser_rig import live_server
from tests.browser.test_clinic_browser_workflows import sign_in
from tests.clinic.clinic_web_rig import NOW_WALL_MS, SETUP_REASON, WebClinic, done
from tests.clinic.conftest import fast_hasher

from thecal.apps.clinic.pumps import ClinicPumps, PumpLink
from thecal.apps.clinic.store import ClinicStore
from thecal.devices.daemon import DaemonTransport, HandClock, PumpDaemon
from thecal.devices.programmer import ProgrammerClient
from thecal.drugs.fill import Fill
from thecal.errors import ThecalError
from thecal.pump.core.commands import Role
from thecal.pump.core.schedule import DoseSchedule
from thecal.telemetry.device_files import DeviceFiles
from thecal.therapy import (
    ClinicianBolus,
    FirstFill,
    PatientFacts,
    Prescribe,
    PrimingBolus,
    StopTherapy,
    TelemetryPort,
    TherapyService,
)

SERIAL = "NGP-BLIVE-1"
DAY_S = 86_400.0
TICK_S = 0.1
BLOCKING = ("serious", "critical")


class HandPumps(ClinicPumps):
    """The clinic's pumps, one of which is served by a daemon in this process at a port the test gives."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.served: dict[str, int] = {}

    def link(self, serial: str) -> PumpLink:
        """Where the pump is; a pump served in this process listens at the port it was given."""
        found = super().link(serial)
        port = self.served.get(serial)
        return found if port is None else replace(found, port=port)


@contextlib.contextmanager
def hand_clocked_pump(pumps: HandPumps, serial: str) -> Iterator[HandClock]:
    """A pump filled (4 mL of morphine 10 mg/mL, 1 mg/day), primed and prescribed, served and ticked; its clock."""
    link = pumps.create(serial, wall_ms=NOW_WALL_MS)
    clock = HandClock()
    daemon = PumpDaemon(link.state_dir, accel=1.0, time_source=clock)
    transport = DaemonTransport(daemon)
    daemon.proximity_detected()  # the programmer head over the pump
    DeviceFiles(link.programmer_dir, Role.CLINICIAN).pair(transport, expected_pump_label=serial)
    client = ProgrammerClient.open(link.programmer_dir, transport)
    service = TherapyService(TelemetryPort(client), PatientFacts())
    done(service, FirstFill(4_000_000, Fill.single("morphine", 10_000_000)))
    done(service, PrimingBolus())
    clock.seconds = 3600.0  # the priming bolus goes through in the first hour
    done(service, Prescribe(DoseSchedule.continuous(1_000_000), override_reason=SETUP_REASON))
    with contextlib.suppress(ThecalError, OSError):
        client.session.close()
    stop = threading.Event()

    def ticking() -> None:
        while not stop.wait(TICK_S):
            daemon.tick()  # as `thecal pump serve` does: the pump runs on its clock with no frame arriving

    server = daemon.server(0).start()
    ticker = threading.Thread(target=ticking, name="pump-tick", daemon=True)
    ticker.start()
    pumps.served[serial] = server.port
    try:
        yield clock
    finally:
        stop.set()
        ticker.join()
        pumps.served.pop(serial, None)
        pumps.close()
        server.close()
        daemon.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[WebClinic, HandClock, str]]:
    """A clinic whose patient's pump runs on a hand-moved clock; the app served live, refreshing every 0.5 s."""
    store = ClinicStore.open(f"sqlite:///{tmp_path / 'clinic.db'}", password_hasher=fast_hasher())
    store.migrate()
    pumps = HandPumps(tmp_path / "pumps")
    try:
        clinic = WebClinic(store, pumps)
        clinic.add_patient("MRN-BL-0001", "Okoye", serial=SERIAL)
        # The same page and script, asked more often than the clinic's 10 s, so the test waits less.
        clinic.app.state.live_refresh_ms = 500
        clinic.app.state.live_reads.every_s = 0.2
        with hand_clocked_pump(pumps, SERIAL) as clock, live_server(clinic.app) as base:
            yield clinic, clock, base
    finally:
        store.close()


def test_the_now_panel_follows_the_pump_with_no_click(page: Page, served: tuple[WebClinic, HandClock, str]) -> None:
    """A bolus shown; days later its end and the low reservoir; a therapy stop; then the pump out of reach."""
    clinic, clock, base = served
    service = clinic.pumps.service(SERIAL, patient=PatientFacts())
    done(service, ClinicianBolus(100_000, 3_600_000))  # 0.1 mg over an hour of pump time: the clock is held
    sign_in(page, base, "nurse")
    page.goto(f"{base}/pumps/{SERIAL}")
    panel = page.locator("#now")
    expect(panel.get_by_role("heading", name="Now")).to_be_visible()
    expect(page.locator("#now-bolus")).to_contain_text("clinician bolus of 0.1 mg of morphine (0.01 mL)")
    expect(page.locator("#now-bolus")).to_contain_text("ends about")
    expect(page.locator("#now-alarms")).to_have_text("none")
    said = page.get_by_role("status").filter(has_text="The bolus has ended")
    expect(page.locator("#now-said")).to_have_text("")

    # While the pump's clock is held, what the panel says does not change: the panel is left as it is.
    page.locator("#now-body dl").evaluate("dl => { dl.dataset.mark = 'as loaded'; }")
    for _ in range(2):
        with page.expect_response(lambda r: r.url.endswith(f"/pumps/{SERIAL}/live")) as answered:
            pass
        assert answered.value.json()["key"] == page.locator("#now").get_attribute("data-key")
    expect(page.locator("#now-body dl")).to_have_attribute("data-mark", "as loaded")

    before = clinic.pumps.interrogate(SERIAL)
    # At 0.1 mL/day, the days until the reservoir falls below its alarm level, and one more.
    days = (before.reservoir_nl - before.low_reservoir_alarm_nl) // 100_000 + 1
    assert 1 < days < 30
    clock.seconds += days * DAY_S

    expect(said).to_contain_text("New alarm: the reservoir is low.", timeout=15_000)
    expect(page.locator("#now-said")).to_have_attribute("aria-live", "polite")
    expect(page.locator("#now-bolus")).to_have_text("none running")
    expect(page.locator("#now-alarms")).to_have_text("the reservoir is low")  # in words, not a colour
    expect(page.locator("#now-reservoir")).to_contain_text("low-reservoir alarm at 2 mL")

    done(service, StopTherapy())  # another clinician stops therapy from elsewhere: this page learns it on its own
    expect(page.locator("#now-said")).to_have_text(
        "Pump status now: therapy stopped: the pump runs at its minimum rate.", timeout=15_000
    )
    expect(page.locator("#now-mode")).to_contain_text("Therapy stopped:")

    response = Axe().run(page).response
    assert response["passes"], "axe-core ran no rule on the page"
    found = response["violations"]
    blocking = [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}" for v in found]
    assert [text for text, v in zip(blocking, found, strict=True) if v["impact"] in BLOCKING] == []

    assert isinstance(clinic.pumps, HandPumps)
    del clinic.pumps.served[SERIAL]  # the clinic no longer finds the pump's daemon
    expect(page.locator("#now-said")).to_have_text(
        "The pump cannot be read live now. Not read live: this pump's daemon is not running, so it cannot be read now.",
        timeout=15_000,
    )
    expect(page.locator("#now-why")).to_be_visible()
