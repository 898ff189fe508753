"""The Finish screen's "What the model forecasts" panel: the current prescription against the planned one.

The Finish screen is served at once with the panel saying it is working;
/static/clinic-forecast.js then asks `GET /plans/{token}/forecast` for the
panel's HTML. The route builds what the clinic knows now (the plan's settings
before, the implant record, the pump's reservoir from a status read, the
patient's record and latest pain score) and runs `thecal.sim.forecast_now` in
a worker thread, so the server goes on answering other requests meanwhile.
The answer is kept for the plan's token while the plan waits, so a reload, or
two tabs, never compute it twice. Sending the plan never waits for it and
never reads it.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from thecal.apps.clinic.web import live
from thecal.apps.clinic.web.core import PROGRAMMERS, Desk, require
from thecal.apps.clinic.web.deps import UserDep, desk_of
from thecal.apps.clinic.web.plans import Pending
from thecal.errors import InputError, ThecalError
from thecal.sim.forecast_now import (
    DRAWS,
    SETTLE_DAYS,
    UNKNOWN_PAIN,
    WEEKS,
    PatientNow,
    PumpNow,
    forecast_now,
    proposal_of_plan,
)
from thecal.therapy import words
from thecal.therapy.settings import dose_rate_text, volume_text

__all__ = ["ForecastSettings", "Forecasts", "forecast_url", "install", "router"]

router = APIRouter(include_in_schema=False)  # part of a page, not of the JSON API
TEMPLATE = "forecast_panel.html"
SHOWN_ITEMS = ("sedation", "respiratory_depression", "nausea", "pruritus", "constipation", "confusion")
CHANGE_SHOWN = 0.05  # a side effect's median severity (0-4) must move this much to be listed as changing
MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class ForecastSettings:
    """How much the panel's forecast computes: few draws and weeks, as a page waits for it."""

    draws: int = DRAWS
    weeks: int = WEEKS
    seed: int = 0
    settle_days: int = SETTLE_DAYS


@dataclass
class Forecasts:
    """The panels worked out, by plan token, while their plans wait; one computation per token."""

    _kept: dict[str, tuple[int, str]] = field(default_factory=dict)  # token: (status, html)
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def lock(self, token: str) -> threading.Lock:
        """The lock under which a token's panel is worked out."""
        with self._guard:
            return self._locks.setdefault(token, threading.Lock())

    def kept(self, token: str) -> tuple[int, str] | None:
        """A panel already worked out, or None."""
        with self._guard:
            return self._kept.get(token)

    def keep(self, token: str, answer: tuple[int, str], desk: Desk) -> None:
        """Keep a panel; forget those of plans no longer waiting (sent, cancelled or expired)."""
        with self._guard:
            self._kept[token] = answer
            for old in [t for t in self._kept if t != token and desk.book.peek(t) is None]:
                self._kept.pop(old, None)
                self._locks.pop(old, None)


def forecast_url(pending: Pending) -> str | None:
    """Where the Finish screen fetches its forecast panel; None for a plan that does not change the basal dose."""
    if not pending.plan.allowed or proposal_of_plan(pending.plan) is None:
        return None
    return f"/plans/{pending.token}/forecast"


@router.get("/plans/{token}/forecast", response_class=HTMLResponse)
async def forecast_panel(request: Request, token: str, user: UserDep) -> HTMLResponse:
    """The forecast panel of a plan on its Finish screen, as an HTML fragment (404 once the plan is gone)."""
    require(user, *PROGRAMMERS, what="see a plan's forecast")
    desk = desk_of(request)
    forecasts: Forecasts = request.app.state.forecasts
    pending = desk.book.peek(token)
    if pending is None:
        return _fragment(request, 404, gone=True)
    answer = forecasts.kept(token)
    if answer is None:
        # The forecast takes seconds: a worker thread keeps the server answering meanwhile.
        answer = await anyio.to_thread.run_sync(_work_out, request, pending)
    status, html = answer
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def _work_out(request: Request, pending: Pending) -> tuple[int, str]:
    desk = desk_of(request)
    forecasts: Forecasts = request.app.state.forecasts
    with forecasts.lock(pending.token):
        kept = forecasts.kept(pending.token)
        if kept is not None:
            return kept  # another request worked it out while this one waited
        answer = (200, _panel(request, pending))
        forecasts.keep(pending.token, answer, desk)
        return answer


def _panel(request: Request, pending: Pending) -> str:
    settings: ForecastSettings = request.app.state.forecast_settings
    desk = desk_of(request)
    plan = pending.plan
    proposal = proposal_of_plan(plan)
    if proposal is None or plan.before is None or not plan.before.label or plan.before.prescription is None:
        return _render(request, why="this plan does not change the basal prescription of a filled pump")
    implant, patient = desk.implant_and_patient(pending.serial)
    if patient is None:
        return _render(
            request, why="the pump is not implanted in a patient of this clinic, so there is no one to model"
        )
    reservoir_nl, model = _reservoir_and_model(request, desk, pending.serial)
    if reservoir_nl is None or model is None:
        return _render(request, why="the pump's reservoir is not known: interrogate the pump, then plan again")
    scores = desk.store.pain_scores(patient.id)
    before = plan.before
    current = before.prescription
    assert current is not None  # refused above: the panel answers only a filled pump with a prescription
    drug, concentration = before.label[0]
    pump = PumpNow(
        model=implant.pump_model if implant is not None else model,
        catheter_volume_nl=before.catheter_volume_nl,
        drug=drug,
        concentration_ng_per_ml=concentration,
        reservoir_nl=reservoir_nl,
        prescription=current,
        demand=before.demand,
        low_reservoir_alarm_nl=before.low_reservoir_alarm_nl,
        periodic=before.periodic,
    )
    person = PatientNow(
        indication=patient.indication,
        weight_kg=patient.weight_kg,
        opioid_naive=patient.opioid_status == "naive",
        pain_score=float(scores[-1].score) if scores else None,
    )
    try:
        result = forecast_now(
            pump,
            person,
            proposal,
            now_wall_ms=plan.planned_wall_ms,
            weeks=settings.weeks,
            draws=settings.draws,
            seed=settings.seed,
            settle_days=settings.settle_days,
        )
    except (InputError, ThecalError) as error:
        return _render(request, refused=str(error))
    return _render(request, **_shown(result.to_json_data(), before.label, plan.planned_wall_ms, person))


def _reservoir_and_model(request: Request, desk: Desk, serial: str) -> tuple[int | None, str | None]:
    """The pump's calculated reservoir and model: from a status read now, else from its last interrogation."""
    implant, _ = desk.implant_and_patient(serial)
    model = implant.pump_model if implant is not None else None
    now = live.pump_now(request, serial)  # the "Now" panel's shared read: no audit entry, at most one per 5 s
    reservoir = now.get("reservoir") if now.get("live") else None
    if isinstance(reservoir, dict) and type(reservoir.get("volume_nl")) is int:
        return reservoir["volume_nl"], model
    last = desk.store.last_interrogation(serial)
    found = last.summary.get("reservoir_nl") if last is not None else None
    return (found if type(found) is int else None), model


def _band(b: dict[str, Any], digits: int = 1) -> str:
    if b["median"] is None:
        return "—"
    return f"{b['median']:.{digits}f} ({b['p10']:.{digits}f} to {b['p90']:.{digits}f})"


def _signed(b: dict[str, Any], digits: int = 1) -> str:
    if b["median"] is None:
        return "—"
    return f"{b['median']:+.{digits}f} ({b['p10']:+.{digits}f} to {b['p90']:+.{digits}f})"


def _dose_band(label: Any, b: dict[str, Any], signed: bool = False) -> str:
    if b["median"] is None:
        return "—"

    def one(ng: float) -> str:
        text = dose_rate_text(label, _three_figures(abs(ng)))
        return (("+" if ng >= 0 else "−") + text) if signed else text

    return f"{one(b['median'])} ({one(b['p10'])} to {one(b['p90'])})"


def _three_figures(ng: float) -> int:
    """A forecast dose to three significant figures: a model's median is not known to the nanogram."""
    if ng <= 0:
        return 0
    return round(round(ng, 2 - math.floor(math.log10(ng))))


def _date(now_wall_ms: int, d: dict[str, Any]) -> str:
    median = d["after_ms"]["median"]
    if median is None:
        return "not reached (no drug used)"
    days = median / MS_PER_DAY
    at = words.local_time(now_wall_ms + median)[:14]
    seen = "" if d["seen_in_forecast"] else ", at the forecast's rate of use"
    return f"{at} (in {days:.0f} days{seen})"


def _shown(data: dict[str, Any], label: Any, now_wall_ms: int, person: PatientNow) -> dict[str, Any]:
    """The forecast's document as the panel's rows: every dose with its unit, every band as (10 % to 90 %)."""
    cur, pro = data["arms"]["current"], data["arms"]["proposed"]
    weekly = [
        {"week": c["week"], "current": _band(c["pain"]), "proposed": _band(p["pain"])}
        for c, p in zip(cur["weekly"], pro["weekly"], strict=True)
    ]
    effects = []
    for item in SHOWN_ITEMS:
        c, p = cur["side_effect_severity"].get(item), pro["side_effect_severity"].get(item)
        if c is None or p is None or c["median"] is None or p["median"] is None:
            continue
        if abs(p["median"] - c["median"]) >= CHANGE_SHOWN:
            effects.append({"name": item.replace("_", " "), "current": _band(c, 2), "proposed": _band(p, 2)})
    diff = data["difference"]
    days = data["weeks"] * 7
    tip_diff = {k: None if v is None else v / days for k, v in diff["tip_ng"].items()}
    low_ml = cur["refill"]["low_reservoir_alarm_nl"]
    return {
        "prescriptions": (cur["prescription"], pro["prescription"]),
        "weekly": weekly,
        "toxicity": (_band(cur["toxicity"]), _band(pro["toxicity"])),
        "effects": effects,
        "tip": (_dose_band(label, cur["tip_ng_per_day"]), _dose_band(label, pro["tip_ng_per_day"])),
        "low": (
            _date(now_wall_ms, cur["refill"]["low_reservoir_alarm"]),
            _date(now_wall_ms, pro["refill"]["low_reservoir_alarm"]),
        ),
        "low_alarm": volume_text(low_ml),
        "empty": (_date(now_wall_ms, cur["refill"]["empty"]), _date(now_wall_ms, pro["refill"]["empty"])),
        "diff": {
            "pain": _signed(diff["pain"]),
            "toxicity": _signed(diff["toxicity"]),
            "sedation": _signed(diff["sedation_severity"], 2),
            "tip": _dose_band(label, tip_diff, signed=True),
        },
        "drug": data["drug"],
        "weeks": data["weeks"],
        "draws": data["draws"],
        "pain_known": person.pain_score is not None,
    }


def _render(request: Request, **context: Any) -> str:
    template = request.app.state.templates.env.get_template(TEMPLATE)
    settings: ForecastSettings = request.app.state.forecast_settings
    return str(template.render(settle_days=settings.settle_days, unknown_pain=f"{UNKNOWN_PAIN:g}", **context))


def _fragment(request: Request, status: int, **context: Any) -> HTMLResponse:
    return HTMLResponse(_render(request, **context), status_code=status, headers={"Cache-Control": "no-store"})


def install(app: FastAPI, settings: ForecastSettings | None = None) -> None:
    """Add the forecast route, its kept panels and its settings to the app."""
    app.state.forecasts = Forecasts()
    app.state.forecast_settings = settings or ForecastSettings()
    app.include_router(router)
