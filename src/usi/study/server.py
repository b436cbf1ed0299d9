"""How ``usi study serve`` runs the app: uvicorn with deadlines on every read.

A client that opens a connection and sends its request head slowly, or starts an upload
and stalls, would otherwise hold a connection (and, for a body, a request) forever. The
request head must arrive within :data:`HEADER_TIMEOUT_S` of the connection opening (or of
the previous response on a kept-alive connection), and a request body within
:data:`BODY_TIMEOUT_S` of its head; idle kept-alive connections close after
:data:`KEEP_ALIVE_S`. Request heads are capped at :data:`MAX_HEAD_BYTES`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("usi.study")

HEADER_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 15.0
KEEP_ALIVE_S = 5
MAX_HEAD_BYTES = 16 * 1024


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


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request head does not arrive."""

    header_timeout = HEADER_TIMEOUT_S

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm_head_timer()

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
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)


def run(app: ASGIApp, host: str, port: int, log_level: str) -> None:
    """Serve ``app`` with the deadlines above."""
    import uvicorn

    uvicorn.run(
        BodyDeadline(app),
        host=host,
        port=port,
        log_level=log_level,
        http=DeadlineH11Protocol,
        timeout_keep_alive=KEEP_ALIVE_S,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
    )
