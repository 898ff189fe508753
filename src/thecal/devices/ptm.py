"""The patient therapy manager's client library: ask for a demand dose, read the patient's view.

The pump alone decides whether a demand dose is given: the physician's
limits and the drug's hard limits live in the pump, not here, and the next
time a dose is allowed is the pump's own computation (`status()`:
`demand_next_allowed_wall_ms`, `demand_left_24h`). A request whose reply is
lost comes back `possibly_delivered`; the patient app must count it as
delivered and show the next time a dose is allowed from a fresh `status()`,
never offer another dose on the strength of a missing answer. What became of
such a request is in the pump's event log, of which a PTM reads only the
entries about demand doses (`demand_log`), from the mark `status()` carries
(`log_next_seq`, the number the pump's next log entry will carry).
"""

from __future__ import annotations

from pathlib import Path

from thecal.pump.core.commands import RequestDemandBolus, Role
from thecal.telemetry.client import DEFAULT_ATTEMPTS, ClientSession, Reply
from thecal.telemetry.device_files import DeviceFiles
from thecal.telemetry.pump_commands import to_telemetry
from thecal.telemetry.transport import TcpTransport, Transport

MAX_LOG_PAGE = 100  # the command table's most entries a read


class TherapyManagerClient:
    """A PTM paired with one pump."""

    def __init__(self, session: ClientSession):
        self.session = session

    @classmethod
    def open(cls, device_dir: Path, transport: Transport, attempts: int = DEFAULT_ATTEMPTS) -> TherapyManagerClient:
        """The PTM whose files are in `device_dir`, talking over `transport`."""
        return cls(DeviceFiles(Path(device_dir), Role.PTM).session(transport, attempts))

    @classmethod
    def connect(cls, device_dir: Path, port: int) -> TherapyManagerClient:
        """The PTM in `device_dir`, talking to the pump daemon on 127.0.0.1:`port`."""
        return cls.open(device_dir, TcpTransport(port))

    def request_bolus(self) -> Reply:
        """Ask for a demand dose; the pump refuses it with a reason outside the physician's limits."""
        name, args = to_telemetry(RequestDemandBolus())
        return self.session.request(name, **args)

    def status(self) -> Reply:
        """The patient's view: time, mode, alarms, the demand settings, when the next dose is allowed, doses left."""
        return self.session.request("interrogate_status")

    def demand_log(self, from_seq: int, max_entries: int = MAX_LOG_PAGE) -> Reply:
        """The pump's log entries about demand doses from `from_seq` on (the PTM sees no others), one page."""
        return self.session.request("read_event_log", from_seq=from_seq, max_entries=max_entries)
