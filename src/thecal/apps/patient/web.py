"""The patient's web app: the pages, and the one path from a tap to the pump.

`create_app(device_dir, port)` builds it; nothing is built at import. A press
goes: the home page issues a one-time press id with its form; `POST /dose`
consumes the id (under the handset's lock, so a second submit waits and then
finds it consumed), plans and sends one `DemandPress` through the therapy layer,
keeps the result under the id and redirects to `/dose/{id}`, which only shows
what is kept: a reload never sends. An outcome the link left unknown is
settled only by reading the pump (`POST /dose/{id}/check`, or any later visit
to the home page while the pump answers); the request is never sent again.
Every POST carries the app's form key, which a page of another site cannot read.
An open page reads `/live` every `refresh_ms` (the pump now, as the start page
would show it): its countdown follows the pump's clock, and the end of a dose or
a new alarm shows without a press.
"""

from __future__ import annotations

import calendar
import contextlib
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from thecal.apps.patient.answers import Answer, home_answer, press_answer
from thecal.apps.patient.chart import DoseMark, pain_chart
from thecal.apps.patient.clinic_sync import ClinicObservations, ObservationSink, SyncError
from thecal.apps.patient.handset import DoseNow, DoseState, Handset, Outcome, Press, PumpUnreachable, Reading
from thecal.apps.patient.info import HandsetInfo, tone_table
from thecal.apps.patient.store import ACTIVITIES, DB_FILE, SIDE_EFFECTS, HandsetStore, PressRow, check_entry
from thecal.devices.ptm import TherapyManagerClient
from thecal.errors import InputError, ThecalError
from thecal.therapy import PortError
from thecal.therapy.settings import wall_text

HERE = Path(__file__).parent
FORM_KEY = "form_key"
# How often an open page reads the pump again, so the end of a dose or a new alarm shows without a press. Each read
# is one status request over the link (assumption: often enough for a patient watching the screen, rare enough for
# the pump's radio).
REFRESH_MS = 10_000


def local_wall_ms() -> int:
    """This device's local time as milliseconds since the epoch read as local (the pump's convention)."""
    return calendar.timegm(time.localtime()) * 1000


class PatientApp:
    """One handset's app state: its link to the pump, its database, what the clinic wrote, the diary's sink."""

    def __init__(
        self,
        device_dir: Path,
        client_factory: Callable[[], TherapyManagerClient],
        sink: ObservationSink | None,
        clock: Callable[[], int] = local_wall_ms,
        refresh_ms: int = REFRESH_MS,
    ):
        self.device_dir = Path(device_dir)
        self.handset = Handset(client_factory)
        self.store = HandsetStore(self.device_dir / DB_FILE)
        self.info = HandsetInfo.load(self.device_dir)
        self.sink = sink
        self.clock = clock
        self.form_key = secrets.token_urlsafe(24)
        self.sync_problem: str | None = None
        self.refresh_ms = refresh_ms
        self._doses_done: dict[str, DoseNow | None] = {}

    # ------------------------------------------------------------------ presses

    def read(self) -> Reading | None:
        """The pump now, or None when it does not answer."""
        try:
            return self.handset.read()
        except (PumpUnreachable, PortError):
            return None

    def press(self, token: str) -> str:
        """Send the press of a one-time id, once; 'sent', 'used' (already consumed) or 'unknown' (never issued)."""
        with self.handset.lock:
            if not self.store.claim(token):
                return "used" if self.store.press(token) is not None else "unknown"
            order = 1 + max((p.sent_order or 0 for _, p in self._sent()), default=0)
            try:
                press = self.handset.press()
            except ThecalError as exc:
                # Sent or not, nobody can say: it counts as given until the pump's record says otherwise.
                press = Press(Outcome.UNKNOWN, message=str(exc))
            self.store.finish(token, replace(press, sent_order=order).to_dict())
            return "sent"

    def _sent(self) -> list[tuple[str, Press]]:
        """Every press that was sent or may have been, with its id, in the order its ids were issued."""
        out = []
        for row in self.store.presses_done():
            found = self.result(row.id)
            if found is not None:
                out.append((row.id, found[1]))
        return out

    def next_mark(self, press: Press) -> int | None:
        """The log mark of the first press this handset sent after `press`: that press's log entries end before it.

        A later press's eligibility read came after every frame of this one, so its mark bounds what this one logged:
        a dose the next press gave is never read as this one's.
        """
        if press.sent_order is None:
            return None
        later = [p.log_seq for _, p in self._sent() if p.sent_order is not None and p.sent_order > press.sent_order]
        return min((mark for mark in later if mark is not None), default=None)

    def result(self, token: str) -> tuple[PressRow, Press] | None:
        """A press id and what its press did; waits for a press still being sent."""
        with self.handset.lock:
            row = self.store.press(token)
        if row is None or row.state == "issued":
            return None
        if row.result is None:  # consumed, never finished (the app stopped while sending): not confirmed
            return row, Press(Outcome.UNKNOWN, message="the app stopped while the request was being sent")
        return row, Press.from_dict(row.result)

    def settle(self, token: str) -> bool:
        """Read the pump's record for an unknown press and keep what it shows; False when the pump did not answer."""
        with self.handset.lock:
            found = self.result(token)
            if found is None or found[1].outcome is not Outcome.UNKNOWN:
                return True
            try:
                settled = self.handset.settle(found[1], self.next_mark(found[1]))
            except (PumpUnreachable, PortError):
                return False
            self.store.finish(token, settled.to_dict())
            return True

    def last_dose(self) -> DoseNow | None:
        """Where the newest given dose is (running or ended), from the pump's log; read again only while it runs."""
        given = [(token, p) for token, p in self._sent() if p.outcome is Outcome.GIVEN]
        if not given:
            return None
        token, press = max(given, key=lambda found: found[1].sent_order or 0)  # the newest sent
        if token in self._doses_done:
            return self._doses_done[token]
        try:
            dose = self.handset.dose_now(press)
        except (PumpUnreachable, PortError):
            return None
        if dose is None or dose.state is not DoseState.RUNNING:
            # An ended dose stays ended, and a log that no longer holds it will not again: read it once.
            self._doses_done[token] = dose
        return dose

    def unsettled(self) -> list[str]:
        """Press ids whose outcome is still unknown, newest first."""
        return [token for token, press in self._sent() if press.outcome is Outcome.UNKNOWN][::-1]

    def dose_marks(self) -> list[DoseMark]:
        """Every dose given or not confirmed, for the chart."""
        marks = []
        for row in self.store.presses_done():
            found = self.result(row.id)
            if found is None:
                continue
            press = found[1]
            at = press.given_wall_ms or (press.before.view.wall_ms if press.before else None)
            if at is not None and press.outcome in (Outcome.GIVEN, Outcome.UNKNOWN):
                marks.append(DoseMark(at, press.outcome is Outcome.GIVEN))
        return marks

    # -------------------------------------------------------------------- diary

    def sync(self) -> int:
        """Send queued diary entries to the clinic; how many are still waiting."""
        waiting = self.store.unsent()
        if self.sink is None:
            return len(waiting)
        for entry in waiting:
            try:
                self.sink.send(f"{self.device_dir.name}-{entry.id}-{entry.at_ms}", entry)
            except SyncError as exc:
                self.sync_problem = str(exc)
                break
            self.store.mark_sent(entry.id, self.clock())
        else:
            self.sync_problem = None
        return len(self.store.unsent())


def create_app(
    device_dir: Path, port: int, *, clinic_url: str | None = None, clinic_token: str | None = None
) -> FastAPI:
    """The patient's app for the PTM in `device_dir`, talking to the pump daemon on 127.0.0.1:`port`."""
    if (clinic_url is None) != (clinic_token is None):
        raise InputError(
            "--clinic-url/--clinic-token",
            clinic_url or "(none)",
            "one was given without the other",
            "give both the clinic's address and the token it issued, or neither",
        )
    device_dir = Path(device_dir)
    client = TherapyManagerClient.connect(device_dir, port)  # a wrong directory is refused now, not at a press
    sink = None if clinic_url is None or clinic_token is None else ClinicObservations(clinic_url, clinic_token)
    return build_app(PatientApp(device_dir, lambda: client, sink))


def build_app(state: PatientApp) -> FastAPI:
    """The web app over one handset's state (tests give their own clock or sink)."""
    app = FastAPI(title="thecal patient's therapy manager", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(env=Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=True))
    app.state.patient = state
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        context.update(
            request=request,
            info=state.info,
            form_key=state.form_key,
            path=request.url.path,
            refresh_ms=state.refresh_ms,
        )
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    async def form_of(request: Request) -> dict[str, Any]:
        form = await request.form()
        data: dict[str, Any] = {k: form.getlist(k) if k == "side_effects" else form.get(k) for k in form}
        if not secrets.compare_digest(str(data.get(FORM_KEY) or ""), state.form_key):
            raise _Refused()
        return data

    class _Refused(Exception):
        pass

    @app.exception_handler(_Refused)
    def refused(request: Request, exc: _Refused) -> Response:
        return render(
            request,
            "problem.html",
            403,
            title="This page is out of date",
            words="Nothing was sent. Go back to the start and try again.",
        )

    def now() -> tuple[Reading | None, list[str], Answer]:
        """The pump now, the presses still not confirmed once its record was read (never resent), the start answer."""
        with state.handset.lock:
            reading = state.read()
            dose = None
            if reading is not None:
                for token in state.unsettled():
                    state.settle(token)
                dose = state.last_dose()
            return reading, state.unsettled(), home_answer(reading, dose)

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        reading, pending, answer = now()
        return render(
            request,
            "home.html",
            answer=answer,
            press_id=state.store.issue(state.clock()),
            pending=pending[0] if pending else None,
            reading=reading,
        )

    live_inner = templates.env.from_string('{% from "_answer.html" import inner %}{{ inner(answer) }}')

    @app.get("/live")
    def live() -> JSONResponse:
        """The pump now, for an open page to refresh itself: the start page's answer, any alarm, what is unsettled."""
        reading, pending, answer = now()
        return JSONResponse(
            {
                "reachable": reading is not None,
                "now_wall_ms": None if reading is None else reading.view.wall_ms,
                "key": answer.key,
                "kind": answer.kind,
                "role": answer.role,
                "html": live_inner.render(answer=answer),
                "alarm": answer.kind == "alarm",
                "unsettled": pending,
            },
            headers={"Cache-Control": "no-store"},
        )

    @app.post("/dose")
    async def dose(request: Request) -> Response:
        data = await form_of(request)
        token = str(data.get("press_id") or "")
        import anyio.to_thread

        done = await anyio.to_thread.run_sync(state.press, token)
        if done == "unknown":
            return render(
                request,
                "problem.html",
                400,
                title="This request is not known",
                words="Nothing was sent. Go back to the start and press Request dose there.",
            )
        return RedirectResponse(f"/dose/{token}", status_code=303)

    @app.get("/dose/{token}", response_class=HTMLResponse)
    def dose_result(request: Request, token: str) -> HTMLResponse:
        found = state.result(token)
        if found is None:
            return render(
                request, "problem.html", 404, title="No such request", words="Go back to the start to see your pump."
            )
        press = found[1]
        answer = press_answer(press, state.info.drug)
        checked = request.query_params.get("checked")
        return render(
            request,
            "result.html",
            answer=answer,
            token=token,
            asked=wall_text(press.before.view.wall_ms)[11:] if press.before else None,
            still_unreachable=checked == "unreachable",
        )

    @app.post("/dose/{token}/check")
    async def dose_check(request: Request, token: str) -> Response:
        await form_of(request)
        import anyio.to_thread

        reached = await anyio.to_thread.run_sync(state.settle, token)
        return RedirectResponse(f"/dose/{token}" + ("" if reached else "?checked=unreachable"), status_code=303)

    def diary_page(request: Request, status_code: int = 200, error: str | None = None, **kept: Any) -> HTMLResponse:
        entries = state.store.entries()
        chart = pain_chart([(e.at_ms, e.pain) for e in entries], state.dose_marks())
        return render(
            request,
            "diary.html",
            status_code,
            entries=entries[::-1][:30],
            chart=chart,
            activities=ACTIVITIES,
            side_effects=SIDE_EFFECTS,
            waiting=len(state.store.unsent()),
            clinic=state.sink is not None,
            sync_problem=state.sync_problem,
            error=error,
            saved=request.query_params.get("saved") == "1",
            kept=kept,
            wall_text=wall_text,
        )

    @app.get("/diary", response_class=HTMLResponse)
    def diary(request: Request) -> HTMLResponse:
        if state.sink is not None and state.store.unsent():
            with contextlib.suppress(ThecalError):
                state.sync()
        return diary_page(request)

    @app.post("/diary")
    async def diary_add(request: Request) -> Response:
        data = await form_of(request)
        effects = [str(s) for s in data.get("side_effects") or []]
        try:
            pain, activity, notes = check_entry(data.get("pain"), data.get("activity"), effects, data.get("notes"))
        except InputError as exc:
            return diary_page(request, 422, error=str(exc), **{k: v for k, v in data.items() if k != FORM_KEY})
        state.store.add_entry(state.clock(), pain, activity, tuple(effects), notes)
        state.sync()
        return RedirectResponse("/diary?saved=1", status_code=303)

    @app.get("/alarms", response_class=HTMLResponse)
    def alarms(request: Request) -> HTMLResponse:
        reading = state.read()
        return render(request, "alarms.html", table=tone_table(), reading=reading)

    @app.get("/mri", response_class=HTMLResponse)
    def mri(request: Request) -> HTMLResponse:
        return render(request, "mri.html")

    @app.get("/help", response_class=HTMLResponse)
    def help_page(request: Request) -> HTMLResponse:
        reading = state.read()
        refill = None
        if reading is not None and reading.refill_due_wall_ms is not None:
            refill = wall_text(reading.refill_due_wall_ms)[:10]
        elif state.info.next_refill is not None:
            refill = state.info.next_refill.isoformat()
        return render(request, "help.html", refill=refill)

    return app


__all__ = ["Answer", "PatientApp", "build_app", "create_app"]
