"""HTTP of the local exchange: the ASGI app and the limits that keep it serving.

:class:`VenueApp` is a plain ASGI app (no framework): it reads the body within
:class:`HttpLimits` (a body over ``max_body_bytes`` is refused with HTTP 413 on its
``Content-Length`` alone, or as soon as a chunked body passes the limit, without being read
into memory; a body not received within ``body_timeout_s`` gets 408), hands the request to
the :class:`~freqtrade_exec_ext.localex.gateway.Gateway` and writes its answer as JSON.
Nothing escapes as a traceback: any failure answers HTTP 500 ``{"code": -1000, ...}``.

:func:`guarded_protocol` extends uvicorn's h11 protocol with what uvicorn does not offer:

* a connection cap (``max_connections``): a connection beyond it gets HTTP 503
  ``{"code": -1008, "msg": "Server is currently overloaded..."}`` and is closed, so a flood
  of connections cannot exhaust the process's file descriptors;
* a header read timeout (``header_timeout_s``, from the first byte of a request, or from the
  connection when nothing comes): HTTP 408 and close (uvicorn only times out idle
  keep-alive connections);
* request headers over ``max_header_bytes`` refused with 431 before they are parsed;
* malformed requests answered with Binance-style JSON instead of uvicorn's plain text.

Every answer, including these, is ``{"code": <Binance code>, "msg": ...}`` JSON.  The
counters (:class:`HttpStats`) are served in ``GET /_admin/state`` under ``http``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from freqtrade_exec_ext.errors import InputRefused, TemporaryFailure
from freqtrade_exec_ext.localex.messages import (
    BUSY,
    UNKNOWN_ERROR,
    HttpLimits,
    HttpStats,
    Plan,
    Reply,
    error,
)
from freqtrade_exec_ext.localex.messages import Request as GwRequest

if TYPE_CHECKING:
    from freqtrade_exec_ext.localex.gateway import Gateway

logger = logging.getLogger(__name__)

REFUSED_LINGER_S = 0.5  # a refused connection is kept this long to read what it sends


def encode(body: Any) -> bytes:
    """JSON as the venue writes it (compact; NaN/inf refused: ValueError)."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def raw_response(status: int, body: dict[str, Any]) -> bytes:
    """A complete ``Connection: close`` JSON response, for answers outside an h11 cycle."""
    data = encode(body)
    reason = h11_reason(status)
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(data)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + data


def h11_reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# ------------------------------------------------------------------ the ASGI app


class _Refused(InputRefused):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


class _Gone(TemporaryFailure):
    """The client went away: nothing to answer."""


async def _sleep(seconds: float, stopping: threading.Event) -> None:
    end = time.monotonic() + seconds
    while not stopping.is_set():
        left = end - time.monotonic()
        if left <= 0:
            return
        await asyncio.sleep(min(left, 0.1))


class VenueApp:
    """The ASGI app: one request in, the gateway's answer out, within the limits."""

    def __init__(
        self,
        gateway: Gateway,
        stopping: threading.Event,
        limits: HttpLimits,
        stats: HttpStats,
    ) -> None:
        self.gateway = gateway
        self.stopping = stopping
        self.limits = limits
        self.stats = stats

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        try:
            reply = await self._serve(scope, receive)
        except _Refused as refused:
            reply = refused.reply
        except _Gone:
            return
        except Exception:
            self.stats.errors += 1
            logger.exception("localex: %s %s failed", scope.get("method"), scope.get("path"))
            reply = Reply(500, error(-1000, UNKNOWN_ERROR))
        await self._send(send, reply)

    async def _serve(self, scope: Any, receive: Any) -> Reply:
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        self._check_length(headers.get("content-length"))
        body = await self._read_body(receive)
        client = scope.get("client") or ("127.0.0.1", 0)
        req = GwRequest(
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("utf-8", errors="replace"),
            body=body.decode("utf-8", errors="replace"),
            headers=headers,
            client=client[0],
        )
        plan = self.gateway.admit(req)
        if isinstance(plan, Plan):
            if plan.delay_s:
                await _sleep(plan.delay_s, self.stopping)
            reply = self.gateway.execute(plan)
        else:
            reply = plan
        if reply.delay_s:
            await _sleep(reply.delay_s, self.stopping)
        return reply

    def _check_length(self, raw: str | None) -> None:
        if raw is None:
            return
        try:
            length = int(raw)
        except ValueError:
            length = -1
        if length < 0:
            self.stats.bad_requests += 1
            raise _Refused(_closing(400, error(-1000, "Invalid Content-Length header.")))
        if length > self.limits.max_body_bytes:
            raise self._too_large()

    def _too_large(self) -> _Refused:
        self.stats.too_large += 1
        msg = f"Request body larger than {self.limits.max_body_bytes} bytes."
        return _Refused(_closing(413, error(-1000, msg)))

    async def _read_body(self, receive: Any) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.body_timeout_s
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.0))
            except TimeoutError:
                self.stats.body_timeouts += 1
                msg = f"Request body not received within {self.limits.body_timeout_s:g} s."
                raise _Refused(_closing(408, error(-1000, msg))) from None
            if message["type"] == "http.disconnect":
                raise _Gone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limits.max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _send(self, send: Any, reply: Reply) -> None:
        try:
            data = encode(reply.body)
        except (TypeError, ValueError):
            self.stats.errors += 1
            logger.exception("localex: answer not JSON-encodable")
            reply, data = Reply(500, {}), encode(error(-1000, UNKNOWN_ERROR))
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
        ]
        headers += [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers.items()
        ]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": data, "more_body": False})


def _items(reply: Reply) -> list[tuple[str, str]]:
    return list(reply.headers.items())


def _closing(status: int, body: dict[str, Any]) -> Reply:
    return Reply(status, body, {"connection": "close"})


# ------------------------------------------------------------------ the protocol


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a connection cap, a header timeout and JSON errors.

    Use :func:`guarded_protocol`, which binds the limits and counters."""

    limits: ClassVar[HttpLimits] = HttpLimits()
    stats: ClassVar[HttpStats] = HttpStats()
    _header_timer: asyncio.TimerHandle | None = None
    _header_bytes = 0
    _refused = False

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.stats.peak_connections = max(self.stats.peak_connections, len(self.connections))
        if len(self.connections) > self.limits.max_connections:
            self._refuse()
            return
        self._watch_headers()

    def _refuse(self) -> None:
        self._refused = True
        self.connections.discard(self)
        self.stats.refused_connections += 1
        self.transport.write(raw_response(503, error(-1008, BUSY)))
        if self.transport.can_write_eof():
            self.transport.write_eof()  # answer sent; read what comes, then close
            self.loop.call_later(REFUSED_LINGER_S, self.transport.close)
        else:  # pragma: no cover - TCP transports can
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._refused or self.transport.is_closing():
            return
        if self.conn.their_state is h11.IDLE:  # still reading a request's headers
            end = data.find(b"\r\n\r\n")
            self._header_bytes += len(data) if end < 0 else end + 4
            if self._header_bytes > self.limits.max_header_bytes:
                self._close_with(
                    431, f"Request headers larger than {self.limits.max_header_bytes} bytes."
                )
                return
        super().data_received(data)
        self._watch_headers()

    def _close_with(self, status: int, msg: str) -> None:
        self.stats.bad_requests += 1
        self.transport.write(raw_response(status, error(-1000, msg)))
        self.transport.close()

    def _watch_headers(self) -> None:
        """Time the request headers: from the first byte (or the connection) on."""
        waiting = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
        if waiting and self._header_timer is None:
            self._header_timer = self.loop.call_later(
                self.limits.header_timeout_s, self._header_timeout
            )
        elif not waiting:
            self._cancel_header_timer()
            self._header_bytes = 0

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # waiting for the next request: uvicorn's keep-alive timer runs until a byte comes,
        # then ours (armed by data_received) times its headers
        self._cancel_header_timer()

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        self.stats.header_timeouts += 1
        msg = f"Request headers not received within {self.limits.header_timeout_s:g} s."
        self.transport.write(raw_response(408, error(-1000, msg)))
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        self._close_with(400, msg)


def guarded_protocol(limits: HttpLimits, stats: HttpStats) -> type[H11Protocol]:
    """:class:`GuardedH11Protocol` bound to one server's limits and counters."""
    attrs = {"limits": limits, "stats": stats}
    return type("GuardedH11Protocol", (GuardedH11Protocol,), attrs)
