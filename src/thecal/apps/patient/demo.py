"""The demo's handsets: the therapy manager app of each demo patient who has one, served beside the programmer.

`DemoHandsets` takes each patient's pump (its state directory and daemon
port), pairs the PTM device made with the pump through the proximity step the
caller performs (`place_head`), writes what the clinic tells the handset
(`patient.json`: the patient's name, the drug, the clinic's name and number),
and serves one app per patient on 127.0.0.1, each on its own port, in a
thread, until `stop`. With the clinic's address and a token the clinic issued
for that patient, the app sends its diary entries to the clinic.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from thecal.apps.patient.web import create_app
from thecal.devices.state_dir import StateLayout
from thecal.errors import InputError
from thecal.pump.core.commands import Role
from thecal.telemetry.device_files import DeviceFiles
from thecal.telemetry.transport import TcpTransport

START_TIMEOUT_S = 30.0  # a bound on waiting for a handset's server to listen, never a measure of its speed


@dataclass(frozen=True)
class HandsetPatient:
    """A demo patient with a handset: the pump, and what the clinic writes for the handset."""

    serial: str
    state_dir: Path  # the pump's state directory; its PTM device is in devices/ptm
    pump_port: int
    name: str
    drug: str | None
    clinic_token: str | None = None


@dataclass(frozen=True)
class ServedHandset:
    """A handset app being served: whose it is and where."""

    serial: str
    name: str
    url: str
    device_dir: Path


class DemoHandsets:
    """The demo patients' handset apps, served in threads from `start` until `stop` (or the end of a `with`)."""

    def __init__(self, *, clinic_name: str, clinic_phone: str, clinic_url: str | None = None):
        self.clinic_name = clinic_name
        self.clinic_phone = clinic_phone
        self.clinic_url = clinic_url
        self.served: list[ServedHandset] = []
        self._servers: list[tuple[Any, threading.Thread]] = []

    def __enter__(self) -> DemoHandsets:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def start(
        self, patients: Sequence[HandsetPatient], ports: Sequence[int], place_head: Callable[[str], None]
    ) -> list[ServedHandset]:
        """Pair each patient's PTM (after `place_head(serial)`), then serve its app on the next of `ports`."""
        if len(ports) < len(patients):
            raise InputError("handset ports", list(ports), f"are fewer than the {len(patients)} handsets", "give more")
        for patient, port in zip(patients, ports, strict=False):
            device = StateLayout(patient.state_dir).device(Role.PTM.value)
            self._write_info(device, patient)
            place_head(patient.serial)
            DeviceFiles(device, Role.PTM).pair(TcpTransport(patient.pump_port), expected_pump_label=patient.serial)
            token = patient.clinic_token if self.clinic_url is not None else None
            app = create_app(
                device,
                patient.pump_port,
                clinic_url=self.clinic_url if token is not None else None,
                clinic_token=token,
            )
            url = self._serve(app, port)
            self.served.append(ServedHandset(patient.serial, patient.name, url, device))
        return list(self.served)

    def stop(self) -> None:
        """Stop every handset app this started."""
        for server, _ in self._servers:
            server.should_exit = True
        for _, thread in self._servers:
            thread.join(START_TIMEOUT_S)
        self._servers.clear()

    def _write_info(self, device: Path, patient: HandsetPatient) -> None:
        info = {"clinic_name": self.clinic_name, "clinic_phone": self.clinic_phone, "patient_name": patient.name}
        if patient.drug is not None:
            info["drug"] = patient.drug
        (device / "patient.json").write_text(json.dumps(info, indent=1) + "\n")

    def _serve(self, app: Any, port: int) -> str:
        import uvicorn

        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, name=f"handset-{port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise InputError(
                    "handset port",
                    port,
                    "could not be served on 127.0.0.1 (taken by another program?)",
                    "free the port, or stop the other program, and start the demo again",
                )
            time.sleep(0.02)
        self._servers.append((server, thread))
        bound = server.servers[0].sockets[0].getsockname()[1] if port == 0 else port
        return f"http://127.0.0.1:{bound}"
