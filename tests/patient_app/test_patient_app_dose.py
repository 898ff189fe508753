"""A press through the patient's app against a real pump daemon: the answer in words, and never a second dose."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from tests.patient_app.patient_rig import Rig, answer_kind, press_form, text_of


def press(client: TestClient) -> tuple[str, str]:
    """Open the start page, press Request dose once; the result page's URL and text."""
    form = press_form(client.get("/").text)
    sent = client.post("/dose", data=form, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    page = client.get(sent.headers["location"])
    return sent.headers["location"], page.text


def test_a_dose_given_says_how_much_when_and_the_next_time(rig: Rig, client: TestClient) -> None:
    _, html = press(client)
    text = text_of(html)
    assert answer_kind(html) == "given" and rig.doses_given() == 1
    assert "Dose given" in text
    assert "Your extra dose of 0.1 mg of morphine started at 22:13" in text
    assert "Next dose possible at 23:13 (in 1 h)" in text
    assert "Doses in the last 24 hours: 1 of 4." in text
    assert 'role="status"' in html and 'aria-hidden="true">✓' in html


def test_a_double_submit_and_a_reload_give_one_dose(rig: Rig, client: TestClient) -> None:
    form = press_form(client.get("/").text)
    first = client.post("/dose", data=form, follow_redirects=False)
    second = client.post("/dose", data=form, follow_redirects=False)
    assert first.headers["location"] == second.headers["location"]
    for _ in range(3):
        assert answer_kind(client.get(first.headers["location"]).text) == "given"
    assert rig.doses_given() == 1


def test_concurrent_submits_of_one_form_give_one_dose(rig: Rig, client: TestClient) -> None:
    form = press_form(client.get("/").text)
    answers: list[str] = []

    def submit() -> None:
        reply = client.post("/dose", data=form)
        answers.append(answer_kind(reply.text))

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == ["given"] * 4
    assert rig.doses_given() == 1


def test_a_second_press_during_the_lockout_says_until_when(rig: Rig, client: TestClient) -> None:
    press(client)
    rig.pump_hours(0.5)
    _, html = press(client)
    text = text_of(html)
    assert answer_kind(html) == "locked_out" and rig.doses_given() == 1
    assert "Locked out until 23:13: no dose was given" in text
    assert "It is too soon after your last dose." in text and "at least 1 h between doses" in text
    assert "The next dose is possible at 23:13 (in 30 min)" in text


def test_the_daily_maximum_says_n_of_n_and_when_the_next_frees_up(rig: Rig, client: TestClient) -> None:
    for _ in range(4):
        _, html = press(client)
        assert answer_kind(html) == "given"
        rig.pump_hours(1.2)
    _, html = press(client)
    text = text_of(html)
    assert answer_kind(html) == "daily_maximum" and rig.doses_given() == 4
    assert "Daily maximum reached: no dose was given" in text
    assert "You have taken 4 of 4 doses allowed in the last 24 hours." in text
    # Pressed at 03:01 the next day: the first dose (22:13, 5 min long) leaves the 24 h window at 22:18.
    assert "The next dose frees up at 22:18 (in 19 h 17 min)." in text


def test_out_of_range_sends_nothing_and_says_hold_the_device_over_the_pump(rig: Rig, client: TestClient) -> None:
    form = press_form(client.get("/").text)
    rig.link.out_of_range()
    html = client.post("/dose", data=form).text
    text = text_of(html)
    assert answer_kind(html) == "out_of_range" and rig.doses_given() == 0
    assert "Pump not found: nothing was given" in text and "Hold the device flat over the pump" in text


def test_not_confirmed_is_settled_from_the_pump_and_never_resent(rig: Rig, client: TestClient) -> None:
    form = press_form(client.get("/").text)
    rig.link.lose_the_reply_then_range()
    sent = client.post("/dose", data=form, follow_redirects=False)
    url = sent.headers["location"]
    html = client.get(url).text
    text = text_of(html)
    assert answer_kind(html) == "not_confirmed" and 'role="alert"' in html
    assert "NOT CONFIRMED: the dose may have been given" in text and "Count this dose as given" in text
    assert rig.doses_given() == 1  # the pump acted before its reply was lost
    # Still out of range: the check reads nothing, sends nothing, and says so.
    checked = client.post(f"{url}/check", data={"form_key": form["form_key"]})
    assert answer_kind(checked.text) == "not_confirmed" and "The pump was not found" in text_of(checked.text)
    rig.link.in_range()
    settled = client.post(f"{url}/check", data={"form_key": form["form_key"]}).text
    assert answer_kind(settled) == "given", text_of(settled)
    assert "Dose given: the pump confirms it" in text_of(settled) and "started at 22:13" in text_of(settled)
    assert "Next dose possible at 23:13" in text_of(settled)
    assert rig.doses_given() == 1
    # A reload, a second check, a resubmit of the old form: still one dose.
    client.post(f"{url}/check", data={"form_key": form["form_key"]})
    client.post("/dose", data=form)
    assert answer_kind(client.get(url).text) == "given" and rig.doses_given() == 1


def test_a_lost_request_is_settled_as_not_given(rig: Rig, client: TestClient) -> None:
    form = press_form(client.get("/").text)
    rig.link.lose_the_request_then_range()
    url = client.post("/dose", data=form, follow_redirects=False).headers["location"]
    assert answer_kind(client.get(url).text) == "not_confirmed" and rig.doses_given() == 0
    rig.link.in_range()
    home = client.get("/").text  # the start page reads the pump's record for an unsettled request by itself
    assert "NOT CONFIRMED" not in text_of(home)
    settled = client.get(url).text
    assert answer_kind(settled) == "not_given" and "The pump confirms: no dose was given" in text_of(settled)
    assert rig.doses_given() == 0


def test_an_unknown_press_id_sends_nothing(rig: Rig, client: TestClient) -> None:
    form = press_form(client.get("/").text)
    reply = client.post("/dose", data={"press_id": "made-up", "form_key": form["form_key"]})
    assert reply.status_code == 400 and rig.doses_given() == 0


def test_a_post_without_the_form_key_is_refused(rig: Rig, client: TestClient) -> None:
    form = press_form(client.get("/").text)
    reply = client.post("/dose", data={"press_id": form["press_id"]})
    assert reply.status_code == 403 and rig.doses_given() == 0
