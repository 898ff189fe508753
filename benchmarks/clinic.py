"""The clinician programmer under load: page and API latency with 50 signed-in users on loopback.

A clinic's database is made once in a temporary folder: SQLite, migrated,
one physician account and 200 patients, each with an implanted pump, two
refills (some with a discrepancy), three interrogation summaries in the audit
trail (some with alarms, a low reservoir, a near replace-by date, a rising
dose or an interrogation too old), two pain scores and a note, so that the
dashboard ranks from data like a clinic's. No pump daemon runs: the routes
measured read the database only (the dashboard ranks from the interrogation
summaries kept in the audit trail and never reaches a pump).

The app is served as `thecal clinic serve` serves it: `create_app` over that
store and an empty pumps folder, uvicorn with one worker and its default
loop and HTTP parser, in a process of its own, on a free loopback port. The
one difference: passwords are hashed with argon2id at its cheapest
parameters (the same code path), so that 50 sign-ins, which are not
measured, take a second and not a quarter of a second each.

The load comes from another process: 50 users, each an `httpx.AsyncClient`
on one asyncio loop with a cookie jar and a kept connection of its own, each
signed in through the login form with the form's CSRF token (a session of
its own). Each user asks for the routes below in turn, as fast as answers
come, the users starting at different routes and patients so that all routes
are asked for at every moment; an answer other than 200 is an error. After
the repetition's time no new request is made; the requests in flight have a
grace time to finish, and those still unanswered then are given up and
counted as unfinished, each with the time it had waited, which is less than
its latency: a percentile that falls on one of them is printed as a lower
bound (">"). The server cannot stop the work of a request given up, so each
repetition has a server of its own, started afresh over a copy of the same
database. Before the load, one user asks for each route once, alone (after
the cheap routes once, to warm up): the latency of a route with nobody else
asking, the baseline of the loaded figures.

The routes: the dashboard page (all 200 patients ranked, the first 20
shown), a patient's page, the dashboard as data (`/api/patients`), a patient
as data, and the audit trail (`/api/audit`, the newest 200 entries). The
peers are asked for in the same loop, so they see the same load: the static
stylesheet, the floor of the stack (uvicorn, the session middleware and
Starlette's static files, no database), and `/api/session`, the floor of a
signed-in route (the session cookie checked and one user read).

Besides latency and requests per second, the share of one CPU that the
server and the load generator used during each repetition (Linux) tells
which of the two was the limit; the load average of the machine before and
after the run says how busy it was with other work.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import re
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher
from sqlalchemy import event

from thecal.apps.clinic.store import AppRole, ClinicStore, User, sqlite_url
from thecal.apps.clinic.web.facts import INTERROGATE_ACTION

USERS = 50
DURATION_S = 8.0  # of each repetition's load
GRACE_S = 3.0  # for the requests in flight at its end
REPETITIONS = 3
PATIENTS = 200
START_TIMEOUT_S = 60.0
USERNAME = "drbench"
PASSWORD = "a physician's long benchmark password"

ROUTES: dict[str, str] = {
    "dashboard": "/",
    "patient": "/patients/{patient_id}",
    "api_patients": "/api/patients",
    "api_patient": "/api/patients/{patient_id}",
    "api_audit": "/api/audit",
    "api_session": "/api/session",
    "static": "/static/clinic.css",
}
ROUTE_NAMES = {
    "dashboard": "dashboard page (200 ranked, 20 shown)",
    "patient": "patient page",
    "api_patients": "GET /api/patients (200 ranked)",
    "api_patient": "GET /api/patients/{id}",
    "api_audit": "GET /api/audit (200 entries)",
    "api_session": "peer: GET /api/session",
    "static": "peer: the static stylesheet",
}
PEER = "static"  # the floor of the stack
WARM_UP = ("patient", "api_patient", "api_audit", "api_session", "static")  # cheap: the heavy ones run alone once
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def cheap_hasher() -> PasswordHasher:
    """Argon2id at its cheapest parameters: the clinic's code path, quick enough for 50 sign-ins."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


# ------------------------------------------------------------------ the clinic


class _Clock:
    """The store's clock, set by hand so that the records made now carry the dates of a clinic's past."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at


def _quick_commits(dbapi_connection: Any, _record: object) -> None:
    """Setting up only: commits without waiting for the disk (the server opens the database as the clinic does)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def _summary(i: int, days_ago: int, max_dose_ng_per_day: int) -> dict[str, object]:
    """An interrogation summary as the clinic keeps it (`facts.summary`), varied from patient to patient."""
    alarms = ["motor_stall"] if i % 23 == 0 else ["low_reservoir"] if i % 11 == 0 else []
    days_replace = (i * 13) % 2000 + 10
    wall_ms = int((datetime.now(UTC) - timedelta(days=days_ago)).timestamp() * 1000)
    return {
        "pump_wall_ms": wall_ms,
        "mode": "running",
        "alarms": alarms,
        "reservoir_nl": 2_000_000 + (i * 97_000) % 18_000_000,
        "low_reservoir_alarm_nl": 2_000_000,
        "days_to_low_reservoir": float((i * 7) % 60 + 1),
        "replace_by_wall_ms": wall_ms + days_replace * 86_400_000,
        "replace_by_basis": "projected",
        "days_to_replace_by": float(days_replace),
        "label": [["morphine", 10_000_000]] if i % 3 else [["ziconotide", 100_000]],
        "max_dose_ng_per_day": max_dose_ng_per_day,
    }


def _patient_record(store: ClinicStore, clock: _Clock, physician: User, i: int, today: datetime) -> int:
    """One patient with an implant, fills, interrogations, pain scores and a note; the patient's id."""
    families = ("Garcia", "Okafor", "Nguyen", "Smith", "Müller", "Rossi", "Kowalski", "Haddad", "Silva", "Tanaka")
    givens = ("Ana", "Ben", "Chloé", "Dmitri", "Eva", "Femi", "Greta", "Hiro", "Ines", "Jon")
    clock.at = today - timedelta(days=400)
    patient = store.add_patient(
        mrn=f"MRN{100_000 + i}",
        family_name=families[i % len(families)],
        given_name=givens[(i // len(families)) % len(givens)],
        birth_date=date(1940 + i % 50, 1 + i % 12, 1 + i % 28),
        weight_kg=50.0 + i % 50,
        indication="cancer" if i % 2 else "non_cancer",
        opioid_status="tolerant" if i % 3 else "naive",
        by=physician,
    )
    implant = store.add_implant(
        patient.id,
        pump_model="programmable-20" if i % 4 else "programmable-40",
        pump_serial=f"BENCH{i:04d}",
        implant_date=(today - timedelta(days=400 + (i * 5) % 2000)).date(),
        catheter_model="two-piece intrathecal catheter",
        catheter_length_cm=45.0,
        catheter_volume_ul_per_cm=2.2,
        tip_level="T10",
        by=physician,
    )
    for days_ago, gap_ml in ((60, 0.3), (10, 2.5 if i % 17 == 0 else -0.4)):
        clock.at = today - timedelta(days=days_ago)
        store.record_fill(
            implant.id,
            at=clock.at,
            drugs=(("morphine", 10.0),) if i % 3 else (("ziconotide", 0.1),),
            volume_ml=18.0,
            aspirated_ml=round(4.0 + gap_ml, 1),
            expected_ml=4.0,
            discrepancy_acknowledged=False,
            by=physician,
        )
    base_dose = 1_000_000 + (i % 10) * 250_000
    for n, days_ago in enumerate((180, 95, 5 + (i * 3) % 120)):
        clock.at = today - timedelta(days=days_ago)
        dose = base_dose * (2 if n == 2 and i % 9 == 0 else 1)  # every ninth patient's dose has doubled
        store.audit(
            INTERROGATE_ACTION,
            by=physician,
            patient_id=patient.id,
            pump_serial=implant.pump_serial,
            new=_summary(i, days_ago, dose),
            detail="interrogated: running",
        )
    for days_ago in (30, 2):
        clock.at = today - timedelta(days=days_ago)
        store.add_pain_score(patient.id, at=clock.at, score=(i + days_ago) % 11, source="clinic", by=physician)
    store.add_note(patient.id, text=f"Seen in clinic; refill interval reviewed (record {i}).", by=physician)
    clock.at = today
    return patient.id


def make_clinic(path: Path, patients: int) -> list[int]:
    """A migrated SQLite clinic database at `path` with a physician and `patients` patients; the patients' ids."""
    clock = _Clock()
    store = ClinicStore.open(sqlite_url(path), clock=clock, password_hasher=cheap_hasher())
    event.listen(store.engine, "connect", _quick_commits)
    try:
        store.migrate()
        physician = store.add_user(USERNAME, "Dr Bench Marker", AppRole.PHYSICIAN, PASSWORD, by=None)
        today = datetime.now(UTC)
        return [_patient_record(store, clock, physician, i, today) for i in range(patients)]
    finally:
        store.close()  # the last connection closed folds the write-ahead log into the file


# ------------------------------------------------------------------ the server


def _serve(url: str, pumps_dir: str, ports: Queue[int], stop: Event) -> None:
    """The app over the clinic's store, served by uvicorn (one worker) in this process until `stop` is set."""
    import uvicorn

    from thecal.apps.clinic.pumps import ClinicPumps
    from thecal.apps.clinic.web import create_app

    store = ClinicStore.open(url, password_hasher=cheap_hasher())
    pumps = ClinicPumps(Path(pumps_dir))
    # A TCP socket by name, as uvicorn's own binding makes it: asyncio then sets TCP_NODELAY on each connection
    # (with proto 0 it does not, and every answer written in two parts waits ~40 ms for a delayed ACK).
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        store.migrate()
        app = create_app(store, pumps, secret_key=secrets.token_bytes(32), clinic_name="Benchmark clinic")
        listener.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))

        def stop_when_told() -> None:
            stop.wait()
            server.should_exit = True

        threading.Thread(target=stop_when_told, daemon=True).start()
        ports.put(listener.getsockname()[1])
        server.run(sockets=[listener])
    finally:
        listener.close()
        pumps.close()
        store.close()


# ------------------------------------------------------------------ the load


@dataclass
class _Tally:
    """What one repetition saw of each route: the latencies answered 200, the waits given up, the errors."""

    answered_ms: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in ROUTES})
    unfinished_ms: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in ROUTES})
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROUTES, 0))
    first_error: str = ""

    def error(self, route: str, what: str) -> None:
        """Count a request that did not answer 200."""
        self.errors[route] += 1
        self.first_error = self.first_error or f"{route}: {what}"


def _path(route: str, patient_ids: list[int], user: int, turn: int) -> str:
    return ROUTES[route].format(patient_id=patient_ids[(user * 37 + turn) % len(patient_ids)])


async def _sign_in(client: httpx.AsyncClient) -> None:
    """Sign in through the login form with the form's CSRF token, as a person's browser does."""
    form = await client.get("/login")
    found = CSRF.search(form.text)
    if form.status_code != 200 or found is None:
        raise RuntimeError(f"the login page answered {form.status_code} without a CSRF token")
    data = {"username": USERNAME, "password": PASSWORD, "csrf_token": found.group(1), "next": "/"}
    signed = await client.post("/login", data=data)
    if signed.status_code != 303 or signed.headers.get("location") != "/":
        raise RuntimeError(f"sign-in refused: {signed.status_code} {signed.text[:200]!r}")


async def _get(client: httpx.AsyncClient, route: str, path: str, tally: _Tally) -> float | None:
    """One request; its latency in ms when answered 200, else None and an error counted."""
    t0 = time.perf_counter()
    try:
        response = await client.get(path)
    except httpx.HTTPError as exc:
        tally.error(route, f"{type(exc).__name__}: {exc}")
        return None
    if response.status_code != 200:
        tally.error(route, f"HTTP {response.status_code} for {path}: {response.text[:200]!r}")
        return None
    return (time.perf_counter() - t0) * 1000


async def _user(client: httpx.AsyncClient, user: int, deadline: float, patient_ids: list[int], tally: _Tally) -> None:
    """One user: the routes in turn, starting at a route of its own, until the deadline."""
    names = list(ROUTES)
    turn = user
    while time.perf_counter() < deadline:
        route = names[turn % len(names)]
        t0 = time.perf_counter()
        try:
            ms = await _get(client, route, _path(route, patient_ids, user, turn), tally)
        except asyncio.CancelledError:  # given up at the end of the grace time: waited this long at least
            tally.unfinished_ms[route].append((time.perf_counter() - t0) * 1000)
            raise
        if ms is not None:
            tally.answered_ms[route].append(ms)
        turn += 1


def _cpu_s_of(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; NaN where the kernel does not say (not Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: int) -> float:
    """The p-th percentile (inclusive method, as the other benchmarks); the value of a list of one; NaN of none."""
    if len(values) < 2:
        return values[0] if values else math.nan
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def censored_percentile(answered: list[float], unfinished: list[float], p: int) -> tuple[float, bool]:
    """The p-th percentile of latencies, some known only to be at least their wait; and whether it is a lower bound.

    A wait given up is at most the latency it stands for, so the percentile computed is never above the true
    one; it is exact only when every wait given up lies above the values it is drawn from.
    """
    values = sorted(answered + unfinished)
    value = percentile(values, p)
    if not unfinished or math.isnan(value):
        return value, False
    upper = next(
        (v for v in values if v >= value), values[-1]
    )  # the higher of the two values the percentile lies between
    return value, min(unfinished) <= upper


def _figures(tally: _Tally, window_s: float) -> dict[str, float]:
    figures: dict[str, float] = {}
    for route in ROUTES:
        answered, unfinished = tally.answered_ms[route], tally.unfinished_ms[route]
        for p in (50, 99):
            value, bound = censored_percentile(answered, unfinished, p)
            figures[f"{route}_p{p}_ms"] = value
            figures[f"{route}_p{p}_at_least"] = float(bound)
        figures[f"{route}_per_s"] = len(answered) / window_s
        figures[f"{route}_answered"] = len(answered)
        figures[f"{route}_unfinished"] = len(unfinished)
        figures[f"{route}_errors"] = tally.errors[route]
    figures["all_per_s"] = sum(len(v) for v in tally.answered_ms.values()) / window_s
    figures["unfinished"] = sum(len(v) for v in tally.unfinished_ms.values())
    figures["errors"] = sum(tally.errors.values())
    figures["window_s"] = window_s
    return figures


async def _load(
    port: int, server_pid: int, patient_ids: list[int], users: int, duration_s: float, grace_s: float
) -> tuple[dict[str, float], str]:
    """Sign `users` in, each route once alone, then the load for `duration_s`; the figures and the first error."""
    clients = [
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=duration_s + grace_s + START_TIMEOUT_S, trust_env=False
        )
        for _ in range(users)
    ]
    try:
        t0 = time.perf_counter()
        await asyncio.gather(*(_sign_in(c) for c in clients))
        figures: dict[str, float] = {"sign_in_s": time.perf_counter() - t0}
        alone = _Tally()
        for route in WARM_UP:  # templates compiled, statements cached: not counted
            await _get(clients[0], route, _path(route, patient_ids, 0, 0), alone)
        for route in ROUTES:
            ms = await _get(clients[0], route, _path(route, patient_ids, 0, 1), alone)
            figures[f"{route}_alone_ms"] = math.nan if ms is None else ms
        if alone.first_error:
            raise RuntimeError(f"a route failed with one user: {alone.first_error}")
        tally = _Tally()
        server_cpu0, own_cpu0, t0 = _cpu_s_of(server_pid), time.process_time(), time.perf_counter()
        deadline = t0 + duration_s
        users_ = [asyncio.create_task(_user(c, i, deadline, patient_ids, tally)) for i, c in enumerate(clients)]
        _, late = await asyncio.wait(users_, timeout=duration_s + grace_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*users_, return_exceptions=True)
        window_s = min(time.perf_counter() - t0, duration_s + grace_s)
        figures.update(_figures(tally, window_s))
        figures["server_cpu_share"] = (_cpu_s_of(server_pid) - server_cpu0) / window_s
        figures["generator_cpu_share"] = (time.process_time() - own_cpu0) / window_s
        return figures, tally.first_error
    finally:
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)


def _generate(
    ports: Queue[tuple[int, int]],
    patient_ids: list[int],
    users: int,
    duration_s: float,
    grace_s: float,
    results: Queue[tuple[str, Any]],
) -> None:
    """The load generator's process: waits for the server's port, then its figures (or what failed) onto `results`."""
    try:
        port, server_pid = ports.get(timeout=START_TIMEOUT_S)
        results.put(("ok", asyncio.run(_load(port, server_pid, patient_ids, users, duration_s, grace_s))))
    except Exception as exc:  # handed to the parent process, which raises it with its words
        results.put(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


# ------------------------------------------------------------------ the run


def _stopped(process: multiprocessing.process.BaseProcess, wait_s: float) -> None:
    process.join(timeout=wait_s)
    if process.is_alive():
        process.kill()
        process.join()


def _repetition(
    db: Path, folder: Path, patient_ids: list[int], users: int, duration_s: float, grace_s: float
) -> dict[str, float]:
    """A server started afresh over a copy of the database in one process, the load from another; the figures."""
    folder.mkdir()
    shutil.copyfile(db, folder / db.name)
    context = multiprocessing.get_context("spawn")
    server_port: Queue[int] = context.Queue()
    generator_port: Queue[tuple[int, int]] = context.Queue()
    results: Queue[tuple[str, Any]] = context.Queue()
    stop = context.Event()
    server = context.Process(
        target=_serve,
        args=(sqlite_url(folder / db.name), str(folder / "pumps"), server_port, stop),
        name="thecal-bench-clinic-server",
    )
    generator = context.Process(  # started at once: both processes import while neither waits
        target=_generate,
        args=(generator_port, patient_ids, users, duration_s, grace_s, results),
        name="thecal-bench-clinic-load",
    )
    server.start()
    generator.start()
    try:
        try:
            port = server_port.get(timeout=START_TIMEOUT_S)
        except Exception:
            raise RuntimeError(
                f"the clinic server did not start within {START_TIMEOUT_S:g} s (exit code {server.exitcode});"
                " run `thecal clinic serve` by hand to see why"
            ) from None
        assert server.pid is not None
        generator_port.put((port, server.pid))
        limit_s = 2 * START_TIMEOUT_S + duration_s + grace_s
        try:
            status, payload = results.get(timeout=limit_s)
        except Exception:
            raise RuntimeError(f"the load generator gave no figures within {limit_s:g} s") from None
    finally:
        stop.set()
        _stopped(generator, 30)
        # Killed unless it stops at once: its threads may still be working for answers given up, on a copy.
        _stopped(server, 0.5)
    if status != "ok":
        raise RuntimeError(f"the load generator failed: {payload}")
    figures, first_error = payload
    if first_error:
        print(f"clinic benchmark: {figures['errors']:.0f} requests failed; the first: {first_error}", file=sys.stderr)
    return dict(figures)


def _median_of(per_rep: list[dict[str, float]], route: str, p: int) -> tuple[float, float]:
    """The median repetition's percentile and whether it is a lower bound (the middle one of an odd count)."""
    value, bound = statistics.median_low((rep[f"{route}_p{p}_ms"], rep[f"{route}_p{p}_at_least"]) for rep in per_rep)
    return value, bound


def run(users: int | None = None, duration_s: float | None = None, repetitions: int | None = None) -> dict[str, float]:
    """Measure and return the figures: medians over the repetitions, keyed "{route}_{figure}"."""
    users = USERS if users is None else users
    duration_s = DURATION_S if duration_s is None else duration_s
    repetitions = REPETITIONS if repetitions is None else repetitions
    grace_s = min(GRACE_S, duration_s)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="thecal-bench-clinic-") as tmp:
        folder = Path(tmp)
        db = folder / "clinic.db"
        t0 = time.perf_counter()
        patient_ids = make_clinic(db, PATIENTS)
        set_up_s = time.perf_counter() - t0
        per_rep = [
            _repetition(db, folder / f"rep{n}", patient_ids, users, duration_s, grace_s) for n in range(repetitions)
        ]
    figures = {key: statistics.median(rep[key] for rep in per_rep) for key in per_rep[0]}
    for key in ("errors", *(f"{route}_errors" for route in ROUTES)):  # errors are counted, not typical
        figures[key] = sum(rep[key] for rep in per_rep)
    for route in ROUTES:
        for p in (50, 99):
            figures[f"{route}_p{p}_ms"], figures[f"{route}_p{p}_at_least"] = _median_of(per_rep, route, p)
        figures[f"{route}_loaded_over_alone_p50"] = figures[f"{route}_p50_ms"] / figures[f"{route}_alone_ms"]
        figures[f"{route}_over_peer_p50"] = figures[f"{route}_p50_ms"] / figures[f"{PEER}_p50_ms"]
    load_after = os.getloadavg()
    figures.update(
        users=users,
        duration_s=duration_s,
        grace_s=grace_s,
        repetitions=repetitions,
        patients=len(patient_ids),
        set_up_s=set_up_s,
        load_1min_before=load_before[0],
        load_1min_after=load_after[0],
        cpus=float(os.cpu_count() or 0),
    )
    return figures


def _ms(value: float, at_least: float) -> str:
    return f"{'>' if at_least else ''}{value:,.0f}" if value >= 100 else f"{'>' if at_least else ''}{value:.1f}"


def report() -> None:
    """Print the table: each route alone and under load (p50, p99), requests per second, against the floor."""
    r = run()
    print(
        f"Clinic web app: {r['users']:.0f} signed-in users on loopback, {r['patients']:.0f} patients in SQLite,"
        " uvicorn with one worker in its own process, the load from another"
    )
    print(
        f"  {r['repetitions']:.0f} repetitions of {r['duration_s']:g} s (+ {r['grace_s']:g} s for the last"
        f" answers), each with a fresh server; medians. Each user asks for the routes in turn: {r['all_per_s']:,.1f}"
        f" requests/s answered in all, {r['unfinished']:.0f} given up unanswered, {r['errors']:.0f} errors in all"
    )
    print(
        f"    {'route':<38} {'alone ms':>9} {'p50 ms':>9} {'p99 ms':>9} {'req/s':>7} {'unans.':>6}"
        f" {'p50/alone':>10} {'p50/static':>11}"
    )
    for route in ROUTES:
        p50, p99 = (
            _ms(r[f"{route}_p50_ms"], r[f"{route}_p50_at_least"]),
            _ms(r[f"{route}_p99_ms"], r[f"{route}_p99_at_least"]),
        )
        print(
            f"    {ROUTE_NAMES[route]:<38} {_ms(r[f'{route}_alone_ms'], 0):>9} {p50:>9} {p99:>9}"
            f" {r[f'{route}_per_s']:7.1f} {r[f'{route}_unfinished']:6.0f}"
            f" {r[f'{route}_loaded_over_alone_p50']:9.0f}x {r[f'{route}_over_peer_p50']:10.0f}x"
        )
    print(
        "    (>: a lower bound, the percentile falls on requests given up unanswered at the end of the grace time;"
        " unans.: requests given up, median per repetition)"
    )
    print(
        f"  one CPU's share used: server {r['server_cpu_share']:.2f}, load generator {r['generator_cpu_share']:.2f}"
        f" ({r['cpus']:.0f} CPUs); load average (1 min) {r['load_1min_before']:.2f} before, "
        f"{r['load_1min_after']:.2f} after"
    )
    print(
        f"  (not measured: the clinic database set up in {r['set_up_s']:.1f} s; {r['users']:.0f} sign-ins in"
        f" {r['sign_in_s']:.1f} s)"
    )


if __name__ == "__main__":
    report()
