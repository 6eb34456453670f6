"""One request in, one Binance answer out: routing, faults, rate limits, auth (pure).

The HTTP layer (``server.py``) turns each request into a :class:`Request` and calls
:meth:`Gateway.admit`, sleeps the :class:`Plan`'s ``delay_s`` if any, calls
:meth:`Gateway.execute`, then sleeps the :class:`Reply`'s ``delay_s`` before answering.

Order of work for a request, as on Binance: route (404 for paths the venue does not serve),
rate limits (429/418), scripted faults, signature (SIGNED endpoints), then the endpoint.
Every answer carries the ``X-MBX-USED-WEIGHT-*`` headers of its API family.

``/_admin/*`` (not a Binance path) lets a process drive the venue over HTTP: faults,
venue-side cancels, state and fills.  The server only listens on loopback.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from freqtrade_exec_ext.localex import api_algo, api_spot, api_usdm, api_usdm_public, auth
from freqtrade_exec_ext.localex.errors import VenueError, int_param
from freqtrade_exec_ext.localex.faults import (
    ORDER_KINDS,
    Fault,
    FaultError,
    FaultScript,
    OrderFaults,
)
from freqtrade_exec_ext.localex.ratelimit import RateLimiter, request_weight
from freqtrade_exec_ext.localex.trading import TradingEngine
from freqtrade_exec_ext.localex.venue import MarketVenue

logger = logging.getLogger(__name__)

# URL prefix -> API family (rate limits) and market (answers)
PREFIXES: dict[str, tuple[str, str]] = {
    "/api/v3": ("spot", "spot"),
    "/sapi/v1": ("sapi", "spot"),
    "/fapi/v1": ("usdm", "usdm"),
    "/fapi/v2": ("usdm", "usdm"),
    "/fapi/v3": ("usdm", "usdm"),
    "/dapi/v1": ("coinm", "coinm"),
}
DEFAULT_TIMEOUT_S = 15.0
UNKNOWN_MSG = (
    "Timeout waiting for response from backend server. Send status unknown; "
    "execution status unknown."
)
REJECTS = {
    ("insufficient_balance", "spot"): (
        -2010,
        "Account has insufficient balance for requested action.",
    ),
    ("insufficient_balance", "usdm"): (-2019, "Margin is insufficient."),
    ("min_notional", "spot"): (-1013, "Filter failure: MIN_NOTIONAL"),
    ("min_notional", "usdm"): (
        -4164,
        "Order's notional must be no smaller than 5 (unless you choose reduce only).",
    ),
}
HTTP_ERROR_BODIES = {
    500: (-1001, "Internal error; unable to process your request. Please try again."),
    502: (-1001, "Internal error; unable to process your request. Please try again."),
    503: (-1008, "Service Unavailable."),
    504: (-1007, UNKNOWN_MSG),
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str = ""
    body: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    client: str = "127.0.0.1"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Plan:
    """An admitted request: run :meth:`Gateway.execute` after ``delay_s``."""

    request: Request
    route: Route
    params: dict[str, str]
    headers: dict[str, str]
    fault: Fault | None = None
    delay_s: float = 0.0


@dataclass(frozen=True)
class Route:
    family: str
    market: str
    method: str
    name: str
    signed: bool
    handler: Callable[[Plan, Gateway], Any]
    creates_order: bool = False


def _wall_ms() -> int:
    return int(time.time() * 1000)


def _symbols(params: Mapping[str, str]) -> list[str] | None:
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


# ------------------------------------------------------------------ route table

_PUBLIC: dict[str, Callable[[MarketVenue, TradingEngine, str, Mapping[str, str]], Any]] = {
    "ping": lambda v, e, m, q: {},
    "time": lambda v, e, m, q: {"serverTime": v.server_time()},
    "exchangeInfo": lambda v, e, m, q: v.exchange_info(m),
    "depth": lambda v, e, m, q: v.depth(m, q.get("symbol"), int_param(q, "limit")),
    "ticker/24hr": lambda v, e, m, q: v.ticker_24hr(m, q.get("symbol"), _symbols(q)),
    "ticker/bookTicker": lambda v, e, m, q: v.book_ticker(m, q.get("symbol"), _symbols(q)),
    "ticker/price": lambda v, e, m, q: v.price_ticker(m, q.get("symbol"), _symbols(q)),
}
_KLINES = ("klines", "uiKlines", "markPriceKlines", "indexPriceKlines", "continuousKlines")
_USDM_PUBLIC: dict[str, Callable[[TradingEngine, Mapping[str, str]], Any]] = {
    "premiumIndex": api_usdm_public.premium_index,
    "fundingRate": api_usdm_public.funding_rate_history,
    "fundingInfo": api_usdm_public.funding_info,
}
# (family, method, name) -> (handler, creates_order)
_PRIVATE: dict[tuple[str, str, str], tuple[Callable[..., Any], bool]] = {
    ("spot", "POST", "order"): (api_spot.spot_new_order, True),
    ("spot", "GET", "order"): (api_spot.spot_get_order, False),
    ("spot", "DELETE", "order"): (api_spot.spot_cancel_order, False),
    ("spot", "DELETE", "openOrders"): (api_spot.spot_cancel_all, False),
    ("spot", "GET", "openOrders"): (api_spot.spot_open_orders, False),
    ("spot", "GET", "allOrders"): (api_spot.spot_all_orders, False),
    ("spot", "GET", "myTrades"): (api_spot.spot_my_trades, False),
    ("spot", "GET", "account"): (api_spot.spot_account, False),
    ("spot", "GET", "account/commission"): (api_spot.spot_commission, False),
    ("sapi", "GET", "spot/delist-schedule"): (api_spot.sapi_delist_schedule, False),
    ("sapi", "GET", "asset/tradeFee"): (api_spot.sapi_trade_fee, False),
    ("usdm", "POST", "order"): (api_usdm.usdm_new_order, True),
    ("usdm", "GET", "order"): (api_usdm.usdm_get_order, False),
    ("usdm", "DELETE", "order"): (api_usdm.usdm_cancel_order, False),
    ("usdm", "DELETE", "allOpenOrders"): (api_usdm.usdm_cancel_all, False),
    ("usdm", "GET", "openOrders"): (api_usdm.usdm_open_orders, False),
    ("usdm", "GET", "openOrder"): (api_usdm.usdm_open_order, False),
    ("usdm", "GET", "allOrders"): (api_usdm.usdm_all_orders, False),
    ("usdm", "GET", "userTrades"): (api_usdm.usdm_user_trades, False),
    ("usdm", "GET", "account"): (api_usdm.usdm_account, False),
    ("usdm", "GET", "balance"): (api_usdm.usdm_balance, False),
    ("usdm", "GET", "positionRisk"): (api_usdm.usdm_position_risk, False),
    ("usdm", "POST", "leverage"): (api_usdm.usdm_set_leverage, False),
    ("usdm", "POST", "marginType"): (api_usdm.usdm_set_margin_type, False),
    ("usdm", "GET", "positionSide/dual"): (api_usdm.usdm_position_side, False),
    ("usdm", "POST", "positionSide/dual"): (api_usdm.usdm_set_position_side, False),
    ("usdm", "GET", "multiAssetsMargin"): (api_usdm.usdm_multi_assets, False),
    ("usdm", "GET", "leverageBracket"): (api_usdm.usdm_leverage_bracket, False),
    ("usdm", "GET", "income"): (api_usdm.usdm_income, False),
    ("usdm", "GET", "commissionRate"): (api_usdm.usdm_commission_rate, False),
    ("usdm", "POST", "algoOrder"): (api_algo.usdm_new_algo, True),
    ("usdm", "GET", "algoOrder"): (api_algo.usdm_get_algo, False),
    ("usdm", "DELETE", "algoOrder"): (api_algo.usdm_cancel_algo, False),
    ("usdm", "GET", "openAlgoOrders"): (api_algo.usdm_open_algos, False),
    ("usdm", "GET", "allAlgoOrders"): (api_algo.usdm_all_algos, False),
}


def _public_handler(name: str) -> Callable[[Plan, Gateway], Any]:
    if name in _KLINES:
        return lambda plan, gw: gw.market.klines(
            plan.route.market,
            plan.params.get("symbol") or plan.params.get("pair"),
            plan.params.get("interval"),
            int_param(plan.params, "startTime"),
            int_param(plan.params, "endTime"),
            int_param(plan.params, "limit"),
        )
    if name in _USDM_PUBLIC:
        fn = _USDM_PUBLIC[name]
        return lambda plan, gw: fn(gw.engine, plan.params)
    fn2 = _PUBLIC[name]
    return lambda plan, gw: fn2(gw.market, gw.engine, plan.route.market, plan.params)


def _private_handler(fn: Callable[..., Any], creates: bool) -> Callable[[Plan, Gateway], Any]:
    if creates:
        return lambda plan, gw: fn(gw.engine, plan.params, gw.order_faults(plan.fault))
    return lambda plan, gw: fn(gw.engine, plan.params)


def resolve(method: str, path: str) -> Route | None:
    for prefix, (family, market) in PREFIXES.items():
        if not path.startswith(prefix + "/"):
            continue
        name = path[len(prefix) + 1 :]
        key = (family, method, name)
        if key in _PRIVATE:
            fn, creates = _PRIVATE[key]
            return Route(family, market, method, name, True, _private_handler(fn, creates), creates)
        public = name in _PUBLIC or name in _KLINES or (family == "usdm" and name in _USDM_PUBLIC)
        if public and method == "GET" and family != "sapi":
            return Route(family, market, method, name, False, _public_handler(name))
        return None
    return None


# ------------------------------------------------------------------ the gateway


class Gateway:
    def __init__(
        self,
        market: MarketVenue,
        engine: TradingEngine,
        limiter: RateLimiter,
        faults: FaultScript,
        api_keys: Mapping[str, str],
        wall_ms: Callable[[], int] = _wall_ms,
    ) -> None:
        self.market = market
        self.engine = engine
        self.limiter = limiter
        self.faults = faults
        self.api_keys = dict(api_keys)
        self.wall_ms = wall_ms
        self.requests = 0

    # ---------------------------------------------------------------- pipeline

    def admit(self, req: Request) -> Plan | Reply:
        self.requests += 1
        method = req.method.upper()
        if req.path.startswith("/_admin/"):
            return self.admin(req)
        route = resolve(method, req.path)
        if route is None:
            return Reply(
                404,
                {
                    "code": -1000,
                    "msg": f"localex: {method} {req.path} is not implemented by the local exchange",
                },
            )
        params = dict(parse_qsl(req.query, keep_blank_values=True))
        if req.body and method in ("POST", "PUT", "DELETE"):
            params.update(parse_qsl(req.body, keep_blank_values=True))
        params.pop("signature", None)
        now = self.wall_ms()
        weight = request_weight(route.family, method, route.name, params)
        decision = self.limiter.check(req.client, route.family, weight, route.creates_order, now)
        headers = dict(decision.headers)
        if not decision.allowed:
            return Reply(decision.status, decision.body(), headers)
        fault = self.faults.fire(
            method, req.path, params.get("symbol"), creates_order=route.creates_order
        )
        plan = Plan(req, route, params, headers, fault)
        if fault is None:
            return plan
        return self._pre_fault(plan, fault, now)

    def _pre_fault(self, plan: Plan, fault: Fault, now: int) -> Plan | Reply:
        h = plan.headers
        kind = fault.kind
        if kind == "latency":
            plan.delay_s = fault.delay_s if fault.delay_s is not None else 1.0
            return plan
        if kind == "http_error":
            status = fault.status or 503
            code, msg = HTTP_ERROR_BODIES.get(status, (-1000, "An unknown error occured."))
            body = {"code": fault.code or code, "msg": fault.msg or msg}
            return Reply(status, body, h, fault.delay_s or 0.0)
        if kind == "rate_limit":
            self.limiter.force_backoff(plan.request.client, now, fault.retry_after_s)
            h["Retry-After"] = str(max(1, round(fault.retry_after_s)))
            body = {
                "code": fault.code or -1003,
                "msg": fault.msg
                or "Too much request weight used; current limit is exceeded. "
                "Please use WebSocket Streams for live updates to avoid polling the API.",
            }
            return Reply(429, body, h, fault.delay_s or 0.0)
        if kind == "ban":
            until = self.limiter.force_ban(plan.request.client, now, int(fault.ban_s * 1000))
            h["Retry-After"] = str(max(1, round(fault.ban_s)))
            msg = (
                f"Way too much request weight used; IP banned until {until}. Please use "
                "WebSocket Streams for live updates to avoid bans."
            )
            return Reply(418, {"code": -1003, "msg": msg}, h, fault.delay_s or 0.0)
        if kind == "reject":
            if fault.reason:
                code, msg = REJECTS[(fault.reason, plan.route.market)]
            else:
                code, msg = fault.code or -1000, fault.msg or "Rejected."
            return Reply(fault.status or 400, {"code": code, "msg": msg}, h, fault.delay_s or 0)
        if kind == "timeout" and not fault.execute:
            return self._timeout_reply(fault, h)
        return plan  # ambiguous, executed timeout, order-level kinds: after execution

    @staticmethod
    def _timeout_reply(fault: Fault, headers: dict[str, str]) -> Reply:
        delay = fault.delay_s if fault.delay_s is not None else DEFAULT_TIMEOUT_S
        return Reply(504, {"code": -1007, "msg": UNKNOWN_MSG}, headers, delay)

    def execute(self, plan: Plan) -> Reply:
        req, route, h = plan.request, plan.route, plan.headers
        try:
            if route.signed:
                auth.verify_signed(
                    query=req.query,
                    body=req.body,
                    params=plan.params,
                    headers=req.headers,
                    keys=self.api_keys,
                    now_ms=self.wall_ms(),
                )
            with self.engine.lock:
                result = route.handler(plan, self)
        except VenueError as exc:
            return Reply(exc.status, exc.body(), h)
        except Exception as exc:  # a venue bug must not look like a Binance answer
            logger.exception("localex: %s %s failed", req.method, req.path)
            return Reply(500, {"code": -1000, "msg": f"localex internal error: {exc!r}"}, h)
        fault = plan.fault
        if fault is not None and fault.kind == "ambiguous":
            status = fault.status or 503
            body = {"code": fault.code or -1007, "msg": fault.msg or UNKNOWN_MSG}
            return Reply(status, body, h, fault.delay_s or 0.0)
        if fault is not None and fault.kind == "timeout":
            return self._timeout_reply(fault, h)
        return Reply(200, result, h)

    def handle(self, req: Request) -> Reply:
        """Admit and execute without sleeping (delays are left to the caller)."""
        plan = self.admit(req)
        if isinstance(plan, Reply):
            return plan
        reply = self.execute(plan)
        reply.delay_s += plan.delay_s
        return reply

    def order_faults(self, fault: Fault | None) -> OrderFaults | None:
        if fault is None or fault.kind not in ORDER_KINDS:
            return None
        if fault.kind == "partial_fill":
            return OrderFaults(fill_cap_ratio=fault.ratio, fault_ids=[fault.id])
        return OrderFaults(
            cancel_after_ms=int((fault.delay_s or 0.0) * 1000),
            cancel_status=fault.status_text,
            fault_ids=[fault.id],
        )

    # ---------------------------------------------------------------- admin

    def admin(self, req: Request) -> Reply:
        name = req.path[len("/_admin/") :].strip("/")
        method = req.method.upper()
        try:
            payload = json.loads(req.body) if req.body.strip() else None
        except ValueError:
            return Reply(400, {"error": "body is not JSON"})
        try:
            if name == "faults":
                return self._admin_faults(method, payload)
            if name == "cancel" and method == "POST":
                if not isinstance(payload, dict) or "order_id" not in payload:
                    return Reply(400, {"error": 'expected {"order_id": <id>}'})
                o = self.engine.venue_cancel(
                    int(payload["order_id"]), payload.get("status", "CANCELED")
                )
                return Reply(200, {"order_id": o.order_id, "status": o.status})
            if name == "state" and method == "GET":
                return Reply(200, self.state())
            if name == "fills" and method == "GET":
                return Reply(200, [fill_dict(f) for f in self.engine.fills])
        except (FaultError, KeyError, ValueError, TypeError) as exc:
            return Reply(400, {"error": str(exc)})
        return Reply(404, {"error": f"unknown admin call {method} /_admin/{name}"})

    def _admin_faults(self, method: str, payload: Any) -> Reply:
        if method == "GET":
            return Reply(
                200,
                {
                    "faults": [f.to_dict() for f in self.faults.active()],
                    "history": list(self.faults.history),
                },
            )
        if method == "DELETE":
            self.faults.clear()
            return Reply(200, {"cleared": True})
        if method == "POST":
            items = payload.get("faults", payload) if isinstance(payload, dict) else payload
            if isinstance(items, dict):
                items = [items]
            if not isinstance(items, list):
                return Reply(400, {"error": "expected a fault object or a list of them"})
            added = self.faults.extend(items)
            return Reply(200, {"added": [f.id for f in added]})
        return Reply(405, {"error": f"{method} /_admin/faults: use GET, POST or DELETE"})

    def state(self) -> dict[str, Any]:
        eng = self.engine
        with eng.lock:
            eng.step()
            return {
                "spot_balances": {a: {"free": b[0], "locked": b[1]} for a, b in eng.spot.items()},
                "futures_wallet": eng.wallet,
                "positions": {
                    s: {
                        "amount": p.amount,
                        "entry_price": p.entry_price,
                        "leverage": p.leverage,
                        "margin_type": p.margin_type,
                    }
                    for s, p in eng.positions.items()
                    if p.amount != 0
                },
                "open_orders": [
                    {
                        "order_id": o.order_id,
                        "market": o.market,
                        "symbol": o.symbol,
                        "side": o.side,
                        "type": o.type,
                        "status": o.status,
                        "orig_qty": o.orig_qty,
                        "executed_qty": o.executed_qty,
                    }
                    for o in eng.orders.values()
                    if o.is_open
                ],
                "orders": len(eng.orders),
                "fills": len(eng.fills),
                "rate_limit": {
                    "answers": self.limiter.status_counts(),
                    "bans": self.limiter.bans(),
                },
                "faults_fired": len(self.faults.history),
                "requests": self.requests,
            }


def fill_dict(f: Any) -> dict[str, Any]:
    return {
        "trade_id": f.trade_id,
        "order_id": str(f.order_id),
        "market": f.market,
        "symbol": f.symbol,
        "side": f.side,
        "price": f.price,
        "qty": f.qty,
        "quote_qty": f.quote_qty,
        "commission": f.commission,
        "commission_asset": f.commission_asset,
        "time": f.time,
        "is_maker": f.is_maker,
        "realized_pnl": f.realized_pnl,
    }
