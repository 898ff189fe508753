"""The clinician programmer's client library: one method per pump command, base units in, `Reply` out.

Every method sends one command through a `ClientSession`, which retries a
lost exchange with the same command id. A `Reply` is returned whatever the
pump decided: `ok`, refused with a code and words, or unknown — and an
unknown drug delivery is `possibly_delivered`, to be counted as delivered.
Arguments are integers in the base units their names carry (nL, ng/mL,
nL/day, ms); a person's typed quantities are parsed by `thecal.units` first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from thecal.pump.core import DemandLimits, PeriodicBolusPlan, WeekSchedule
from thecal.telemetry.client import DEFAULT_ATTEMPTS, ClientSession, Reply
from thecal.telemetry.commands import Role
from thecal.telemetry.device_files import DeviceFiles
from thecal.telemetry.transport import TcpTransport, Transport

BOLUS_KINDS = ("clinician", "priming", "bridge")


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
            assert isinstance(batch, list)
            entries += batch
            if not batch or int(entries[-1]["seq"]) + 1 >= int(page.result["next_seq"]):  # type: ignore[call-overload]
                return entries

    # ---------------------------------------------------------- therapy

    def program(self, schedule: WeekSchedule) -> Reply:
        """Deliver this week schedule from now on."""
        days = [[{"start_ms": s.start_ms, "flow_nl_per_day": s.flow_nl_per_day} for s in day] for day in schedule.days]
        return self.send("program_therapy", days=days)

    def program_continuous(self, flow_nl_per_day: int) -> Reply:
        """One flow around the clock, every day."""
        return self.program(WeekSchedule.continuous(flow_nl_per_day))

    def refill(
        self,
        volume_nl: int,
        contents: Sequence[tuple[str, int]],
        *,
        aspirated_nl: int | None = None,
        low_reservoir_alarm_nl: int | None = None,
    ) -> Reply:
        """The reservoir now holds `volume_nl` of `contents` (drug, ng/mL); `aspirated_nl` was withdrawn."""
        args: dict[str, object] = {
            "volume_nl": volume_nl,
            "contents": [{"drug": drug, "concentration_ng_per_ml": conc} for drug, conc in contents],
        }
        if aspirated_nl is not None:
            args["aspirated_nl"] = aspirated_nl
        if low_reservoir_alarm_nl is not None:
            args["low_reservoir_alarm_nl"] = low_reservoir_alarm_nl
        return self.send("refill_update", **args)

    def bolus(self, volume_nl: int, duration_ms: int, kind: str = "clinician") -> Reply:
        """A clinician, priming or bridge bolus of `volume_nl` over `duration_ms`."""
        if kind not in BOLUS_KINDS:
            raise ValueError(f"a programmer bolus is one of {BOLUS_KINDS}, not {kind!r}")
        return self.send(f"{kind}_bolus", volume_nl=volume_nl, duration_ms=duration_ms)

    def cancel_bolus(self) -> Reply:
        """Stop the running bolus."""
        return self.send("bolus_cancel")

    def stop_therapy(self) -> Reply:
        """Go to minimum-rate mode."""
        return self.send("therapy_stop")

    def resume_therapy(self) -> Reply:
        """Deliver the programmed schedule again."""
        return self.send("therapy_resume")

    def set_low_reservoir_alarm(self, threshold_nl: int) -> Reply:
        """Raise the low-reservoir alarm at this calculated volume."""
        return self.send("low_reservoir_alarm_set", threshold_nl=threshold_nl)

    def set_periodic_bolus(self, plan: PeriodicBolusPlan | None) -> Reply:
        """Start or change the periodic bolus, or end it with None."""
        if plan is None:
            return self.send("periodic_bolus_stop")
        return self.send(
            "periodic_bolus_set",
            volume_nl=plan.volume_nl,
            duration_ms=plan.duration_ms,
            interval_ms=plan.interval_ms,
            first_wall_ms=plan.first_wall_ms,
        )

    def set_demand_limits(self, limits: DemandLimits | None) -> Reply:
        """The physician's limits on the patient's demand boluses; None turns demand boluses off."""
        if limits is None:
            # max_per_24h 0 turns demand boluses off; the command table still wants a positive duration.
            off = {"bolus_volume_nl": 0, "bolus_duration_ms": 1, "lockout_ms": 0, "max_per_24h": 0}
            return self.send("ptm_settings", **off)
        return self.send(
            "ptm_settings",
            bolus_volume_nl=limits.volume_nl,
            bolus_duration_ms=limits.duration_ms,
            lockout_ms=limits.lockout_ms,
            max_per_24h=limits.max_per_24h,
        )

    def clear_alarm(self, alarm: str) -> Reply:
        """Clear an alarm the clinician may clear."""
        return self.send("alarm_clear", alarm=alarm)

    def set_clock(self, wall_ms: int) -> Reply:
        """Set the pump's wall clock (local time as ms since the Unix epoch)."""
        return self.send("clock_set", wall_ms=wall_ms)

    # --------------------------------------------------------------- keys

    def list_keys(self) -> Reply:
        """The devices paired with the pump and the revoked keys."""
        return self.send("list_keys")

    def revoke_key(self, key_id: str) -> Reply:
        """Revoke a device's key (hex): it can never talk to the pump again."""
        return self.send("revoke_key", key_id=key_id)
