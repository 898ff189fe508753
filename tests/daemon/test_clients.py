"""The programmer and PTM client libraries against a running daemon: every method reaches the firmware."""

from __future__ import annotations

import pytest
from daemon_rig import START_WALL_MS, RunningPump

from thecal.devices.programmer import ProgrammerClient
from thecal.devices.ptm import TherapyManagerClient
from thecal.errors import InputError
from thecal.pump.core import DemandLimits, PeriodicBolusPlan, Step, WeekSchedule
from thecal.telemetry.commands import PTM_STATUS_FIELDS
from thecal.telemetry.frames import ReplyStatus
from thecal.units import MS_PER_HOUR

MORPHINE = (("morphine", 10_000_000),)
LIMITS = DemandLimits(10_000, 300_000, 3_600_000, 4)


@pytest.fixture
def programmer(running: RunningPump) -> ProgrammerClient:
    running.pair("clinician")
    client = ProgrammerClient.connect(running.layout.device("clinician"), running.port)
    assert client.refill(20_000_000, MORPHINE, aspirated_nl=0, low_reservoir_alarm_nl=3_000_000).ok
    return client


@pytest.fixture
def ptm(running: RunningPump, programmer: ProgrammerClient) -> TherapyManagerClient:
    running.pair("ptm")
    return TherapyManagerClient.connect(running.layout.device("ptm"), running.port)


def status(client: ProgrammerClient) -> dict[str, object]:
    reply = client.interrogate()
    assert reply.ok, reply.describe()
    return reply.result


def test_a_week_schedule_arrives_step_for_step(running: RunningPump, programmer: ProgrammerClient) -> None:
    # START_WALL_MS is a Tuesday 22:13 UTC: the pump is in Tuesday's last step.
    day = (Step(0, 300_000), Step(8 * MS_PER_HOUR, 600_000), Step(22 * MS_PER_HOUR, 200_000))
    assert programmer.program(WeekSchedule((day,) * 7)).ok
    assert status(programmer)["basal_flow_nl_per_day"] == 200_000
    programmed = running.daemon.pump.firmware.state.schedule
    assert programmed is not None and programmed.days == (day,) * 7


def test_every_therapy_method_is_executed(running: RunningPump, programmer: ProgrammerClient) -> None:
    assert programmer.program_continuous(500_000).ok
    assert status(programmer)["low_reservoir_alarm_nl"] == 3_000_000
    assert programmer.bolus(50_000, 600_000).ok
    assert status(programmer)["bolus"] == {"kind": "clinician", "volume_nl": 50_000, "delivered_nl": 0}
    assert programmer.cancel_bolus().ok
    assert programmer.bolus(200_000, 1_800_000, kind="priming").ok
    assert status(programmer)["mode"] == "priming"
    assert programmer.cancel_bolus().ok
    assert programmer.stop_therapy().ok and status(programmer)["mode"] == "minimum_rate"
    assert programmer.resume_therapy().ok and status(programmer)["mode"] == "running"
    assert programmer.set_low_reservoir_alarm(2_500_000).ok
    assert status(programmer)["low_reservoir_alarm_nl"] == 2_500_000
    plan = PeriodicBolusPlan(20_000, 600_000, 6 * MS_PER_HOUR, START_WALL_MS + MS_PER_HOUR)
    assert programmer.set_periodic_bolus(plan).ok
    assert running.daemon.pump.firmware.state.periodic == plan
    assert programmer.set_periodic_bolus(None).ok
    assert running.daemon.pump.firmware.state.periodic is None
    assert programmer.set_demand_limits(LIMITS).ok and status(programmer)["demand_enabled"] is True
    assert running.daemon.pump.firmware.state.demand_limits == LIMITS
    assert programmer.set_demand_limits(None).ok and status(programmer)["demand_enabled"] is False
    assert programmer.set_clock(START_WALL_MS + 7 * MS_PER_HOUR).ok
    assert status(programmer)["wall_ms"] == START_WALL_MS + 7 * MS_PER_HOUR
    cleared = programmer.clear_alarm("motor_stall")
    assert cleared.status is ReplyStatus.REFUSED and cleared.result["code"] == "not_active"


def test_a_bridge_bolus_goes_as_a_bridge_bolus(running: RunningPump, programmer: ProgrammerClient) -> None:
    assert programmer.program_continuous(500_000).ok
    reply = programmer.bolus(180_000, 86_400_000, kind="bridge")
    assert reply.ok, reply.describe()
    assert status(programmer)["mode"] == "bridge"


def test_a_programmer_cannot_give_a_demand_bolus(programmer: ProgrammerClient) -> None:
    with pytest.raises(ValueError, match="clinician"):
        programmer.bolus(10_000, 300_000, kind="demand")


def test_the_whole_log_is_read_page_by_page(running: RunningPump, programmer: ProgrammerClient) -> None:
    for hour in range(130):  # more entries than one page holds
        assert programmer.set_clock(START_WALL_MS + hour * MS_PER_HOUR).ok
    entries = programmer.read_whole_log()
    assert [e["seq"] for e in entries] == list(range(len(running.daemon.pump.firmware.state.log)))
    assert sum(1 for e in entries if e["kind"] == "clock_set") == 130
    assert programmer.read_whole_log(from_seq=entries[-1]["seq"]) == entries[-1:]


def test_keys_are_listed_and_revoked(running: RunningPump, programmer: ProgrammerClient, ptm) -> None:
    listed = programmer.list_keys()
    assert listed.ok and sorted(p["role"] for p in listed.result["paired"]) == ["clinician", "ptm"]
    ptm_key = next(p["key_id"] for p in listed.result["paired"] if p["role"] == "ptm")
    assert programmer.revoke_key(ptm_key).ok
    refused = ptm.request_bolus()
    assert refused.status is ReplyStatus.REJECTED and refused.code == "key_revoked"


def test_the_ptm_gets_a_dose_within_the_limits_and_the_patients_view(
    programmer: ProgrammerClient, ptm: TherapyManagerClient
) -> None:
    assert programmer.program_continuous(500_000).ok
    assert programmer.set_demand_limits(LIMITS).ok
    first = ptm.request_bolus()
    assert first.ok and first.result["used_in_24h"] == 1
    second = ptm.request_bolus()
    assert second.status is ReplyStatus.REFUSED and second.result["code"] == "locked_out"
    view = ptm.status()
    assert view.ok and set(view.result) == PTM_STATUS_FIELDS
    assert view.result["demand_left_24h"] == 3


def test_a_client_opened_on_the_wrong_device_is_refused_by_name(running: RunningPump) -> None:
    with pytest.raises(InputError, match="holds a ptm identity, not a clinician one"):
        ProgrammerClient.connect(running.layout.device("ptm"), running.port)
    with pytest.raises(InputError, match="is not paired"):
        TherapyManagerClient.connect(running.layout.device("ptm"), running.port)
    with pytest.raises(InputError, match="holds no device identity"):
        TherapyManagerClient.connect(running.layout.root, running.port)
