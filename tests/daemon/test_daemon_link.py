"""The daemon's radio stand-in loses frames: requests the pump never sees, replies lost after it acted."""

from __future__ import annotations

import pytest
from daemon_rig import MORPHINE_FILL, RunningPump, continuous

from thecal.cli.pump import link_loss
from thecal.devices.daemon import StateLayout
from thecal.errors import InputError
from thecal.telemetry.client import ClientSession
from thecal.telemetry.frames import ReplyStatus
from thecal.telemetry.transport import Fate, FixedLoss, RangeLoss, ScriptedLoss, TcpTransport


def lossy_session(running: RunningPump, fates: list[Fate], attempts: int) -> ClientSession:
    """The clinician's session through a second server of the same pump that loses frames as scripted."""
    server = running.daemon.server(0, ScriptedLoss(fates)).start()
    running.extra_servers.append(server)
    identity, keystore, counters = running.device("clinician")
    (pump,) = keystore.peers()
    return ClientSession(identity, pump, counters, TcpTransport(server.port), attempts=attempts)


def bolus_starts(running: RunningPump) -> int:
    return sum(1 for e in running.daemon.pump.firmware.state.log if e.kind == "bolus_start")


@pytest.fixture
def filled(running: RunningPump) -> RunningPump:
    running.pair("clinician")
    clinician = running.session("clinician")
    assert clinician.request("refill_update", **MORPHINE_FILL).ok
    assert clinician.request("program_therapy", **continuous(5_000_000)).ok
    return running


def test_a_lost_reply_is_recovered_by_the_retry_without_a_second_bolus(filled: RunningPump) -> None:
    session = lossy_session(filled, [Fate.DROP_REPLY], attempts=4)
    reply = session.request("clinician_bolus", dose_ng=500_000, duration_ms=600_000)
    assert reply.ok, reply.describe()
    assert bolus_starts(filled) == 1


def test_a_lost_request_never_reaches_the_pump(filled: RunningPump) -> None:
    session = lossy_session(filled, [Fate.DROP_REQUEST], attempts=1)
    reply = session.request("clinician_bolus", dose_ng=500_000, duration_ms=600_000)
    assert reply.status is ReplyStatus.UNKNOWN and reply.possibly_delivered
    assert bolus_starts(filled) == 0
    again = session.send(reply.command)  # the same command id, now through a clear link
    assert again.ok and bolus_starts(filled) == 1


def test_a_lost_reply_with_no_retry_left_reads_as_possibly_delivered(filled: RunningPump) -> None:
    session = lossy_session(filled, [Fate.DROP_REPLY], attempts=1)
    reply = session.request("clinician_bolus", dose_ng=500_000, duration_ms=600_000)
    assert reply.status is ReplyStatus.UNKNOWN and reply.possibly_delivered
    assert bolus_starts(filled) == 1  # it was delivered: the client must not assume it failed


@pytest.mark.parametrize(("distance", "loss"), [("3 cm", 0.0), ("12.5 cm", 0.5), ("200 mm", 1.0), ("1 m", 1.0)])
def test_the_distance_option_sets_the_range_loss(distance: str, loss: float) -> None:
    model = link_loss(distance, None)
    assert isinstance(model, RangeLoss) and model.loss() == pytest.approx(loss)
    assert f"{loss:.0%} of frames lost" in str(model)


def test_the_loss_option_sets_a_fixed_loss() -> None:
    assert link_loss(None, "10 %") == FixedLoss(0.1, 0.1)
    assert link_loss(None, None) is None


@pytest.mark.parametrize(
    ("distance", "loss", "field", "words"),
    [
        ("12", None, "--distance", "the unit is missing"),
        ("12 mL", None, "--distance", "not a unit of length"),
        (None, "0.1", "--loss", "percent sign"),
        (None, "150 %", "--loss", "above 100 %"),
    ],
)
def test_bad_link_options_are_refused_by_name(distance, loss, field: str, words: str) -> None:
    with pytest.raises(InputError) as refused:
        link_loss(distance, loss)
    assert refused.value.field == field and words in str(refused.value)


def test_serve_refuses_a_bad_option_before_touching_the_pump(layout: StateLayout, capsys) -> None:
    from thecal.cli import main

    before = sorted(p.name for p in (layout.root / "nvm").iterdir())
    assert main(["pump", "serve", "--state", str(layout.root), "--loss", "150 %"]) != 0
    assert "--loss" in capsys.readouterr().err
    assert sorted(p.name for p in (layout.root / "nvm").iterdir()) == before
