"""The pump's memory: a power loss at any byte of any write, or any damage, never yields a silently different state.

The medium below keeps two journal segments and two counter slots in RAM, and
its next write can lose power after any number of bytes (an append keeps the
prefix it wrote; a counter slot overwritten in place keeps the old bytes after
the prefix). Opening the memory after the loss must give exactly the last
acknowledged state, or the new one when its record was written whole;
anything else the memory holds must be refused as a fault, never loaded.
"""

from __future__ import annotations

import random

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
from thecal.pump.core.journal import (
    BlankMemory,
    CorruptMemory,
    CounterBehind,
    Journal,
    MemoryBehind,
    MemoryFault,
    UnreadableMemory,
    encode_counter,
)
from thecal.pump.core.nvm import PumpMemory, round_trip
from thecal.pump.device import MemoryMedium
from thecal.pump.model import load_model
from thecal.units import MS_PER_DAY, MS_PER_HOUR

MODEL = load_model("programmable-20")
MORPHINE = (("morphine", 10_000_000),)
KEY = bytes(range(32))


class PowerLost(Exception):
    """The power failed in the middle of a write."""


class CuttableMedium(MemoryMedium):
    """A memory whose `cut_write`-th write from now loses power after `cut_after` bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.cut_write: int | None = None
        self.cut_after = 0

    def _torn(self, length: int) -> bool:
        """Whether this write is the one to cut, and the cut falls inside it."""
        if self.cut_write is None:
            return False
        if self.cut_write > 0:
            self.cut_write -= 1
            return False
        self.cut_write = None
        return self.cut_after < length

    def append(self, segment: int, data: bytes) -> None:
        """Append, or lose power after `cut_after` bytes."""
        if self._torn(len(data)):
            self.segments[segment] += data[: self.cut_after]
            raise PowerLost
        super().append(segment, data)

    def cut(self, segment: int, length: int) -> None:
        """Cut back, or lose power before the cut took effect."""
        if self._torn(1):
            raise PowerLost
        super().cut(segment, length)

    def write_counter(self, slot: int, data: bytes) -> None:
        """Overwrite in place, or lose power after `cut_after` bytes with the old bytes after them."""
        if self._torn(len(data)):
            old = self.counters[slot]
            self.counters[slot] = data[: self.cut_after] + old[self.cut_after :]
            raise PowerLost
        super().write_counter(slot, data)

    def copy(self) -> CuttableMedium:
        """A copy of what the memory holds now."""
        twin = CuttableMedium()
        twin.segments, twin.counters = list(self.segments), list(self.counters)
        return twin


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


def _memory(medium: CuttableMedium, segment_bytes: int) -> PumpMemory:
    return PumpMemory(Journal.create(medium, KEY, segment_bytes=segment_bytes))


def _loaded(medium: MemoryMedium, segment_bytes: int = 1 << 20) -> PumpState | None:
    return PumpMemory(Journal.open(medium, KEY, segment_bytes=segment_bytes)).load()


def _written(segment_bytes: int) -> tuple[CuttableMedium, int]:
    """A memory that holds states A and B (acknowledged), and how many writes saving C takes."""
    medium = CuttableMedium()
    memory = _memory(medium, segment_bytes)
    memory.save(STATES[0])
    memory.save(STATES[1])
    probe = medium.copy()
    before = probe.writes
    PumpMemory(Journal.open(probe, KEY, segment_bytes=segment_bytes)).save(STATES[2])
    return medium, probe.writes - before


@pytest.mark.parametrize("segment_bytes", [1 << 20, 2_000], ids=["append", "checkpoint"])
def test_power_loss_at_every_byte_of_every_write_loads_the_last_acknowledged_state_or_the_new_one(
    segment_bytes: int,
) -> None:
    """Saving C is cut at every byte of each of its writes; the memory opens to B, or to C once C's record is whole."""
    medium, writes = _written(segment_bytes)
    b_data, c_data = STATES[1].to_data(), STATES[2].to_data()
    outcomes: dict[str, int] = {"B": 0, "C": 0}
    wrong: list[tuple[int, int, str]] = []
    for write in range(writes):
        for n in range(1 << 20):
            trial = medium.copy()
            memory = PumpMemory(Journal.open(trial, KEY, segment_bytes=segment_bytes))
            memory.load()
            trial.cut_write, trial.cut_after = write, n
            try:
                memory.save(STATES[2])
            except PowerLost:
                pass
            else:
                break  # n is past the end of this write: every byte of it was written
            loaded = _loaded(trial, segment_bytes)
            data = loaded.to_data() if loaded is not None else None
            which = "B" if data == b_data else "C" if data == c_data else "?"
            if which == "?":
                wrong.append((write, n, which))
            else:
                outcomes[which] += 1
    assert wrong == [], f"(write, bytes written, loaded) that are neither B nor C: {wrong[:10]}"
    assert outcomes["B"] > 0 and outcomes["C"] > 0, outcomes


@pytest.mark.parametrize("segment_bytes", [1 << 20, 2_000], ids=["append", "checkpoint"])
def test_a_torn_write_is_discarded_and_the_next_save_is_whole(segment_bytes: int) -> None:
    """After a power loss in the middle of a record, the next save lands whole and is what opens."""
    medium, _ = _written(segment_bytes)
    memory = PumpMemory(Journal.open(medium, KEY, segment_bytes=segment_bytes))
    memory.load()
    # The append of the record: the first write, or the second after a checkpoint's erase of its segment.
    medium.cut_write, medium.cut_after = (0 if segment_bytes > 100_000 else 1), 100
    with pytest.raises(PowerLost):
        memory.save(STATES[2])
    again = PumpMemory(Journal.open(medium, KEY, segment_bytes=segment_bytes))
    assert again.load().to_data() == STATES[1].to_data()
    again.save(STATES[2])
    assert _loaded(medium, segment_bytes).to_data() == STATES[2].to_data()


def test_the_memory_stays_bounded_and_every_commit_is_one_record() -> None:
    """Many saves keep both segments under their size; each save is one append and one counter raise."""
    medium = CuttableMedium()
    memory = _memory(medium, 200_000)
    fw = Firmware(MODEL, pump_formulary(), wall_ms=1_700_000_000_000)
    for command in (Fill(20_000_000, MORPHINE), Program(DoseSchedule.continuous(1_500_000))):
        fw.handle(command)
    for hour in range(1, 300):
        fw.advance(hour * MS_PER_HOUR)
        fw.handle(RequestDemandBolus())
        before = medium.writes
        memory.save(fw.state)
        assert medium.writes - before in (2, 3)  # append + counter, or cut + append + counter for a checkpoint
    assert all(len(segment) <= 200_000 for segment in medium.segments)
    assert all(medium.segments), "the memory never moved to its other segment"
    assert _loaded(medium).to_data() == fw.state.to_data()


def test_the_state_record_is_small_and_the_log_leaves_it() -> None:
    """A programmed pump's state record is under a kilobyte; the log entries are stored apart, once each."""
    from thecal.pump.core.nvm import state_records

    assert len(state_records(STATES[1])[0]) < 1024
    assert round_trip(STATES[2]).to_data() == STATES[2].to_data()


def _damages(data: bytes, rng: random.Random, count: int) -> list[bytes]:
    """Copies of data, each with one random kind of damage: a flipped byte, a cut, a zeroed or a random run."""
    out = []
    for _ in range(count):
        kind = rng.randrange(4)
        i = rng.randrange(len(data))
        if kind == 0:
            out.append(data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :])
        elif kind == 1:
            out.append(data[:i])
        elif kind == 2:
            j = min(len(data), i + rng.randrange(1, 64))
            out.append(data[:i] + bytes(j - i) + data[j:])
        else:
            j = min(len(data), i + rng.randrange(1, 64))
            out.append(data[:i] + rng.randbytes(j - i) + data[j:])
    return out


def test_a_damaged_memory_never_loads_a_silently_different_state() -> None:
    """Random truncation and corruption of any part: the memory opens to the last state, or is a fault."""
    rng = random.Random(12)
    medium, _ = _written(1 << 20)
    memory = PumpMemory(Journal.open(medium, KEY))
    memory.load()
    memory.save(STATES[2])
    c_data = STATES[2].to_data()
    faults = 0
    for part in ("segment 0", "segment 1", "counter 0", "counter 1"):
        kind, index = part.split()
        holder = medium.segments if kind == "segment" else medium.counters
        original = holder[int(index)]
        if not original:
            continue
        for damaged in _damages(original, rng, 300):
            trial = medium.copy()
            (trial.segments if kind == "segment" else trial.counters)[int(index)] = damaged
            try:
                loaded = _loaded(trial)
            except MemoryFault:
                faults += 1
                continue
            assert loaded is not None and loaded.to_data() == c_data, f"{part} damaged and a different state loaded"
    assert faults > 0


def test_a_memory_that_holds_nothing_is_a_fault_never_a_new_pump() -> None:
    """Erased, or never made by init: only `Journal.create` starts a memory."""
    with pytest.raises(BlankMemory, match="holds nothing"):
        Journal.open(MemoryMedium(), KEY)
    medium, _ = _written(1 << 20)
    with pytest.raises(ValueError, match="already holds a pump memory"):
        Journal.create(medium, KEY)


def test_an_older_copy_of_the_memory_is_a_fault() -> None:
    """The journal of an earlier day beside today's counter: refused, even cut cleanly at a record's end."""
    medium, _ = _written(1 << 20)
    older = medium.copy()
    memory = PumpMemory(Journal.open(medium, KEY))
    memory.load()
    memory.save(STATES[2])
    memory.save(STATES[2])
    medium.segments = list(older.segments)
    with pytest.raises(MemoryBehind, match="older copy"):
        _loaded(medium)


def test_a_replaced_counter_is_a_fault() -> None:
    """A counter set back by more than the one raise a power loss can cost is refused."""
    medium, _ = _written(1 << 20)
    medium.counters = [encode_counter(KEY, 1), b""]
    with pytest.raises(CounterBehind):
        _loaded(medium)


def test_a_memory_forged_or_from_another_pump_does_not_verify() -> None:
    """Re-made with another key (a forged negative reservoir, or another pump's memory): a fault."""
    forged_state = PumpState.from_data(STATES[1].to_data())
    forged_state.reservoir_nl = -5_000_000
    medium = CuttableMedium()
    PumpMemory(Journal.create(medium, b"someone else's key")).save(forged_state)
    with pytest.raises(CorruptMemory, match="verif"):
        _loaded(medium)


def test_a_state_this_firmware_cannot_read_is_a_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    """A verified record of another state format is refused, never read as something else."""
    medium = CuttableMedium()
    memory = _memory(medium, 1 << 20)
    monkeypatch.setattr(state_module, "STATE_FORMAT", 99)
    memory.save(STATES[0])
    monkeypatch.undo()
    with pytest.raises(UnreadableMemory, match="state format 99"):
        _loaded(medium)
