"""The pump runs on its own clock: the end of a dose is logged and kept with no frame arriving."""

from __future__ import annotations

from daemon_rig import DEMAND_LIMITS, MORPHINE_FILL, RunningPump, continuous, start

from thecal.devices.daemon import PumpDaemon, StateLayout


def _programmed(layout: StateLayout) -> RunningPump:
    running = start(layout, accel=60.0)
    running.pair("clinician")
    running.pair("ptm")
    clinician = running.session("clinician")
    for name, args in (
        ("refill_update", MORPHINE_FILL),
        ("program_therapy", continuous(5_000_000)),
        ("ptm_settings", DEMAND_LIMITS),
    ):
        assert clinician.request(name, **args).ok
    return running


def _kinds(daemon: PumpDaemon) -> list[str]:
    return [entry.kind for entry in daemon.pump.firmware.state.log]


def test_a_tick_logs_the_end_of_a_dose_and_commits_it_with_no_frame(layout: StateLayout) -> None:
    running = _programmed(layout)
    try:
        assert running.session("ptm").request("demand_bolus").ok
        assert _kinds(running.daemon)[-1] == "bolus_start"
        commits = running.daemon.journal.commits
        running.time.now_s += 60  # an hour of pump time at 60x: the five-minute dose has ended
        running.daemon.tick()
        assert "bolus_end" in _kinds(running.daemon)[-3:]
        assert running.daemon.journal.commits == commits + 1
    finally:
        running.stop()
    reopened = PumpDaemon(layout.root, accel=60.0)
    try:
        assert "bolus_end" in _kinds(reopened)  # what the tick logged survived the restart
    finally:
        reopened.close()


def test_a_tick_with_nothing_to_log_writes_nothing(layout: StateLayout) -> None:
    running = _programmed(layout)
    try:
        running.daemon.tick()
        commits, pump_ms = running.daemon.journal.commits, running.daemon.pump.now_ms
        running.time.now_s += 1  # a pump minute of plain basal flow: nothing to log
        running.daemon.tick()
        assert running.daemon.pump.now_ms == pump_ms + 60_000  # the pump ran on
        assert running.daemon.journal.commits == commits
    finally:
        running.stop()
