"""Each telemetry attack on the running daemon: refused, on the pump's event log, therapy untouched.

Pump time is frozen (the fake clock does not move), so the firmware state
apart from its log must be identical before and after every attack.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from daemon_rig import MORPHINE_FILL, START_WALL_MS, RunningPump, continuous, start

from thecal.devices.daemon import StateLayout, init_state
from thecal.pump.core.firmware import REJECTIONS_LOGGED_PER_DAY
from thecal.telemetry import codec
from thecal.telemetry.client import ClientSession
from thecal.telemetry.commands import Command
from thecal.telemetry.device_files import device_store_path
from thecal.telemetry.errors import LinkLost, Rejected
from thecal.telemetry.frames import FrameType, ReplyStatus, decode_frame, encode_frame, encode_request
from thecal.telemetry.link import seal
from thecal.telemetry.pairing import pair_with_pump
from thecal.telemetry.transport import TcpTransport

BOLUS = {"dose_ng": 500_000, "duration_ms": 600_000}


class Capture:
    """Keeps the frame and delivers nothing: a valid frame the pump has never seen."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, frame: bytes) -> bytes:
        self.sent.append(frame)
        raise LinkLost("captured, not delivered")


@pytest.fixture
def pump(layout: StateLayout) -> Iterator[RunningPump]:
    """A running pump with both devices paired, filled and delivering."""
    running = start(layout)
    running.pair("clinician")
    running.pair("ptm")
    clinician = running.session("clinician")
    assert clinician.request("refill_update", **MORPHINE_FILL).ok
    assert clinician.request("program_therapy", **continuous(5_000_000)).ok
    running.time.now_s += 30  # half a pump day, so strokes and a log exist
    assert clinician.request("interrogate_status").ok
    yield running
    running.stop()


def therapy(running: RunningPump) -> dict[str, object]:
    """The firmware state without its log and refusal bookkeeping: everything an attack must not change."""
    data = running.daemon.pump.firmware.state.to_data()
    del data["log"], data["rejections"]
    return data


def pump_rejections(running: RunningPump, since_seq: int) -> list[dict[str, object]]:
    """The telemetry refusals the pump logged from `since_seq` on, as the clinician reads them."""
    reply = running.session("clinician").request("read_event_log", from_seq=since_seq, max_entries=100)
    assert reply.ok, reply.describe()
    entries = reply.result["entries"]
    assert isinstance(entries, list)
    return [e["detail"] for e in entries if e["kind"] == "telemetry_rejected"]


def unsent(running: RunningPump, role: str, name: str = "clinician_bolus", **args: object) -> bytes:
    """A valid request frame of a paired device that the pump has not received."""
    capture = Capture()
    identity, keystore, counters = running.device(role)
    (paired_pump,) = keystore.peers()
    ClientSession(identity, paired_pump, counters, capture, attempts=1).request(name, **args)
    return capture.sent[0]


def key_id(running: RunningPump, role: str) -> str:
    identity, _, _ = running.device(role)
    return identity.key_id.hex()


def next_seq(running: RunningPump) -> int:
    return running.daemon.pump.firmware.state.log.next_seq


def send(running: RunningPump, frame: bytes) -> FrameType:
    return decode_frame(TcpTransport(running.port).send(frame)).type


def test_a_replayed_bolus_frame(pump: RunningPump) -> None:
    frame = unsent(pump, "clinician", **BOLUS)
    assert send(pump, frame) is FrameType.REPLY
    before, seq = therapy(pump), next_seq(pump)

    assert send(pump, frame) is FrameType.REJECT

    assert therapy(pump) == before
    (logged,) = pump_rejections(pump, seq)
    assert logged["code"] == "replayed_counter" and logged["key_id"] == key_id(pump, "clinician")


def test_flipped_bits_and_the_flood_budget(pump: RunningPump) -> None:
    frame = unsent(pump, "clinician", **BOLUS)
    before, seq = therapy(pump), next_seq(pump)

    for bit in range(len(frame) * 8):
        flipped = bytearray(frame)
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert send(pump, bytes(flipped)) is FrameType.REJECT, f"bit {bit} was accepted"

    assert therapy(pump) == before
    assert send(pump, frame) is FrameType.REPLY  # the untouched frame passes: the bits alone were refused
    logged = pump_rejections(pump, seq)
    assert len(logged) == REJECTIONS_LOGGED_PER_DAY
    status = pump.session("clinician").request("interrogate_status").result
    assert status["telemetry_rejections_unlogged"] == len(frame) * 8 - REJECTIONS_LOGGED_PER_DAY


def test_a_wrong_key(pump: RunningPump) -> None:
    claimed = bytes.fromhex(key_id(pump, "clinician"))
    request = encode_request(Command.create("clinician_bolus", BOLUS))
    forged = encode_frame(seal(os.urandom(32), FrameType.REQUEST, claimed, 10**6, request))
    before, seq = therapy(pump), next_seq(pump)

    assert send(pump, forged) is FrameType.REJECT

    assert therapy(pump) == before
    assert [e["code"] for e in pump_rejections(pump, seq)] == ["authentication_failed"]


def test_a_revoked_key(pump: RunningPump) -> None:
    ptm, ptm_key = pump.session("ptm"), key_id(pump, "ptm")
    revoked = pump.session("clinician").request("revoke_key", key_id=ptm_key)
    assert revoked.ok
    before, seq = therapy(pump), next_seq(pump)

    reply = ptm.request("demand_bolus")

    assert reply.status is ReplyStatus.REJECTED and reply.code == "key_revoked"
    assert therapy(pump) == before
    assert [e["code"] for e in pump_rejections(pump, seq)] == ["key_revoked"]
    log = pump.session("clinician").request("read_event_log", from_seq=0, max_entries=100).result["entries"]
    assert [e["detail"]["role"] for e in log if e["kind"] == "key_paired"] == ["clinician", "ptm"]
    assert [e["detail"]["key_id"] for e in log if e["kind"] == "key_revoked"] == [ptm_key]


def test_an_unpaired_device(pump: RunningPump, tmp_path) -> None:
    # A genuine programmer of another pump's installation, never paired with this one.
    elsewhere = start(init_state(tmp_path / "elsewhere", wall_ms=START_WALL_MS))
    try:
        elsewhere.pair("clinician")
        frame, stranger = unsent(elsewhere, "clinician", **BOLUS), key_id(elsewhere, "clinician")
    finally:
        elsewhere.stop()
    before, seq = therapy(pump), next_seq(pump)

    assert send(pump, frame) is FrameType.REJECT

    assert therapy(pump) == before
    (logged,) = pump_rejections(pump, seq)
    assert logged["code"] == "unknown_key" and logged["key_id"] == stranger


def test_pairing_without_the_proximity_step(pump: RunningPump, tmp_path) -> None:
    identity, keystore, counters = pump.device("clinician")
    before, seq = therapy(pump), next_seq(pump)
    with pytest.raises(Rejected):
        pair_with_pump(identity, TcpTransport(pump.port), keystore, counters)
    assert therapy(pump) == before
    assert [e["code"] for e in pump_rejections(pump, seq)] == ["pairing_closed"]


def test_a_ptm_that_tries_to_program(pump: RunningPump) -> None:
    before, seq = therapy(pump), next_seq(pump)

    reply = pump.session("ptm").request("program_therapy", **continuous(50_000_000))

    assert reply.status is ReplyStatus.REJECTED and reply.code == "not_permitted"
    assert therapy(pump) == before
    (logged,) = pump_rejections(pump, seq)
    assert (logged["code"], logged["role"], logged["command"]) == ("not_permitted", "ptm", "program_therapy")


def test_a_counter_rolled_back_after_a_restart(pump: RunningPump) -> None:
    counters_file = device_store_path(pump.layout.device("clinician")) / "counters.cbor"
    backup = counters_file.with_suffix(".old")
    shutil.copy(counters_file, backup)
    assert pump.session("clinician").request("interrogate_status").ok
    pump.stop()
    again = start(pump.layout)
    try:
        shutil.copy(backup, counters_file)  # the programmer's counters restored from an old copy
        before, seq = therapy(again), next_seq(again)

        reply = again.session("clinician").request("clinician_bolus", **BOLUS)

        assert reply.status is ReplyStatus.REJECTED and reply.code == "replayed_counter"
        assert therapy(again) == before
        assert [e["code"] for e in pump_rejections(again, seq)] == ["replayed_counter"]
    finally:
        again.stop()


@pytest.mark.parametrize("version", [0, 1, 3])
def test_another_protocol_version(pump: RunningPump, version: int) -> None:
    items = codec.decode(unsent(pump, "clinician", **BOLUS), "frame")
    assert isinstance(items, list)
    before, seq = therapy(pump), next_seq(pump)

    assert send(pump, codec.encode([version, *items[1:]])) is FrameType.REJECT

    assert therapy(pump) == before
    assert [e["code"] for e in pump_rejections(pump, seq)] == ["version_unsupported"]


# ---------------------------------------------------------------------------------------------------------------
# Clinical attacks: a paired programmer that skips the therapy layer and sends raw commands past a drug's hard
# limits. The pump holds the drug label and its hard limits, so it refuses each one itself, with a code and words
# that name the limit, and the therapy stays as it was.

MORPHINE_25 = {"volume_nl": 20_000_000, "contents": [{"drug": "morphine", "concentration_ng_per_ml": 25_000_000}]}
ZICONOTIDE = {"volume_nl": 20_000_000, "contents": [{"drug": "ziconotide", "concentration_ng_per_ml": 25_000}]}


def armed_pump(layout: StateLayout, fill: dict[str, object], dose_ng_per_day: int) -> RunningPump:
    """A running pump filled, programmed within every limit, time frozen, both devices paired."""
    running = start(layout)
    running.pair("clinician")
    running.pair("ptm")
    clinician = running.session("clinician")
    for name, args in (("refill_update", fill), ("program_therapy", continuous(dose_ng_per_day))):
        reply = clinician.request(name, **args)
        assert reply.ok, reply.describe()
    return running


@pytest.fixture
def morphine_pump(layout: StateLayout) -> Iterator[RunningPump]:
    """Morphine 25 mg/mL at 5 mg/day, with demand doses of 0.1 mg at most 4 a day, an hour apart."""
    running = armed_pump(layout, MORPHINE_25, 5_000_000)
    limits = {"dose_ng": 100_000, "duration_ms": 300_000, "lockout_ms": 3_600_000, "max_per_24h": 4}
    assert running.session("clinician").request("ptm_settings", **limits).ok
    yield running
    running.stop()


def clinical_state(running: RunningPump) -> dict[str, object]:
    """Everything of the firmware state that is therapy: not the log, the refusal count or the battery charge."""
    data = running.daemon.pump.firmware.state.to_data()
    # The telemetry exchange that carried the refused command is charged to the battery like any other.
    return {k: v for k, v in data.items() if k != "log" and "rejection" not in k and "battery" not in k}


def refused_by_the_pump(running: RunningPump, name: str, args: dict[str, object], code: str, words: list[str]) -> None:
    """Send a raw command; check the pump refused it with this code, in words, on its log, and changed nothing."""
    before, seq = clinical_state(running), next_seq(running)

    reply = running.session("clinician").request(name, **args)

    assert reply.status is ReplyStatus.REFUSED, reply.describe()
    assert reply.result["code"] == code, reply.describe()
    assert reply.result["limit"] and str(reply.result["limit"]) in reply.reason  # the limit, in the words
    for word in words:
        assert word in reply.reason, f"{word!r} not in {reply.reason!r}"
    assert clinical_state(running) == before
    log = running.session("clinician").request("read_event_log", from_seq=seq, max_entries=100).result["entries"]
    assert [e["detail"]["code"] for e in log if e["kind"] == "refused"] == [code]


CLINICAL_ATTACKS = [
    pytest.param(
        "refill_update",
        {"volume_nl": 20_000_000, "contents": [{"drug": "heroin", "concentration_ng_per_ml": 50_000_000}]},
        "unknown_drug",
        ["heroin", "morphine, ziconotide"],  # the drug it does not know, and the ones it does
        id="a fill of heroin",
    ),
    pytest.param(
        "refill_update",
        {"volume_nl": 20_000_000, "contents": [{"drug": "morphine", "concentration_ng_per_ml": 1_000_000_000}]},
        "above_max_concentration",
        ["morphine", "1000 mg/mL", "limit 25 mg/mL"],
        id="morphine at 1 g/mL",
    ),
    pytest.param(
        "refill_update",
        {
            "volume_nl": 20_000_000,
            "contents": [
                {"drug": "ziconotide", "concentration_ng_per_ml": 25_000},
                {"drug": "morphine", "concentration_ng_per_ml": 10_000_000},
            ],
        },
        "not_partners",
        ["ziconotide and morphine may not share"],
        id="ziconotide with morphine",
    ),
    pytest.param(
        "program_therapy",
        continuous(600_000_000),
        "above_max_daily_dose",
        ["morphine", "600.000 mg/day basal", "limit 20.000 mg/day"],
        id="600 mg a day of morphine",
    ),
    pytest.param(
        "ptm_settings",
        {"dose_ng": 5_000_000, "duration_ms": 300_000, "lockout_ms": 0, "max_per_24h": 24},
        "above_max_demand_dose",
        ["morphine", "5.000 mg", "limit 0.500 mg"],
        id="demand doses of 5 mg with no lockout",
    ),
    pytest.param(
        "clinician_bolus",
        {"dose_ng": 100_000_000, "duration_ms": 3_600_000},
        "above_max_bolus",
        ["morphine", "100.000 mg", "limit 1.000 mg"],
        id="a 100 mg bolus",
    ),
    pytest.param(
        "priming_bolus",  # 15 mL of morphine at 25 mg/mL: 375 mg, where tubing and catheter hold 0.319 mL
        {"volume_nl": 15_000_000, "duration_ms": 86_400_000},
        "above_dead_volume",
        ["15.000 mL", "limit 0.319 mL"],
        id="a 375 mg priming bolus",
    ),
]


@pytest.mark.parametrize(("name", "args", "code", "words"), CLINICAL_ATTACKS)
def test_a_raw_command_past_a_hard_limit_is_refused_by_the_pump(
    morphine_pump: RunningPump, name: str, args: dict[str, object], code: str, words: list[str]
) -> None:
    refused_by_the_pump(morphine_pump, name, args, code, words)


def test_after_a_refused_demand_setting_the_patient_gets_the_physician_s_dose(morphine_pump: RunningPump) -> None:
    reckless = {"dose_ng": 5_000_000, "duration_ms": 300_000, "lockout_ms": 0, "max_per_24h": 24}
    refused_by_the_pump(morphine_pump, "ptm_settings", reckless, "above_max_demand_dose", ["morphine"])

    ptm = morphine_pump.session("ptm")
    first, second = ptm.request("demand_bolus"), ptm.request("demand_bolus")

    assert first.ok and second.status is ReplyStatus.REFUSED  # an hour's lockout, as the physician set
    bolus = morphine_pump.session("clinician").request("interrogate_status").result["bolus"]
    assert isinstance(bolus, dict) and bolus["volume_nl"] == 4_000  # 0.1 mg at 25 mg/mL


def test_ziconotide_demand_doses_are_refused_by_the_pump(layout: StateLayout) -> None:
    running = armed_pump(layout, ZICONOTIDE, 1_200)  # 1.2 mcg/day: 48 uL/day at 25 mcg/mL
    try:
        limits = {"dose_ng": 100, "duration_ms": 300_000, "lockout_ms": 3_600_000, "max_per_24h": 4}
        refused_by_the_pump(running, "ptm_settings", limits, "demand_not_allowed", ["ziconotide", "continuous"])
        refused = running.session("ptm").request("demand_bolus")
        assert refused.status is ReplyStatus.REFUSED
        assert running.session("ptm").request("interrogate_status").result["demand"] is None
    finally:
        running.stop()
