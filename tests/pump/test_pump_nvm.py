"""Non-volatile memory: a power loss at any byte of a write, or a flipped byte, never yields a mixed state.

The medium below holds two slots in memory. A write can lose power after any
number of bytes; the medium then either keeps the old slot's bytes after the
written prefix (flash written in place) or holds only the prefix (a file
truncated and rewritten). Loading after the loss must give exactly the last
acknowledged state, or the new one when all of it was written.
"""

from __future__ import annotations

import pytest

from thecal.drugs import pump_formulary
from thecal.pump.core import (
    ClinicianBolus,
    DemandLimits,
    DoseSchedule,
    Fill,
    Firmware,
    Program,
    PumpState,
    RequestDemandBolus,
    SetCatheter,
    SetDemandLimits,
)
from thecal.pump.core import state as state_module
from thecal.pump.core.nvm import CorruptImage, TwoSlotStore, UnreadableImage, decode_image, encode_image
from thecal.pump.model import load_model
from thecal.units import MS_PER_DAY, MS_PER_HOUR

MODEL = load_model("programmable-20")
MORPHINE = (("morphine", 10_000_000),)


class PowerLost(Exception):
    """The power failed in the middle of a write."""


class CuttableMedium:
    """Two slots in memory whose next write can lose power after `cut_after` bytes."""

    def __init__(self, truncate: bool):
        self.slots = [b"", b""]
        self.truncate = truncate
        self.cut_after: int | None = None

    def read_slot(self, slot: int) -> bytes:
        """The bytes in a slot."""
        return self.slots[slot]

    def write_slot(self, slot: int, data: bytes) -> None:
        """Write a slot, or lose power after `cut_after` bytes and keep what the medium kept."""
        n = self.cut_after
        if n is None:
            self.slots[slot] = bytes(data)
            return
        old = self.slots[slot]
        self.slots[slot] = bytes(data[:n]) if self.truncate else bytes(data[:n]) + old[n:]
        self.cut_after = None
        raise PowerLost


def _states() -> list[PumpState]:
    """Three states of one pump, each later and with a longer log than the one before."""
    fw = Firmware(MODEL, pump_formulary(), wall_ms=1_700_000_000_000)
    states = [PumpState.from_data(fw.state.to_data())]
    for command in (Fill(20_000_000, MORPHINE), SetCatheter(180_000), Program(DoseSchedule.continuous(1_500_000))):
        assert fw.handle(command).accepted
    fw.advance(3 * MS_PER_DAY)
    states.append(PumpState.from_data(fw.state.to_data()))
    assert fw.handle(SetDemandLimits(DemandLimits(200_000, 600_000, MS_PER_HOUR, 4))).accepted
    for _ in range(5):
        fw.handle(RequestDemandBolus())
        fw.advance(fw.state.now_ms + 2 * MS_PER_HOUR)
    # A refill to a stronger solution with a bridge: the third state holds a label, a running bridge and a bolus.
    assert fw.handle(Fill(20_000_000, (("morphine", 25_000_000),), bridge=True)).accepted
    assert fw.handle(ClinicianBolus(500_000, MS_PER_HOUR)).accepted
    fw.advance(fw.state.now_ms + 1_234)
    assert fw.state.bridge is not None and fw.state.bolus is not None
    states.append(PumpState.from_data(fw.state.to_data()))
    return states


STATES = _states()
ORDERS = {"growing": (0, 1, 2), "shrinking": (2, 1, 0)}


@pytest.mark.parametrize("truncate", [False, True], ids=["old-bytes-kept", "truncated"])
@pytest.mark.parametrize("order", list(ORDERS))
def test_power_loss_at_every_byte_of_a_write_loads_exactly_the_last_acknowledged_state(
    truncate: bool, order: str
) -> None:
    """Cutting the third write at every byte loads the second state exactly (or the third when complete)."""
    a, b, c = (STATES[i] for i in ORDERS[order])
    b_data, c_data = b.to_data(), c.to_data()
    length = len(encode_image(c, 3))
    wrong: list[tuple[int, int, str]] = []
    for n in range(length + 1):
        medium = CuttableMedium(truncate)
        store = TwoSlotStore(medium)
        assert store.save(a) == 1
        assert store.save(b) == 2  # acknowledged: the state B is safe from here on
        medium.cut_after = n
        with pytest.raises(PowerLost):
            store.save(c)
        fresh = TwoSlotStore(medium)
        loaded = fresh.load()
        assert loaded is not None
        data = loaded.to_data()
        if data == b_data and fresh.seq == 2:
            continue
        if n == length and data == c_data and fresh.seq == 3:
            continue  # every byte was written before the power went
        which = "A" if data == a.to_data() else "C" if data == c_data else "B" if data == b_data else "?"
        wrong.append((n, fresh.seq, which))
    assert wrong == [], f"(bytes written, loaded seq, loaded state) that are not B: {wrong}"


@pytest.mark.parametrize("truncate", [False, True], ids=["old-bytes-kept", "truncated"])
def test_a_completed_write_loads_the_new_state_with_the_next_sequence_number(truncate: bool) -> None:
    """A write that completes is what the next start loads, with a sequence number one higher."""
    a, b, c = STATES
    medium = CuttableMedium(truncate)
    store = TwoSlotStore(medium)
    assert [store.save(s) for s in (a, b, c)] == [1, 2, 3]
    fresh = TwoSlotStore(medium)
    loaded = fresh.load()
    assert loaded is not None and loaded.to_data() == c.to_data() and fresh.seq == 3
    assert decode_image(medium.slots[1])[0] == 2  # the previous image is still there, intact


def test_after_a_lost_write_the_next_write_spares_the_last_good_image() -> None:
    """After a lost write and a restart, the next write goes to the damaged slot, not over the good one."""
    a, b, c = STATES
    medium = CuttableMedium(truncate=False)
    store = TwoSlotStore(medium)
    store.save(a)
    store.save(b)
    good = medium.slots[1]
    medium.cut_after = 100
    with pytest.raises(PowerLost):
        store.save(c)
    fresh = TwoSlotStore(medium)
    assert fresh.load() is not None
    assert fresh.save(c) == 3
    assert medium.slots[1] == good
    again = TwoSlotStore(medium)
    loaded = again.load()
    assert loaded is not None and loaded.to_data() == c.to_data() and again.seq == 3


def _flips(image: bytes) -> list[tuple[int, int, bytes]]:
    """Every image with one byte changed: each offset, by a low bit, a high bit and all bits."""
    out = []
    for i in range(len(image)):
        for mask in (0x01, 0x80, 0xFF):
            out.append((i, mask, image[:i] + bytes([image[i] ^ mask]) + image[i + 1 :]))
    return out


def test_a_flipped_byte_in_the_newest_slot_falls_back_to_the_older_slot() -> None:
    """Any single damaged byte in the newest image makes loading return the older image, whole."""
    a, b, _ = STATES
    medium = CuttableMedium(truncate=False)
    store = TwoSlotStore(medium)
    store.save(a)
    store.save(b)
    a_data = a.to_data()
    wrong = []
    for i, mask, damaged in _flips(medium.slots[1]):
        medium.slots[1] = damaged
        fresh = TwoSlotStore(medium)
        loaded = fresh.load()
        if loaded is None or loaded.to_data() != a_data or fresh.seq != 1:
            wrong.append((i, mask, fresh.seq))
    assert wrong == [], f"(offset, xor mask, loaded seq) not detected as damage: {wrong}"


def test_a_flipped_byte_in_the_older_slot_never_replaces_the_newest_state() -> None:
    """Any single damaged byte in the older image leaves the newest image the one that loads."""
    a, b, _ = STATES
    medium = CuttableMedium(truncate=False)
    store = TwoSlotStore(medium)
    store.save(a)
    store.save(b)
    b_data = b.to_data()
    wrong = []
    for i, mask, damaged in _flips(medium.slots[0]):
        medium.slots[0] = damaged
        fresh = TwoSlotStore(medium)
        loaded = fresh.load()
        if loaded is None or loaded.to_data() != b_data or fresh.seq != 2:
            wrong.append((i, mask, fresh.seq))
    assert wrong == [], f"(offset, xor mask, loaded seq) where a damaged older image won: {wrong}"


def test_damaged_or_short_images_are_refused_as_corrupt() -> None:
    """An empty, short, foreign or truncated image is refused with CorruptImage, never half-read."""
    image = encode_image(STATES[1], 9)
    assert decode_image(image)[0] == 9
    for bad in (b"", image[:10], b"XXXX" + image[4:], image[:-1], image + b"\x00"):
        with pytest.raises(CorruptImage):
            decode_image(bad)


def test_an_empty_medium_loads_nothing_and_starts_counting_at_one() -> None:
    """With neither slot written, load gives None and the first save is sequence 1."""
    medium = CuttableMedium(truncate=True)
    store = TwoSlotStore(medium)
    assert store.load() is None
    assert store.save(STATES[0]) == 1


def test_a_programming_error_while_reading_a_verified_image_is_not_taken_for_a_corrupt_slot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only what a damaged slot raises is passed over; a bug in reading a whole image surfaces."""
    medium = CuttableMedium(truncate=True)
    store = TwoSlotStore(medium)
    store.save(STATES[0])
    store.save(STATES[1])

    def broken(cls: type, data: dict) -> PumpState:
        raise KeyError("a field the reader forgot")

    monkeypatch.setattr(PumpState, "from_data", classmethod(broken))
    with pytest.raises(KeyError, match="forgot"):
        TwoSlotStore(medium).load()


def test_a_verified_image_this_firmware_cannot_read_is_an_error_never_the_older_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The newest image was acknowledged: loading the older slot instead would make counters go back."""
    medium = CuttableMedium(truncate=True)
    store = TwoSlotStore(medium)
    store.save(STATES[0])
    monkeypatch.setattr(state_module, "STATE_FORMAT", 99)  # as another firmware would write it
    store.save(STATES[1])
    monkeypatch.undo()
    with pytest.raises(UnreadableImage, match=r"image 2 in state format 99.*install the firmware that wrote it"):
        TwoSlotStore(medium).load()
    # An older image of another format beside a newer good one is simply older: the newer one loads.
    store.save(STATES[2])
    assert TwoSlotStore(medium).load().to_data() == STATES[2].to_data()
