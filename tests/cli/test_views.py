"""What a person reads: the interrogation, the patient's view and the log, in words and local times."""

from __future__ import annotations

import json
import re
import socket

import pytest
from tests.cli.cli_rig import Cli
from tests.daemon.daemon_rig import START_WALL_MS

from thecal.cli import main
from thecal.therapy.settings import wall_text
from thecal.therapy.words import clock_text

DOCTOR = ("--by", "physician", "--name", "Dr Rivera", "--yes")
REASON = ("--reason", "breakthrough pain at physiotherapy")
WIRE_NAME = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)*_(?:nl|ng|ms|ppm|per_day|per_ml)\b")


def program(cli: Cli) -> None:
    """Morphine 10 mg/mL, 0.5 mg/day, PTM doses of 0.1 mg; the patient has pressed once."""
    for command, *args in (
        ("fill", "--drug", "morphine", "--concentration", "10 mg/mL", "--volume", "20 mL"),
        ("prescribe", "--dose", "0.5 mg/day"),
        ("ptm-settings", "--dose", "0.1 mg", "--duration", "10 min", "--lockout", "3 h", "--max-per-day", "4"),
    ):
        ran = cli("pump", command, *args, *REASON, *DOCTOR)
        assert ran.code == 0, ran.out
    assert cli("ptm", "bolus").code == 0


def test_interrogate_speaks_in_doses_units_and_local_times(cli: Cli) -> None:
    program(cli)
    ran = cli("pump", "interrogate")
    assert ran.code == 0, ran.err
    assert "basal dose, every day from 00:00: 0.5 mg/day (0.05 mL/day)" in ran.out
    assert "Drug in the reservoir: morphine 10 mg/mL" in ran.out
    assert "demand dose (patient's handset): 0.1 mg of morphine (0.01 mL) over 10 min, lockout 3 h" in ran.out
    assert wall_text(cli.status()["wall_ms"]) in ran.out  # type: ignore[arg-type]  # the pump clock, local time
    assert wall_text(START_WALL_MS)[:10] in ran.out
    assert not WIRE_NAME.findall(ran.out), WIRE_NAME.findall(ran.out)
    assert "pump time" not in ran.out


def test_the_patient_sees_until_when_and_why_in_words(cli: Cli) -> None:
    program(cli)
    status = cli.status()
    ran = cli("ptm", "status")
    assert ran.code == 0
    next_at = clock_text(status["demand_next_allowed_wall_ms"], status["wall_ms"])  # type: ignore[arg-type]
    assert re.fullmatch(r"\d\d:\d\d( tomorrow)?", next_at)
    assert f"Extra dose: not now, it is too soon after your last dose. Next dose possible at {next_at}." in ran.out
    assert "Doses left in the next 24 hours: 3." in ran.out
    assert "mL" not in ran.out and "morphine" not in ran.out and not WIRE_NAME.findall(ran.out)

    again = cli("ptm", "bolus")
    assert again.code == 2 and "No dose was given." in again.out and next_at in again.out
    as_json = json.loads(cli("ptm", "bolus", "--json").out)
    assert as_json["plan"]["allowed"] is False and as_json["execution"] is None
    assert [f["code"] for f in as_json["plan"]["findings"]] == ["locked_out"]

    cli.pass_days(4 / 24)  # past the 3 h lockout
    assert "Extra dose: possible now." in cli("ptm", "status").out


def test_the_log_reads_in_words_at_local_times(cli: Cli) -> None:
    program(cli)
    ran = cli("pump", "log")
    assert ran.code == 0
    lines = ran.out.splitlines()
    filled = next(line for line in lines if "reservoir filled" in line)
    assert "volume 20 mL" in filled and "morphine 10 mg/mL" in filled
    assert re.search(r"#\d+ \w{3} \d{4}-\d\d-\d\d \d\d:\d\d  ", filled)
    assert any("bolus started: kind demand" in line for line in lines)
    assert not WIRE_NAME.findall(ran.out)


def test_a_clock_set_moves_the_local_times_of_the_entries_before_it(cli: Cli) -> None:
    program(cli)
    before = cli("pump", "log").out
    later_wall_ms = START_WALL_MS + 400 * 86_400_000
    sent = cli("pump", "send", "clock_set", f'{{"wall_ms": {later_wall_ms}}}')
    assert sent.code == 0
    after = cli("pump", "log").out
    filled = [line for line in before.splitlines() if "reservoir filled" in line]
    assert filled and filled[0] in after  # the fill kept the time the clock read then
    assert wall_text(later_wall_ms) in after  # the clock_set entry reads the new time


def test_log_from_a_negative_entry_names_the_field(cli: Cli) -> None:
    ran = cli("pump", "log", "--from", "-1")
    assert ran.code == 2
    assert "--from = '-1': is negative" in ran.err


@pytest.mark.parametrize(
    "command",
    [
        ("pump", "interrogate"),
        ("pump", "pair", "--role", "clinician"),
        ("pump", "prescribe", "--dose", "0.5 mg/day", "--by", "physician", "--yes"),
        ("ptm", "bolus"),
    ],
)
def test_a_wrong_port_says_nothing_is_listening(cli: Cli, command: tuple[str, ...]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]  # closed again below: nothing listens there
    group, name, *args = command
    code = main([group, name, "--state", str(cli.pump.layout.root), "--port", str(free), *args])
    err = cli.capsys.readouterr().err
    assert code == 2
    assert f"nothing is listening on 127.0.0.1:{free}" in err and "unknown" not in err


def test_a_drug_dosed_in_micrograms_reads_in_micrograms(cli: Cli) -> None:
    fill = ("--drug", "ziconotide", "--concentration", "25 mcg/mL", "--volume", "20 mL")
    for command, *args in (("fill", *fill), ("prescribe", "--dose", "1.2 mcg/day")):
        ran = cli("pump", command, *args, *REASON, *DOCTOR)
        assert ran.code == 0, ran.out
    read = cli("pump", "interrogate").out
    assert "basal dose, every day from 00:00: 1.2 mcg/day (0.048 mL/day)" in read
    assert "Drug in the reservoir: ziconotide 25 mcg/mL" in read
