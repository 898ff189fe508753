"""The demo clinic: six patients with implanted pumps, each pump with its own history, served as daemons.

`DemoClinic(root, accel=...)` makes the demo pumps under `root`, lives their
past (weeks to years of it) in this process, then starts each pump as its own
daemon in accelerated time and pairs the clinic programmer through the
proximity step. Everything done to a pump in its past goes as a clinician
would do it: through the therapy layer (`TherapyService` over `TelemetryPort`,
actor physician "Demo set-up"), over the same telemetry as the daemons, with
the pump's own clock fast-forwarded between visits. Only the physical world
is played directly: the MRI scanner's magnet next to the pump.

The patients (`DemoClinic.patients()`):

| serial        | patient                                       | what the clinic sees                          |
|---------------|-----------------------------------------------|-----------------------------------------------|
| NGP-DEMO-001  | non-cancer pain, morphine 10 mg/mL, PTM       | stable for a year                             |
| NGP-DEMO-002  | cancer pain, morphine 10 then 20 mg/mL, PTM   | low reservoir: the alarm sounds, refill now   |
| NGP-DEMO-003  | neuropathic pain, ziconotide 25 mcg/mL        | titrating; first refill due within 14 days    |
| NGP-DEMO-004  | cancer pain, morphine + bupivacaine admixture | stable; refill due in about 10 days           |
| NGP-DEMO-005  | non-cancer pain, morphine, a 40 mL pump       | near elective replacement (battery), ~30 days |
| NGP-DEMO-006  | non-cancer pain, morphine 10 mg/mL            | motor stall logged at yesterday's MRI         |

A pump near elective replacement is a pump with years of service behind it:
nothing in the pump or its daemon starts a pump with a used battery, so the
demo pump lives those years (implant, then a refill every 170 days) and its
battery is used by the firmware's own accounting. The implant date is chosen
from the model's battery figures so that the Elective Replacement Indicator
is about `ERI_AHEAD_DAYS` ahead when the clinic opens.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType, TracebackType

from thecal.apps.clinic.pumps import ClinicPumps, LockedTelemetryPort, PumpLink
from thecal.devices.daemon import DaemonTransport, HandClock, PumpDaemon, check_accel, local_wall_ms
from thecal.devices.programmer import ProgrammerClient
from thecal.drugs.fill import Fill
from thecal.errors import InputError, ThecalError
from thecal.pump.core.commands import Role
from thecal.pump.core.schedule import DoseSchedule
from thecal.pump.model import load_model
from thecal.telemetry.device_files import DeviceFiles
from thecal.therapy import (
    Actor,
    ExecutionStatus,
    FirstFill,
    Implant,
    Intent,
    PatientFacts,
    Prescribe,
    PrimingBolus,
    PtmSettings,
    Refill,
    StaffRole,
    TherapyService,
    Titrate,
)
from thecal.units import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN, NG_PER_MCG, NG_PER_MG, NL_PER_ML

__all__ = ["DEMO_ACTOR", "DemoClinic", "DemoFill", "DemoPatient", "demo_serials"]

DEMO_ACTOR = Actor("Demo set-up", StaffRole.PHYSICIAN)
DEMO_MARKER = ".thecal-demo"  # a pumps folder holding this was made by the demo, and is made again at each start
ERI_AHEAD_DAYS = 30
LOW_RESERVOIR_TARGET_NL = 1_800_000  # below the 2 mL default alarm: the low-reservoir alarm sounds
MRI_SCAN_MS = 45 * 60_000  # assumption: a brain MRI of 45 minutes
MOTOR_RESTART_MS = 2 * 3_600_000  # within the 2-24 h the MRI guidance gives for the return to the proper rate
ASPIRATION_SHORTFALL_NL = 100_000  # what a careful aspiration leaves behind: well under the 1 mL discrepancy flag
CATHETER_MODEL = "two-piece intrathecal catheter"
# assumption: a typical intrathecal catheter's lumen, as the scenario default (thecal.sim.scenario, docs/scenario.md)
CATHETER_UL_PER_CM = 2.2


@dataclass(frozen=True)
class DemoFill:
    """One fill of a demo pump as the clinic records it: what went in and what came out."""

    at: datetime
    drugs: tuple[tuple[str, float], ...]  # (drug, mg/mL; ziconotide in mg/mL too, 0.025 for 25 mcg/mL)
    volume_ml: float
    aspirated_ml: float | None  # None at the first fill
    expected_ml: float | None  # what the pump calculated it held before the refill


@dataclass(frozen=True)
class DemoPatient:
    """A demo patient and the implant, as the clinic's record holds them."""

    mrn: str
    family_name: str
    given_name: str
    birth_date: date
    weight_kg: float
    indication: str  # "cancer" | "non_cancer"
    opioid_status: str  # "naive" | "tolerant"
    pump_model: str
    pump_serial: str
    implant_date: date
    catheter_model: str
    catheter_length_cm: float
    catheter_volume_ul_per_cm: float
    tip_level: str
    story: str
    fills: tuple[DemoFill, ...] = ()


# ------------------------------------------------------------------ the patients' pasts, as visits


@dataclass(frozen=True)
class _Visit:
    """Something done to the pump `day` days before the clinic opens (negative), through the therapy layer."""

    day: float
    intent: Callable[[_Pump], Intent] | None = None
    hardware: Callable[[_Pump], None] | None = None


@dataclass(frozen=True)
class _Story:
    patient: DemoPatient
    model: str
    opioid_naive: bool
    visits: tuple[_Visit, ...]


def _mg(mg: float) -> int:
    return round(mg * NG_PER_MG)


def _mcg(mcg: float) -> int:
    return round(mcg * NG_PER_MCG)


def _ml(ml: float) -> int:
    return round(ml * NL_PER_ML)


def _catheter_nl(length_cm: float) -> int:
    return round(length_cm * CATHETER_UL_PER_CM * 1_000)


def _refill(volume_ml: float, fill: str) -> Callable[[_Pump], Intent]:
    def intent(pump: _Pump) -> Intent:
        expected = pump.snapshot_reservoir_nl()
        aspirated = max(0, expected - ASPIRATION_SHORTFALL_NL)
        return Refill(_ml(volume_ml), Fill.parse(fill), aspirated)

    return intent


def _start(day: float, length_cm: float, volume_ml: float, fill: str, first_dose_ng_per_day: int) -> list[_Visit]:
    """Implant day: the catheter, the first fill, the priming bolus and the starting dose."""
    return [
        _Visit(day, lambda _: Implant(_catheter_nl(length_cm))),
        _Visit(day, lambda _: FirstFill(_ml(volume_ml), Fill.parse(fill))),
        _Visit(day, lambda _: PrimingBolus()),
        _Visit(day + 0.25, lambda _: Prescribe(DoseSchedule.continuous(first_dose_ng_per_day))),
    ]


def _titration(first_day: float, every_days: float, doses_ng_per_day: list[int]) -> list[_Visit]:
    return [_Visit(first_day + i * every_days, _titrate(dose)) for i, dose in enumerate(doses_ng_per_day)]


def _titrate(dose: int) -> Callable[[_Pump], Intent]:
    return lambda _: Titrate(dose)


def _refills(first_day: float, every_days: float, until_day: float, volume_ml: float, fill: str) -> list[_Visit]:
    visits = []
    day = first_day
    while day < until_day:
        visits.append(_Visit(day, _refill(volume_ml, fill)))
        day += every_days
    return visits


def _eri_implant_day(model_name: str, dose_ng_per_day: int, conc_ng_per_ml: int, refill_every_days: float) -> float:
    """How many days before the clinic opens a pump on this dose was implanted, to reach ERI `ERI_AHEAD_DAYS` later.

    From the model's battery figures: the baseline current and the charge of each stroke at this flow, and the
    charge of each telemetry session (about six commands at each refill visit).
    """
    m = load_model(model_name)
    flow_nl_per_day = dose_ng_per_day * NL_PER_ML / conc_ng_per_ml
    strokes_per_day = flow_nl_per_day / m.stroke_nl
    per_day_pc = m.baseline_current_na * MS_PER_DAY + strokes_per_day * m.stroke_charge_pc
    per_day_pc += 6 * m.telemetry_session_charge_pc / refill_every_days
    days_to_eri = (m.battery_capacity_pc - m.eri_reserve_pc) / per_day_pc
    return -(days_to_eri - ERI_AHEAD_DAYS)


def _stories(today: date) -> list[_Story]:
    """The six demo patients and their pumps' pasts, as days before `today`."""

    def patient(
        number: int, name: tuple[str, str], born: tuple[int, int, int], weight_kg: float, kind: tuple[str, str]
    ) -> dict[str, object]:
        years, month, day = born
        return {
            "mrn": f"DEMO-{number:04d}",
            "family_name": name[0],
            "given_name": name[1],
            "birth_date": date(today.year - years, month, day),
            "weight_kg": weight_kg,
            "indication": kind[0],
            "opioid_status": kind[1],
            "pump_serial": f"NGP-DEMO-{number:03d}",
            "catheter_model": CATHETER_MODEL,
            "catheter_volume_ul_per_cm": CATHETER_UL_PER_CM,
        }

    def story(
        facts: dict[str, object], model: str, day0: float, length_cm: float, tip: str, text: str, visits: list[_Visit]
    ) -> _Story:
        record = DemoPatient(
            **facts,  # type: ignore[arg-type]
            pump_model=model,
            implant_date=today + timedelta(days=math.floor(day0)),
            catheter_length_cm=length_cm,
            tip_level=tip,
            story=text,
        )
        return _Story(record, model, facts["opioid_status"] == "naive", tuple(visits))

    m10, m20, z25 = "morphine 10 mg/mL", "morphine 20 mg/mL", "ziconotide 25 mcg/mL"
    mix = "morphine 10 mg/mL + bupivacaine 5 mg/mL"
    slow = [_mg(d) for d in (0.6, 0.75, 0.9, 1.1, 1.35, 1.65, 2.0, 2.5, 3.0)]  # at most a quarter more each step
    stories: list[_Story] = []

    # 1. Non-cancer pain, morphine, stable for a year with a PTM.
    day0 = -420.0
    visits = _start(day0, 48, 20, m10, _mg(0.5))
    visits += _titration(day0 + 4, 4, [_mg(d) for d in (0.6, 0.75, 0.9, 1.1, 1.35, 1.5)])
    visits.append(_Visit(day0 + 30, lambda _: PtmSettings(_mg(0.1), 10 * MS_PER_MIN, 4 * MS_PER_HOUR, 3)))
    visits += _refills(day0 + 90, 90, -10, 20, m10)
    facts = patient(1, ("Lindqvist", "Maja"), (58, 3, 14), 71.0, ("non_cancer", "tolerant"))
    text = "Failed back surgery syndrome; intrathecal morphine for a year, stable; uses the handset now and then."
    stories.append(story(facts, "programmable-20", day0, 48, "T10", text, visits))

    # 2. Cancer pain, morphine titrated up quickly, then 20 mg/mL; the reservoir is below the low-reservoir alarm.
    day0 = -110.0
    final_ml_per_day = 6 / 20
    last_refill = -(20 - LOW_RESERVOIR_TARGET_NL / NL_PER_ML) / final_ml_per_day
    visits = _start(day0, 42, 20, m10, _mg(0.5))
    visits += _titration(day0 + 3.35, 3.1, [*slow, _mg(3.75), _mg(4.5), _mg(5.5), _mg(6)])
    visits.append(_Visit(day0 + 45, lambda _: PtmSettings(_mg(0.2), 10 * MS_PER_MIN, 2 * MS_PER_HOUR, 6)))
    visits.append(_Visit(last_refill, _refill(20, m20)))
    facts = patient(2, ("Okafor", "Daniel"), (64, 9, 2), 63.5, ("cancer", "tolerant"))
    text = "Pancreatic cancer with visceral pain; 6 mg/day of morphine at 20 mg/mL; the reservoir is low: refill now."
    stories.append(story(facts, "programmable-20", day0, 42, "T8", text, visits))

    # 3. Ziconotide, titrating: a step of 1.2 mcg/day every 3 days; the first refill is due within 14 days.
    day0 = -9.0
    visits = _start(day0, 50, 20, z25, _mcg(1.2))
    visits += _titration(day0 + 3, 3, [_mcg(2.4), _mcg(3.6)])
    facts = patient(3, ("Moreau", "Claire"), (47, 11, 23), 58.0, ("non_cancer", "naive"))
    text = "Neuropathic pain after a spinal cord injury, no history of psychosis; ziconotide titration under way."
    stories.append(story(facts, "programmable-20", day0, 50, "T11", text, visits))

    # 4. Cancer pain on an admixture: morphine with bupivacaine.
    day0 = -200.0
    visits = _start(day0, 45, 20, mix, _mg(0.5))
    visits += _titration(day0 + 4, 4, slow)
    visits += _refills(day0 + 50, 50, -5, 20, mix)
    facts = patient(4, ("Haddad", "Yusuf"), (69, 6, 30), 77.0, ("cancer", "tolerant"))
    text = "Pelvic cancer with neuropathic pain; morphine with bupivacaine, 3 mg/day of morphine."
    stories.append(story(facts, "programmable-20", day0, 45, "T12", text, visits))

    # 5. Near elective replacement: years of service in a 40 mL pump, a refill every 170 days.
    day0 = _eri_implant_day("programmable-40", _mg(2), _mg(10), 170)
    visits = _start(day0, 46, 40, m10, _mg(0.5))
    visits += _titration(day0 + 4, 4, slow[:7])
    visits += _refills(day0 + 170, 170, -3, 40, m10)
    facts = patient(5, ("Kowalski", "Piotr"), (72, 1, 8), 82.0, ("non_cancer", "tolerant"))
    text = "Chronic low back pain, morphine for years; the pump's battery nears elective replacement."
    stories.append(story(facts, "programmable-40", day0, 46, "T10", text, visits))

    # 6. An MRI yesterday: the magnet stalled the motor; it runs again, the motor-stall alarm waits for the clinic.
    day0 = -700.0
    visits = _start(day0, 44, 20, m10, _mg(0.5))
    visits += _titration(day0 + 4, 4, slow[:8])
    visits += _refills(day0 + 60, 60, -30, 20, m10)
    visits.append(_Visit(-1.0, hardware=lambda p: p.magnet(True)))
    visits.append(_Visit(-1.0 + MRI_SCAN_MS / MS_PER_DAY, hardware=lambda p: p.magnet(False)))
    facts = patient(6, ("Brennan", "Siobhan"), (55, 4, 17), 66.0, ("non_cancer", "tolerant"))
    text = "Complex regional pain syndrome; had a brain MRI yesterday: check the pump after the scan."
    stories.append(story(facts, "programmable-20", day0, 44, "T9", text, visits))
    return stories


def demo_serials() -> list[str]:
    """The serials of the demo pumps, in order."""
    return [story.patient.pump_serial for story in _stories(date.today())]


# -------------------------------------------------------------------------- one pump's past


@dataclass
class _Pump:
    """One demo pump living its past in this process: the daemon, the clinic programmer, the therapy service."""

    link: PumpLink
    first_day: float
    opioid_naive: bool
    clock: HandClock = field(default_factory=HandClock)
    fills: list[DemoFill] = field(default_factory=list)
    expected_nl: int = 0
    opened_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self.daemon = PumpDaemon(self.link.state_dir, accel=1.0, time_source=self.clock)
        transport = DaemonTransport(self.daemon)
        self.daemon.proximity_detected()  # the programmer head over the pump in the implanting theatre
        DeviceFiles(self.link.programmer_dir, Role.CLINICIAN).pair(transport, expected_pump_label=self.link.serial)
        self.client = ProgrammerClient.open(self.link.programmer_dir, transport)
        port = LockedTelemetryPort(self.client, threading.RLock())
        self.service = TherapyService(port, PatientFacts(opioid_naive=self.opioid_naive))

    def at(self, day: float) -> None:
        """Move the pump's clock on to `day` (days before the clinic opens, negative)."""
        self.clock.seconds = max(self.clock.seconds, (day - self.first_day) * MS_PER_DAY / 1000)

    def snapshot_reservoir_nl(self) -> int:
        """What the pump calculates its reservoir holds now (the volume a refill expects to aspirate)."""
        self.expected_nl = self.service.port.interrogate().reservoir_nl
        return self.expected_nl

    def run(self, intent: Intent, day: float) -> None:
        """Plan, confirm and send one intent as the demo's physician; an error if the pump does not hold it."""
        plan = self.service.plan(intent, DEMO_ACTOR)
        if not plan.allowed:
            found = "; ".join(f.message for f in plan.findings)
            raise ThecalError(f"demo pump {self.link.serial}: {type(intent).__name__} is beyond a limit: {found}")
        execution = self.service.execute(plan, DEMO_ACTOR, confirmed=True)
        if execution.status is not ExecutionStatus.DONE:
            raise ThecalError(
                f"demo pump {self.link.serial}: {type(intent).__name__} ended {execution.status.value}: "
                f"{execution.message}"
            )
        if isinstance(intent, FirstFill | Refill):
            at = self.opened_at + timedelta(days=day)
            drugs = tuple((c.drug.name, c.concentration_ng_per_ml / NG_PER_MG) for c in intent.fill.components)
            refill = isinstance(intent, Refill)
            aspirated = intent.aspirated_nl / NL_PER_ML if isinstance(intent, Refill) else None
            expected = self.expected_nl / NL_PER_ML if refill else None
            self.fills.append(DemoFill(at, drugs, intent.volume_nl / NL_PER_ML, aspirated, expected))

    def magnet(self, on: bool) -> None:
        """The MRI scanner's magnet switched on or off next to the pump (the physical world, not a command)."""
        pump = self.daemon.pump
        pump.advance(max(self.daemon.clock.now_ms(), pump.now_ms))
        pump.magnetic_field(on, recovery_delay_ms=MOTOR_RESTART_MS)

    def close(self) -> None:
        """Read the pump once more at the clinic's opening, then let its daemon process serve it."""
        self.at(0.0)
        self.service.port.interrogate()
        with contextlib.suppress(ThecalError, OSError):
            self.client.session.close()
        self.daemon.close()


def _live(pumps: ClinicPumps, story: _Story, now_wall_ms: int, opened_at: datetime) -> DemoPatient:
    """Make one demo pump and live its past up to the clinic's opening; the patient with the fills as done."""
    first_day = min(visit.day for visit in story.visits)
    link = pumps.create(
        story.patient.pump_serial,
        model=story.model,
        wall_ms=now_wall_ms + round(first_day * MS_PER_DAY),
        seed=int(story.patient.pump_serial[-3:]),
    )
    pump = _Pump(link, first_day, story.opioid_naive, opened_at=opened_at)
    try:
        for visit in sorted(story.visits, key=lambda v: v.day):
            pump.at(visit.day)
            if visit.hardware is not None:
                visit.hardware(pump)
            if visit.intent is not None:
                pump.run(visit.intent(pump), visit.day)
    finally:
        pump.close()
    return _with_fills(story.patient, pump.fills)


def _with_fills(patient: DemoPatient, fills: list[DemoFill]) -> DemoPatient:
    return replace(patient, fills=tuple(fills))


# ----------------------------------------------------------------------------- the clinic


class DemoClinic:
    """The demo pumps under `root`: made, lived, started as daemons and paired on entry; stopped on exit."""

    def __init__(self, root: Path, *, accel: float, serials: Sequence[str] | None = None):
        """`serials` chooses some of the demo pumps (all of them by default), e.g. for a quicker start in tests."""
        check_accel(accel)
        known = demo_serials()
        unknown = [serial for serial in serials or () if serial not in known]
        if unknown or (serials is not None and not serials):
            raise InputError("serials", list(serials or ()), "are not demo pumps", f"choose among {', '.join(known)}")
        self.root = Path(root)
        self.accel = accel
        self.serials = list(known if serials is None else serials)
        self.pumps = ClinicPumps(self.root / "pumps")
        self._patients: list[DemoPatient] = []
        self._previous: dict[int, object] = {}

    def __enter__(self) -> DemoClinic:
        self._catch_signals()
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Make the demo pumps afresh, live their pasts, start their daemons and pair the clinic programmer."""
        folder = self.pumps.root
        if folder.exists():
            if not (folder / DEMO_MARKER).exists():
                raise InputError(
                    "demo folder",
                    str(folder),
                    "holds something the demo did not make",
                    "give the demo an empty folder or one it made before",
                )
            self.pumps.stop_all()
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        (folder / DEMO_MARKER).write_text("made by the thecal demo clinic; remade at each start\n")
        opened_at = datetime.now(UTC)
        now_wall = local_wall_ms()
        stories = [s for s in _stories(opened_at.astimezone().date()) if s.patient.pump_serial in self.serials]

        def live_and_launch(story: _Story) -> DemoPatient:
            patient = _live(self.pumps, story, now_wall, opened_at)
            self.pumps.launch(patient.pump_serial, accel=self.accel)  # it starts while the other pumps live
            return patient

        # The pasts are lived side by side: most of their time is spent writing the pumps' memories and in
        # cryptography, which leave the interpreter free for the others.
        with ThreadPoolExecutor(max_workers=len(stories), thread_name_prefix="demo-pump") as pool:
            self._patients = list(pool.map(live_and_launch, stories))
        for patient in self._patients:
            self.pumps.wait_started(patient.pump_serial)
        for patient in self._patients:
            self.pumps.place_head(patient.pump_serial)
            self.pumps.pair(patient.pump_serial)

    def patients(self) -> list[DemoPatient]:
        """The demo patients with their implants and the fills their pumps had (after the clinic started)."""
        return list(self._patients)

    def stop(self) -> None:
        """Stop every pump daemon the demo started; their memories are committed."""
        self.pumps.close()
        self.pumps.stop_all()
        self._restore_signals()

    def _catch_signals(self) -> None:
        """SIGTERM ends the demo (exit status 143) so that `__exit__` stops the daemons, as after Ctrl-C (main thread
        only; a server that catches signals itself hands them back when it stops)."""
        if threading.current_thread() is not threading.main_thread():
            return

        def ended(signum: int, frame: FrameType | None) -> None:
            raise SystemExit(128 + signum)

        for signum in (signal.SIGTERM,):
            self._previous[signum] = signal.signal(signum, ended)

    def _restore_signals(self) -> None:
        for signum, handler in self._previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()
