"""The demo clinic: six patients whose pumps lived their pasts through the therapy layer, served as daemons."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from thecal.apps.clinic.demo import DEMO_MARKER, DemoClinic, DemoPatient, demo_serials
from thecal.errors import InputError
from thecal.pump.core.schedule import DoseSchedule
from thecal.pump.model import load_model
from thecal.therapy import Actor, ClinicSettings, ExecutionStatus, PatientFacts, PostMriCheck, StaffRole
from thecal.units import MS_PER_DAY, NG_PER_MCG, NG_PER_MG, NL_PER_ML

SERIALS = [f"NGP-DEMO-00{n}" for n in range(1, 7)]
GONE_WITHIN_S = 60.0  # only a bound on waiting for a process to end, never a measure of speed


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def _pids(root: Path) -> list[int]:
    return [int(p.read_text()) for p in sorted((root / "pumps").glob("*/daemon.pid"))]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoClinic]:
    """The whole demo clinic, once for this module."""
    with DemoClinic(tmp_path_factory.mktemp("demo"), accel=60.0) as clinic:
        yield clinic


@pytest.fixture(scope="module")
def patients(demo: DemoClinic) -> dict[str, DemoPatient]:
    return {p.pump_serial: p for p in demo.patients()}


def test_six_patients_each_with_a_running_paired_pump(demo: DemoClinic, patients: dict[str, DemoPatient]) -> None:
    assert demo_serials() == SERIALS
    assert list(patients) == SERIALS
    assert len({p.mrn for p in patients.values()}) == 6
    assert {p.indication for p in patients.values()} == {"cancer", "non_cancer"}
    assert {p.opioid_status for p in patients.values()} == {"naive", "tolerant"}
    for link in demo.pumps.links():
        assert link.port is not None
        assert demo.pumps.paired(link.serial)
    for patient in patients.values():
        assert patient.birth_date < date.today() - timedelta(days=18 * 365)
        assert patient.implant_date <= date.today()
        assert patient.catheter_length_cm > 0 and patient.catheter_volume_ul_per_cm > 0
        assert patient.fills and patient.fills[0].aspirated_ml is None
        assert all(f.aspirated_ml is not None and f.expected_ml is not None for f in patient.fills[1:])
        assert all(f.at <= datetime.now(UTC) for f in patient.fills)


def test_every_recorded_fill_is_one_the_pump_logged(demo: DemoClinic, patients: dict[str, DemoPatient]) -> None:
    for serial, patient in patients.items():
        logged = [e["detail"] for e in demo.pumps.event_log(serial) if e["kind"] == "fill"]
        assert len(logged) == len(patient.fills), serial
        for fill, detail in zip(patient.fills, logged, strict=True):
            assert detail["volume_nl"] == round(fill.volume_ml * NL_PER_ML)  # type: ignore[index]
            assert detail["aspirated_nl"] == round((fill.aspirated_ml or 0) * NL_PER_ML)  # type: ignore[index]
            if fill.expected_ml is not None:
                assert detail["expected_nl"] == round(fill.expected_ml * NL_PER_ML)  # type: ignore[index]
                assert abs(fill.expected_ml - (fill.aspirated_ml or 0)) < 1.0  # no refill discrepancy in the demo
            for drug, mg_per_ml in fill.drugs:
                assert detail[f"{drug}_ng_per_ml"] == round(mg_per_ml * NG_PER_MG)  # type: ignore[index]


def test_the_pumps_clocks_show_today(demo: DemoClinic) -> None:
    now_local = datetime.now().timestamp() + (datetime.now().astimezone().utcoffset() or timedelta()).total_seconds()
    for serial in SERIALS:
        wall_ms = demo.pumps.interrogate(serial).wall_ms
        assert abs(wall_ms / 1000 - now_local) < 2 * 86_400  # accelerated time runs ahead; never days behind


def test_a_stable_non_cancer_patient_on_morphine(demo: DemoClinic, patients: dict[str, DemoPatient]) -> None:
    snapshot = demo.pumps.interrogate("NGP-DEMO-001")
    assert patients["NGP-DEMO-001"].indication == "non_cancer"
    assert snapshot.label == (("morphine", 10 * NG_PER_MG),)
    assert snapshot.prescription == DoseSchedule.continuous(3 * NG_PER_MG // 2)
    assert snapshot.demand is not None
    assert snapshot.alarms == ()


def test_a_cancer_patient_with_a_low_reservoir(demo: DemoClinic, patients: dict[str, DemoPatient]) -> None:
    snapshot = demo.pumps.interrogate("NGP-DEMO-002")
    assert patients["NGP-DEMO-002"].indication == "cancer"
    assert snapshot.label == (("morphine", 20 * NG_PER_MG),)
    assert snapshot.reservoir_nl < snapshot.low_reservoir_alarm_nl
    assert "low_reservoir" in snapshot.alarms
    assert snapshot.reservoir_nl > 0
    last = patients["NGP-DEMO-002"].fills[-1]
    assert last.drugs == (("morphine", 20.0),)  # changed from 10 mg/mL at this refill


def test_a_ziconotide_titration(demo: DemoClinic, patients: dict[str, DemoPatient]) -> None:
    patient = patients["NGP-DEMO-003"]
    snapshot = demo.pumps.interrogate("NGP-DEMO-003")
    assert patient.opioid_status == "naive"
    assert snapshot.label == (("ziconotide", 25 * NG_PER_MCG),)
    assert snapshot.prescription == DoseSchedule.continuous(3600)  # 3.6 mcg/day, the third step
    assert date.today() - patient.implant_date < timedelta(days=14)  # the first refill is still ahead
    steps = [e for e in demo.pumps.event_log("NGP-DEMO-003") if e["kind"] == "program"]
    assert len(steps) == 3


def test_an_admixture(demo: DemoClinic) -> None:
    snapshot = demo.pumps.interrogate("NGP-DEMO-004")
    assert snapshot.label == (("morphine", 10 * NG_PER_MG), ("bupivacaine", 5 * NG_PER_MG))
    assert snapshot.prescription == DoseSchedule.continuous(3 * NG_PER_MG)


def test_a_pump_near_elective_replacement(demo: DemoClinic, patients: dict[str, DemoPatient]) -> None:
    status = demo.pumps.status("NGP-DEMO-005")
    model = load_model(str(status["model"]))
    assert status["eri_at_ms"] is None
    assert "elective_replacement" not in status["alarms"]  # type: ignore[operator]
    used_pc = int(status["battery_used_ppm"]) * model.battery_capacity_pc // 1_000_000  # type: ignore[call-overload]
    left_pc = model.battery_capacity_pc - model.eri_reserve_pc - used_pc
    strokes_per_day = int(status["basal_flow_nl_per_day"]) / model.stroke_nl  # type: ignore[call-overload]
    per_day_pc = model.baseline_current_na * MS_PER_DAY + strokes_per_day * model.stroke_charge_pc
    assert 10 < left_pc / per_day_pc < 60  # days to the Elective Replacement Indicator
    assert date.today() - patients["NGP-DEMO-005"].implant_date > timedelta(days=6 * 365)
    assert len(patients["NGP-DEMO-005"].fills) > 10


def test_a_motor_stall_after_mri_is_cleared_by_the_post_mri_check(demo: DemoClinic) -> None:
    serial = "NGP-DEMO-006"
    kinds = [e["kind"] for e in demo.pumps.event_log(serial)]
    assert kinds.index("motor_stall") < kinds.index("motor_recovered")
    assert "motor_stall" in demo.pumps.interrogate(serial).alarms
    physician = Actor("Dr Ana Ruiz", StaffRole.PHYSICIAN)
    service = demo.pumps.service(serial, patient=PatientFacts(), clinic=ClinicSettings())
    plan = service.plan(PostMriCheck(), physician)
    assert plan.allowed, [f.message for f in plan.findings]
    assert service.execute(plan, physician, confirmed=True).status is ExecutionStatus.DONE
    assert "motor_stall" not in demo.pumps.interrogate(serial).alarms


def test_a_folder_the_demo_did_not_make_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "pumps").mkdir()
    (tmp_path / "pumps" / "precious.txt").write_text("keep me")
    with pytest.raises(InputError, match="did not make"), DemoClinic(tmp_path, accel=60.0, serials=["NGP-DEMO-003"]):
        pass
    assert (tmp_path / "pumps" / "precious.txt").read_text() == "keep me"
    with pytest.raises(InputError, match="NGP-NOPE"):
        DemoClinic(tmp_path, accel=60.0, serials=["NGP-NOPE"])


def test_the_demo_stops_every_daemon_on_exit_and_starts_afresh(tmp_path: Path) -> None:
    with DemoClinic(tmp_path, accel=60.0, serials=["NGP-DEMO-003"]) as first:
        pids = _pids(tmp_path)
        assert len(pids) == 1 and not _gone(pids[0])
        first.pumps.place_head("NGP-DEMO-003")  # the window opens again for the next device
    assert all(_gone(pid) for pid in pids)
    assert (tmp_path / "pumps" / DEMO_MARKER).exists()
    with DemoClinic(tmp_path, accel=60.0, serials=["NGP-DEMO-003"]) as second:
        assert [p.pump_serial for p in second.patients()] == ["NGP-DEMO-003"]
        assert second.pumps.interrogate("NGP-DEMO-003").prescription == DoseSchedule.continuous(3600)
        again = _pids(tmp_path)
    assert again != pids and all(_gone(pid) for pid in again)


def test_sigterm_stops_the_demo_and_its_daemons(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import signal
        from pathlib import Path
        from thecal.apps.clinic.demo import DemoClinic
        with DemoClinic(Path({str(tmp_path)!r}), accel=60.0, serials=["NGP-DEMO-003", "NGP-DEMO-004"]):
            print("ready", flush=True)
            while True:
                signal.pause()
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        pids = _pids(tmp_path)
        assert len(pids) == 2 and not any(_gone(pid) for pid in pids)
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(GONE_WITHIN_S) == 128 + signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    deadline = time.monotonic() + GONE_WITHIN_S
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(pid) for pid in pids)
    assert not list((tmp_path / "pumps").glob("*/port"))
