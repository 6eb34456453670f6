"""HTTP layer of the local exchange: Binance REST paths on 127.0.0.1 (FastAPI + uvicorn).

Only request parsing and serialisation live here; answers come from
:class:`~freqtrade_exec_ext.localex.venue.MarketVenue`.  Paths that are not implemented
answer HTTP 404 with a Binance-style ``{"code", "msg"}`` body naming the path, so nothing a
client asks for is silently faked.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import socket
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from freqtrade_exec_ext.localex.venue import MarketVenue, VenueError

logger = logging.getLogger(__name__)

# URL prefix -> market served there
PREFIXES = {
    "/api/v3": "spot",
    "/fapi/v1": "usdm",
    "/fapi/v2": "usdm",
    "/fapi/v3": "usdm",
    "/dapi/v1": "coinm",
}


class LocalExchangeError(RuntimeError):
    """The local exchange cannot start (bad host, port taken, no data)."""


def check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise LocalExchangeError(
            f"host {host!r} is not a loopback address; the local exchange only listens on "
            "127.0.0.1, ::1 or localhost"
        )


def _int(params: Any, name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise VenueError(-1100, f"Illegal characters found in parameter '{name}'.") from None


def _symbols(params: Any) -> list[str] | None:
    raw = params.get("symbols")
    if not raw:
        return None
    try:
        out = json.loads(raw)
    except ValueError:
        out = None
    if not isinstance(out, list) or not all(isinstance(s, str) for s in out):
        raise VenueError(-1100, "Illegal characters found in parameter 'symbols'.")
    return out


def create_app(venue: MarketVenue) -> FastAPI:
    app = FastAPI(title="freqtrade-exec local exchange", docs_url=None, redoc_url=None)
    app.state.venue = venue

    @app.exception_handler(VenueError)
    async def _venue_error(_: Request, exc: VenueError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    def route(path: str, handler: Any) -> None:
        for prefix, market in PREFIXES.items():

            def endpoint(request: Request, _market: str = market) -> Any:
                return handler(_market, request.query_params)

            app.add_api_route(prefix + path, endpoint, methods=["GET"])

    route("/ping", lambda m, q: {})
    route("/time", lambda m, q: {"serverTime": venue.server_time()})
    route("/exchangeInfo", lambda m, q: venue.exchange_info(m))
    for name in ("/klines", "/uiKlines", "/markPriceKlines", "/indexPriceKlines"):
        route(
            name,
            lambda m, q: venue.klines(
                m,
                q.get("symbol") or q.get("pair"),
                q.get("interval"),
                _int(q, "startTime"),
                _int(q, "endTime"),
                _int(q, "limit"),
            ),
        )
    route("/depth", lambda m, q: venue.depth(m, q.get("symbol"), _int(q, "limit")))
    route("/ticker/24hr", lambda m, q: venue.ticker_24hr(m, q.get("symbol"), _symbols(q)))
    route("/ticker/bookTicker", lambda m, q: venue.book_ticker(m, q.get("symbol"), _symbols(q)))
    route("/ticker/price", lambda m, q: venue.price_ticker(m, q.get("symbol"), _symbols(q)))

    @app.api_route(
        "/{path:path}", methods=["GET", "POST", "PUT", "DELETE"], include_in_schema=False
    )
    async def _not_implemented(path: str, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "code": -1000,
                "msg": f"localex: {request.method} /{path} is not implemented by the local "
                "exchange",
            },
            status_code=404,
        )

    return app


class LocalExchange:
    """The local exchange in a background thread.

    ``with LocalExchange(datadir) as ex: ex.base_url`` -> ``http://127.0.0.1:<port>``.
    ``port=0`` picks a free port.  Only loopback hosts are accepted.
    """

    def __init__(
        self,
        datadir: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        start_at: datetime | None = None,
    ) -> None:
        check_loopback(host)
        self.datadir = Path(datadir)
        self.host = host
        self._requested_port = port
        self.speed = speed
        self.start_at = start_at
        self.port: int = port
        self.venue: MarketVenue | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError as exc:
            sock.close()
            raise LocalExchangeError(
                f"cannot listen on {self.host}:{self._requested_port}: {exc.strerror or exc}"
            ) from None
        sock.listen(128)
        sock.setblocking(False)
        return sock

    def start(self, timeout: float = 20.0) -> Self:
        import uvicorn

        if self._thread is not None:
            return self
        self.venue = MarketVenue(self.datadir, speed=self.speed, start_at=self.start_at)
        self._sock = self._bind()
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(self.venue), log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            daemon=True,
            name=f"localex-{self.port}",
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ping():
                logger.info("local exchange listening on %s", self.base_url)
                return self
            if not self._thread.is_alive():
                break
            time.sleep(0.05)
        self.stop()
        raise LocalExchangeError(f"local exchange did not answer on {self.base_url}")

    def ping(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/api/v3/ping", timeout=1) as r:  # noqa: S310
                return r.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
