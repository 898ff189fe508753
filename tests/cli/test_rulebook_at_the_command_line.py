"""The command line applies the one rulebook: roles, soft and hard limits, and nothing sent unconfirmed."""

from __future__ import annotations

import io
import json

import pytest
from tests.cli.cli_rig import Cli

from thecal.cli.run_plan import PROMPT
from thecal.devices.programmer import ProgrammerClient
from thecal.drugs import Fill
from thecal.pump.core.schedule import DoseSchedule
from thecal.therapy import Actor, Prescribe, StaffRole, TelemetryPort, TherapyService

FILL = ("--drug", "morphine", "--concentration", "10 mg/mL", "--volume", "20 mL")
REASON = "opioid-tolerant: 300 mg/day oral morphine"


class Terminal(io.StringIO):
    """A stdin that is a terminal, with what the person types."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def filled(cli: Cli) -> Cli:
    """The command line at a pump filled with morphine 10 mg/mL and no prescription yet."""
    ran = cli("pump", "fill", *FILL, "--by", "nurse", "--name", "Nurse Okafor", "--yes")
    assert ran.code == 0, ran.out + ran.err
    return cli


def programs(cli: Cli) -> int:
    """How many prescriptions the pump's own log shows."""
    return sum(1 for e in cli.pump.daemon.event_log(0, 100)["entries"] if e["kind"] == "program")


def test_a_nurse_cannot_pass_a_soft_limit_a_physician_with_a_reason_can(filled: Cli) -> None:
    start = ("--dose", "1 mg/day", "--reason", REASON, "--yes")  # above the usual starting dose, 0.5 mg/day
    nurse = filled("pump", "prescribe", *start, "--by", "nurse", "--name", "Nurse Okafor")
    assert nurse.code == 2
    assert "soft limit, not passed" in nurse.out and "starting daily dose" in nurse.out
    assert "A nurse cannot pass a soft limit" in nurse.out
    assert filled.status()["prescription"] is None and programs(filled) == 0

    doctor = filled("pump", "prescribe", *start, "--by", "physician", "--name", "Dr Rivera")
    assert doctor.code == 0, doctor.out
    assert f"passed by Dr Rivera (physician): {REASON}" in doctor.out
    assert filled.status()["prescription"] == [[[0, 1_000_000]]] * 7


def test_a_hard_limit_is_refused_by_name_whoever_asks(filled: Cli) -> None:
    ran = filled("pump", "prescribe", "--dose", "25 mg/day", "--reason", REASON, "--by", "physician", "--yes")
    assert ran.code == 2
    assert "[HARD limit] daily dose: 25 mg/day (limit: 20 mg/day" in ran.out
    assert "This plan cannot be sent" in ran.out and "Sent to the pump" not in ran.out
    assert filled.status()["prescription"] is None and programs(filled) == 0


def test_without_a_terminal_and_without_yes_nothing_is_sent(filled: Cli) -> None:
    ran = filled("pump", "prescribe", "--dose", "0.5 mg/day", "--by", "physician")
    assert ran.code == 4
    assert "Nothing was sent: there is no terminal to confirm on" in ran.out
    assert "0.5 mg/day (0.05 mL/day)" in ran.out  # the plan was shown
    assert filled.status()["prescription"] is None and programs(filled) == 0


@pytest.mark.parametrize(("typed", "code", "sent"), [("y\n", 0, 1), ("n\n", 4, 0), ("\n", 4, 0)])
def test_on_a_terminal_the_person_is_asked(
    filled: Cli, monkeypatch: pytest.MonkeyPatch, typed: str, code: int, sent: int
) -> None:
    monkeypatch.setattr("sys.stdin", Terminal(typed))
    ran = filled("pump", "prescribe", "--dose", "0.5 mg/day", "--by", "physician")
    assert ran.code == code, ran.out
    assert PROMPT in ran.err
    assert programs(filled) == sent


def test_json_is_the_therapy_layers_own_plan(filled: Cli) -> None:
    ran = filled("pump", "prescribe", "--dose", "0.5 mg/day", "--by", "physician", "--name", "Dr Rivera", "--json")
    assert ran.code == 4  # not confirmed: the plan is printed, nothing is sent
    printed = json.loads(ran.out)
    assert set(printed) == {"plan", "execution"}
    assert printed["execution"]["status"] == "not_confirmed" and printed["execution"]["sent"] == []

    # The same intent planned through the therapy layer directly, at the same pump time, gives the same JSON.
    client = ProgrammerClient(filled.pump.session("clinician"))
    plan = TherapyService(TelemetryPort(client)).plan(
        Prescribe(DoseSchedule.continuous(500_000)), Actor("Dr Rivera", StaffRole.PHYSICIAN)
    )
    assert printed["plan"] == json.loads(json.dumps(plan.to_dict()))

    sent = filled("pump", "prescribe", "--dose", "0.5 mg/day", "--by", "physician", "--json", "--yes")
    execution = json.loads(sent.out)["execution"]
    assert execution["status"] == "done" and execution["verification"]["ok"] is True
    assert [s["command"] for s in execution["sent"]] == ["Program"]


def test_a_refill_needs_the_new_concentration_typed(filled: Cli) -> None:
    ran = filled("pump", "refill", "--aspirated", "19 mL", "--volume", "20 mL", "--drug", "morphine", "--by", "nurse")
    assert ran.code == 2
    assert "--concentration" in ran.err and "never assumed" in ran.err


def test_the_fill_of_an_admixture_is_typed_as_people_write_it(cli: Cli) -> None:
    fill = "morphine 10 mg/mL + bupivacaine 15 mg/mL"
    ran = cli("pump", "fill", "--fill", fill, "--volume", "20 mL", "--by", "nurse", "--yes")
    assert ran.code == 0, ran.out
    assert cli.status()["label"] == [
        {"drug": "morphine", "concentration_ng_per_ml": 10_000_000},
        {"drug": "bupivacaine", "concentration_ng_per_ml": 15_000_000},
    ]
    assert Fill.parse(fill).text() in ran.out


def test_an_opioid_naive_patient_gets_the_stricter_limits(filled: Cli) -> None:
    dose = ("--dose", "1.5 mg/day", "--reason", REASON, "--by", "physician", "--yes")
    naive = filled("pump", "prescribe", *dose, "--opioid-naive")
    assert naive.code == 2 and "limit: 1 mg/day" in naive.out
    assert filled("pump", "prescribe", *dose).code == 0
