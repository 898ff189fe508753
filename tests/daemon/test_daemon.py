"""The pump daemon over real loopback TCP: pairing, therapy, refusals, restarts from the state directory."""

from __future__ import annotations

import json

import pytest
from daemon_rig import DEMAND_LIMITS, MORPHINE_FILL, RunningPump, continuous, start

from thecal.cli import main
from thecal.devices.daemon import StateLayout
from thecal.devices.nvm_file import FileMedium
from thecal.pump.core.journal import Journal
from thecal.pump.core.nvm import PumpMemory
from thecal.pump.core.state import PumpState
from thecal.telemetry.client import ClientSession
from thecal.telemetry.frames import ReplyStatus
from thecal.telemetry.transport import TcpTransport


class Recorder:
    """Passes frames on and keeps a copy of each, as an eavesdropper would."""

    def __init__(self, inner: TcpTransport):
        self.inner = inner
        self.sent: list[bytes] = []

    def send(self, frame: bytes) -> bytes:
        self.sent.append(frame)
        return self.inner.send(frame)


def daemon_log(layout: StateLayout) -> list[dict[str, object]]:
    """The daemon's own log of refusals and pairings."""
    return [json.loads(line) for line in layout.daemon_log.read_text().splitlines()]


def event_log(session: ClientSession) -> list[dict[str, object]]:
    """Every kept event-log entry, read over telemetry by a clinician."""
    reply = session.request("read_event_log", from_seq=0, max_entries=100)
    assert reply.ok, reply.describe()
    return reply.result["entries"]  # type: ignore[return-value]


def test_file_medium_survives_a_torn_write(tmp_path):
    medium = FileMedium(tmp_path / "nvm", create=True)
    assert medium.read(0) == b"" and medium.read(1) == b""
    key = bytes(32)
    memory = PumpMemory(Journal.create(medium, key))
    first = PumpState.from_data(_state_data())
    memory.save(first)
    first.strokes_total = 7
    memory.save(first)
    # A power loss half-way through the next append leaves a prefix of its record at the end of the segment.
    medium.append(1, b"TJ\x01\x02partial")
    medium.close()
    reopened = FileMedium(tmp_path / "nvm")
    restored = PumpMemory(Journal.open(reopened, key)).load()
    assert restored is not None and restored.strokes_total == 7
    assert oct((tmp_path / "nvm" / "journal-1.bin").stat().st_mode & 0o777) == "0o600"


def _state_data() -> dict[str, object]:
    from thecal.drugs import pump_formulary
    from thecal.pump.core import Firmware
    from thecal.pump.model import load_model

    return Firmware(load_model("programmable-20"), pump_formulary()).state.to_data()


def test_round_trip_then_restart_continues_therapy_and_counters(running: RunningPump):
    running.pair("clinician")
    running.pair("ptm")
    clinician, ptm = running.session("clinician"), running.session("ptm")
    assert clinician.request("refill_update", **MORPHINE_FILL).ok
    assert clinician.request("program_therapy", **continuous(5_000_000)).ok  # 5 mg/day: 0.5 mL/day at 10 mg/mL
    assert clinician.request("ptm_settings", **DEMAND_LIMITS).ok
    recorder = Recorder(TcpTransport(running.port))
    ptm.transport = recorder
    demand = ptm.request("demand_bolus")
    assert demand.ok and demand.result["used_in_24h"] == 1
    before = clinician.request("interrogate_status").result
    assert before["mode"] == "running"
    assert before["basal_flow_nl_per_day"] == 500_000
    assert before["bolus"]["kind"] == "demand" and before["bolus"]["volume_nl"] == 10_000  # 0.1 mg at 10 mg/mL
    assert before["demand_left_24h"] == 3
    running.time.now_s += 30  # half a pump day at 1440 times real time
    later = clinician.request("interrogate_status").result
    assert later["strokes_total"] > before["strokes_total"]
    running.stop()

    again = start(running.layout)
    try:
        after = again.session("clinician").request("interrogate_status").result
        assert after["mode"] == "running" and after["basal_flow_nl_per_day"] == 500_000
        assert after["fills_total"] == 1
        assert after["strokes_total"] >= later["strokes_total"]
        assert after["log_next_seq"] >= later["log_next_seq"]
        assert after["now_ms"] >= later["now_ms"]

        # The acknowledged demand bolus, sent again after the restart, gets its stored reply and nothing more.
        retry = again.session("ptm").send(demand.command)
        assert retry.status is ReplyStatus.OK and retry.result == demand.result
        demand_starts = [
            e
            for e in event_log(again.session("clinician"))
            if e["kind"] == "bolus_start" and e["detail"]["kind"] == "demand"
        ]
        assert len(demand_starts) == 1

        # Counters went on from where they were: an old frame is a replay, new ones pass.
        assert TcpTransport(again.port).send(recorder.sent[0])
        codes = [entry.get("code") for entry in daemon_log(again.layout)]
        assert "replayed_counter" in codes
        assert again.session("ptm").request("interrogate_status").ok
    finally:
        again.stop()


def test_firmware_refusal_comes_back_with_code_and_words(running: RunningPump):
    running.pair("ptm")
    reply = running.session("ptm").request("demand_bolus")
    assert reply.status is ReplyStatus.REFUSED
    assert reply.result["code"] == "demand_off"
    assert "not enabled" in reply.reason
    running.pair("clinician")
    refused = [e for e in event_log(running.session("clinician")) if e["kind"] == "refused"]
    assert [e["detail"]["code"] for e in refused] == ["demand_off"]


def test_clinician_commands_reach_the_firmware(running: RunningPump):
    running.pair("clinician")
    c = running.session("clinician")
    assert c.request("refill_update", **MORPHINE_FILL, aspirated_nl=0, low_reservoir_alarm_nl=3_000_000).ok
    assert c.request("program_therapy", **continuous(5_000_000)).ok
    bolus = c.request("clinician_bolus", dose_ng=500_000, duration_ms=600_000)
    assert bolus.ok and bolus.result["ends_ms"] == bolus.result["now_ms"] + 600_000
    assert c.request("interrogate_status").result["bolus"]["volume_nl"] == 50_000  # 0.5 mg at 10 mg/mL
    assert c.request("bolus_cancel").ok
    assert c.request("therapy_stop").ok
    assert c.request("interrogate_status").result["mode"] == "minimum_rate"
    assert c.request("therapy_resume").ok
    assert c.request("low_reservoir_alarm_set", threshold_nl=2_500_000).ok
    assert c.request("clock_set", wall_ms=1_800_000_000_000).ok
    assert c.request(
        "periodic_bolus_set",
        dose_ng=200_000,
        duration_ms=600_000,
        interval_ms=21_600_000,
        first_wall_ms=1_800_000_000_000,
    ).ok
    assert c.request("periodic_bolus_stop").ok
    assert c.request("ptm_settings", **DEMAND_LIMITS).ok
    assert c.request("interrogate_status").result["demand"] == DEMAND_LIMITS
    assert c.request("ptm_off").ok
    assert c.request("catheter_set", volume_nl=120_000).ok
    cleared = c.request("alarm_clear", alarm="motor_stall")
    assert cleared.status is ReplyStatus.REFUSED and cleared.result["code"] == "not_active"
    unknown = c.request("alarm_clear", alarm="no_such_alarm")
    assert unknown.status is ReplyStatus.REFUSED and unknown.result["code"] == "unknown_alarm"
    kinds = [e["kind"] for e in event_log(c)]
    for kind in (
        "fill",
        "program",
        "bolus_start",
        "bolus_interrupted",
        "therapy_stopped",
        "therapy_resumed",
        "low_reservoir_alarm_set",
        "clock_set",
        "periodic_bolus_on",
        "periodic_bolus_off",
        "demand_off",
    ):
        assert kind in kinds
    status = c.request("interrogate_status").result
    assert status["low_reservoir_alarm_nl"] == 2_500_000 and status["demand"] is None
    assert status["catheter_volume_nl"] == 120_000


def test_pump_time_runs_at_the_acceleration_factor(running: RunningPump):
    running.pair("clinician")
    c = running.session("clinician")
    c.request("refill_update", **MORPHINE_FILL)
    c.request("program_therapy", **continuous(10_000_000))  # 10 mg/day: 1 mL/day at 10 mg/mL
    start_status = c.request("interrogate_status").result
    running.time.now_s += 60  # one minute real time = one pump day at 1440
    end_status = c.request("interrogate_status").result
    assert end_status["now_ms"] - start_status["now_ms"] == 86_400_000
    delivered = end_status["delivered_nl_total"] - start_status["delivered_nl_total"]
    stroke_nl = running.daemon.model.stroke_nl
    assert abs(delivered - 1_000_000) <= stroke_nl


def test_refusals_of_the_telemetry_layer_are_logged(running: RunningPump):
    identity, keystore, counters = running.device("clinician")
    from thecal.telemetry.errors import Rejected
    from thecal.telemetry.pairing import pair_with_pump

    with pytest.raises(Rejected):
        pair_with_pump(identity, TcpTransport(running.port), keystore, counters)
    running.pair("ptm")
    reply = running.session("ptm").request("program_therapy", **continuous(5_000_000))
    assert reply.status is ReplyStatus.REJECTED
    entries = daemon_log(running.layout)
    assert [e["code"] for e in entries if e["event"] == "rejected"] == ["pairing_closed", "not_permitted"]
    assert [e["role"] for e in entries if e["event"] == "paired"] == ["ptm"]
    assert entries[-1]["role"] == "ptm" and entries[-1]["command"] == "program_therapy"


def test_command_line_programs_and_reads_the_pump(running: RunningPump, capsys):
    state = str(running.layout.root)
    port = str(running.port)
    assert main(["pump", "pair", "--state", state, "--role", "clinician", "--port", port]) == 1  # window closed
    running.daemon.proximity_detected()
    assert main(["pump", "pair", "--state", state, "--role", "clinician", "--port", port]) == 0
    running.daemon.proximity_detected()
    assert main(["pump", "pair", "--state", state, "--role", "ptm", "--port", port]) == 0
    doctor = ["--state", state, "--port", port, "--by", "physician", "--name", "Dr Rivera", "--yes"]
    reason = ["--reason", "opioid-tolerant, breakthrough pain at physiotherapy"]
    fill = ["--drug", "morphine", "--concentration", "10 mg/mL", "--volume", "20 mL"]
    assert main(["pump", "fill", *doctor, *fill]) == 0
    assert main(["pump", "prescribe", *doctor, *reason, "--dose", "5 mg/day"]) == 0
    demand = ["--dose", "0.1 mg", "--duration", "5 min", "--lockout", "1 h", "--max-per-day", "4"]
    assert main(["pump", "ptm-settings", *doctor, *reason, *demand]) == 0
    assert main(["pump", "bolus", *doctor, "--dose", "0.5 mg", "--duration", "10 min"]) == 0
    capsys.readouterr()
    # A clinician bolus is still running: the handset reads the pump's answer and sends nothing (exit 2).
    assert main(["ptm", "bolus", "--state", state, "--port", port]) == 2
    pressed = capsys.readouterr().out
    assert "No dose was given" in pressed and "a dose is still being given" in pressed
    assert main(["ptm", "status", "--state", state, "--port", port, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["demand"] == DEMAND_LIMITS and "reservoir_nl" not in status
    assert main(["pump", "interrogate", "--state", state, "--port", port, "--json"]) == 0
    full = json.loads(capsys.readouterr().out)
    assert full["basal_flow_nl_per_day"] == 500_000 and full["bolus"]["volume_nl"] == 50_000
    assert main(["pump", "log", "--state", state, "--port", port]) == 0
    out = capsys.readouterr().out
    # The handset read the pump's answer first, so the press never reached the pump to be refused there.
    assert "prescription programmed" in out and "bolus started" in out


def test_init_tells_the_pump_its_catheter_so_it_knows_its_dead_volume(layout: StateLayout):
    from thecal.devices.daemon import PumpDaemon

    daemon = PumpDaemon(layout.root)
    catheter_nl = json.loads(layout.config.read_text())["catheter_volume_nl"]

    status = daemon.status()

    assert status["catheter_volume_nl"] == catheter_nl > 0
    assert status["dead_volume_nl"] == daemon.model.internal_volume_nl + catheter_nl
    assert isinstance(status["battery_used_ppm"], int) and "battery_used_fraction" not in status
