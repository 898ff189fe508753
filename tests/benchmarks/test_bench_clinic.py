"""The clinic benchmark's machinery works with tiny numbers: its clinic, its sign-ins, its load, its percentiles.

The figures are not judged here: speed is only measured by `make bench`.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from benchmarks import clinic
from thecal.apps.clinic.pumps import ClinicPumps
from thecal.apps.clinic.store import ClinicStore, sqlite_url
from thecal.apps.clinic.web import create_app
from thecal.apps.clinic.web import dashboard as board
from thecal.apps.clinic.web.facts import INTERROGATE_ACTION


def test_the_benchmark_serves_signs_in_and_measures_every_route(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clinic, "PATIENTS", 5)

    figures = clinic.run(users=2, duration_s=1.0, repetitions=1)

    assert figures["errors"] == 0 and figures["unfinished"] == 0
    assert figures["users"] == 2 and figures["patients"] == 5 and figures["repetitions"] == 1
    for route in clinic.ROUTES:
        assert figures[f"{route}_answered"] >= 1, route  # every user asks for every route in turn
        assert figures[f"{route}_errors"] == 0
        p50, p99 = figures[f"{route}_p50_ms"], figures[f"{route}_p99_ms"]
        assert 0 < p50 <= p99 and math.isfinite(p99)
        assert figures[f"{route}_p50_at_least"] == figures[f"{route}_p99_at_least"] == 0  # nothing given up
        assert 0 < figures[f"{route}_alone_ms"] < math.inf
        assert figures[f"{route}_per_s"] > 0
    assert figures[f"{clinic.PEER}_over_peer_p50"] == 1
    assert math.isclose(figures["all_per_s"], sum(figures[f"{r}_per_s"] for r in clinic.ROUTES))
    assert figures["sign_in_s"] > 0 and figures["window_s"] >= 1.0
    if Path("/proc/self/stat").exists():  # the server's CPU time is read from the kernel (Linux)
        assert figures["server_cpu_share"] > 0


def test_the_benchmark_clinic_has_patients_ranked_for_many_reasons(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    ids = clinic.make_clinic(path, 24)

    store = ClinicStore.open(sqlite_url(path))
    try:
        assert len(ids) == len(set(ids)) == 24
        for patient_id in ids:
            (implant,) = store.implants(patient_id)
            assert implant.active and len(store.fills(implant.id)) == 2
            trail = store.audit_trail(patient_id=patient_id)
            assert sum(e.action == INTERROGATE_ACTION for e in trail) == 3
            assert len(store.pain_scores(patient_id)) == 2 and len(store.notes(patient_id)) == 1
        ranked, total = board.dashboard(store, datetime.now(UTC), per_page=24)
        assert total == 24
        reasons = " ".join(reason for r in ranked for reason in r.reasons)
        for words in ("CRITICAL", "low-reservoir alarm in", "replace-by date in", "rose 2.0-fold", "aspirated"):
            assert words in reasons, words
    finally:
        store.close()


def test_each_user_signs_in_with_the_form_and_a_session_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    ids = clinic.make_clinic(path, 2)
    store = ClinicStore.open(sqlite_url(path), password_hasher=clinic.cheap_hasher())
    pumps = ClinicPumps(tmp_path / "pumps")
    app = create_app(store, pumps, secret_key=secrets.token_bytes(32))

    async def two_users() -> tuple[list[str], clinic._Tally]:
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://bench") as first,
            httpx.AsyncClient(transport=transport, base_url="http://bench") as second,
            httpx.AsyncClient(transport=transport, base_url="http://bench") as stranger,
        ):
            tally = clinic._Tally()
            assert await clinic._get(stranger, "api_session", "/api/session", tally) is None  # 401: an error
            tokens = []
            for client in (first, second):
                await clinic._sign_in(client)
                session = await client.get("/api/session")
                assert session.status_code == 200 and session.json()["user"]["username"] == clinic.USERNAME
                tokens.append(session.json()["csrf_token"])
            ms = await clinic._get(first, "patient", clinic._path("patient", ids, 0, 0), tally)
            assert ms is not None and ms > 0
            return tokens, tally

    try:
        tokens, tally = asyncio.run(two_users())
    finally:
        pumps.close()
        store.close()
    assert tokens[0] != tokens[1]  # two sessions
    assert tally.errors["api_session"] == 1 and "HTTP 401" in tally.first_error
    assert sum(tally.errors.values()) == 1


def test_a_percentile_on_requests_given_up_is_a_lower_bound() -> None:
    answered = [10.0, 20.0, 30.0, 40.0]
    assert clinic.censored_percentile(answered, [], 50) == (25.0, False)
    assert clinic.censored_percentile(answered, [5000.0], 50) == (30.0, False)  # the median is still answered
    value, at_least = clinic.censored_percentile(answered, [5000.0, 5000.0, 5000.0, 5000.0, 5000.0], 50)
    assert value == 5000.0 and at_least
    value, at_least = clinic.censored_percentile(answered, [5000.0], 99)
    assert value > 40.0 and at_least
    assert math.isnan(clinic.percentile([], 50)) and clinic.percentile([7.0], 99) == 7.0
