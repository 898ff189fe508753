"""The clinic's pumps: daemons as processes, the proximity step, pairing, programming through the therapy layer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from thecal.apps.clinic.pumps import ClinicError, ClinicPumps
from thecal.drugs.fill import Fill
from thecal.pump.core.schedule import DoseSchedule
from thecal.therapy import (
    Actor,
    ClinicSettings,
    ExecutionStatus,
    FirstFill,
    PatientFacts,
    Prescribe,
    StaffRole,
    TherapyService,
)
from thecal.units import NG_PER_MG, NL_PER_ML

PHYSICIAN = Actor("Dr Ana Ruiz", StaffRole.PHYSICIAN)
PAIRED, UNPAIRED = "NGP-T-001", "NGP-T-002"
GONE_WITHIN_S = 60.0  # only a bound on waiting for a process to end, never a measure of speed


def _gone(pid: int) -> bool:
    """Whether the process no longer exists (or is a zombie no one has reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def _wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + GONE_WITHIN_S
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture(scope="module")
def pumps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClinicPumps]:
    """Two pumps with running daemons; the clinic programmer is paired with the first only."""
    clinic = ClinicPumps(tmp_path_factory.mktemp("clinic") / "pumps")
    for serial in (PAIRED, UNPAIRED):
        clinic.create(serial)
        clinic.launch(serial, accel=1.0)
    try:
        for serial in (PAIRED, UNPAIRED):
            clinic.wait_started(serial)
        clinic.place_head(PAIRED)
        clinic.pair(PAIRED)
        yield clinic
    finally:
        clinic.close()
        clinic.stop_all()


def _service(pumps: ClinicPumps, serial: str = PAIRED) -> TherapyService:
    return pumps.service(serial, patient=PatientFacts(opioid_naive=False), clinic=ClinicSettings())


def _filled(pumps: ClinicPumps) -> TherapyService:
    service = _service(pumps)
    if not service.port.interrogate().filled:
        plan = service.plan(FirstFill(20 * NL_PER_ML, Fill.single("morphine", 10 * NG_PER_MG)), PHYSICIAN)
        assert service.execute(plan, PHYSICIAN, confirmed=True).status is ExecutionStatus.DONE
    return service


def test_each_pump_has_its_folder_its_programmer_and_its_daemon(pumps: ClinicPumps) -> None:
    links = pumps.links()
    assert [link.serial for link in links] == [PAIRED, UNPAIRED]
    for link in links:
        assert link.state_dir == pumps.root / link.serial / "pump"
        assert (link.state_dir / "pump.json").is_file()
        assert (link.programmer_dir / "identity.key").is_file()
        assert not (link.state_dir / "devices" / "clinician").exists()  # the programmer is the clinic's
        assert link.port is not None
    assert links[0].port != links[1].port
    assert pumps.link(PAIRED) == links[0]


def test_an_unknown_serial_is_named(pumps: ClinicPumps) -> None:
    with pytest.raises(ClinicError) as error:
        pumps.link("NGP-NOPE-9")
    assert error.value.field == "serial"
    assert error.value.value == "NGP-NOPE-9"
    assert "not a pump of this clinic" in error.value.problem
    with pytest.raises(ClinicError, match="NGP-NOPE-9"):
        pumps.place_head("NGP-NOPE-9")
    with pytest.raises(ClinicError, match="NGP-NOPE-9"):
        pumps.service("NGP-NOPE-9", patient=PatientFacts(), clinic=ClinicSettings())


@pytest.mark.parametrize("serial", ["../escape", ".hidden", "", "a" * 40, "NGP 001"])
def test_a_serial_that_is_no_serial_is_refused(pumps: ClinicPumps, serial: str) -> None:
    with pytest.raises(ClinicError) as error:
        pumps.link(serial)
    assert error.value.field == "serial"


def test_pairing_is_refused_until_the_head_is_over_the_pump(pumps: ClinicPumps) -> None:
    assert not pumps.paired(UNPAIRED)
    with pytest.raises(ClinicError) as error:
        pumps.pair(UNPAIRED)
    assert "pairing window is shut" in error.value.problem
    assert "place the programmer head over the pump" in error.value.action
    assert not pumps.paired(UNPAIRED)
    with pytest.raises(ClinicError, match="not paired"):
        _service(pumps, UNPAIRED).port.interrogate()
    with pytest.raises(ClinicError, match="not paired"):
        pumps.event_log(UNPAIRED)

    pumps.place_head(UNPAIRED)
    pumps.pair(UNPAIRED)
    assert pumps.paired(UNPAIRED)
    assert pumps.interrogate(UNPAIRED).label == ()  # an empty, unfilled pump
    with pytest.raises(ClinicError, match="pairing window is shut"):
        pumps.pair(UNPAIRED)  # the window admits one pairing, then shuts


def test_a_prescription_change_goes_through_the_therapy_layer(pumps: ClinicPumps) -> None:
    service = _filled(pumps)
    one_mg = DoseSchedule.continuous(NG_PER_MG)
    plan = service.plan(Prescribe(one_mg), PHYSICIAN)
    assert not plan.allowed  # above the usual starting dose: a physician's written reason is needed
    assert [f.code for f in plan.findings] == ["max_start_dose"], plan.findings
    refused = service.execute(plan, PHYSICIAN, confirmed=True)
    assert refused.status is ExecutionStatus.NOT_ALLOWED
    assert refused.sent == ()
    assert pumps.interrogate(PAIRED).prescription is None

    plan = service.plan(Prescribe(one_mg, override_reason="converted from 300 mg/day oral morphine"), PHYSICIAN)
    assert plan.allowed, [f.message for f in plan.findings]
    assert [row.key for row in plan.changed] == ["basal.every_day.00:00"]
    assert service.execute(plan, PHYSICIAN, confirmed=False).status is ExecutionStatus.NOT_CONFIRMED
    assert pumps.interrogate(PAIRED).prescription is None
    done = service.execute(plan, PHYSICIAN, confirmed=True)
    assert done.status is ExecutionStatus.DONE
    assert done.verification.ok
    assert pumps.interrogate(PAIRED).prescription == one_mg

    raised = DoseSchedule.continuous(6 * NG_PER_MG // 5)  # 1.2 mg/day within minutes of the start
    plan = service.plan(Prescribe(raised, override_reason="pain 8/10"), PHYSICIAN)
    assert not plan.allowed  # within 24 h of an increase: a hard limit no reason passes
    assert "min_step_interval" in [f.code for f in plan.findings]

    lowered = DoseSchedule.continuous(4 * NG_PER_MG // 5)
    plan = service.plan(Prescribe(lowered), PHYSICIAN)
    assert plan.allowed, [f.message for f in plan.findings]
    assert service.execute(plan, PHYSICIAN, confirmed=True).status is ExecutionStatus.DONE
    assert pumps.interrogate(PAIRED).prescription == lowered


def test_the_event_log_is_read_through_the_programmer(pumps: ClinicPumps) -> None:
    _filled(pumps)
    entries = pumps.event_log(PAIRED)
    kinds = [entry["kind"] for entry in entries]
    assert "key_paired" in kinds
    assert "fill" in kinds
    seqs = [int(entry["seq"]) for entry in entries]  # type: ignore[call-overload]
    assert seqs == sorted(seqs)
    later = pumps.event_log(PAIRED, from_seq=seqs[-2])
    assert [entry["seq"] for entry in later][:2] == seqs[-2:]


def test_the_status_carries_the_battery(pumps: ClinicPumps) -> None:
    status = pumps.status(PAIRED)
    assert status["model"] == "programmable-20"
    assert isinstance(status["battery_used_ppm"], int)


def test_requests_from_many_threads_reach_one_pump_in_turn(pumps: ClinicPumps) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        snapshots = list(pool.map(lambda _: pumps.interrogate(PAIRED).reservoir_capacity_nl, range(24)))
    assert snapshots == [20 * NL_PER_ML] * 24


def test_a_stopped_daemon_leaves_no_process_and_says_it_is_not_running(tmp_path: Path) -> None:
    pumps = ClinicPumps(tmp_path / "pumps")
    pumps.create("NGP-T-STOP")
    pumps.start("NGP-T-STOP", accel=60.0)
    pid = int((tmp_path / "pumps" / "NGP-T-STOP" / "daemon.pid").read_text())
    assert not _gone(pid)
    pumps.place_head("NGP-T-STOP")
    pumps.pair("NGP-T-STOP")
    pumps.stop_all()
    assert _gone(pid)
    assert pumps.link("NGP-T-STOP").port is None
    assert pumps.paired("NGP-T-STOP")  # the pairing is kept with the programmer and the pump
    with pytest.raises(ClinicError) as error:
        pumps.place_head("NGP-T-STOP")
    assert error.value.problem == "its pump daemon is not running"

    pumps.start("NGP-T-STOP", accel=60.0)  # the pump starts again from its memory, still paired
    assert pumps.interrogate("NGP-T-STOP").reservoir_capacity_nl == 20 * NL_PER_ML
    pid = int((tmp_path / "pumps" / "NGP-T-STOP" / "daemon.pid").read_text())
    other = ClinicPumps(tmp_path / "pumps")  # another object over the same folder (another process's view)
    assert other.link("NGP-T-STOP").port == pumps.link("NGP-T-STOP").port
    other.stop_all()
    assert _wait_gone(pid)
    assert pumps.link("NGP-T-STOP").port is None
    pumps.close()
    pumps.stop_all()


def test_a_daemon_stops_when_the_process_that_started_it_is_gone(tmp_path: Path) -> None:
    started = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        from thecal.apps.clinic.pumps import ClinicPumps
        pumps = ClinicPumps(Path({str(tmp_path / "pumps")!r}))
        pumps.create("NGP-T-ORPHAN")
        pumps.start("NGP-T-ORPHAN", accel=1.0)
        print((Path({str(tmp_path / "pumps")!r}) / "NGP-T-ORPHAN" / "daemon.pid").read_text().strip(), flush=True)
        os.kill(os.getpid(), {int(signal.SIGKILL)})
        """
    )
    run = subprocess.run([sys.executable, "-c", started], capture_output=True, text=True, check=False)
    assert run.returncode == -signal.SIGKILL, run.stderr
    pid = int(run.stdout.strip())
    assert _wait_gone(pid), f"pump daemon {pid} outlived the process that started it"
    assert ClinicPumps(tmp_path / "pumps").link("NGP-T-ORPHAN").port is None


def test_a_daemon_that_cannot_start_says_why(tmp_path: Path) -> None:
    pumps = ClinicPumps(tmp_path / "pumps")
    link = pumps.create("NGP-T-BROKEN")
    (link.state_dir / "pump.json").write_text('{"model": "programmable-40", "catheter_volume_nl": 1, "seed": 0}\n')
    with pytest.raises(ClinicError) as error:
        pumps.start("NGP-T-BROKEN", accel=1.0)
    assert "did not start" in error.value.problem
    assert "pump.json" in error.value.problem  # the daemon's own words
    assert pumps.link("NGP-T-BROKEN").port is None


def test_a_pump_serial_is_made_once(tmp_path: Path) -> None:
    pumps = ClinicPumps(tmp_path / "pumps")
    pumps.create("NGP-T-ONCE")
    with pytest.raises(ClinicError, match="already has a folder"):
        pumps.create("NGP-T-ONCE")
    with pytest.raises(ValueError, match="accel"):
        pumps.start("NGP-T-ONCE", accel=0.0)
    assert os.listdir(tmp_path / "pumps") == ["NGP-T-ONCE"]
