"""Executing plans: confirmation, refusals, unknown outcomes, a stale plan and the verification afterwards."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from fakes import HOUR, MG, NURSE, PATIENT, PHYSICIAN, FakePort, status

from thecal.devices.programmer import ProgrammerClient
from thecal.devices.ptm import TherapyManagerClient
from thecal.drugs import Fill, Tier
from thecal.pump.core import commands as pump
from thecal.pump.core.schedule import DoseSchedule
from thecal.telemetry.client import Reply
from thecal.telemetry.commands import Command
from thecal.telemetry.frames import ReplyStatus
from thecal.therapy import (
    ClinicianBolus,
    ExecutionStatus,
    PortError,
    PtmSettings,
    Refill,
    SendOutcome,
    TelemetryPort,
    TherapyService,
    Titrate,
)

ONE_MG = DoseSchedule.continuous(1 * MG)


def test_nothing_is_sent_without_confirmation_or_with_a_blocking_finding() -> None:
    port = FakePort(status(prescription=ONE_MG))
    service = TherapyService(port)
    plan = service.plan(Titrate(1_200_000), NURSE)
    assert plan.allowed
    assert service.execute(plan, NURSE, confirmed=False).status is ExecutionStatus.NOT_CONFIRMED
    refused = service.plan(Titrate(30 * MG), NURSE)
    assert service.execute(refused, NURSE, confirmed=True).status is ExecutionStatus.NOT_ALLOWED
    assert service.execute(plan, PATIENT, confirmed=True).status is ExecutionStatus.NOT_PERMITTED
    assert port.sent == []


def test_a_confirmed_plan_is_sent_and_verified() -> None:
    port = FakePort(status(prescription=ONE_MG))
    service = TherapyService(port)
    plan = service.plan(Titrate(1_200_000), NURSE)
    done = service.execute(plan, NURSE, confirmed=True)
    assert done.status is ExecutionStatus.DONE, done.message
    assert port.sent == [pump.Program(DoseSchedule.continuous(1_200_000))]
    assert done.verification.checked and done.verification.ok


def test_verification_detects_a_pump_that_does_not_hold_what_was_planned() -> None:
    port = FakePort(status(prescription=ONE_MG), apply=False)  # accepts everything, changes nothing
    service = TherapyService(port)
    execution = service.execute(service.plan(Titrate(1_200_000), NURSE), NURSE, confirmed=True)
    assert execution.status is ExecutionStatus.NOT_VERIFIED
    (mismatch,) = execution.verification.mismatches
    assert mismatch.key == "basal.every_day.00:00"
    assert mismatch.old is not None and mismatch.old.dose == "1.2 mg/day"
    assert mismatch.new is not None and mismatch.new.dose == "1 mg/day"


def test_a_plan_made_on_a_pump_that_changed_since_is_not_sent() -> None:
    port = FakePort(status(prescription=ONE_MG))
    service = TherapyService(port)
    plan = service.plan(Titrate(1_200_000), NURSE)
    port.state["prescription"] = DoseSchedule.continuous(2 * MG).to_data()  # another programmer got there first
    assert service.execute(plan, NURSE, confirmed=True).status is ExecutionStatus.STALE
    assert port.sent == []


def test_execution_stops_at_the_first_refusal_and_shows_it_as_a_finding() -> None:
    port = FakePort(status(prescription=ONE_MG, demand=pump.DemandLimits(100_000, 600_000, HOUR, 6)), refuse=pump.Fill)
    service = TherapyService(port)
    new = DoseSchedule.continuous(100_000)
    plan = service.plan(
        Refill(
            18_000_000,
            Fill.single("hydromorphone", 2 * MG),
            5_000_000,
            new_prescription=new,
            override_reason="switching opioids after side effects",
        ),
        PHYSICIAN,
    )
    assert plan.allowed, plan.findings
    execution = service.execute(plan, PHYSICIAN, confirmed=True)
    assert execution.status is ExecutionStatus.REFUSED
    assert [type(s.command) for s in execution.sent] == [pump.Fill]  # the Program after it is never sent
    refusal = execution.refusal
    assert refusal is not None and refusal.tier is Tier.HARD and refusal.source == "pump firmware"
    assert refusal.code == "above_max_daily_dose" and refusal.limit == "20 mg/day"


def test_an_unknown_outcome_of_a_dose_counts_as_delivered() -> None:
    port = FakePort(status(prescription=ONE_MG), unknown=pump.ClinicianBolus)
    service = TherapyService(port)
    execution = service.execute(service.plan(ClinicianBolus(200_000, HOUR), PHYSICIAN), PHYSICIAN, confirmed=True)
    assert execution.status is ExecutionStatus.UNKNOWN
    (sent,) = execution.sent
    assert sent.outcome is SendOutcome.UNKNOWN and sent.counts_as_delivered
    assert "counts as delivered" in sent.words()


# ---------------------------------------------------------------------- telemetry


@dataclass
class FakeSession:
    """Answers requests as a paired pump would, from a status and a queue of replies."""

    status: dict[str, object]
    replies: list[tuple[ReplyStatus, dict[str, object], str]] = field(default_factory=list)
    asked: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    def request(self, name: str, **args: object) -> Reply:
        """One exchange."""
        self.asked.append((name, args))
        command = Command(name, dict(args), bytes(16))
        if name == "interrogate_status":
            return Reply(command, ReplyStatus.OK, self.status, None, "", 1)
        state, result, reason = self.replies.pop(0)
        return Reply(command, state, result, None, reason, 1)


def test_the_telemetry_port_reads_the_pump_and_carries_the_pumps_refusal() -> None:
    refusal = {
        "code": "above_max_demand_dose",
        "field": "demand.morphine",
        "value": "5 mg",
        "limit": "1 mg",
        "until_ms": None,
    }
    session = FakeSession(
        status(prescription=ONE_MG),
        [(ReplyStatus.REFUSED, refusal, "morphine: one demand dose of 5 mg is more than the pump's hard limit")],
    )
    port = TelemetryPort(ProgrammerClient(session))  # type: ignore[arg-type]
    snapshot = port.interrogate()
    assert snapshot.label == (("morphine", 10 * MG),) and snapshot.prescription == ONE_MG
    sent = port.send(pump.SetDemandLimits(pump.DemandLimits(5 * MG, 600_000, 0, 4)))
    assert session.asked[-1] == (
        "ptm_settings",
        {"dose_ng": 5 * MG, "duration_ms": 600_000, "lockout_ms": 0, "max_per_24h": 4},
    )
    assert sent.outcome is SendOutcome.REFUSED
    finding = sent.finding
    assert finding is not None and finding.code == "above_max_demand_dose" and finding.limit == "1 mg"
    assert "hard limit" in finding.message


def test_an_unknown_telemetry_outcome_of_a_bolus_counts_as_delivered() -> None:
    session = FakeSession(status(), [(ReplyStatus.UNKNOWN, {}, "no reply after 4 attempts")])
    sent = TelemetryPort(ProgrammerClient(session)).send(pump.ClinicianBolus(100_000, HOUR))  # type: ignore[arg-type]
    assert sent.outcome is SendOutcome.UNKNOWN and sent.counts_as_delivered


def test_a_patients_handset_sees_only_the_patients_view() -> None:
    view = {
        "wall_ms": 5,
        "alarms": [],
        "therapy_stopped": False,
        "demand_enabled": True,
        "demand_next_allowed_wall_ms": 5,
        "demand_left_24h": 3,
    }
    port = TelemetryPort(TherapyManagerClient(FakeSession(view)))  # type: ignore[arg-type]
    with pytest.raises(PortError, match="patient's view"):
        port.interrogate()
    assert port.patient_view().demand_left_24h == 3


def test_the_same_rules_hold_through_either_port() -> None:
    intent = PtmSettings(1 * MG, 600_000, 0, 24)
    direct = TherapyService(FakePort(status(prescription=DoseSchedule.continuous(10 * MG)))).plan(intent, PHYSICIAN)
    wire = TherapyService(
        TelemetryPort(ProgrammerClient(FakeSession(status(prescription=DoseSchedule.continuous(10 * MG)))))  # type: ignore[arg-type]
    ).plan(intent, PHYSICIAN)
    assert direct.findings == wire.findings and direct.findings
    assert direct.to_dict() == wire.to_dict()


def test_a_pump_that_is_not_listening_when_a_command_goes_out_means_nothing_was_sent() -> None:
    """No frame reached a pump, so the command is refused by the link, never 'possibly delivered'."""
    from thecal.telemetry.errors import NothingListening

    class Gone(FakeSession):
        def request(self, name: str, **args: object) -> Reply:
            raise NothingListening("nothing is listening on 127.0.0.1:9; nothing happened")

    sent = TelemetryPort(ProgrammerClient(Gone(status()))).send(pump.ClinicianBolus(100_000, HOUR))  # type: ignore[arg-type]
    assert sent.outcome is SendOutcome.REFUSED and not sent.counts_as_delivered
    assert sent.finding is not None and sent.finding.code == "nothing_listening"
