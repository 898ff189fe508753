"""Moving frames: the abstract transport, a loopback TCP stand-in for the radio, and link loss.

A transport sends one frame and returns the one reply, or raises LinkLost when
either is lost. On TCP each frame travels with a 4-byte big-endian length in
front. Only the loopback interface is ever used: this stands in for a
short-range radio and must not become a network service. The server is
bounded like the radio it stands in for: a connection that sends nothing for
`idle_timeout_s`, or takes longer than that to deliver a frame it has begun,
is closed, and at most `max_connections` are served at once; one beyond that
is closed as soon as it is accepted, without a thread, so idle or stalled
sockets can neither exhaust the pump's threads and descriptors nor keep a
programmer out for longer than the idle timeout. The link-loss
wrappers, one for a client (`LossyLink`) and one for the pump's server
(`LossyHandler`), drop requests or replies the way a radio at the edge of its
range does, from a seeded random source so every run can be repeated.
"""

from __future__ import annotations

import contextlib
import ipaddress
import random
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from thecal.telemetry.errors import LinkLost, NothingListening
from thecal.telemetry.frames import MAX_FRAME_BYTES

LOOPBACK = "127.0.0.1"
_LENGTH = struct.Struct(">I")
DEFAULT_IDLE_TIMEOUT_S = 30.0  # assumption: a programming session pauses between commands for less than this
DEFAULT_MAX_CONNECTIONS = 8  # a clinician programmer and a PTM, with room for reconnects

Handler = Callable[[bytes], bytes]
# A server-side handler may answer None: the frame or its reply was lost, and the connection is dropped.
ServerHandler = Callable[[bytes], bytes | None]


class Transport(Protocol):
    """Carries one frame to the pump and brings back its reply."""

    def send(self, frame: bytes) -> bytes:
        """The reply to frame; raises LinkLost if the frame or the reply was lost."""
        ...


class InProcessTransport:
    """Hands frames straight to a handler such as PumpEndpoint.receive."""

    def __init__(self, handler: Handler):
        self._handler = handler

    def send(self, frame: bytes) -> bytes:
        """The handler's reply."""
        return self._handler(frame)


def _read_exactly(sock: socket.socket, count: int, deadline: float | None = None) -> bytes:
    chunks = bytearray()
    while len(chunks) < count:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the frame did not arrive in time")
            sock.settimeout(remaining)
        chunk = sock.recv(count - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed in the middle of a frame")
        chunks += chunk
    return bytes(chunks)


def write_frame(sock: socket.socket, frame: bytes) -> None:
    """Send one length-prefixed frame."""
    if len(frame) > MAX_FRAME_BYTES:
        raise ValueError(f"a frame is at most {MAX_FRAME_BYTES} bytes")
    sock.sendall(_LENGTH.pack(len(frame)) + frame)


def read_frame(sock: socket.socket) -> bytes:
    """Receive one length-prefixed frame."""
    (length,) = _LENGTH.unpack(_read_exactly(sock, _LENGTH.size))
    if length > MAX_FRAME_BYTES:
        raise ConnectionError(f"announced frame of {length} bytes exceeds {MAX_FRAME_BYTES}")
    return _read_exactly(sock, length)


def _read_frame_within(sock: socket.socket, timeout_s: float) -> bytes:
    """Receive one frame; TimeoutError if none begins within timeout_s, or one begun takes longer to finish."""
    sock.settimeout(timeout_s)
    first = _read_exactly(sock, 1)  # waiting for the next frame is being idle
    deadline = time.monotonic() + timeout_s  # from its first byte a frame must be complete within the timeout too
    (length,) = _LENGTH.unpack(first + _read_exactly(sock, _LENGTH.size - 1, deadline))
    if length > MAX_FRAME_BYTES:
        raise ConnectionError(f"announced frame of {length} bytes exceeds {MAX_FRAME_BYTES}")
    frame = _read_exactly(sock, length, deadline)
    sock.settimeout(timeout_s)  # for writing the reply
    return frame


class _FrameHandler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        """Serve frames on one connection until it closes, goes idle or stalls."""
        while True:
            try:
                frame = _read_frame_within(self.request, self.server.idle_timeout_s)
            except OSError:
                return  # the peer hung up, went quiet, stalled mid-frame or sent garbage framing: drop it
            with self.server.lock:  # the endpoint is a single state machine: one frame at a time
                reply = self.server.frame_handler(frame)
            if reply is None:
                return  # lost on the way: the client sees its link drop, as when a radio frame goes unanswered
            try:
                write_frame(self.request, reply)
            except OSError:
                return
            if self.server.after_reply is not None:
                with self.server.lock:
                    self.server.after_reply()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    # Connections waiting to be accepted cost the kernel, not this process: a burst of them waits its turn (and an
    # extra one is turned away at once) instead of having its connect dropped and retried a second later.
    request_queue_size = 64

    def __init__(
        self,
        port: int,
        frame_handler: ServerHandler,
        idle_timeout_s: float,
        max_connections: int,
        after_reply: Callable[[], None] | None,
    ):
        self.frame_handler = frame_handler
        self.after_reply = after_reply
        self.lock = threading.Lock()
        self.idle_timeout_s = idle_timeout_s
        self.max_connections = max_connections
        self._connections_lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        super().__init__((LOOPBACK, port), _FrameHandler)

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        """Serve a new connection in its own thread, or close it at once when the limit is reached."""
        with self._connections_lock:
            admitted = len(self.connections) < self.max_connections
            if admitted:
                self.connections.add(request)
        if not admitted:
            self.shutdown_request(request)  # no thread, no waiting: the descriptor is freed now
            return
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="thecal-telemetry-connection",
            daemon=True,
        )
        try:
            thread.start()
        except BaseException:
            self._release(request)
            raise

    def process_request_thread(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        """Serve one connection, then free its place."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release(request)

    def _release(self, request: socket.socket) -> None:
        with self._connections_lock:
            self.connections.discard(request)

    def close_connections(self) -> None:
        """Hang up every connection being served."""
        with self._connections_lock:
            open_now = list(self.connections)
        for request in open_now:
            with contextlib.suppress(OSError):  # already closed by its own thread
                request.shutdown(socket.SHUT_RDWR)


class LoopbackServer:
    """Serves a frame handler on 127.0.0.1, one thread per connection up to a limit, frames in order."""

    def __init__(
        self,
        handler: ServerHandler,
        port: int = 0,
        *,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        after_reply: Callable[[], None] | None = None,
    ):
        """`after_reply` runs once each reply has been written, before the connection reads its next frame:
        work that must follow the reply but need not delay it."""
        if not idle_timeout_s > 0:
            raise ValueError(f"idle_timeout_s is a positive number of seconds, not {idle_timeout_s}")
        if max_connections < 1:
            raise ValueError(f"max_connections is at least 1, not {max_connections}")
        self._server = _Server(port, handler, idle_timeout_s, max_connections, after_reply)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="thecal-telemetry", daemon=True
        )

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        return int(self._server.server_address[1])

    @property
    def connections(self) -> int:
        """How many connections are being served now."""
        return len(self._server.connections)

    def start(self) -> LoopbackServer:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, hang up every connection and release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.close_connections()
        self._server.server_close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class TcpTransport:
    """A client connection to a LoopbackServer; a lost connection is a lost link."""

    def __init__(self, port: int, host: str = LOOPBACK, timeout_s: float = 2.0):
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"{host} is not a loopback address; the TCP stand-in never leaves this machine")
        self._address = (host, port)
        self._timeout_s = timeout_s
        self._sock: socket.socket | None = None

    def send(self, frame: bytes) -> bytes:
        """The reply to frame; LinkLost on timeout or a broken connection, NothingListening if none was made."""
        host, port = self._address
        try:
            if self._sock is None:
                self._sock = socket.create_connection(self._address, timeout=self._timeout_s)
        except ConnectionRefusedError:
            raise NothingListening(
                f"nothing is listening on {host}:{port}, so the frame was not sent and nothing happened; "
                "start the pump daemon or check the port"
            ) from None
        except OSError as exc:
            raise LinkLost(f"telemetry link to {host}:{port} lost: {exc}") from None
        try:
            write_frame(self._sock, frame)
            return read_frame(self._sock)
        except OSError as exc:
            # A late reply must never be read as the answer to the next frame, so the connection goes.
            self.close()
            raise LinkLost(f"telemetry link to {self._address[0]}:{self._address[1]} lost: {exc}") from None

    def close(self) -> None:
        """Close the connection; the next send reconnects."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class Fate(StrEnum):
    """What the link does to one exchange."""

    DELIVER = "deliver"
    DROP_REQUEST = "drop_request"  # the pump never sees the frame
    DROP_REPLY = "drop_reply"  # the pump acts on the frame, the reply is lost


class LossModel(Protocol):
    """Decides the fate of each exchange."""

    def fate(self, rng: random.Random) -> Fate:
        """The fate of the next exchange."""
        ...


@dataclass(frozen=True)
class FixedLoss:
    """Each request and each reply is lost with its own probability."""

    request_loss: float
    reply_loss: float

    def __str__(self) -> str:
        return f"{self.request_loss:.0%} of requests and {self.reply_loss:.0%} of replies lost"

    def fate(self, rng: random.Random) -> Fate:
        """The fate of the next exchange."""
        if rng.random() < self.request_loss:
            return Fate.DROP_REQUEST
        if rng.random() < self.reply_loss:
            return Fate.DROP_REPLY
        return Fate.DELIVER


@dataclass
class RangeLoss:
    """Loss grows linearly from none at reliable_mm to total at max_mm; move the device with distance_mm."""

    distance_mm: int
    reliable_mm: int = 50  # assumption: a telemetry head held on the skin over the pump
    max_mm: int = 200  # assumption: beyond this the implant's radio is not heard

    def __str__(self) -> str:
        return f"{self.distance_mm} mm from the pump, {self.loss():.0%} of frames lost"

    def loss(self) -> float:
        """The probability that one frame is lost at the current distance."""
        span = self.max_mm - self.reliable_mm
        return min(1.0, max(0.0, (self.distance_mm - self.reliable_mm) / span))

    def fate(self, rng: random.Random) -> Fate:
        """The fate of the next exchange; request and reply are lost independently."""
        return FixedLoss(self.loss(), self.loss()).fate(rng)


class ScriptedLoss:
    """Given fates in order, then every exchange delivered."""

    def __init__(self, fates: Iterable[Fate]):
        self._fates = list(fates)

    def fate(self, rng: random.Random) -> Fate:
        """The next scripted fate."""
        return self._fates.pop(0) if self._fates else Fate.DELIVER


class LossyLink:
    """Wraps a transport and loses requests or replies as the loss model decides."""

    def __init__(self, inner: Transport, model: LossModel, seed: int = 0):
        self._inner = inner
        self.model = model
        self._rng = random.Random(seed)
        self.history: list[Fate] = []

    def send(self, frame: bytes) -> bytes:
        """The reply, unless the model loses the request or the reply."""
        fate = self.model.fate(self._rng)
        self.history.append(fate)
        if fate is Fate.DROP_REQUEST:
            raise LinkLost("simulated loss of the request")
        reply = self._inner.send(frame)
        if fate is Fate.DROP_REPLY:
            raise LinkLost("simulated loss of the reply")
        return reply


class LossyHandler:
    """The pump's side of a lossy link: wraps a frame handler and loses requests or replies.

    A lost request never reaches the pump; a lost reply is lost after the pump
    acted on the request. Either way the handler answers None and the server
    drops the connection, so every client, whatever its code, meets the loss.
    """

    def __init__(self, inner: ServerHandler, model: LossModel, seed: int = 0):
        self._inner = inner
        self.model = model
        self._rng = random.Random(seed)
        self.history: list[Fate] = []

    def __call__(self, frame: bytes) -> bytes | None:
        """The reply, or None when the model loses the request or the reply."""
        fate = self.model.fate(self._rng)
        self.history.append(fate)
        if fate is Fate.DROP_REQUEST:
            return None
        reply = self._inner(frame)
        return None if fate is Fate.DROP_REPLY else reply
