"""The local exchange as a server: Binance REST paths on 127.0.0.1 (uvicorn).

Thin: every request goes through :class:`~freqtrade_exec_ext.localex.gateway.Gateway`
(routing, rate limits, faults, signatures, answers); ``http.py`` moves the bytes within
its limits (body size, read timeouts, connection cap) and sleeps the delays faults ask for.
Paths that are not implemented answer HTTP 404 with a Binance-style ``{"code", "msg"}``
body naming the path, so nothing a client asks for is silently faked.  The client address
is the socket's: ``X-Forwarded-For`` and the like are ignored (uvicorn's proxy headers off),
so a header cannot escape a ban.  ``/_admin/*`` needs the per-run :attr:`LocalExchange.admin_token`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import resource
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from freqtrade_exec_ext.errors import TemporaryFailure
from freqtrade_exec_ext.localex import daemon
from freqtrade_exec_ext.localex.admin import new_admin_token
from freqtrade_exec_ext.localex.faults import FaultScript
from freqtrade_exec_ext.localex.gateway import Gateway
from freqtrade_exec_ext.localex.http import VenueApp, guarded_protocol
from freqtrade_exec_ext.localex.intracandle import PathModel
from freqtrade_exec_ext.localex.messages import HttpLimits, HttpStats
from freqtrade_exec_ext.localex.model import (
    DEFAULT_FUTURES_BALANCE,
    DEFAULT_PARTICIPATION,
    DEFAULT_SPOT_BALANCES,
)
from freqtrade_exec_ext.localex.ratelimit import (
    Limit,
    RateLimitConfig,
    RateLimiter,
    limits_from_exchange_info,
)
from freqtrade_exec_ext.localex.trading import Fees, TradingEngine
from freqtrade_exec_ext.localex.venue import MarketVenue

logger = logging.getLogger(__name__)
LATE_POLL_S = 0.05  # how often held-back requests are checked for being due


class LocalExchangeError(TemporaryFailure, RuntimeError):
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


class LocalExchange:
    """The local exchange in a background thread.

    ``with LocalExchange(datadir) as ex: ex.base_url`` -> ``http://127.0.0.1:<port>``.
    ``port=0`` picks a free port.  Only loopback hosts are accepted.

    Trading: ``api_keys`` maps throwaway API keys to their secrets (without keys every
    signed endpoint answers -2015, so nothing trades by accident).  The account starts with
    ``spot_balances`` (default 10 000 USDT) and ``futures_balance`` USDT.  ``rate_limits``:
    None for Binance's limits; a :class:`RateLimitConfig` without a ``limits`` table keeps
    Binance's table under its settings (``enabled``, ``scale``, ``weight_limit``...).
    Scripted faults: ``ex.faults.add(endpoint="POST /api/v3/order", kind="ambiguous")``
    (see ``faults.py``);
    state: ``ex.engine`` (orders, fills, balances, positions), ``ex.limiter``.
    """

    def __init__(
        self,
        datadir: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        start_at: datetime | None = None,
        *,
        api_keys: Mapping[str, str] | None = None,
        spot_balances: Mapping[str, float] | None = None,
        futures_balance: float = DEFAULT_FUTURES_BALANCE,
        fees: Fees | None = None,
        rate_limits: RateLimitConfig | None = None,
        participation: float = DEFAULT_PARTICIPATION,
        default_funding_rate: float = 0.0001,
        faults: list[dict[str, Any]] | None = None,
        clock: Callable[[], int] | None = None,
        request_clock: Callable[[], int] | None = None,
        admin_token: str | None = None,
        http_limits: HttpLimits | None = None,
        path_model: PathModel | None = None,
    ) -> None:
        check_loopback(host)
        self.datadir = Path(datadir)
        self.host = host
        self._requested_port = port
        self.speed = speed
        self.start_at = start_at
        self.port: int = port
        self.api_keys = dict(api_keys or {})
        self.spot_balances = dict(spot_balances or DEFAULT_SPOT_BALANCES)
        self.futures_balance = futures_balance
        self.fees = fees or Fees()
        self.rate_limits = rate_limits
        self.participation = participation
        self.default_funding_rate = default_funding_rate
        # ms clocks; None: the wall clock.  ``clock`` drives the replay and the matching;
        # ``request_clock`` checks signed timestamps and counts rate-limit windows (it must
        # agree with the clock clients sign with).  Tests may share a virtual clock.
        self.clock = clock
        self.request_clock = request_clock
        #: the bearer token ``/_admin/*`` needs (``Authorization: Bearer <token>``): a new
        #: random one per run unless given; never logged
        self.admin_token = admin_token or new_admin_token()
        self.http_limits = http_limits or HttpLimits()
        self.path_model = path_model  # None: the tape-calibrated bridge (intracandle.py)
        self.http_stats = HttpStats()
        self.faults = FaultScript()
        if faults:
            self.faults.extend(faults)
        self.venue: MarketVenue | None = None
        self.engine: TradingEngine | None = None
        self.limiter: RateLimiter | None = None
        self.gateway: Gateway | None = None
        self._stopping = threading.Event()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._late_thread: threading.Thread | None = None
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
        clock = {} if self.clock is None else {"now_ms": self.clock}
        self.venue = MarketVenue(
            self.datadir,
            speed=self.speed,
            start_at=self.start_at,
            path_model=self.path_model,
            **clock,
        )
        limits = self.rate_limits or default_rate_limits(self.venue)
        if not limits.limits:  # settings only (scale, overrides, off): Binance's table
            limits = replace(limits, limits=default_rate_limits(self.venue).limits)
        self.venue.served_rate_limits = served_rate_limits(limits)
        self.engine = TradingEngine(
            self.venue,
            spot_balances=self.spot_balances,
            futures_balance=self.futures_balance,
            fees=self.fees,
            participation=self.participation,
            default_funding_rate=self.default_funding_rate,
            funding_rates=load_funding_rates(self.datadir, self.venue.symbols("usdm")),
        )
        self.limiter = RateLimiter(limits)
        self.gateway = Gateway(
            self.venue,
            self.engine,
            self.limiter,
            self.faults,
            self.api_keys,
            admin_token=self.admin_token,
            http_stats=self.http_stats,
        )
        if self.request_clock is not None:
            self.gateway.wall_ms = self.request_clock
        self._stopping.clear()
        self._sock = self._bind()
        self.port = self._sock.getsockname()[1]
        http = self.http_limits.fitted(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        config = uvicorn.Config(
            VenueApp(self.gateway, self._stopping, http, self.http_stats),
            http=guarded_protocol(http, self.http_stats),
            ws="none",
            proxy_headers=False,  # the client is the socket's peer, whatever headers say
            server_header=False,
            timeout_keep_alive=http.keep_alive_s,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            daemon=True,
            name=f"localex-{self.port}",
        )
        self._thread.start()
        self._late_thread = threading.Thread(
            target=self._run_late, daemon=True, name=f"localex-late-{self.port}"
        )
        self._late_thread.start()
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

    def _run_late(self) -> None:
        """Execute held-back requests (``late_execute``) when due, even with no traffic."""
        gateway = self.gateway
        while gateway is not None and not self._stopping.wait(LATE_POLL_S):
            gateway.run_late()

    def venue_cancel(self, order_id: int, status: str = "CANCELED") -> None:
        """The venue cancels one of its open orders by itself."""
        if self.engine is None:
            raise LocalExchangeError("the local exchange is not running")
        self.engine.venue_cancel(order_id, status)

    def ping(self) -> bool:
        """Whether the server answers (the probe uses no rate limit or fault up)."""
        return daemon.ping(self.base_url)

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._late_thread is not None:
            self._late_thread.join(timeout=10)
            self._late_thread = None
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def default_rate_limits(venue: MarketVenue) -> RateLimitConfig:
    """Binance's current limits: spot 6000 weight/min, 100 orders/10 s, 200 000/day;
    USDT-M as its bundled exchangeInfo says."""
    spot = (
        Limit("REQUEST_WEIGHT", "MINUTE", 1, 6000),
        Limit("ORDERS", "SECOND", 10, 100),
        Limit("ORDERS", "DAY", 1, 200_000),
    )
    usdm = limits_from_exchange_info(venue.exchange_info("usdm"))
    return RateLimitConfig(
        limits={
            "spot": spot,
            "sapi": (Limit("REQUEST_WEIGHT", "MINUTE", 1, 12_000),),
            "usdm": usdm,
            "coinm": (Limit("REQUEST_WEIGHT", "MINUTE", 1, 2400),),
        }
    )


def served_rate_limits(config: RateLimitConfig) -> dict[str, list[dict[str, Any]]]:
    """The ``rateLimits`` the exchangeInfo serves: the limits actually enforced."""
    out: dict[str, list[dict[str, Any]]] = {}
    for market in ("spot", "usdm"):
        out[market] = [
            {
                "rateLimitType": lim.kind,
                "interval": lim.interval,
                "intervalNum": lim.interval_num,
                "limit": lim.limit,
            }
            for lim in config.family_limits(market)
        ]
    return out


def load_funding_rates(datadir: Path, symbols: list[str]) -> dict[str, tuple[Any, Any]]:
    """Funding-rate history per perpetual from ``<datadir>/futures/*-funding_rate.feather``."""
    import numpy as np
    import pandas as pd

    out: dict[str, tuple[Any, Any]] = {}
    for path in sorted((datadir / "futures").glob("*_*_*-*-funding_rate.feather")):
        base, quote = path.name.split("-")[0].split("_")[:2]
        symbol = base + quote
        if symbol not in symbols:
            continue
        try:
            df = pd.read_feather(path, columns=["date", "open"]).dropna().sort_values("date")
        except Exception:  # noqa: BLE001 - a bad file only loses its funding history
            logger.warning("localex: cannot read funding rates %s; using the default", path)
            continue
        if df.empty:
            continue
        times = (df["date"].astype("int64") // 1_000_000).to_numpy(dtype=np.int64)
        out[symbol] = (times, df["open"].to_numpy(float))
    return out
