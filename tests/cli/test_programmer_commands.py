"""Every `thecal pump` and `thecal ptm` subcommand once, against a live pump daemon, through the therapy layer."""

from __future__ import annotations

import argparse

from tests.cli.cli_rig import Cli, Ran

from thecal.cli.main import build_parser

DOCTOR = ("--by", "physician", "--name", "Dr Rivera", "--yes")


def done(ran: Ran) -> Ran:
    """The run, once it is known to have ended with exit code 0."""
    assert ran.code == 0, ran.out + ran.err
    return ran


def subcommands(*path: str) -> set[str]:
    """The subcommands registered under `thecal PATH…`."""
    parser = build_parser()
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(action.choices)


def test_every_subcommand_programs_the_pump_in_clinical_units(cli: Cli) -> None:
    used: set[str] = set()

    def pump(command: str, *args: str) -> Ran:
        used.add(command)
        return cli("pump", command, *args)

    done(pump("implant", "--catheter-length", "50 cm", "--volume-per-length", "2.2 uL/cm", *DOCTOR))
    assert cli.status()["catheter_volume_nl"] == 110_000  # 50 cm at 2.2 uL/cm

    filled = done(pump("fill", "--drug", "morphine", "--concentration", "10 mg/mL", "--volume", "20 mL", *DOCTOR))
    assert "morphine 10 mg/mL" in filled.out
    assert cli.status()["label"] == [{"drug": "morphine", "concentration_ng_per_ml": 10_000_000}]

    done(pump("prime", *DOCTOR))
    assert cli.status()["bolus"]["kind"] == "priming"  # type: ignore[index]
    cli.pass_days(1)

    reason = ("--reason", "opioid-tolerant: 300 mg/day oral morphine")
    prescribed = done(pump("prescribe", "--dose", "1 mg/day", *reason, *DOCTOR))
    assert "1 mg/day (0.1 mL/day)" in prescribed.out  # the dose and the volume it takes at 10 mg/mL
    assert cli.status()["prescription"] == [[[0, 1_000_000]]] * 7

    done(pump("bolus", "--dose", "0.2 mg", "--duration", "10 min", *DOCTOR))
    bolus = cli.status()["bolus"]
    assert bolus["kind"] == "clinician" and bolus["volume_nl"] == 20_000  # type: ignore[index]

    cli.pass_days(3.1)  # past the usual 72 h between dose increases
    done(pump("titrate", "--dose", "1.2 mg/day", *DOCTOR))
    assert cli.status()["prescription"] == [[[0, 1_200_000]]] * 7

    periodic = ("--dose", "0.05 mg", "--duration", "10 min", "--every", "12 h", "--first", "08:00")
    done(pump("periodic", *periodic, *DOCTOR))
    assert cli.status()["periodic"]["dose_ng"] == 50_000  # type: ignore[index]
    done(pump("periodic", "--off", *DOCTOR))
    assert cli.status()["periodic"] is None

    limits = ("--dose", "0.1 mg", "--duration", "10 min", "--lockout", "2 h", "--max-per-day", "4")
    done(pump("ptm-settings", *limits, *DOCTOR))
    assert cli.status()["demand"] == {
        "dose_ng": 100_000,
        "duration_ms": 600_000,
        "lockout_ms": 7_200_000,
        "max_per_24h": 4,
    }
    pressed = done(cli("ptm", "bolus"))
    assert "extra dose is being given" in pressed.out
    assert cli.status()["demand_left_24h"] == 3
    assert "Doses left in the next 24 hours: 3." in done(cli("ptm", "status")).out

    done(pump("low-reservoir-alarm", "--threshold", "3 mL", *DOCTOR))
    assert cli.status()["low_reservoir_alarm_nl"] == 3_000_000

    done(pump("stop", *DOCTOR))
    assert cli.status()["mode"] == "minimum_rate"
    done(pump("resume", *DOCTOR))
    assert cli.status()["mode"] == "running"

    not_active = pump("clear-alarm", "motor_stall", *DOCTOR)
    assert not_active.code == 2 and "motor_stall alarm is not active" in not_active.out
    checked = done(pump("post-mri-check", *DOCTOR))
    assert "No motor-stall alarm is active" in checked.out

    expected_nl = cli.status()["reservoir_nl"]
    assert isinstance(expected_nl, int)
    aspirated = f"{expected_nl} nL"  # exactly what the pump calculates is left: no discrepancy
    new = ("--drug", "morphine", "--concentration", "20 mg/mL", "--volume", "20 mL")
    refilled = done(pump("refill", "--aspirated", aspirated, *new, *DOCTOR))
    assert "1.2 mg/day (0.06 mL/day)" in refilled.out  # the same dose, half the volume at twice the strength
    after = cli.status()
    assert after["label"] == [{"drug": "morphine", "concentration_ng_per_ml": 20_000_000}]
    assert after["prescription"] == [[[0, 1_200_000]]] * 7 and after["demand"]["dose_ng"] == 100_000  # type: ignore[index]
    assert after["bridge"] is not None  # the old, weaker solution in the catheter goes first at the old doses

    done(pump("ptm-settings", "--off", *DOCTOR))
    assert cli.status()["demand"] is None

    read = done(pump("interrogate"))
    assert "morphine 20 mg/mL" in read.out and "1.2 mg/day" in read.out
    log = done(pump("log"))
    assert "reservoir filled" in log.out and "prescription programmed" in log.out
    sent = done(pump("send", "interrogate_status"))
    assert sent.out.startswith("thecal: engineering tool: bypasses the therapy layer")

    assert used | {"init", "serve", "pair", "recover"} == subcommands("pump")
    assert subcommands("ptm") == {"bolus", "serve", "status"}
