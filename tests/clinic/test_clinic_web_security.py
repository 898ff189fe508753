"""The clinician programmer's security: sign-in and lockout, sessions, CSRF, roles, injection, a read-only audit.

Every test runs on SQLite and on PostgreSQL (`clinic_db_url`), against the real
store; the pumps folder is real but holds no running pump unless a test needs one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from tests.clinic.clinic_web_rig import PASSWORD, STAFF, WebClinic, web_clinic

from thecal.apps.clinic.store import LOGIN_MAX_FAILURES
from thecal.apps.clinic.web import api, pages
from thecal.apps.clinic.web.security import SESSION_COOKIE

SERIAL = "NGP-SEC-1"
PAGES = ["/", "/audit", "/admin", "/patients/1", f"/pumps/{SERIAL}", f"/pumps/{SERIAL}/workflow/prescribe"]
# Every route of the app, as its two routers declare them.
ROUTES = [r for r in [*pages.router.routes, *api.router.routes] if isinstance(r, APIRoute)]
API_READS = ["/api/session", "/api/patients", "/api/patients/1", "/api/audit"]


@pytest.fixture
def clinic(clinic_db_url: str, tmp_path: Path) -> Iterator[WebClinic]:
    """A clinic with its four kinds of staff and one patient (no pump running)."""
    with web_clinic(clinic_db_url, tmp_path) as clinic:
        clinic.add_patient("MRN-0001", "Okoye", serial=SERIAL)
        yield clinic


def test_a_signed_out_visitor_reaches_no_page_and_no_api_route(clinic: WebClinic) -> None:
    """Pages send a signed-out visitor to the login page; the API answers 401; a POST changes nothing."""
    browser = clinic.client()
    for url in PAGES:
        response = browser.http.get(url, follow_redirects=False)
        assert response.status_code == 303, url
        assert response.headers["location"].startswith("/login?next="), url
    for url in API_READS:
        response = browser.http.get(url)
        assert response.status_code == 401, url
        assert "not signed in" in response.json()["detail"]
    before = len(clinic.store.audit_trail())
    response = browser.post("/patients/1/notes", {"text": "from nowhere"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    response = browser.http.post("/api/pumps/NGP-SEC-1/plan", json={"workflow": "prescribe", "fields": {}})
    assert response.status_code == 401
    assert len(clinic.store.audit_trail()) == before


def test_every_post_route_refuses_a_missing_or_wrong_csrf_token(clinic: WebClinic) -> None:
    """Each POST of the app, signed in, with no token and with a wrong one: 403, nothing done."""
    browser = clinic.client("physician")
    posts = sorted(
        {
            route.path.replace("{patient_id}", "1").replace("{serial}", SERIAL).replace("{token}", "x")
            for route in ROUTES
            if "POST" in getattr(route, "methods", set()) and not route.path.startswith("/api")
        }
    )
    assert "/plans/x/send" in posts and "/login" in posts and len(posts) >= 12
    before = len(clinic.store.audit_trail())
    for url in posts:
        url = url.replace("{workflow}", "prescribe")
        missing = browser.post(url, {"text": "x", "mode": "continuous", "dose": "1 mg/day"}, token=False)
        assert missing.status_code == 403, url
        assert "security token is missing or out of date" in missing.text
        wrong = browser.post(url, {"csrf_token": "not-the-token", "text": "x"})
        assert wrong.status_code == 403, url
    for url in ("/api/pumps/NGP-SEC-1/plan", "/api/plans/x/execute"):
        assert browser.http.post(url, json={"workflow": "prescribe", "confirmed": True}).status_code == 403
        assert browser.http.post(url, json={"confirmed": True}, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert len(clinic.store.audit_trail()) == before
    assert browser.get("/").status_code == 200  # still signed in: a refused POST signs nobody out


def test_the_session_cookie_is_httponly_and_samesite_lax(clinic: WebClinic) -> None:
    """The session cookie cannot be read by a page's scripts, and is not sent with cross-site POSTs."""
    browser = clinic.client()
    browser.get("/login")
    response = browser.post("/login", {"username": STAFF["nurse"][0], "password": PASSWORD}, follow_redirects=False)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()


def test_login_logout_and_a_new_token_at_each_login(clinic: WebClinic) -> None:
    """Signing in starts a fresh session with a new CSRF token; signing out ends it."""
    browser = clinic.client()
    browser.get("/login")
    before = browser.csrf()
    response = browser.post("/login", {"username": "drrivera", "password": PASSWORD}, follow_redirects=True)
    assert "Patients by urgency" in response.text and "Dr Ana Rivera" in response.text
    assert browser.csrf() != before
    response = browser.post("/logout", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert browser.http.get("/", follow_redirects=False).status_code == 303


def test_a_wrong_password_is_refused_and_repeated_failures_lock_the_account_with_the_time(clinic: WebClinic) -> None:
    """Bad credentials are refused in words; after the clinic's number of failures, the lockout names its end."""
    browser = clinic.client()
    browser.get("/login")
    response = browser.post("/login", {"username": "nokafor", "password": "wrong"})
    assert response.status_code == 403 and "Sign-in refused" in response.text
    for _ in range(int(clinic.store.setting(LOGIN_MAX_FAILURES, "5"))):
        response = browser.post("/login", {"username": "nokafor", "password": "wrong"})
    assert "locked until" in response.text
    assert re.search(r"locked until \d{4}-\d\d-\d\d \d\d:\d\d UTC", response.text)
    # Even the right password is refused while the account is locked.
    response = browser.post("/login", {"username": "nokafor", "password": PASSWORD})
    assert response.status_code == 403 and "locked until" in response.text


def test_the_login_page_sends_only_to_this_app(clinic: WebClinic) -> None:
    """A `next` pointing at another site is ignored: after signing in the user lands on the dashboard."""
    browser = clinic.client()
    browser.get("/login?next=//evil.example/phish")
    response = browser.post(
        "/login",
        {"username": "drrivera", "password": PASSWORD, "next": "//evil.example/phish"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_a_viewer_reads_but_cannot_program_pair_or_write(clinic: WebClinic) -> None:
    """A viewer sees the dashboard and the patient, and is refused every workflow, pairing and record change."""
    browser = clinic.client("viewer")
    assert browser.get("/").status_code == 200
    page = browser.get("/patients/1")
    assert page.status_code == 200 and "Okoye" in page.text
    assert "Save the note" not in page.text  # no form offered
    refused = browser.get(f"/pumps/{SERIAL}/workflow/prescribe")
    assert refused.status_code == 403 and "never programs" in refused.text
    for url, data in [
        (f"/pumps/{SERIAL}/workflow/prescribe", {"mode": "continuous", "dose": "1 mg/day"}),
        (f"/pumps/{SERIAL}/place-head", {}),
        (f"/pumps/{SERIAL}/interrogate", {}),
        ("/patients/1/notes", {"text": "a viewer's note"}),
        ("/patients/1/pain-scores", {"score": "3"}),
        ("/admin/users", {"username": "x", "role": "admin", "password": "pw"}),
    ]:
        response = browser.post(url, data)
        assert response.status_code == 403, url
    api = browser.http.post(
        f"/api/pumps/{SERIAL}/plan",
        json={"workflow": "prescribe", "fields": {"mode": "continuous", "dose": "1 mg/day"}},
        headers={"X-CSRF-Token": browser.http.get("/api/session").json()["csrf_token"]},
    )
    assert api.status_code == 403 and "never programs" in api.json()["detail"]
    assert clinic.store.notes(1) == []


def test_an_admin_manages_users_and_settings_but_never_programs(clinic: WebClinic) -> None:
    """An admin adds a user and sets the daily-jump factor; a workflow is refused; a physician cannot add users."""
    admin = clinic.client("admin")
    assert admin.get("/admin").status_code == 200
    response = admin.post(
        "/admin/users",
        {"username": "newnurse", "full_name": "New Nurse", "role": "nurse", "password": "a long pass phrase 1"},
        follow_redirects=True,
    )
    assert response.status_code == 200 and "newnurse" in response.text
    response = admin.post("/admin/settings", {"daily_jump_factor": "1.5"}, follow_redirects=True)
    assert "beyond 1.5 times" in response.text
    assert clinic.store.setting("daily_jump_factor", "2") == "1.5"
    assert admin.get(f"/pumps/{SERIAL}/workflow/refill").status_code == 403
    physician = clinic.client("physician")
    assert physician.get("/admin").status_code == 403
    refused = physician.post("/admin/users", {"username": "x", "role": "admin", "password": "pw pw pw pw pw"})
    assert refused.status_code == 403
    assert "newnurse" in {u.username for u in clinic.store.users()} and "x" not in {
        u.username for u in clinic.store.users()
    }


HOSTILE = [
    "<script>alert('x')</script>",
    "'; DROP TABLE users; --",
    "Robert'); DELETE FROM audit_entries; --",
    '"><img src=x onerror=alert(1)>',
]


@pytest.mark.parametrize("text", HOSTILE)
def test_script_and_sql_injection_in_text_fields_are_harmless(clinic: WebClinic, text: str) -> None:
    """Hostile text in a note, a search, a pain-score note and a trial is stored as text and shown escaped."""
    browser = clinic.client("physician")
    browser.get("/patients/1")
    assert browser.post("/patients/1/notes", {"text": text}, follow_redirects=True).status_code == 200
    assert browser.post("/patients/1/pain-scores", {"score": "4", "note": text}).status_code == 200
    trial = {"drug": text, "doses": text, "pain_before": "7", "pain_after": "2", "decision": text, "rule": text}
    assert browser.post("/patients/1/trials", trial).status_code == 200
    page = browser.get("/patients/1").text
    assert text not in page  # never raw
    assert "&lt;script&gt;" in page or "&#39;" in page or "&#34;" in page or "&gt;" in page
    assert clinic.store.notes(1)[-1].text == text  # kept as typed
    search = browser.get("/", params={"q": text})
    assert search.status_code == 200 and text not in search.text
    assert len(clinic.store.users()) == len(STAFF)  # no table touched
    assert browser.get("/audit").status_code == 200
    assert all(text not in e.username for e in clinic.store.audit_trail())


def test_the_audit_cannot_be_edited_through_the_app(clinic: WebClinic) -> None:
    """No route changes or removes an audit entry: only GET reaches the audit, and writes to it are refused."""
    audit_routes = [r for r in ROUTES if "audit" in getattr(r, "path", "")]
    assert audit_routes and all(getattr(r, "methods", {"GET"}) <= {"GET", "HEAD"} for r in audit_routes)
    browser = clinic.client("admin")
    before = clinic.store.audit_trail()
    for method in ("post", "put", "patch", "delete"):
        response = getattr(browser.http, method)("/api/audit")
        assert response.status_code == 405, method
    assert clinic.store.audit_trail() == before


def test_pages_are_accessible_in_their_markup(clinic: WebClinic) -> None:
    """Every form input has a label, each page has one h1, and status is said in words."""
    browser = clinic.client("physician")
    for url in ("/login", "/", "/patients/1", "/audit"):
        page = browser.get(url).text
        assert page.count("<h1>") == 1, url
        ids = re.findall(r'<input id="([^"]+)"', page)
        for input_id in ids:
            assert f'for="{input_id}"' in page, (url, input_id)
