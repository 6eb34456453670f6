"""Binance's request-weight and order-count limits, 429 then 418 bans (pure).

Every endpoint has a *weight* (Binance's published values, see :func:`request_weight`).
Weights add up per client IP and per API family (``spot`` = ``/api``, ``sapi``, ``usdm`` =
``/fapi``, ``coinm`` = ``/dapi``) in fixed windows aligned on the clock, like Binance's
``X-MBX-USED-WEIGHT-1M``.  Order-placing requests also count against the ORDERS limits
(``X-MBX-ORDER-COUNT-10S``, ``-1D`` spot; ``-10S``, ``-1M`` futures).  The limits come from
the ``rateLimits`` of the bundled exchangeInfo unless overridden.

Over a limit the answer is HTTP 429 (``-1003`` for weight, ``-1015`` for orders) with a
``Retry-After`` header (seconds to the end of the window).  Until then the client must back
off: every request it still sends in that time is a *violation* and is answered 429 again;
``ban_after`` violations get the IP banned, HTTP 418, for ``ban_ms`` (doubling for each
new ban, at most 3 days), as Binance describes ("repeatedly violating rate limits and/or
failing to back off after receiving 429s will result in an automated IP ban").  Binance
does not publish its ban threshold; ``ban_after`` (default 10) is this venue's choice.

``scale`` shrinks every window (``scale=30``: a one-minute window lasts 2 s) so tests can
exhaust and recover from a limit quickly.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, replace
from typing import Any

FAMILIES = ("spot", "sapi", "usdm", "coinm")
INTERVAL_MS = {"SECOND": 1_000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}
INTERVAL_LETTER = {"SECOND": "S", "MINUTE": "M", "HOUR": "H", "DAY": "D"}
MAX_BAN_MS = 3 * 86_400_000
BACKOFF_MSG = (
    "Too many requests; current limit exceeded, back off for Retry-After seconds. Repeated "
    "violations lead to an IP ban. Please use WebSocket Streams for live updates."
)


@dataclass(frozen=True)
class Limit:
    kind: str  # REQUEST_WEIGHT | ORDERS
    interval: str  # SECOND | MINUTE | HOUR | DAY
    interval_num: int
    limit: int

    @property
    def window_ms(self) -> int:
        return INTERVAL_MS[self.interval] * self.interval_num

    @property
    def header_suffix(self) -> str:
        return f"{self.interval_num}{INTERVAL_LETTER[self.interval]}"

    @property
    def label(self) -> str:
        return f"{self.interval_num} {self.interval}"


def limits_from_exchange_info(info: dict[str, Any]) -> tuple[Limit, ...]:
    out = []
    for r in info.get("rateLimits", []):
        if r.get("rateLimitType") in ("REQUEST_WEIGHT", "ORDERS") and r.get("interval") in (
            INTERVAL_MS
        ):
            out.append(
                Limit(r["rateLimitType"], r["interval"], int(r["intervalNum"]), int(r["limit"]))
            )
    return tuple(out)


@dataclass(frozen=True)
class RateLimitConfig:
    """Limits per API family; ``weight_limit`` overrides every REQUEST_WEIGHT limit."""

    limits: dict[str, tuple[Limit, ...]] = field(default_factory=dict)
    enabled: bool = True
    scale: float = 1.0
    ban_after: int = 10
    ban_ms: int = 120_000
    weight_limit: int | None = None
    order_limit_10s: int | None = None

    def family_limits(self, family: str) -> tuple[Limit, ...]:
        base = self.limits.get(family, ())
        out = []
        for lim in base:
            if lim.kind == "REQUEST_WEIGHT" and self.weight_limit is not None:
                lim = replace(lim, limit=self.weight_limit)
            if (
                lim.kind == "ORDERS"
                and self.order_limit_10s is not None
                and lim.window_ms == 10_000
            ):
                lim = replace(lim, limit=self.order_limit_10s)
            out.append(lim)
        return tuple(out)

    def window_ms(self, lim: Limit) -> int:
        return max(1, int(lim.window_ms / self.scale))


@dataclass
class Decision:
    allowed: bool
    status: int = 200
    code: int = 0
    msg: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


@dataclass
class _IpState:
    counters: dict[tuple[str, str, int], tuple[int, int]] = field(default_factory=dict)
    backoff_until: int = 0
    violations: int = 0
    banned_until: int = 0
    bans: int = 0


class RateLimiter:
    """Per-IP counters.  ``check`` is called once per request, before it is processed."""

    def __init__(self, config: RateLimitConfig) -> None:
        self.config = config
        self._ips: dict[str, _IpState] = {}
        self._lock = threading.Lock()
        self.log: list[tuple[int, str, int]] = []  # (ms, ip, status) of every 429/418
        self.violations = 0  # requests sent inside a Retry-After window (toward a ban)

    def _bucket(self, st: _IpState, family: str, lim: Limit, now_ms: int) -> tuple[int, int]:
        win = self.config.window_ms(lim)
        start = now_ms // win * win
        key = (family, lim.kind, lim.window_ms)
        cur_start, used = st.counters.get(key, (start, 0))
        if cur_start != start:
            used = 0
        return start, used

    def _used_headers(self, st: _IpState, family: str, now_ms: int) -> dict[str, str]:
        headers: dict[str, str] = {}
        for lim in self.config.family_limits(family):
            _, used = self._bucket(st, family, lim, now_ms)
            name = "USED-WEIGHT" if lim.kind == "REQUEST_WEIGHT" else "ORDER-COUNT"
            headers[f"X-MBX-{name}-{lim.header_suffix}"] = str(used)
        return headers

    def check(self, ip: str, family: str, weight: int, is_order: bool, now_ms: int) -> Decision:
        with self._lock:
            st = self._ips.setdefault(ip, _IpState())
            if not self.config.enabled:
                return Decision(True)
            if now_ms < st.banned_until:
                return self._banned(ip, st, now_ms)
            if now_ms < st.backoff_until:
                st.violations += 1
                self.violations += 1
                if st.violations >= self.config.ban_after:
                    return self._ban(ip, st, now_ms)
                retry = math.ceil((st.backoff_until - now_ms) / 1000)
                return self._too_many(ip, st, family, now_ms, retry, BACKOFF_MSG)
            st.violations = 0
            # count the request, then see whether a limit is over
            over: tuple[Limit, int] | None = None
            for lim in self.config.family_limits(family):
                if lim.kind == "ORDERS" and not is_order:
                    continue
                start, used = self._bucket(st, family, lim, now_ms)
                used += weight if lim.kind == "REQUEST_WEIGHT" else 1
                st.counters[(family, lim.kind, lim.window_ms)] = (start, used)
                if used > lim.limit and over is None:
                    over = (lim, start + self.config.window_ms(lim))
            headers = self._used_headers(st, family, now_ms)
            if over is None:
                return Decision(True, headers=headers)
            lim, window_end = over
            st.backoff_until = window_end
            retry = max(1, math.ceil((window_end - now_ms) / 1000))
            if lim.kind == "REQUEST_WEIGHT":
                msg = (
                    f"Too much request weight used; current limit is {lim.limit} request weight "
                    f"per {lim.label}. Please use WebSocket Streams for live updates to avoid "
                    "polling the API."
                )
                return self._too_many(ip, st, family, now_ms, retry, msg, code=-1003)
            msg = f"Too many new orders; current limit is {lim.limit} orders per {lim.label}."
            return self._too_many(ip, st, family, now_ms, retry, msg, code=-1015)

    def force_backoff(self, ip: str, now_ms: int, retry_after_s: float) -> None:
        """A scripted 429: the client must now back off like after a real one."""
        with self._lock:
            st = self._ips.setdefault(ip, _IpState())
            st.backoff_until = max(st.backoff_until, now_ms + int(retry_after_s * 1000))
            self.log.append((now_ms, ip, 429))

    def force_ban(self, ip: str, now_ms: int, ban_ms: int | None = None) -> int:
        with self._lock:
            st = self._ips.setdefault(ip, _IpState())
            st.banned_until = now_ms + (ban_ms if ban_ms is not None else self.config.ban_ms)
            st.bans += 1
            self.log.append((now_ms, ip, 418))
            return st.banned_until

    def bans(self) -> int:
        """How many times an IP was banned (418) since the start."""
        with self._lock:
            return sum(s.bans for s in self._ips.values())

    def status_counts(self) -> dict[int, int]:
        with self._lock:
            out: dict[int, int] = {}
            for _, _, status in self.log:
                out[status] = out.get(status, 0) + 1
            return out

    def reset(self) -> None:
        with self._lock:
            self._ips.clear()
            self.log.clear()
            self.violations = 0

    # ---------------------------------------------------------------- answers

    def _too_many(
        self,
        ip: str,
        st: _IpState,
        family: str,
        now_ms: int,
        retry: int,
        msg: str,
        code: int = -1003,
    ) -> Decision:
        self.log.append((now_ms, ip, 429))
        headers = self._used_headers(st, family, now_ms)
        headers["Retry-After"] = str(retry)
        return Decision(False, 429, code, msg, headers)

    def _ban(self, ip: str, st: _IpState, now_ms: int) -> Decision:
        dur = min(self.config.ban_ms * (2**st.bans), MAX_BAN_MS)
        st.banned_until = now_ms + dur
        st.bans += 1
        st.violations = 0
        return self._banned(ip, st, now_ms)

    def _banned(self, ip: str, st: _IpState, now_ms: int) -> Decision:
        self.log.append((now_ms, ip, 418))
        retry = max(1, math.ceil((st.banned_until - now_ms) / 1000))
        msg = (
            f"Way too much request weight used; IP banned until {st.banned_until}. Please use "
            "WebSocket Streams for live updates to avoid bans."
        )
        return Decision(False, 418, -1003, msg, {"Retry-After": str(retry)})


# ------------------------------------------------------------------ weights

_SPOT_DEPTH = ((100, 5), (500, 25), (1000, 50), (5000, 250))
_USDM_DEPTH = ((50, 2), (100, 5), (500, 10), (1000, 20))
_USDM_KLINES = ((99, 1), (499, 2), (1000, 5), (1500, 10))

# (family, METHOD, path without the /api/v3-like prefix) -> weight
_FIXED: dict[tuple[str, str, str], int] = {
    ("spot", "GET", "ping"): 1,
    ("spot", "GET", "time"): 1,
    ("spot", "GET", "exchangeInfo"): 20,
    ("spot", "GET", "klines"): 2,
    ("spot", "GET", "uiKlines"): 2,
    ("spot", "GET", "avgPrice"): 2,
    ("spot", "POST", "order"): 1,
    ("spot", "GET", "order"): 4,
    ("spot", "DELETE", "order"): 1,
    ("spot", "DELETE", "openOrders"): 1,
    ("spot", "GET", "allOrders"): 20,
    ("spot", "GET", "account"): 20,
    ("spot", "GET", "myTrades"): 20,
    ("spot", "GET", "account/commission"): 20,
    ("sapi", "GET", "spot/delist-schedule"): 100,
    ("sapi", "GET", "asset/tradeFee"): 1,
    ("usdm", "GET", "ping"): 1,
    ("usdm", "GET", "time"): 1,
    ("usdm", "GET", "exchangeInfo"): 1,
    ("usdm", "GET", "fundingRate"): 1,
    ("usdm", "GET", "leverageBracket"): 1,
    ("usdm", "POST", "order"): 0,
    ("usdm", "GET", "order"): 1,
    ("usdm", "DELETE", "order"): 1,
    ("usdm", "DELETE", "allOpenOrders"): 1,
    ("usdm", "GET", "allOrders"): 5,
    ("usdm", "GET", "account"): 5,
    ("usdm", "GET", "balance"): 5,
    ("usdm", "GET", "positionRisk"): 5,
    ("usdm", "GET", "userTrades"): 5,
    ("usdm", "GET", "income"): 30,
    ("usdm", "POST", "leverage"): 1,
    ("usdm", "POST", "marginType"): 1,
    ("usdm", "GET", "positionSide/dual"): 30,
    ("usdm", "GET", "multiAssetsMargin"): 30,
    ("usdm", "GET", "commissionRate"): 20,
    ("usdm", "POST", "algoOrder"): 0,
    ("usdm", "GET", "algoOrder"): 1,
    ("usdm", "DELETE", "algoOrder"): 1,
    ("usdm", "GET", "allAlgoOrders"): 5,
}


def _by_limit(table: tuple[tuple[int, int], ...], limit: int) -> int:
    for upto, w in table:
        if limit <= upto:
            return w
    return table[-1][1]


def _int(params: dict[str, str], name: str, default: int) -> int:
    try:
        return int(params.get(name) or default)
    except ValueError:
        return default


def _spot_weight(method: str, path: str, params: dict[str, str]) -> int | None:
    has_symbol = bool(params.get("symbol"))
    if path == "depth":
        return _by_limit(_SPOT_DEPTH, _int(params, "limit", 100))
    if path == "ticker/24hr":
        if has_symbol:
            return 2
        n = params["symbols"].count(",") + 1 if params.get("symbols") else 0
        return 80 if n == 0 or n > 100 else 2 if n <= 20 else 40
    if path in ("ticker/price", "ticker/bookTicker"):
        return 2 if has_symbol else 4
    if path == "openOrders" and method == "GET":
        return 6 if has_symbol else 80
    return None


_USDM_SYMBOL_OR_ALL = {
    "ticker/24hr": (1, 40),
    "ticker/price": (1, 2),
    "ticker/bookTicker": (2, 5),
    "premiumIndex": (1, 10),
}


def _usdm_weight(method: str, path: str, params: dict[str, str]) -> int | None:
    has_symbol = bool(params.get("symbol"))
    if path == "depth":
        return _by_limit(_USDM_DEPTH, _int(params, "limit", 500))
    if path in ("klines", "markPriceKlines", "indexPriceKlines", "continuousKlines"):
        return _by_limit(_USDM_KLINES, _int(params, "limit", 500))
    if path in _USDM_SYMBOL_OR_ALL:
        one, every = _USDM_SYMBOL_OR_ALL[path]
        return one if has_symbol else every
    if path in ("openOrders", "openAlgoOrders") and method == "GET":
        return 1 if has_symbol else 40
    return None


def request_weight(family: str, method: str, path: str, params: dict[str, str]) -> int:
    """Binance's weight of one request (``path`` without its ``/api/v3``-like prefix)."""
    w = None
    if family == "spot":
        w = _spot_weight(method, path, params)
    elif family == "usdm":
        w = _usdm_weight(method, path, params)
    return w if w is not None else _FIXED.get((family, method, path), 1)
