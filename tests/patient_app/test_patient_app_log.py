"""Not confirmed, settled from the pump's event log: what the request really did, even when the counts cannot say.

A day after the press the pump's 24 h count and its lockout no longer show the dose, so its status alone leaves the
outcome unknown; the log entries of that request (the PTM sees only those about demand doses) still settle it.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.patient_app.patient_rig import Rig, answer_kind, press_form, text_of

from thecal.apps.patient.handset import DemandLog, DoseRecord, Outcome


def lost_press(client: TestClient, rig: Rig, *, reply_only: bool) -> str:
    """Press once over a link that loses the reply (the pump acts) or the request (it never arrives); the URL."""
    form = press_form(client.get("/").text)
    if reply_only:
        rig.link.lose_the_reply_then_range()
    else:
        rig.link.lose_the_request_then_range()
    url = client.post("/dose", data=form, follow_redirects=False).headers["location"]
    assert answer_kind(client.get(url).text) == "not_confirmed"
    return url


def kept(rig: Rig, url: str):
    found = rig.state.result(url.rsplit("/", 1)[1])
    assert found is not None
    return found[1]


def test_a_lost_reply_is_confirmed_from_the_log_a_day_later(rig: Rig, client: TestClient) -> None:
    url = lost_press(client, rig, reply_only=True)
    rig.pump_hours(30)
    rig.link.in_range()
    # The status alone cannot tell any more: no dose counted in the last 24 h, no lockout running.
    press = kept(rig, url)
    assert DoseRecord.settle(press.before, rig.state.handset.read())[0] is Outcome.UNKNOWN

    settled = client.post(f"{url}/check", data={"form_key": rig.state.form_key}).text
    text = text_of(settled)
    assert answer_kind(settled) == "given", text
    assert "Dose given: the pump confirms it" in text
    assert "The pump's event log shows that this request gave the dose." in text
    assert "started at 22:13" in text and "Another dose is possible now." in text
    press = kept(rig, url)
    assert press.settled_by == "log" and press.log_seq is not None
    assert rig.doses_given() == 1


def test_a_lost_request_is_settled_as_not_given_from_the_log_a_day_later(rig: Rig, client: TestClient) -> None:
    url = lost_press(client, rig, reply_only=False)
    rig.pump_hours(30)
    rig.link.in_range()
    press = kept(rig, url)
    assert DoseRecord.settle(press.before, rig.state.handset.read())[0] is Outcome.UNKNOWN

    settled = client.post(f"{url}/check", data={"form_key": rig.state.form_key}).text
    text = text_of(settled)
    assert answer_kind(settled) == "not_given", text
    assert "The pump's record shows your request never reached it, and it cannot arrive any more." in text
    assert kept(rig, url).settled_by == "log" and rig.doses_given() == 0


def test_a_press_keeps_the_log_mark_of_its_own_entries(rig: Rig, client: TestClient) -> None:
    form = press_form(client.get("/").text)
    url = client.post("/dose", data=form, follow_redirects=False).headers["location"]
    mark = kept(rig, url).log_seq
    starts = [
        e.seq
        for e in rig.pump.daemon.pump.firmware.state.log
        if e.kind == "bolus_start" and dict(e.detail).get("kind") == "demand"
    ]
    assert mark is not None and len(starts) == 1 and starts[0] >= mark
    # What the handset reads from its mark is that one dose, and it settles as given.
    entries = rig.state.handset.demand_entries(mark)
    assert entries is not None and [e["seq"] for e in entries if e["kind"] == "bolus_start"] == starts
    assert DemandLog.settle(entries) == (Outcome.GIVEN, None)


def test_a_press_the_pump_refused_reads_as_not_given_with_its_reason(rig: Rig, client: TestClient) -> None:
    form = press_form(client.get("/").text)
    client.post("/dose", data=form)
    mark = rig.state.handset.read().log_next_seq
    assert mark is not None
    refused = rig.state.handset._port().handset.request_bolus()  # a second press inside the lockout, sent bare
    assert not refused.ok
    entries = rig.state.handset.demand_entries(mark)
    assert entries is not None
    assert DemandLog.settle(entries) == (Outcome.NOT_GIVEN, "locked_out")
    assert rig.doses_given() == 1


def test_the_live_read_settles_a_pending_request_and_shows_an_alarm_without_a_press(
    rig: Rig, client: TestClient
) -> None:
    url = lost_press(client, rig, reply_only=True)
    assert client.get("/live").json()["reachable"] is False
    rig.link.in_range()
    live = client.get("/live").json()
    assert live["unsettled"] == [] and answer_kind(client.get(url).text) == "given"
    assert live["kind"] == "locked_out" and "Locked out until 23:13" in live["html"]
    rig.motor_stall()
    live = client.get("/live").json()
    assert live["alarm"] is True and live["role"] == "alert"
    assert "motor has stopped" in live["html"]
    assert rig.doses_given() == 1


def test_the_live_read_shows_the_lockout_ending_on_its_own(rig: Rig, client: TestClient) -> None:
    client.post("/dose", data=press_form(client.get("/").text))
    first = client.get("/live").json()
    assert first["kind"] == "locked_out"
    rig.pump_hours(1.1)
    later = client.get("/live").json()
    assert later["kind"] == "possible" and later["key"] != first["key"]
    assert "A dose is possible now" in later["html"]


def test_the_live_read_shows_the_end_of_a_dose_from_the_log(rig: Rig, client: TestClient) -> None:
    client.post("/dose", data=press_form(client.get("/").text))
    running = client.get("/live").json()
    assert "Your extra dose is being given now; it ends at 22:18." in text_of(running["html"])
    rig.pump_hours(0.1)  # six pump minutes: the five-minute dose has ended
    ended = client.get("/live").json()
    assert "Your last extra dose has been given completely (it ended at 22:18)." in text_of(ended["html"])
    assert ended["key"] != running["key"] and ended["kind"] == "locked_out"
    home = text_of(client.get("/").text)
    assert "it ended at 22:18" in home and rig.doses_given() == 1


def test_a_dose_of_a_later_press_is_never_read_as_the_lost_one(rig: Rig, client: TestClient) -> None:
    # Two start pages open: the first press is lost on the way; the second, from the other page, gives a dose
    # before the first is checked. The second's dose is in the log after the first's mark, but it is not the first's.
    first, second = press_form(client.get("/").text), press_form(client.get("/").text)
    rig.link.lose_the_request_then_range()
    lost = client.post("/dose", data=first, follow_redirects=False).headers["location"]
    rig.link.in_range()
    given = client.post("/dose", data=second, follow_redirects=False).headers["location"]
    assert answer_kind(client.get(given).text) == "given" and rig.doses_given() == 1

    settled = client.post(f"{lost}/check", data={"form_key": rig.state.form_key}).text
    assert answer_kind(settled) == "not_given", text_of(settled)
    assert [kept(rig, url).sent_order for url in (lost, given)] == [1, 2]
    assert rig.doses_given() == 1
