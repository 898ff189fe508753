"""The patient therapy manager's client library: ask for a demand bolus, read the patient's view.

The pump alone decides whether a demand bolus is given: the physician's
limits live in the pump, not here. A request whose reply is lost comes back
`possibly_delivered`; the patient app must count it as delivered and show
the next time a dose is allowed from a fresh `status()`, never offer another
dose on the strength of a missing answer.
"""

from __future__ import annotations

from pathlib import Path

from thecal.telemetry.client import DEFAULT_ATTEMPTS, ClientSession, Reply
from thecal.telemetry.commands import Role
from thecal.telemetry.device_files import DeviceFiles
from thecal.telemetry.transport import TcpTransport, Transport


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
        """Ask for a demand bolus; the pump refuses it with a reason outside the physician's limits."""
        return self.session.request("demand_bolus")

    def status(self) -> Reply:
        """What the patient may see: alarms, whether a dose is allowed and when, battery replacement."""
        return self.session.request("interrogate_status")
