"""How ``usi study serve`` runs the app: uvicorn with deadlines on every read.

A client that opens a connection and sends its request head slowly, or starts an upload
and stalls, would otherwise hold a connection (and, for a body, a request) forever. The
request head must arrive within :data:`HEADER_TIMEOUT_S` of the connection opening (or of
the previous response on a kept-alive connection), and a request body within
:data:`BODY_TIMEOUT_S` of its head; idle kept-alive connections close after
:data:`KEEP_ALIVE_S`. Request heads are capped at :data:`MAX_HEAD_BYTES`.

Connections are capped too, because deadlines alone do not stop a client that reopens
every connection it loses: ~1,100 idle connections from one client used up the server's
1,024 file descriptors and participants' requests timed out. At start the descriptor
limit is raised to what the system allows (:func:`raise_fd_limit`); one client address
may hold :data:`DEFAULT_CONNECTIONS_PER_ADDRESS` connections (``--connections-per-address``)
and the server as a whole the descriptor limit less :data:`RESERVED_FDS`, kept for the
database, the agent shards and the participants already in a session. A connection over
either cap is answered at once with ``503`` and a one-line reason and closed, never left
hanging.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("usi.study")

HEADER_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 15.0
KEEP_ALIVE_S = 5
MAX_HEAD_BYTES = 16 * 1024
DEFAULT_CONNECTIONS_PER_ADDRESS = 64
RESERVED_FDS = 128
WANTED_FDS = 65536
REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Retry-After: 5\r\n"
    b"Connection: close\r\n"
    b"Content-Length: %d\r\n\r\n%s"
)


class BodyTimeout(Exception):
    """The client did not finish sending its request body in time."""


class BodyDeadline:
    """ASGI middleware: the whole request body must arrive within ``timeout`` seconds."""

    def __init__(self, app: ASGIApp, timeout: float = BODY_TIMEOUT_S) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if scope["type"] != "http" or declared in (b"", b"0"):
            # No body to wait for (a GET, a poll): nothing to time. A body of undeclared
            # length is refused by the app's guard.
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        complete = False
        started = False

        async def timed_receive() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise BodyTimeout from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, tracked_send)
        except BodyTimeout:
            log.info("request body of %s %s timed out", scope.get("method"), scope.get("path"))
            if not started:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 408,
                        "headers": [(b"content-type", b"text/plain"), (b"connection", b"close")],
                    }
                )
                await send({"type": "http.response.body", "body": b"request timeout"})


def raise_fd_limit(wanted: int = WANTED_FDS) -> int:
    """Raise this process's open-file limit towards ``wanted`` (as far as the hard limit
    allows); the soft limit now in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            log.warning("could not raise the open-file limit from %d", soft)
    return int(soft if soft != resource.RLIM_INFINITY else wanted)


@dataclass
class ConnectionCaps:
    """How many connections one client address, and the whole server, may hold (0: no cap)."""

    per_address: int = DEFAULT_CONNECTIONS_PER_ADDRESS
    total: int = 0
    by_address: Counter[str] = field(default_factory=Counter)
    open: int = 0

    def admit(self, address: str) -> str | None:
        """Count the connection in, or the reason it is refused."""
        if self.per_address and self.by_address[address] >= self.per_address:
            return "Too many connections from your address. Please retry in a moment.\n"
        if self.total and self.open >= self.total:
            return "The server is busy. Please retry in a moment.\n"
        self.by_address[address] += 1
        self.open += 1
        return None

    def release(self, address: str) -> None:
        self.open -= 1
        self.by_address[address] -= 1
        if self.by_address[address] <= 0:
            del self.by_address[address]


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request head does not arrive, and
    refusing those over the :class:`ConnectionCaps` (all on the one event loop: no lock)."""

    header_timeout = HEADER_TIMEOUT_S
    caps = ConnectionCaps()

    def connection_made(self, transport: Any) -> None:
        peer = transport.get_extra_info("peername")
        self._address = str(peer[0]) if peer else "unknown"
        reason = self.caps.admit(self._address)
        self._refused = reason is not None
        if reason is not None:
            body = reason.encode("utf-8")
            transport.write(REFUSAL % (len(body), body))
            transport.close()
            return
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def eof_received(self) -> None:
        if not self._refused:
            super().eof_received()

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_expired)

    def _head_expired(self) -> None:
        waiting = self.cycle is None or self.cycle.response_complete
        if waiting and not self.transport.is_closing():
            log.info("closed a connection that sent no complete request head in time")
            self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self.caps.release(self._address)
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)


def run(
    app: ASGIApp,
    host: str,
    port: int,
    log_level: str,
    connections_per_address: int = DEFAULT_CONNECTIONS_PER_ADDRESS,
) -> None:
    """Serve ``app`` with the deadlines and connection caps above."""
    import uvicorn

    limit = raise_fd_limit()
    DeadlineH11Protocol.caps = ConnectionCaps(
        per_address=connections_per_address, total=max(16, limit - RESERVED_FDS)
    )

    uvicorn.run(
        BodyDeadline(app),
        host=host,
        port=port,
        log_level=log_level,
        http=DeadlineH11Protocol,
        timeout_keep_alive=KEEP_ALIVE_S,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
    )
