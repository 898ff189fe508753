"""The clinician programmer's client library: one method per pump command, base units in, `Reply` out.

Every method builds the firmware command it asks for and sends it through the
one mapping to telemetry (`thecal.telemetry.pump_commands.to_telemetry`) in a
`ClientSession`, which retries a lost exchange with the same command id. A
`Reply` is returned whatever the pump decided: `ok`, refused with a code and
words, or unknown — and an unknown drug delivery is `possibly_delivered`, to
be counted as delivered. Doses are doses of the lead drug on the pump's label
(ng, ng/day), never volumes: the pump derives the volumes from the
concentration it holds. Arguments are integers in the base units their names
carry; a person's typed quantities are parsed by `thecal.units` first.

This library checks no clinical limit: the therapy layer (`thecal.therapy`)
does before it sends, and the pump refuses what passes a hard limit of the
drug on its label, whoever sent it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from thecal.pump.core.alarms import Alarm
from thecal.pump.core.commands import (
    CancelBolus,
    ClearAlarm,
    ClinicianBolus,
    DemandLimits,
    Fill,
    PeriodicBolusPlan,
    PrimingBolus,
    Program,
    ResumeTherapy,
    Role,
    SetCatheter,
    SetClock,
    SetDemandLimits,
    SetLowReservoirAlarm,
    SetPeriodicBolus,
    StopTherapy,
)
from thecal.pump.core.schedule import DoseSchedule
from thecal.telemetry.client import DEFAULT_ATTEMPTS, ClientSession, Reply
from thecal.telemetry.device_files import DeviceFiles
from thecal.telemetry.pump_commands import TelemetryCommand, to_telemetry
from thecal.telemetry.transport import TcpTransport, Transport


class ProgrammerClient:
    """A clinician programmer paired with one pump."""

    def __init__(self, session: ClientSession):
        self.session = session

    @classmethod
    def open(cls, device_dir: Path, transport: Transport, attempts: int = DEFAULT_ATTEMPTS) -> ProgrammerClient:
        """The programmer whose files are in `device_dir`, talking over `transport`."""
        return cls(DeviceFiles(Path(device_dir), Role.CLINICIAN).session(transport, attempts))

    @classmethod
    def connect(cls, device_dir: Path, port: int) -> ProgrammerClient:
        """The programmer in `device_dir`, talking to the pump daemon on 127.0.0.1:`port`."""
        return cls.open(device_dir, TcpTransport(port))

    def send(self, name: str, **args: object) -> Reply:
        """Any command of the command table, by name (see docs/telemetry.md)."""
        return self.session.request(name, **args)

    def execute(self, command: TelemetryCommand) -> Reply:
        """Send one firmware programming command (as the therapy layer builds them)."""
        name, args = to_telemetry(command)
        return self.send(name, **args)

    # ------------------------------------------------------------ reading

    def interrogate(self) -> Reply:
        """The pump's full status."""
        return self.send("interrogate_status")

    def read_log(self, from_seq: int = 0, max_entries: int = 100) -> Reply:
        """Up to `max_entries` (1..100) event-log entries from sequence number `from_seq` on."""
        return self.send("read_event_log", from_seq=from_seq, max_entries=max_entries)

    def read_whole_log(self, from_seq: int = 0) -> list[dict[str, object]]:
        """Every kept entry from `from_seq` on, page by page; raises if a page is not answered."""
        entries: list[dict[str, object]] = []
        while True:
            start = int(entries[-1]["seq"]) + 1 if entries else from_seq  # type: ignore[call-overload]
            page = self.read_log(start, 100)
            if not page.ok:
                raise RuntimeError(f"reading the event log stopped at entry {start}: {page.describe()}")
            batch = page.result["entries"]
            if not isinstance(batch, list):
                raise RuntimeError(f"the pump answered entry {start} with no list of entries: {page.result}")
            entries += batch
            if not batch or int(entries[-1]["seq"]) + 1 >= int(page.result["next_seq"]):  # type: ignore[call-overload]
                return entries

    # ---------------------------------------------------------- therapy

    def program(self, doses: DoseSchedule) -> Reply:
        """Give this prescription (daily doses of the lead drug by time of day) from now on."""
        return self.execute(Program(doses))

    def program_continuous(self, *, dose_ng_per_day: int) -> Reply:
        """One daily dose of the lead drug around the clock, every day."""
        return self.program(DoseSchedule.continuous(dose_ng_per_day))

    def refill(
        self,
        volume_nl: int,
        contents: Sequence[tuple[str, int]],
        *,
        aspirated_nl: int | None = None,
        low_reservoir_alarm_nl: int | None = None,
        bridge: bool = False,
    ) -> Reply:
        """The reservoir now holds `volume_nl` of `contents` (drug, ng/mL; lead first); `aspirated_nl` was withdrawn."""
        return self.execute(Fill(volume_nl, tuple(contents), aspirated_nl, low_reservoir_alarm_nl, bridge))

    def set_catheter(self, volume_nl: int) -> Reply:
        """The implanted catheter holds `volume_nl`, set at implant or revision."""
        return self.execute(SetCatheter(volume_nl))

    def clinician_bolus(self, *, dose_ng: int, duration_ms: int) -> Reply:
        """Give `dose_ng` of the lead drug over `duration_ms`, on top of the basal flow."""
        return self.execute(ClinicianBolus(dose_ng, duration_ms))

    def priming_bolus(self, *, volume_nl: int, duration_ms: int) -> Reply:
        """Fill the empty catheter and pump tubing with `volume_nl` over `duration_ms`, in place of the basal flow."""
        return self.execute(PrimingBolus(volume_nl, duration_ms))

    def cancel_bolus(self) -> Reply:
        """Stop the running bolus."""
        return self.execute(CancelBolus())

    def stop_therapy(self) -> Reply:
        """Go to minimum-rate mode."""
        return self.execute(StopTherapy())

    def resume_therapy(self) -> Reply:
        """Deliver the prescription again."""
        return self.execute(ResumeTherapy())

    def set_low_reservoir_alarm(self, threshold_nl: int) -> Reply:
        """Raise the low-reservoir alarm at this calculated volume."""
        return self.execute(SetLowReservoirAlarm(threshold_nl))

    def set_periodic_bolus(self, plan: PeriodicBolusPlan | None) -> Reply:
        """Start or change the periodic bolus, or end it with None."""
        return self.execute(SetPeriodicBolus(plan))

    def set_demand_limits(self, limits: DemandLimits | None) -> Reply:
        """The physician's limits on the patient's demand doses; None turns demand doses off."""
        return self.execute(SetDemandLimits(limits))

    def clear_alarm(self, alarm: str) -> Reply:
        """Clear an alarm the clinician may clear; the pump refuses a name it does not know."""
        known = {a.value for a in Alarm}
        if alarm in known:
            return self.execute(ClearAlarm(Alarm(alarm), Role.CLINICIAN))
        return self.send("alarm_clear", alarm=alarm)  # the pump's refusal names the alarms it has

    def set_clock(self, wall_ms: int) -> Reply:
        """Set the pump's wall clock (local time as ms since the Unix epoch)."""
        return self.execute(SetClock(wall_ms))

    # --------------------------------------------------------------- keys

    def list_keys(self) -> Reply:
        """The devices paired with the pump and the revoked keys."""
        return self.send("list_keys")

    def revoke_key(self, key_id: str) -> Reply:
        """Revoke a device's key (hex): it can never talk to the pump again."""
        return self.send("revoke_key", key_id=key_id)
