"""Test helpers for the clinician programmer's web app: a real store, real pump daemons, signed-in clients.

A `WebClinic` is the app over a migrated store (SQLite or PostgreSQL) and a
`ClinicPumps` folder whose pump daemons run as processes; its pumps are filled
and programmed once through the therapy layer, as a clinic would have done
before the test. `Browser` is a TestClient signed in as one user, which reads
each page's CSRF token from the page itself, as a person's browser would.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient
from tests.clinic.conftest import fast_hasher

from thecal.apps.clinic.pumps import ClinicPumps, PumpLink
from thecal.apps.clinic.store import AppRole, ClinicStore, Patient, User
from thecal.apps.clinic.web import create_app
from thecal.apps.clinic.web.forecast_panel import ForecastSettings
from thecal.devices.daemon import DaemonTransport, HandClock, PumpDaemon, local_wall_ms
from thecal.devices.programmer import ProgrammerClient
from thecal.drugs.fill import Fill
from thecal.errors import ThecalError
from thecal.pump.core.commands import Role
from thecal.pump.core.schedule import DoseSchedule
from thecal.pump.model import load_model
from thecal.telemetry.device_files import DeviceFiles
from thecal.therapy import (
    Actor,
    ExecutionStatus,
    FirstFill,
    Intent,
    PatientFacts,
    Prescribe,
    PrimingBolus,
    PtmSettings,
    Refill,
    StaffRole,
    TelemetryPort,
    TherapyService,
)

DAY = 86_400_000
NOW_WALL_MS = local_wall_ms()
MG = 1_000_000
ML = 1_000_000
MIN = 60_000
HOUR = 3_600_000
PASSWORD = "correct horse battery staple"
SETUP = Actor("Set-up physician", StaffRole.PHYSICIAN)
SETUP_REASON = "tolerant patient, converted from 300 mg/day oral morphine"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TOKEN = re.compile(r'action="/plans/([^/"]+)/send"')
ANY_TOKEN = re.compile(r'action="/plans/([^/"]+)/(?:send|reason|cancel)"')
STAFF = {
    "physician": ("drrivera", "Dr Ana Rivera", AppRole.PHYSICIAN),
    "nurse": ("nokafor", "Nurse Okafor", AppRole.NURSE),
    "viewer": ("vchen", "Viewer Chen", AppRole.VIEWER),
    "admin": ("aadmin", "Admin Adams", AppRole.ADMIN),
}


def done(service: TherapyService, intent: Intent) -> None:
    """Plan and execute one set-up intent through the therapy layer; it must be done and verified."""
    plan = service.plan(intent, SETUP)
    assert plan.allowed, [f.message for f in plan.findings]
    execution = service.execute(plan, SETUP, confirmed=True)
    assert execution.status is ExecutionStatus.DONE, execution.message


MRI_SCAN_MS = 45 * MIN
MOTOR_RESTART_MS = 2 * HOUR


def _magnet(daemon: PumpDaemon, on: bool) -> None:
    """An MRI scanner's magnet switched on or off next to an in-process pump (the physical world, not a command)."""
    pump = daemon.pump
    pump.advance(max(daemon.clock.now_ms(), pump.now_ms))
    pump.magnetic_field(on, recovery_delay_ms=MOTOR_RESTART_MS)


@contextmanager
def _set_up(link: PumpLink) -> Iterator[tuple[TherapyService, HandClock, PumpDaemon]]:
    """A new pump's daemon in this process, paired, on a clock moved by hand; closed (memory committed) after."""
    clock = HandClock()
    daemon = PumpDaemon(link.state_dir, accel=1.0, time_source=clock)
    transport = DaemonTransport(daemon)
    daemon.proximity_detected()
    DeviceFiles(link.programmer_dir, Role.CLINICIAN).pair(transport, expected_pump_label=link.serial)
    client = ProgrammerClient.open(link.programmer_dir, transport)
    try:
        yield TherapyService(TelemetryPort(client), PatientFacts()), clock, daemon
    finally:
        with contextlib.suppress(ThecalError, OSError):
            client.session.close()
        daemon.close()


@dataclass
class WebClinic:
    """The app over a real store and real pump daemons, with staff and patients."""

    store: ClinicStore
    pumps: ClinicPumps
    users: dict[str, User] = field(default_factory=dict)
    patients: dict[str, Patient] = field(default_factory=dict)
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def __post_init__(self) -> None:
        self.app = create_app(self.store, self.pumps, secret_key=self.secret, clinic_name="Test pain clinic")
        # A Finish screen that changes the basal dose asks for its forecast: small, so tests do not wait behind it.
        self.app.state.forecast_settings = ForecastSettings(draws=2, weeks=1, settle_days=7)
        admin = None
        for key, (username, full_name, role) in STAFF.items():
            self.users[key] = self.store.add_user(username, full_name, role, PASSWORD, by=admin)

    def add_patient(self, mrn: str, family: str, *, serial: str | None, naive: bool = False) -> Patient:
        """A patient, with an implant record for a pump serial when given."""
        by = self.users["physician"]
        patient = self.store.add_patient(
            mrn=mrn,
            family_name=family,
            given_name="Sam",
            birth_date=date(1960, 5, 17),
            weight_kg=70.0,
            indication="non_cancer",
            opioid_status="naive" if naive else "tolerant",
            by=by,
        )
        if serial is not None:
            self.store.add_implant(
                patient.id,
                pump_model="programmable-20",
                pump_serial=serial,
                implant_date=date(2026, 1, 5),
                catheter_model="two-piece intrathecal catheter",
                catheter_length_cm=45.0,
                catheter_volume_ul_per_cm=2.2,
                tip_level="T10",
                by=by,
            )
        self.patients[mrn] = patient
        return patient

    def start_pump(
        self,
        serial: str,
        *,
        dose_ng_per_day: int = 1 * MG,
        conc_ng_per_ml: int = 10 * MG,
        fill_nl: int = 18 * ML,
        ptm: bool = False,
        days_ago: float = 7.0,
        model: str = "programmable-20",
        drug: str = "morphine",
        mri_hours_ago: float | None = None,
    ) -> None:
        """A running, paired pump filled with a drug (morphine unless told) and prescribed `days_ago` (pump time).

        The set-up is lived in this process on the pump's own clock, moved on by hand, then the pump's daemon
        process takes over (as the demo clinic does): so a test may raise a dose without meeting the wait
        after the set-up's own increase. With `mri_hours_ago`, the pump lay in an MRI scanner's magnet for
        45 minutes that long ago: its motor stalled and restarted 2 hours after the scan, and the motor-stall
        alarm waits for the clinic.
        """
        link = self.pumps.create(serial, model=model, wall_ms=NOW_WALL_MS - round(days_ago * DAY))
        with _set_up(link) as (service, clock, daemon):
            done(service, FirstFill(fill_nl, Fill.single(drug, conc_ng_per_ml)))
            done(service, PrimingBolus())
            clock.seconds = 3600.0  # the priming bolus goes through in the first hour
            done(service, Prescribe(DoseSchedule.continuous(dose_ng_per_day), override_reason=SETUP_REASON))
            if ptm:
                done(service, PtmSettings(100_000, 10 * MIN, 2 * HOUR, 4))
            if mri_hours_ago is not None:
                clock.seconds = (days_ago * DAY - mri_hours_ago * HOUR) / 1000
                _magnet(daemon, True)
                clock.seconds += MRI_SCAN_MS / 1000
                _magnet(daemon, False)
            clock.seconds = days_ago * DAY / 1000
            service.port.interrogate()
        self._serve(serial)

    def start_old_pump(self, serial: str, *, days_past_eri: float) -> None:
        """A 40 mL morphine pump that has served for years, refilled every 170 days, `days_past_eri` past (or, when
        negative, before) its elective replacement indicator, from the model's battery figures."""
        model = load_model("programmable-40")
        dose_ng_per_day, conc_ng_per_ml, refill_days = MG // 2, 10 * MG, 170.0
        strokes_per_day = dose_ng_per_day * ML / conc_ng_per_ml / model.stroke_nl
        per_day_pc = model.baseline_current_na * DAY + strokes_per_day * model.stroke_charge_pc
        per_day_pc += 4 * model.telemetry_session_charge_pc / refill_days
        life_days = (model.battery_capacity_pc - model.eri_reserve_pc) / per_day_pc + days_past_eri
        link = self.pumps.create(serial, model=model.name, wall_ms=NOW_WALL_MS - round(life_days * DAY))
        morphine = Fill.single("morphine", conc_ng_per_ml)
        with _set_up(link) as (service, clock, _):
            done(service, FirstFill(40 * ML, morphine))
            done(service, PrimingBolus())
            clock.seconds = 3600.0
            done(service, Prescribe(DoseSchedule.continuous(dose_ng_per_day), override_reason=SETUP_REASON))
            day = refill_days
            while day < life_days:
                clock.seconds = day * DAY / 1000
                expected = service.port.interrogate().reservoir_nl
                done(service, Refill(40 * ML, morphine, max(0, expected - 100_000)))
                day += refill_days
            clock.seconds = life_days * DAY / 1000
            service.port.interrogate()
        self._serve(serial)

    def _serve(self, serial: str) -> None:
        """The pump's daemon process takes over; the clinic programmer pairs with it."""
        self.pumps.start(serial, accel=1.0)
        self.pumps.place_head(serial)
        self.pumps.pair(serial)

    def client(self, who: str | None = None) -> Browser:
        """A browser, signed in as one of the staff (physician, nurse, viewer, admin), or signed out."""
        browser = Browser(TestClient(self.app, base_url="http://testserver"))
        if who is not None:
            browser.sign_in(STAFF[who][0])
        return browser


@dataclass
class Browser:
    """A TestClient that posts forms with the CSRF token the page it came from carries."""

    http: TestClient
    last_page: str = ""

    def get(self, url: str, **kwargs: object) -> object:
        """GET a page and remember it (for its CSRF token)."""
        response = self.http.get(url, **kwargs)  # type: ignore[arg-type]
        if response.headers.get("content-type", "").startswith("text/html"):
            self.last_page = response.text
        return response

    def csrf(self) -> str:
        """The CSRF token of the last page (a page is fetched when none was)."""
        found = CSRF.search(self.last_page)
        if found is None:
            self.get("/login")
            found = CSRF.search(self.last_page)
        assert found is not None, "no page with a CSRF token"
        return found.group(1)

    def post(self, url: str, data: dict[str, str] | None = None, *, token: bool = True, **kwargs: object):  # type: ignore[no-untyped-def]
        """POST a form with the session's CSRF token (unless told not to), and remember an HTML answer."""
        fields = dict(data or {})
        if token and "csrf_token" not in fields:
            fields["csrf_token"] = self.csrf()
        response = self.http.post(url, data=fields, **kwargs)  # type: ignore[arg-type]
        if response.headers.get("content-type", "").startswith("text/html"):
            self.last_page = response.text
        return response

    def sign_in(self, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
        """Sign in through the login form."""
        self.get("/login")
        response = self.post("/login", {"username": username, "password": password})
        return response

    def plan_token(self) -> str:
        """The one-time token of the plan on the Finish screen just shown."""
        found = ANY_TOKEN.search(self.last_page)
        assert found is not None, "no Finish screen"
        return found.group(1)


@contextmanager
def web_clinic(db_url: str, root: Path) -> Iterator[WebClinic]:
    """A clinic over a migrated store at `db_url` and pumps under `root`; every daemon stopped after."""
    store = ClinicStore.open(db_url, password_hasher=fast_hasher())
    store.migrate()
    pumps = ClinicPumps(root / "pumps")
    try:
        yield WebClinic(store, pumps)
    finally:
        pumps.close()
        pumps.stop_all()
        store.close()
