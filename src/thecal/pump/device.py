"""A virtual pump: the firmware core inside its virtual hardware, with non-volatile memory.

This is the pump as a whole device. The firmware decides; the hardware
executes imperfectly: the motor moves a little more or less than commanded,
the real reservoir can run dry before the calculated one, the catheter
delays and may lose the drug, a magnetic field stalls the rotor. State is
saved to non-volatile memory before any command is acknowledged.
"""

from __future__ import annotations

import dataclasses
import heapq
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from thecal.pump.core import (
    Action,
    Delivery,
    Firmware,
    Formulary,
    Logged,
    MotorRecovered,
    MotorStalled,
    Outcome,
    ToneSounded,
)
from thecal.pump.core.commands import Command, Fill
from thecal.pump.core.eventlog import LogEntry
from thecal.pump.core.journal import COUNTER_SLOTS, SEGMENTS
from thecal.pump.core.nvm import PumpMemory
from thecal.pump.hardware.catheter import Catheter, CatheterFault
from thecal.pump.hardware.fluid import Parcel, solution
from thecal.pump.hardware.motor import Motor, draw_accuracy_error
from thecal.pump.model import PumpModel


@dataclass
class MemoryMedium:
    """The two journal segments and two counter slots of non-volatile memory, kept in RAM (for tests)."""

    segments: list[bytes] = field(default_factory=lambda: [b"" for _ in SEGMENTS])
    counters: list[bytes] = field(default_factory=lambda: [b"" for _ in COUNTER_SLOTS])
    writes: int = 0

    def read(self, segment: int) -> bytes:
        """The bytes of a segment."""
        return self.segments[segment]

    def append(self, segment: int, data: bytes) -> None:
        """Append to a segment."""
        self.segments[segment] += data
        self.writes += 1

    def cut(self, segment: int, length: int) -> None:
        """Discard a segment's bytes from `length` on."""
        self.segments[segment] = self.segments[segment][:length]
        self.writes += 1

    def read_counter(self, slot: int) -> bytes:
        """The bytes of a counter slot."""
        return self.counters[slot]

    def write_counter(self, slot: int, data: bytes) -> None:
        """Replace a counter slot."""
        self.counters[slot] = bytes(data)
        self.writes += 1


@dataclass
class DeliveryRecord:
    """What one stretch of motor work did physically, for reports and the virtual patient."""

    start_ms: int
    end_ms: int
    commanded_nl: int
    moved: Parcel
    at_tip: Parcel
    lost: Parcel


@dataclass(order=True)
class _HardwareEvent:
    at_ms: int
    order: int
    apply: Callable[[], None] = field(compare=False)


class VirtualPump:
    """One implanted pump: firmware, motor, reservoir, catheter and memory."""

    def __init__(
        self,
        model: PumpModel,
        *,
        formulary: Formulary,
        catheter_volume_nl: int,
        seed: int = 0,
        wall_ms: int = 0,
        accuracy_error: float | None = None,
        memory: PumpMemory | None = None,
        on_delivery: Callable[[DeliveryRecord], None] | None = None,
    ):
        self.model = model
        self.rng = random.Random(seed)
        if accuracy_error is None:
            accuracy_error = draw_accuracy_error(self.rng, float(model.accuracy))
        self.motor = Motor(accuracy_error=accuracy_error)
        self.reservoir = Parcel()
        self.catheter = Catheter(dead_volume_nl=model.internal_volume_nl + catheter_volume_nl)
        # Without a memory nothing is persisted: a simulation that will never lose
        # power need not pay for saving state after every command.
        self.memory = memory
        restored = memory.load() if memory is not None else None
        self.firmware = Firmware(model, formulary, restored, wall_ms=wall_ms)
        self.on_delivery = on_delivery
        self.pocket = Parcel()
        self._agenda: list[_HardwareEvent] = []
        self._order = 0
        self.tones: list[ToneSounded] = []
        self.log_entries: list[LogEntry] = []

    @property
    def now_ms(self) -> int:
        """The pump's own time."""
        return self.firmware.state.now_ms

    # ---------------------------------------------------------------- time

    def advance(self, to_ms: int) -> None:
        """Run pump and hardware until `to_ms`, acting on hardware events on the way."""
        while self._agenda and self._agenda[0].at_ms <= to_ms:
            event = heapq.heappop(self._agenda)
            self._run_firmware(event.at_ms)
            event.apply()
        self._run_firmware(to_ms)

    def schedule_hardware(self, at_ms: int, apply: Callable[[], None]) -> None:
        """Let something physical happen at a later time (a motor restarting, a fault appearing)."""
        self._order += 1
        heapq.heappush(self._agenda, _HardwareEvent(at_ms, self._order, apply))

    def _run_firmware(self, to_ms: int) -> None:
        if to_ms > self.now_ms:
            self._execute(self.firmware.advance(to_ms))

    def _execute(self, actions: Iterable[Action]) -> None:
        for action in actions:
            if isinstance(action, Delivery):
                self._drive_motor(action)
            elif isinstance(action, Logged):
                self.log_entries.append(action.entry)
            elif isinstance(action, ToneSounded):
                self.tones.append(action)

    def _drive_motor(self, d: Delivery) -> None:
        if d.strokes == 0:
            return
        if self.catheter.blocked:
            # Against an occlusion the rotor turns but the fluid does not move.
            moved = Parcel()
        else:
            moved = self.reservoir.take(self.motor.volume_moved_nl(d.volume_nl))
        at_tip, lost = self.catheter.push(Parcel(moved.volume_nl, dict(moved.drugs_ng)))
        if self.on_delivery is not None:
            self.on_delivery(DeliveryRecord(d.start_ms, d.end_ms, d.volume_nl, moved, at_tip, lost))

    # ------------------------------------------------------------ commands

    def command(self, command: Command) -> Outcome:
        """Give the firmware a command now; its state is saved before the outcome is returned."""
        outcome = self.firmware.handle(command)
        self._execute(outcome.actions)
        if self.memory is not None:
            self.memory.save(self.firmware.state)
        return outcome

    def refill(
        self,
        fill: Fill,
        *,
        injected_contents: tuple[tuple[str, int], ...] | None = None,
        aspirated_nl: float | None = None,
        pocket_fill: bool = False,
    ) -> tuple[float, Outcome]:
        """Aspirate the reservoir, inject the new drug and tell the firmware; return what was aspirated.

        `injected_contents` is what the syringe really holds (it differs from
        what the firmware is told in a concentration mix-up); a pocket fill
        puts the injected drug under the skin instead of into the reservoir.
        """
        self._run_firmware(self.now_ms)
        actual = self.reservoir.volume_nl
        drawn = actual if aspirated_nl is None else min(aspirated_nl, actual)
        self.reservoir.take(drawn)
        injected = solution(fill.volume_nl, injected_contents or fill.contents)
        if pocket_fill:
            self.pocket.add(injected)
        else:
            self.reservoir.add(injected)
        told = fill if fill.aspirated_nl is not None else dataclasses.replace(fill, aspirated_nl=round(drawn))
        return drawn, self.command(told)

    # ------------------------------------------------------------ hardware

    def magnetic_field(self, on: bool, *, recovery_delay_ms: int = 0) -> None:
        """An MRI magnet is switched on or off near the pump."""
        if on:
            self.motor.stalled_by_field = True
            self.command(MotorStalled("magnetic field"))
            return

        def restart() -> None:
            self.motor.stalled_by_field = False
            if not self.motor.stalled:
                self.command(MotorRecovered())

        if recovery_delay_ms:
            self.schedule_hardware(self.now_ms + recovery_delay_ms, restart)
        else:
            restart()

    def motor_fault(self, stalled: bool) -> None:
        """Inject or remove a motor stall fault."""
        self.motor.stalled_by_fault = stalled
        if stalled:
            self.command(MotorStalled("motor fault"))
        elif not self.motor.stalled:
            self.command(MotorRecovered())

    def catheter_fault(self, fault: CatheterFault, leak_fraction: float = 0.0) -> None:
        """Inject or remove a catheter fault."""
        self.catheter.fault = fault
        self.catheter.leak_fraction = leak_fraction if fault is CatheterFault.LEAK else 0.0
