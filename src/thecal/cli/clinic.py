"""`thecal clinic`: the clinician programmer's web app, its database, its users, and the demo clinic.

    thecal clinic init-db [--db URL]
    thecal clinic add-user --username NAME --role ROLE [--full-name TEXT] [--db URL]
    thecal clinic serve [--db URL] [--host 127.0.0.1] [--port 8000] [--pumps DIR]
    thecal clinic demo [--port 8000] [--dir DIR] [--accel N] [--ptm-port 8101]

The database is SQLite by default (a file under ~/.local/share/thecal) or any
PostgreSQL by URL. A password is read from THECAL_PASSWORD or asked for without
echo, never taken from the command line. `demo` makes the demo clinic's pumps
(daemons in accelerated time), a fresh database with its patients and four
accounts whose passwords it prints, and serves the app until Ctrl-C, which
stops everything it started. Beside it, each demo patient whose pump has demand
doses on gets the patient's therapy manager app (on ports 8101, 8102, …, their
addresses printed), its handset paired with the pump and holding a diary token
the clinic issued, so its diary reaches the clinic.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from thecal.errors import InputError, ThecalError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_DEMO_ACCEL = 60.0
DATA_DIR = Path.home() / ".local" / "share" / "thecal"
PASSWORD_ENV = "THECAL_PASSWORD"
SECRET_ENV = "THECAL_CLINIC_SECRET"  # 64 hex digits: sessions then survive a restart of the server
ROLES = ("physician", "nurse", "viewer", "admin")
DEMO_FIRST_PTM_PORT = 8101  # the demo patients' handset apps: 8101, 8102, ...
DEMO_CLINIC_NAME = "Demo pain clinic"
DEMO_CLINIC_PHONE = "+44 20 7946 0000"  # a number set aside for drama (Ofcom): it rings nowhere
DEMO_STAFF = (
    ("physician", "Dr Ana Rivera", "physician"),
    ("nurse", "Nurse Tomas Okafor", "nurse"),
    ("viewer", "Vera Chen (viewer)", "viewer"),
    ("admin", "Adam Adams (admin)", "admin"),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `clinic` command group."""
    clinic = subparsers.add_parser(
        "clinic", help="the clinician programmer web app: serve it, its database and users, or the demo clinic"
    )
    commands = clinic.add_subparsers(dest="clinic_command", metavar="SUBCOMMAND", required=True)

    p = commands.add_parser("init-db", help="create or upgrade the clinic database (migrations to the newest schema)")
    _db_argument(p)
    p.set_defaults(func=_init_db)

    p = commands.add_parser(
        "add-user",
        help="add a user; the password is read from THECAL_PASSWORD or asked for",
        description="Add a user of the clinician programmer. The password is read from the THECAL_PASSWORD "
        "environment variable, or asked for twice without echo; it is never given on the command line.",
    )
    p.add_argument("--username", required=True, help="the name to sign in with")
    p.add_argument("--role", required=True, choices=ROLES, help="physician, nurse, viewer or admin")
    p.add_argument("--full-name", default="", help="the person's name as the record shows it")
    _db_argument(p)
    p.set_defaults(func=_add_user)

    p = commands.add_parser("serve", help="serve the clinician programmer at http://HOST:PORT")
    _db_argument(p)
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    p.add_argument("--port", default=str(DEFAULT_PORT), help=f"port to listen on (default {DEFAULT_PORT})")
    p.add_argument("--pumps", help=f"the clinic's pumps folder (default {DATA_DIR / 'pumps'})")
    p.add_argument("--clinic-name", default="Pain clinic", help="the clinic's name on every page")
    p.set_defaults(func=_serve)

    p = commands.add_parser(
        "demo",
        help="the demo clinic: pump daemons, a fresh database with patients and accounts, served until Ctrl-C",
    )
    p.add_argument("--port", default=str(DEFAULT_PORT), help=f"port to listen on (default {DEFAULT_PORT})")
    p.add_argument("--dir", help=f"where the demo keeps its pumps and database (default {DATA_DIR / 'demo'})")
    p.add_argument(
        "--accel",
        default=str(DEFAULT_DEMO_ACCEL),
        help=f"pump time per real time for the demo pumps (default {DEFAULT_DEMO_ACCEL:g}: a pump hour a minute)",
    )
    p.add_argument(
        "--ptm-port",
        default=str(DEMO_FIRST_PTM_PORT),
        help=f"the first demo handset app's port; the next handsets take the ports after it (default "
        f"{DEMO_FIRST_PTM_PORT})",
    )
    p.set_defaults(func=_demo)


def _db_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        help=f"database URL: sqlite:///path.db or postgresql+psycopg://user@host/db (default {DATA_DIR / 'clinic.db'})",
    )


def _db_url(args: argparse.Namespace, folder: Path = DATA_DIR) -> str:
    """The database URL given, or the default SQLite file (its folder made)."""
    from thecal.apps.clinic.store import sqlite_url

    if args.db:
        return str(args.db)
    folder.mkdir(parents=True, exist_ok=True)
    return sqlite_url(folder / "clinic.db")


def _port(text: str) -> int:
    from thecal.units import LISTEN_PORT, count

    return count(text, "--port", LISTEN_PORT)


def _init_db(args: argparse.Namespace) -> int:
    from thecal.apps.clinic.store import ClinicStore

    url = _db_url(args)
    store = ClinicStore.open(url)
    try:
        store.migrate()
        print(f"clinic database ready: {_shown(url)} (schema {store.schema_revision()})")
    finally:
        store.close()
    return 0


def _password(field: str = PASSWORD_ENV) -> str:
    """The new user's password: THECAL_PASSWORD, or asked twice without echo."""
    given = os.environ.get(PASSWORD_ENV)
    if given:
        return given
    if not sys.stdin.isatty():
        raise InputError(field, None, "no password given", f"set {PASSWORD_ENV}, or run this at a terminal")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise InputError("password", "(hidden)", "the two passwords differ", "type the same password twice")
    return first


def _add_user(args: argparse.Namespace) -> int:
    from thecal.apps.clinic.store import AppRole, ClinicStore

    password = _password()
    store = ClinicStore.open(_db_url(args))
    try:
        store.migrate()
        user = store.add_user(args.username, args.full_name, AppRole(args.role), password, by=None)
    finally:
        store.close()
    print(f"user {user.username} ({user.role.value}) added")
    return 0


def _secret() -> bytes:
    text = os.environ.get(SECRET_ENV, "")
    if text:
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) < 32:
            raise InputError(SECRET_ENV, "(hidden)", "is not 64 hex digits", "set it to `openssl rand -hex 32`")
        return key
    return secrets.token_bytes(32)  # sessions end when the server stops


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from thecal.apps.clinic.pumps import ClinicPumps
    from thecal.apps.clinic.store import ClinicStore
    from thecal.apps.clinic.web import create_app

    port = _port(args.port)
    store = ClinicStore.open(_db_url(args))
    pumps = ClinicPumps(Path(args.pumps) if args.pumps else DATA_DIR / "pumps")
    try:
        store.migrate()
        app = create_app(store, pumps, secret_key=_secret(), clinic_name=args.clinic_name)
        print(f"clinician programmer at http://{args.host}:{port} (Ctrl-C stops it)", flush=True)
        uvicorn.run(app, host=args.host, port=port, log_level="warning")
    finally:
        pumps.close()
        store.close()
    return 0


def _demo(args: argparse.Namespace) -> int:
    import uvicorn

    from thecal.apps.clinic.demo import DemoClinic
    from thecal.apps.patient.demo import DemoHandsets
    from thecal.devices.daemon import check_accel
    from thecal.units import LISTEN_PORT, count

    port = _port(args.port)
    first_handset = count(args.ptm_port, "--ptm-port", LISTEN_PORT)
    try:
        accel = float(args.accel)
    except ValueError:
        raise InputError("--accel", args.accel, "is not a number", "give a factor like 60") from None
    check_accel(accel)
    folder = Path(args.dir) if args.dir else DATA_DIR / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"setting up the demo clinic in {folder} (its pumps live their pasts first)…", flush=True)
    with DemoClinic(folder, accel=accel) as demo:
        app, accounts, close = demo_app(demo, folder)
        handsets = DemoHandsets(
            clinic_name=DEMO_CLINIC_NAME, clinic_phone=DEMO_CLINIC_PHONE, clinic_url=f"http://127.0.0.1:{port}"
        )
        try:
            patients = demo_handset_patients(demo, app.state.desk.store)
            # 0 lets each handset take a free port of its own, as --port 0 does for the programmer.
            ports = [first_handset + n if first_handset else 0 for n in range(len(patients))]
            served = handsets.start(patients, ports, demo.pumps.place_head)
            print("\nDemo accounts (username / password):")
            for username, password, role in accounts:
                print(f"  {username:10s} {password}   ({role})")
            print(f"\nclinician programmer at http://127.0.0.1:{port} — Ctrl-C stops it, every handset and every pump")
            for handset in served:
                print(f"patient's therapy manager of {handset.name} (pump {handset.serial}) at {handset.url}")
            sys.stdout.flush()
            uvicorn.run(app, host=DEFAULT_HOST, port=port, log_level="warning")
        finally:
            handsets.stop()
            close()
    print("demo stopped: every handset app and pump daemon it started is stopped")
    return 0


def demo_handset_patients(demo: Any, store: Any) -> list[Any]:
    """The demo patients whose pumps have demand doses on (a handset), each with a diary token the clinic issued."""
    from thecal.apps.patient.demo import HandsetPatient

    issue = getattr(store, "issue_patient_token", None)
    physician = next((u for u in store.users() if u.username == "physician"), None)
    out = []
    for p in demo.patients():
        status = demo.pumps.status(p.pump_serial)
        if status.get("demand") is None:
            continue
        label = status.get("label") or []
        drug = label[0].get("drug") if label and isinstance(label[0], dict) else None
        record = store.patient_by_mrn(p.mrn)
        token = issue(record.id, physician) if issue is not None and record is not None and physician else None
        link = demo.pumps.link(p.pump_serial)
        name = f"{p.given_name} {p.family_name}"
        out.append(HandsetPatient(p.pump_serial, link.state_dir, link.port, name, drug, token))
    return out


def demo_app(demo: Any, folder: Path) -> tuple[Any, list[tuple[str, str, str]], Any]:
    """The app over a fresh demo database: its patients, implants, fills and accounts, each pump read once.

    Returns the app, the accounts (username, password, role) and a function that closes the database.
    """
    from thecal.apps.clinic.store import AppRole, ClinicStore, sqlite_url
    from thecal.apps.clinic.web import create_app
    from thecal.apps.clinic.web.core import Desk

    path = folder / "clinic.db"
    path.unlink(missing_ok=True)
    store = ClinicStore.open(sqlite_url(path))
    store.migrate()
    accounts: list[tuple[str, str, str]] = []
    users: dict[str, Any] = {}
    for username, full_name, role in DEMO_STAFF:
        password = secrets.token_urlsafe(9)
        users[role] = store.add_user(username, full_name, AppRole(role), password, by=users.get("admin"))
        accounts.append((username, password, role))
    physician = users["physician"]
    for p in demo.patients():
        patient = store.add_patient(
            mrn=p.mrn,
            family_name=p.family_name,
            given_name=p.given_name,
            birth_date=p.birth_date,
            weight_kg=p.weight_kg,
            indication=p.indication,
            opioid_status=p.opioid_status,
            by=physician,
        )
        implant = store.add_implant(
            patient.id,
            pump_model=p.pump_model,
            pump_serial=p.pump_serial,
            implant_date=p.implant_date,
            catheter_model=p.catheter_model,
            catheter_length_cm=p.catheter_length_cm,
            catheter_volume_ul_per_cm=p.catheter_volume_ul_per_cm,
            tip_level=p.tip_level,
            by=physician,
        )
        for fill in p.fills:
            store.record_fill(
                implant.id,
                at=fill.at,
                drugs=fill.drugs,
                volume_ml=fill.volume_ml,
                aspirated_ml=fill.aspirated_ml,
                expected_ml=fill.expected_ml,
                discrepancy_acknowledged=False,
                by=physician,
            )
        store.add_note(patient.id, text=p.story, by=physician)
    app = create_app(store, demo.pumps, secret_key=secrets.token_bytes(32), clinic_name=DEMO_CLINIC_NAME)
    desk: Desk = app.state.desk
    for p in demo.patients():
        try:
            desk.interrogate(p.pump_serial, physician)  # the dashboard ranks from each pump's last reading
        except ThecalError as error:
            print(f"  pump {p.pump_serial} not read at start: {error}", file=sys.stderr)
    return app, accounts, store.close


def _shown(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
