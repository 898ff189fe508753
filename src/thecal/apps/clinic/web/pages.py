"""The pages: sign-in, dashboard, patient, pump, the workflows with their Finish screens, audit, admin."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from thecal.apps.clinic.store import AppRole, LoginRefused, User
from thecal.apps.clinic.web import dashboard as board
from thecal.apps.clinic.web import exports, facts, forecast_panel, forms, views
from thecal.apps.clinic.web.core import JUMP_FACTOR_KEY, PROGRAMMERS, Desk, actor, now, require
from thecal.apps.clinic.web.deps import FormDep, UserDep, desk_of, render
from thecal.apps.clinic.web.plans import Pending
from thecal.apps.clinic.web.security import flash, sign_in, sign_out, signed_in
from thecal.errors import InputError
from thecal.pump.core.alarms import Alarm
from thecal.pump.core.schedule import DAY_NAMES
from thecal.therapy import ExecutionStatus, Implant, PumpSnapshot, words
from thecal.therapy.settings import time_of_day_text
from thecal.units import format_exact, plain_text

router = APIRouter(include_in_schema=False)
# Plan notes that say what sending will do rather than warn: the Finish screen puts them first, as such.
WHAT_HAPPENS = frozenset({"alarm_test"})


def _safe_next(target: str) -> str:
    """Where to go after signing in: a path of this app only."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --------------------------------------------------------------------------- sign-in


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    """The sign-in form."""
    user = signed_in(request, desk_of(request).store)
    if user is not None:
        return _see(_safe_next(next))
    return render(request, "login.html", None, next=_safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, form: FormDep) -> Response:
    """Check the username and password; a locked account is told until when."""
    username = forms.text(form, "username")
    password = form.get("password", "")
    target = _safe_next(forms.text(form, "next") or "/")
    try:
        user = desk_of(request).store.login(username, password, now())
    except LoginRefused as refused:
        message = refused.reason
        if refused.locked_until is not None:
            message += f" The account is locked until {refused.locked_until:%Y-%m-%d %H:%M} UTC."
        return render(request, "login.html", None, 403, next=target, error=message, username=username)
    sign_in(request, user)
    return _see(target)


@router.post("/logout")
def logout(request: Request, form: FormDep) -> Response:
    """Sign out."""
    sign_out(request)
    return _see("/login")


# --------------------------------------------------------------------------- dashboard


@router.get("/", response_class=HTMLResponse)
def dashboard_page(request: Request, user: UserDep, q: str = "", sort: str = "urgency", page: int = 1) -> Response:
    """The clinic's patients ranked by urgency, with search, sort and paging."""
    q = q[:100]
    page = min(max(page, 1), 10_000)
    ranked, total = board.dashboard(desk_of(request).store, now(), text=q, sort=sort, page=page)
    pages = max(1, -(-total // board.PAGE_SIZE))
    return render(
        request,
        "dashboard.html",
        user,
        ranked=ranked,
        total=total,
        q=q,
        sort=sort if sort in board.SORTS else "urgency",
        sorts=board.SORTS,
        page=page,
        pages=pages,
    )


# ----------------------------------------------------------------------------- patient


def _patient_context(desk: Desk, patient_id: int) -> dict[str, Any]:
    store = desk.store
    patient = store.patient(patient_id)
    if patient is None:
        raise InputError("patient", patient_id, "is not a patient of this clinic", "choose one on the dashboard")
    implants = store.implants(patient_id)
    names = {u.id: u.full_name or u.username for u in store.users()}
    return {
        "patient": patient,
        "implants": [(i, store.revisions(i.id), store.fills(i.id)) for i in implants],
        "visits": store.visits(patient_id),
        "visit_kinds": forms.VISIT_KINDS,
        "today": now().date().isoformat(),
        "pain_scores": store.pain_scores(patient_id),
        "notes": store.notes(patient_id),
        "trials": store.trials(patient_id),
        "audit": store.audit_trail(patient_id=patient_id, limit=50),
        "names": names,
    }


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_page(request: Request, patient_id: int, user: UserDep) -> Response:
    """A patient: details, implants, fills, pain scores, notes, trials and the audit for the patient."""
    return render(request, "patient.html", user, **_patient_context(desk_of(request), patient_id))


@router.post("/patients/{patient_id}/notes")
def add_note(request: Request, patient_id: int, user: UserDep, form: FormDep) -> Response:
    """A clinical note."""
    require(user, *PROGRAMMERS, what="write in the record")
    desk_of(request).store.add_note(patient_id, text=forms.note_text(form, "text"), by=user)
    flash(request, "Note saved.")
    return _see(f"/patients/{patient_id}")


@router.post("/patients/{patient_id}/pain-scores")
def add_pain_score(request: Request, patient_id: int, user: UserDep, form: FormDep) -> Response:
    """A pain score taken in the clinic (0 to 10)."""
    require(user, *PROGRAMMERS, what="write in the record")
    score = _score(form, "score")
    note = plain_text(forms.text(form, "note"), "note", max_characters=500, required=False)
    desk_of(request).store.add_pain_score(patient_id, at=now(), score=score, source="clinic", note=note, by=user)
    flash(request, f"Pain score {score}/10 saved.")
    return _see(f"/patients/{patient_id}")


@router.post("/patients/{patient_id}/trials")
def add_trial(request: Request, patient_id: int, user: UserDep, form: FormDep) -> Response:
    """The screening trial: the drug, the doses, the pain scores before and after, the decision and its rule."""
    require(user, AppRole.PHYSICIAN, what="record a screening trial's decision")

    def words(name: str, what: str) -> str:
        return plain_text(forms.required(form, name, what, "the words"), name, max_characters=500)

    desk_of(request).store.add_trial(
        patient_id,
        at=now(),
        drug=words("drug", "the trial drug"),
        doses=words("doses", "the trial doses"),
        pain_before=_score(form, "pain_before"),
        pain_after=_score(form, "pain_after"),
        decision=words("decision", "the decision"),
        rule=words("rule", "the decision rule"),
        by=user,
    )
    flash(request, "Screening trial recorded.")
    return _see(f"/patients/{patient_id}")


@router.post("/patients/{patient_id}/implants/{implant_id}/revisions")
def add_revision(request: Request, patient_id: int, implant_id: int, user: UserDep, form: FormDep) -> Response:
    """A catheter revision recorded; then the new catheter's volume for the pump, and its priming, are offered."""
    require(user, *PROGRAMMERS, what="record a catheter revision")
    desk = desk_of(request)
    implant = next((i for i in desk.store.implants(patient_id) if i.id == implant_id), None)
    if implant is None:
        raise InputError(
            "implant", implant_id, "is not an implant of this patient", "record the revision from the patient's page"
        )
    typed = forms.revision(form)
    desk.store.add_revision(
        implant.id,
        revised_on=typed.revised_on,
        new_length_cm=typed.new_length_cm,
        new_tip_level=typed.new_tip_level,
        note=typed.note,
        by=user,
    )
    flash(
        request,
        f"Catheter revision recorded: {forms.typed_cm(typed.new_length_cm)}, tip at {typed.new_tip_level}. "
        "Next: give the pump the new catheter's volume, then prime the empty catheter.",
    )
    return _see(f"/pumps/{implant.pump_serial}/workflow/catheter")


@router.post("/patients/{patient_id}/visits")
def add_visit(request: Request, patient_id: int, user: UserDep, form: FormDep) -> Response:
    """A visit of the patient: its kind and what was done."""
    require(user, *PROGRAMMERS, what="record a visit")
    typed = forms.visit(form)
    desk_of(request).store.add_visit(patient_id, at=now(), kind=typed.kind, summary=typed.summary, by=user)
    flash(request, f"Visit recorded: {typed.kind}.")
    return _see(f"/patients/{patient_id}")


def _score(form: dict[str, str], name: str) -> int:
    value = forms.text(form, name)
    if not value.isascii() or not value.isdigit() or not 0 <= int(value) <= 10:
        raise InputError(name, value, "is not a pain score", "give a whole number from 0 (no pain) to 10 (worst)")
    return int(value)


# ------------------------------------------------------------------------------ exports


def _download(found: exports.Download) -> Response:
    return Response(
        found.content,
        media_type=found.media_type,
        headers={"Content-Disposition": found.disposition(), "Cache-Control": "no-store"},
    )


@router.get("/patients.csv")
def patients_csv(request: Request, user: UserDep, q: str = "") -> Response:
    """The dashboard's patients (every page of the search) as CSV."""
    return _download(exports.patients_csv(desk_of(request), user, text=q[:100], at=now()))


@router.get("/patients/{patient_id}/visit-summary.pdf")
def visit_summary_pdf(request: Request, patient_id: int, user: UserDep) -> Response:
    """The visit summary as PDF: the record, the pump's settings, alarms, event log and plots."""
    desk = desk_of(request)
    return _download(exports.visit_summary(desk, patient_id, user, clinic_name=request.app.state.clinic_name, at=now()))


@router.get("/patients/{patient_id}/fills.csv")
def fills_csv(request: Request, patient_id: int, user: UserDep) -> Response:
    """The patient's drug fills with their reconciliation, as CSV."""
    return _download(exports.patient_csv(desk_of(request), patient_id, "fills", user, at=now()))


@router.get("/patients/{patient_id}/pain-scores.csv")
def pain_scores_csv(request: Request, patient_id: int, user: UserDep) -> Response:
    """The patient's pain scores, as CSV."""
    return _download(exports.patient_csv(desk_of(request), patient_id, "pain-scores", user, at=now()))


@router.get("/patients/{patient_id}/fhir.json")
def fhir_json(request: Request, patient_id: int, user: UserDep) -> Response:
    """The patient's record as a FHIR R4B bundle (JSON), validated and its codes checked."""
    desk = desk_of(request)
    at = now()
    bundle = exports.fhir_bundle(desk, patient_id, user, at=at)
    name = exports.fhir_filename(desk, patient_id, at)
    return JSONResponse(
        bundle,
        media_type=exports.FHIR_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


# -------------------------------------------------------------------------------- pump


def _pump_context(desk: Desk, serial: str) -> dict[str, Any]:
    implant, patient = desk.implant_and_patient(serial)
    known = {link.serial for link in desk.pumps.links()}
    if serial not in known and implant is None:
        raise InputError("pump", serial, "is not a pump of this clinic", "choose a pump from a patient's page")
    return {
        "serial": serial,
        "implant": implant,
        "patient": patient,
        "running": serial in known,
        "paired": serial in known and desk.pumps.paired(serial),
        "workflows": forms.WORKFLOWS,
        "last_read": _last_read(desk, serial, None if patient is None else patient.id),
    }


def _last_read(desk: Desk, serial: str, patient_id: int | None) -> dict[str, Any] | None:
    """The pump's last interrogation: when, by whom, and its replace-by date in words.

    An implanted pump's is the one the store keeps for its implant; a pump not
    implanted in a patient of the clinic has it only in the audit trail.
    """
    if patient_id is not None:
        read = desk.store.last_interrogation(serial)
        return None if read is None else _read_at(read.summary, read.at, read.username)
    for entry in desk.store.audit_trail(limit=200):
        if entry.action == facts.INTERROGATE_ACTION and entry.pump_serial == serial and entry.new:
            return _read_at(entry.new, entry.at, entry.username)
    return None


def _read_at(summary: dict[str, Any], at: datetime, by: str) -> dict[str, Any] | None:
    """When an interrogation was, by whom, and the replace-by date its summary gives (None if it gives none)."""
    due, basis, eri = (summary.get(k) for k in ("replace_by_wall_ms", "replace_by_basis", "eri_wall_ms"))
    if type(due) is not int or not isinstance(basis, str):
        return None
    replace_by = facts.ReplaceBy(due, basis, eri if type(eri) is int else None)
    return {"at": at, "by": by, "replace_by": replace_by}


@router.get("/pumps/{serial}", response_class=HTMLResponse)
def pump_page(request: Request, serial: str, user: UserDep) -> Response:
    """A pump: pairing by the proximity step, interrogation, and the workflows."""
    return render(request, "pump.html", user, **_pump_context(desk_of(request), serial))


@router.post("/pumps/{serial}/place-head")
def place_head(request: Request, serial: str, user: UserDep, form: FormDep) -> Response:
    """The programmer head over the pump: open its pairing window and pair."""
    desk_of(request).place_head(serial, user)
    flash(request, f"The programmer is paired with pump {serial}.")
    return _see(f"/pumps/{serial}")


@router.post("/pumps/{serial}/interrogate", response_class=HTMLResponse)
def interrogate(request: Request, serial: str, user: UserDep, form: FormDep) -> Response:
    """Interrogate the pump: status, reservoir, alarms, battery, replace-by date, event log."""
    desk = desk_of(request)
    context = _pump_context(desk, serial)
    found = desk.interrogate(serial, user)
    s = found.snapshot
    log = [_log_row(e, s.wall_ms - s.now_ms) for e in found.log]
    return render(
        request,
        "pump.html",
        user,
        **context,
        found=found,
        snapshot=s,
        mode=words.mode_text(s.mode),
        alarms=[(a, words.alarm_text(a), words.alarm_is_critical(a)) for a in s.alarms],
        settings=views.settings_rows(s),
        label=views.label_text(s.label),
        reservoir=views.reservoir_text(s),
        battery=views.battery_text(s),
        read_at=words.local_time(s.wall_ms),
        log=log,
    )


def _log_row(entry: dict[str, Any], offset_ms: int) -> dict[str, str]:
    at = entry.get("at_ms")
    detail = entry.get("detail")
    if isinstance(detail, dict):
        detail_words = ", ".join(f"{k}: {v}" for k, v in detail.items())
    elif isinstance(detail, list):
        detail_words = ", ".join(f"{kv[0]}: {kv[1]}" for kv in detail if isinstance(kv, list | tuple) and len(kv) == 2)
    else:
        detail_words = ""
    return {
        "seq": str(entry.get("seq", "")),
        "at": words.local_time(at + offset_ms) if type(at) is int else "",
        "kind": str(entry.get("kind", "")).replace("_", " "),
        "detail": detail_words,
    }


# --------------------------------------------------------------------------- workflows


def _workflow_name(workflow: str) -> str:
    if workflow not in forms.WORKFLOWS:
        raise InputError(
            "workflow", workflow, "is not a workflow of this app", f"choose one of {list(forms.WORKFLOWS)}"
        )
    return workflow


def _form_context(desk: Desk, serial: str, workflow: str, user: User) -> dict[str, Any]:
    """What a workflow's form shows before anything is typed: the pump's present settings where they help."""
    context = _pump_context(desk, serial)
    context.update(
        workflow=workflow,
        title=forms.WORKFLOWS[workflow],
        day_choices=list(forms.DAY_CHOICES),
        rows=forms.SCHEDULE_ROWS,
        alarms_known=[a.value for a in Alarm],
        values={},
    )
    implant = context["implant"]
    if workflow == "catheter" and implant is not None:
        context["values"] = {
            "length": forms.typed_cm(implant.catheter_length_cm),
            "volume_per_cm": forms.typed_ul_per_cm(implant.catheter_volume_ul_per_cm),
        }
    if context["paired"] and workflow in ("prescribe", "refill", "clear-alarm", "titrate", "ptm", "catheter"):
        with desk.pump(serial):
            snapshot = desk.service(serial).port.interrogate()
        context["snapshot"] = snapshot
        context["label"] = views.label_text(snapshot.label)
        context["held"] = views.settings_rows(snapshot)
        context["expected"] = views.volume_text(snapshot.reservoir_nl)
        context["alarms_now"] = [(a, words.alarm_text(a)) for a in snapshot.alarms]
        if snapshot.prescription is not None and workflow == "prescribe":
            context["values"] = _schedule_values(snapshot.prescription)
    return context


def _schedule_values(prescription: Any) -> dict[str, str]:
    """The editor's rows filled with the prescription the pump holds."""
    days = prescription.days
    values: dict[str, str] = {}
    if len(set(days)) == 1 and len(days[0]) == 1:
        return {"mode": "continuous", "dose": format_exact(days[0][0].dose_ng_per_day, 1_000_000, "mg/day")}
    values["mode"] = "flexible"
    rows: list[tuple[str, int, int]] = []
    if len(set(days)) == 1:
        rows = [("every day", s.start_ms, s.dose_ng_per_day) for s in days[0]]
    else:
        rows = [(DAY_NAMES[d], s.start_ms, s.dose_ng_per_day) for d in range(7) for s in days[d]]
    for i, (day, start, dose) in enumerate(rows[: forms.SCHEDULE_ROWS]):
        values[f"days_{i}"] = day
        values[f"at_{i}"] = time_of_day_text(start)
        values[f"dose_{i}"] = format_exact(dose, 1_000_000, "mg/day")
    return values


@router.get("/pumps/{serial}/workflow/{workflow}", response_class=HTMLResponse)
def workflow_form(request: Request, serial: str, workflow: str, user: UserDep) -> Response:
    """A workflow's guided form."""
    desk = desk_of(request)
    actor(user)  # a viewer or admin is told at once that they never program
    context = _form_context(desk, serial, _workflow_name(workflow), user)
    return render(request, "workflow.html", user, **context)


@router.post("/pumps/{serial}/workflow/{workflow}", response_class=HTMLResponse)
def workflow_plan(request: Request, serial: str, workflow: str, user: UserDep, form: FormDep) -> Response:
    """Read the form into an intent and plan it: the Finish screen, or the form again with what to correct."""
    desk = desk_of(request)
    actor(user)
    workflow = _workflow_name(workflow)
    try:
        intent = forms.intent_of(workflow, form)
        pending = desk.plan(workflow, serial, intent, user)
    except InputError as error:
        context = _form_context(desk, serial, workflow, user)
        context["values"] = form
        return render(request, "workflow.html", user, 400, **context, error=str(error), error_field=error.field)
    return _finish(request, user, pending)


def _finish(request: Request, user: User, pending: Pending) -> HTMLResponse:
    plan = pending.plan
    desk = desk_of(request)
    _, patient = desk.implant_and_patient(pending.serial)
    expected = pending.extra.get("expected_nl")
    rows = views.rows(plan.settings)
    dosing = pending.workflow in ("prescribe", "titrate") or any(r.changed and r.key.startswith("basal") for r in rows)
    return render(
        request,
        "finish.html",
        user,
        pending=pending,
        plan=plan,
        serial=pending.serial,
        patient=patient,
        intent=words.intent_words(plan.intent),
        rows=rows,
        findings=views.findings(plan),
        verdict=plan.verdict_sentence(),
        fills=views.fill_lines(plan),
        label=views.label_text(plan.before.label) if plan.before is not None else "",
        chart=views.chart(plan) if dosing else None,
        chart_w=views.CHART_W,
        chart_left=views.CHART_LEFT,
        mg_per_day=views.mg_per_day(plan) if dosing else None,
        expected=views.volume_text(expected) if isinstance(expected, int) else None,
        aspirated=views.volume_text(getattr(plan.intent, "aspirated_nl", 0)),
        refill_due=words.local_time(plan.refill_due_wall_ms) if plan.refill_due_wall_ms is not None else None,
        planned_at=words.local_time(plan.planned_wall_ms),
        is_physician=user.role is AppRole.PHYSICIAN,
        happens=[w for w in plan.warnings if w.code in WHAT_HAPPENS],
        warnings=[w for w in plan.warnings if w.code not in WHAT_HAPPENS],
        forecast_url=forecast_panel.forecast_url(pending),
    )


@router.post("/plans/{token}/reason", response_class=HTMLResponse)
def plan_with_reason(request: Request, token: str, user: UserDep, form: FormDep) -> Response:
    """Plan the same intent again with a written reason to pass its soft limits (the therapy layer decides whose)."""
    actor(user)
    pending = desk_of(request).replan(token, forms.reason(form), user)
    return _finish(request, user, pending)


@router.post("/plans/{token}/cancel")
def cancel_plan(request: Request, token: str, user: UserDep, form: FormDep) -> Response:
    """Forget a plan without sending it."""
    desk = desk_of(request)
    pending = desk.book.peek(token)
    desk.book.drop(token)
    flash(request, "The plan was cancelled: nothing was sent.")
    return _see(f"/pumps/{pending.serial}" if pending is not None else "/")


@router.post("/plans/{token}/send")
def send_plan(request: Request, token: str, user: UserDep, form: FormDep) -> Response:
    """The one explicit confirmation: send the plan once, then show what the pump holds."""
    actor(user)
    if forms.text(form, "confirm") != "send":
        raise InputError("confirm", forms.text(form, "confirm"), "the plan was not confirmed", 'press "Send to pump"')
    desk_of(request).send(token, user)
    return _see(f"/results/{token}")


@router.get("/results/{token}", response_class=HTMLResponse)
def result_page(request: Request, token: str, user: UserDep) -> Response:
    """What sending a plan did and what a fresh interrogation found."""
    outcome = desk_of(request).book.outcome(token)
    if outcome is None:
        raise InputError("result", token, "is not known (results are kept for an hour)", "see the audit trail")
    execution = outcome.execution
    v = execution.verification
    return render(
        request,
        "result.html",
        user,
        outcome=outcome,
        execution=execution,
        intent=words.intent_words(execution.plan.intent),
        serial=outcome.pending.serial,
        done=execution.status is ExecutionStatus.DONE,
        unknown=execution.status is ExecutionStatus.UNKNOWN,
        verification=v,
        rows=[r for r in views.rows(execution.plan.settings) if r.changed],
        prime_next=isinstance(execution.plan.intent, Implant) and execution.status is ExecutionStatus.DONE,
        reread=_reread(v.snapshot),
        tones=views.tones_heard(execution),
    )


def _reread(snapshot: PumpSnapshot | None) -> dict[str, Any] | None:
    """What the interrogation after sending found, as the result page shows it; None when the pump was not read."""
    if snapshot is None:
        return None
    return {
        "at": words.local_time(snapshot.wall_ms),
        "mode": words.mode_text(snapshot.mode),
        "alarms": [(words.alarm_text(a), words.alarm_is_critical(a)) for a in snapshot.alarms],
        "label": views.label_text(snapshot.label),
        "reservoir": views.reservoir_text(snapshot),
        "settings": views.settings_rows(snapshot),
    }


# ------------------------------------------------------------------------------ audit


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, user: UserDep, patient_id: int | None = None) -> Response:
    """The audit trail, newest first (read only: the app has no way to change it)."""
    store = desk_of(request).store
    return render(request, "audit.html", user, entries=store.audit_trail(patient_id=patient_id, limit=200))


# ------------------------------------------------------------------------------ admin


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, user: UserDep) -> Response:
    """Users and clinic settings (admin only)."""
    require(user, AppRole.ADMIN, what="manage users and clinic settings")
    store = desk_of(request).store
    factor = store.setting(JUMP_FACTOR_KEY, "2")
    return render(request, "admin.html", user, users=store.users(), roles=[r.value for r in AppRole], factor=factor)


@router.post("/admin/users")
def add_user(request: Request, user: UserDep, form: FormDep) -> Response:
    """Add a user (admin only)."""
    require(user, AppRole.ADMIN, what="add users")
    role_text = forms.text(form, "role")
    try:
        role = AppRole(role_text)
    except ValueError:
        raise InputError("role", role_text, "is not a role", f"choose one of {[r.value for r in AppRole]}") from None
    added = desk_of(request).store.add_user(
        forms.required(form, "username", "the username", "jdoe"),
        plain_text(forms.text(form, "full_name"), "full_name", max_characters=100, required=False),
        role,
        form.get("password", ""),
        by=user,
    )
    flash(request, f"User {added.username} ({added.role.value}) added.")
    return _see("/admin")


@router.post("/admin/settings")
def clinic_settings(request: Request, user: UserDep, form: FormDep) -> Response:
    """The clinic's settings (admin only): the factor beyond which a change of the daily total is flagged."""
    require(user, AppRole.ADMIN, what="change clinic settings")
    value = forms.text(form, "daily_jump_factor")
    try:
        factor = float(value)
    except ValueError:
        factor = 0.0
    if not 1.0 < factor <= 10.0 or not value.replace(".", "", 1).isdigit():
        raise InputError(
            "daily_jump_factor", value, "is not a factor above 1", "give a number like 2 or 1.5", "1 to 10"
        )
    desk_of(request).store.set_setting(JUMP_FACTOR_KEY, value, by=user)
    flash(request, f"A change of the daily total beyond {value} times is now flagged.")
    return _see("/admin")
