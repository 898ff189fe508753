"""The pump page's "Now" panel: what a paired pump is doing now, read over telemetry and refreshed by the page.

`GET /pumps/{serial}/live` answers in JSON (the panel's words and its HTML),
and the pump page renders the same panel when it is served, so a page without
scripts is right as of its load. A read here is one status request through the
clinic programmer, kept for `READ_EVERY_S` per pump whatever the number of open
tabs. It is not a programming session: no audit entry and no stored
interrogation come of it (see `LiveReads.now`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from thecal.apps.clinic.web import views
from thecal.apps.clinic.web.deps import UserDep, desk_of
from thecal.errors import ThecalError
from thecal.pump.model import PumpModel, load_model
from thecal.therapy import PumpSnapshot, words
from thecal.therapy.settings import mass_text, volume_text
from thecal.units import MS_PER_DAY

__all__ = ["LIVE_REFRESH_MS", "READ_EVERY_S", "LiveReads", "install", "router"]

LIVE_REFRESH_MS = 10_000  # how often an open pump page asks again
READ_EVERY_S = 5.0  # at most one status read per pump in this time, however many pages ask
STOPPED_MODES = frozenset({"minimum_rate", "empty", "stalled", "fault", "end_of_service"})

router = APIRouter(include_in_schema=False)  # part of a page, not of the JSON API


@runtime_checkable
class StatusReader(Protocol):
    """Pumps that answer a status read (`thecal.apps.clinic.pumps.ClinicPumps`)."""

    def status(self, serial: str) -> dict[str, object]:
        """The pump's interrogation answer as it travelled."""
        ...


@dataclass
class _Kept:
    at: float
    answer: dict[str, Any]


@dataclass
class LiveReads:
    """The last "now" of each pump, read at most once every `every_s` seconds per pump."""

    every_s: float = READ_EVERY_S
    clock: Callable[[], float] = time.monotonic
    _kept: dict[str, _Kept] = field(default_factory=dict)
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def now(self, request: Request, serial: str) -> dict[str, Any]:
        """What the pump is doing now, or why that cannot be said: from a read at most `every_s` old."""
        with self._guard:
            lock = self._locks.setdefault(serial, threading.Lock())
        # Tabs asking together wait for the one read under way and share it, instead of each reading the pump.
        with lock:
            kept = self._kept.get(serial)
            if kept is not None and self.clock() - kept.at < self.every_s:
                return kept.answer
            # A status read only: nothing is written to the audit trail and the stored last interrogation stays as
            # it was. The trail records who programmed or interrogated a pump and why; a page refreshing itself
            # every few seconds is neither, and would bury those entries. The last interrogation is what a
            # clinician read and acted on, so it is replaced only by another deliberate interrogation.
            answer = _read(request, serial)
            # What the panel says, in short: an open page replaces its panel only when this changes.
            answer["key"] = hashlib.sha256(json.dumps(answer, sort_keys=True).encode()).hexdigest()[:16]
            self._kept[serial] = _Kept(self.clock(), answer)
            return answer


def _read(request: Request, serial: str) -> dict[str, Any]:
    desk = desk_of(request)
    ports = {link.serial: link.port for link in desk.pumps.links()}
    if ports.get(serial) is None:
        return _not_live(serial, "this pump's daemon is not running, so it cannot be read now")
    if not isinstance(desk.pumps, StatusReader):
        return _not_live(serial, "this programmer cannot read a pump's status")
    try:
        if not desk.pumps.paired(serial):
            return _not_live(
                serial, "the programmer is not paired with this pump: place the programmer head over the pump to pair"
            )
        status = desk.pumps.status(serial)
        model = status.get("model")
        if not isinstance(model, str):
            return _not_live(serial, "the pump's answer names no pump model: interrogate it to read it in full")
        snapshot = PumpSnapshot.from_status(status, _model(model))
    except (ThecalError, OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:
        return _not_live(serial, f"the pump did not answer a status read ({exc}); it is asked again shortly")
    return _live(serial, snapshot)


@functools.lru_cache(maxsize=16)
def _model(name: str) -> PumpModel:
    return load_model(name)


def _not_live(serial: str, why: str) -> dict[str, Any]:
    said = f"Not read live: {why}."
    state = {"live": False, "why": said, "mode": None, "mode_text": None, "alarms": [], "bolus": False}
    return {
        "serial": serial,
        "live": False,
        "why": said,
        "state": state,
        "mode": None,
        "mode_text": None,
        "therapy_stopped": None,
        "alarms": [],
        "bolus": None,
        "reservoir": None,
        "pump_clock": None,
    }


def _live(serial: str, s: PumpSnapshot) -> dict[str, Any]:
    alarms = [{"code": a, "words": words.alarm_text(a), "critical": words.alarm_is_critical(a)} for a in s.alarms]
    alarms.sort(key=lambda a: (not a["critical"], a["code"]))  # critical first
    bolus = _bolus(s)
    state = {
        "live": True,
        "why": None,
        "mode": s.mode,
        "mode_text": words.mode_text(s.mode),
        "alarms": [{"code": a["code"], "words": a["words"]} for a in alarms],
        "bolus": bolus is not None,
    }
    return {
        "serial": serial,
        "live": True,
        "why": None,
        "state": state,
        "mode": s.mode,
        "mode_text": words.mode_text(s.mode),
        "therapy_stopped": s.mode in STOPPED_MODES,
        "alarms": alarms,
        "bolus": bolus,
        "reservoir": {
            "volume_nl": s.reservoir_nl,
            "capacity_nl": s.reservoir_capacity_nl,
            "low_alarm_nl": s.low_reservoir_alarm_nl,
            "text": views.reservoir_text(s),
            "low_alarm_text": volume_text(s.low_reservoir_alarm_nl),
        },
        "pump_clock": {"wall_ms": s.wall_ms, "text": words.local_time(s.wall_ms)},
    }


def _bolus(s: PumpSnapshot) -> dict[str, Any] | None:
    """The bolus under way as a dose of the drug, and when it ends at the pump's bolus flow (None: none runs)."""
    b = s.bolus
    if b is None:
        return None
    concentration = s.label[0][1] if s.label else 0
    remaining_nl = max(0, b.volume_nl - b.delivered_nl)
    ends = s.wall_ms + remaining_nl * MS_PER_DAY // s.bolus_flow_nl_per_day if s.bolus_flow_nl_per_day > 0 else None
    dose = mass_text(s.label, b.volume_nl * concentration // 1_000_000)
    given = mass_text(s.label, b.delivered_nl * concentration // 1_000_000)
    text = f"{b.kind.replace('_', ' ')} bolus of {dose} ({volume_text(b.volume_nl)}): {given} given so far"
    ends_text = None if ends is None else f"ends about {words.clock_text(ends, s.wall_ms)} (pump clock)"
    return {
        "kind": b.kind,
        "volume_nl": b.volume_nl,
        "delivered_nl": b.delivered_nl,
        "ends_wall_ms": ends,
        "text": text,
        "ends_text": ends_text or "no end time: the bolus does not flow now",
    }


@router.get("/pumps/{serial}/live")
def live(request: Request, serial: str, user: UserDep) -> JSONResponse:
    """The pump now, for its open page: mode, alarms, a running bolus, reservoir and pump clock, or why not."""
    desk = desk_of(request)
    implant, _ = desk.implant_and_patient(serial)
    if implant is None and serial not in {link.serial for link in desk.pumps.links()}:
        why = f"Pump {serial} is not a pump of this clinic: choose a pump from a patient's page."
        return JSONResponse({"serial": serial, "live": False, "why": why}, status_code=404)
    now = _reads(request).now(request, serial)
    html = request.app.state.live_inner.render(now=now)
    return JSONResponse({**now, "html": html}, headers={"Cache-Control": "no-store"})


def _reads(request: Request) -> LiveReads:
    reads: LiveReads = request.app.state.live_reads
    return reads


def pump_now(request: Request, serial: str) -> dict[str, Any]:
    """The "Now" panel's content for the pump page as it is served."""
    return _reads(request).now(request, serial)


def install(app: FastAPI) -> None:
    """Add the live route and the pump page's "Now" panel to the app."""
    app.state.live_reads = LiveReads()
    app.state.live_refresh_ms = LIVE_REFRESH_MS
    app.include_router(router)
    env = app.state.templates.env
    env.globals["pump_now"] = pump_now
    app.state.live_inner = env.from_string('{% from "pump_now_inner.html" import inner %}{{ inner(now) }}')
