"""The programmer and PTM client libraries against a running daemon: every method reaches the firmware."""

from __future__ import annotations

import pytest
from daemon_rig import START_WALL_MS, RunningPump

from thecal.devices.programmer import ProgrammerClient
from thecal.devices.ptm import TherapyManagerClient
from thecal.errors import InputError
from thecal.pump.core import DemandLimits, PeriodicBolusPlan
from thecal.pump.core.schedule import DoseSchedule, DoseStep
from thecal.telemetry.commands import PTM_STATUS_FIELDS
from thecal.telemetry.frames import ReplyStatus
from thecal.units import MS_PER_HOUR

MORPHINE = (("morphine", 10_000_000),)
LIMITS = DemandLimits(100_000, 300_000, 3_600_000, 4)  # 0.1 mg a press


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


def test_a_week_of_doses_arrives_step_for_step(running: RunningPump, programmer: ProgrammerClient) -> None:
    # START_WALL_MS is a Tuesday 22:13 UTC: the pump is in Tuesday's last step.
    day = (DoseStep(0, 3_000_000), DoseStep(8 * MS_PER_HOUR, 6_000_000), DoseStep(22 * MS_PER_HOUR, 2_000_000))
    doses = DoseSchedule((day,) * 7)
    assert programmer.program(doses).ok
    after = status(programmer)
    assert after["prescription"] == doses.to_data()
    assert after["basal_flow_nl_per_day"] == 200_000  # 2 mg/day at 10 mg/mL


def test_every_therapy_method_is_executed(running: RunningPump, programmer: ProgrammerClient) -> None:
    assert programmer.program_continuous(dose_ng_per_day=5_000_000).ok
    assert status(programmer)["low_reservoir_alarm_nl"] == 3_000_000
    assert programmer.clinician_bolus(dose_ng=500_000, duration_ms=600_000).ok
    bolus = status(programmer)["bolus"]
    assert isinstance(bolus, dict) and (bolus["kind"], bolus["volume_nl"]) == ("clinician", 50_000)
    assert programmer.cancel_bolus().ok
    assert programmer.set_catheter(80_000).ok and status(programmer)["catheter_volume_nl"] == 80_000
    assert programmer.priming_bolus(volume_nl=200_000, duration_ms=1_800_000).ok
    assert status(programmer)["mode"] == "priming"
    assert programmer.cancel_bolus().ok
    assert programmer.stop_therapy().ok and status(programmer)["mode"] == "minimum_rate"
    assert programmer.resume_therapy().ok and status(programmer)["mode"] == "running"
    assert programmer.set_low_reservoir_alarm(2_500_000).ok
    assert status(programmer)["low_reservoir_alarm_nl"] == 2_500_000
    plan = PeriodicBolusPlan(200_000, 600_000, 6 * MS_PER_HOUR, START_WALL_MS + MS_PER_HOUR)
    assert programmer.set_periodic_bolus(plan).ok
    assert status(programmer)["periodic"] == {
        "dose_ng": 200_000,
        "duration_ms": 600_000,
        "interval_ms": 6 * MS_PER_HOUR,
        "first_wall_ms": START_WALL_MS + MS_PER_HOUR,
    }
    assert programmer.set_periodic_bolus(None).ok and status(programmer)["periodic"] is None
    assert programmer.set_demand_limits(LIMITS).ok
    assert status(programmer)["demand"] == {
        "dose_ng": 100_000,
        "duration_ms": 300_000,
        "lockout_ms": 3_600_000,
        "max_per_24h": 4,
    }
    assert programmer.set_demand_limits(None).ok and status(programmer)["demand"] is None
    assert programmer.set_clock(START_WALL_MS + 7 * MS_PER_HOUR).ok
    assert status(programmer)["wall_ms"] == START_WALL_MS + 7 * MS_PER_HOUR
    cleared = programmer.clear_alarm("motor_stall")
    assert cleared.status is ReplyStatus.REFUSED and cleared.result["code"]
    unknown = programmer.clear_alarm("fire")
    assert unknown.status is ReplyStatus.REFUSED and unknown.result["code"] == "unknown_alarm"


def test_a_refill_with_a_bridge_pushes_the_old_drug_first(running: RunningPump, programmer: ProgrammerClient) -> None:
    assert programmer.program_continuous(dose_ng_per_day=5_000_000).ok
    reply = programmer.refill(20_000_000, (("morphine", 25_000_000),), aspirated_nl=19_000_000, bridge=True)
    assert reply.ok, reply.describe()
    after = status(programmer)
    assert after["label"] == [{"drug": "morphine", "concentration_ng_per_ml": 25_000_000}]
    assert after["bridge"] is not None and after["bridge"]["remaining_nl"] > 0
    assert after["basal_flow_nl_per_day"] == 500_000  # the old drug at the old flow until the dead volume is through


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
    assert programmer.program_continuous(dose_ng_per_day=5_000_000).ok
    assert programmer.set_demand_limits(LIMITS).ok
    first = ptm.request_bolus()
    assert first.ok and first.result["used_in_24h"] == 1
    view = ptm.status()
    assert view.ok and set(view.result) == PTM_STATUS_FIELDS
    assert view.result["demand_left_24h"] == 3
    assert view.result["demand"] == {
        "dose_ng": 100_000,
        "duration_ms": 300_000,
        "lockout_ms": 3_600_000,
        "max_per_24h": 4,
    }
    # The pump's own answer to "when may I press again" is the time its refusal names.
    second = ptm.request_bolus()
    assert second.status is ReplyStatus.REFUSED and second.result["code"]
    assert second.result["until_ms"] is not None
    assert view.result["demand_next_allowed_wall_ms"] == view.result["wall_ms"] + 3_600_000


def test_a_client_opened_on_the_wrong_device_is_refused_by_name(running: RunningPump) -> None:
    with pytest.raises(InputError, match="holds a ptm identity, not a clinician one"):
        ProgrammerClient.connect(running.layout.device("ptm"), running.port)
    with pytest.raises(InputError, match="is not paired"):
        TherapyManagerClient.connect(running.layout.device("ptm"), running.port)
    with pytest.raises(InputError, match="holds no device identity"):
        TherapyManagerClient.connect(running.layout.root, running.port)


def test_the_patient_is_told_the_next_dose_time_the_pump_itself_keeps(
    running: RunningPump, programmer: ProgrammerClient, ptm: TherapyManagerClient
) -> None:
    # A lockout longer than a day: the pump keeps refusing beyond the 24 h window, and the PTM must say so.
    assert programmer.program_continuous(dose_ng_per_day=5_000_000).ok
    assert programmer.set_demand_limits(DemandLimits(100_000, 300_000, 36 * MS_PER_HOUR, 4)).ok
    assert ptm.request_bolus().ok
    pressed_wall_ms = ptm.status().result["wall_ms"]
    assert isinstance(pressed_wall_ms, int)

    running.time.now_s += 25 * 3600 / 1440  # 25 pump hours at 1440 times real time
    view = ptm.status().result
    refused = ptm.request_bolus()
    clock = status(programmer)
    wall_offset_ms = int(clock["wall_ms"]) - int(clock["now_ms"])  # type: ignore[call-overload]

    assert view["demand_next_allowed_wall_ms"] == pressed_wall_ms + 36 * MS_PER_HOUR
    assert view["demand_left_24h"] == 4  # the press left the 24 h window, yet the lockout holds
    assert refused.status is ReplyStatus.REFUSED
    assert refused.result["until_ms"] + wall_offset_ms == view["demand_next_allowed_wall_ms"]  # type: ignore[operator]

    running.time.now_s += 11 * 3600 / 1440  # 36 pump hours after the press
    assert ptm.request_bolus().ok
