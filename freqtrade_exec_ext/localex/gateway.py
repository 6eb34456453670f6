"""One request in, one Binance answer out: routing, faults, rate limits, auth (pure).

The HTTP layer (``server.py``) turns each request into a :class:`Request` and calls
:meth:`Gateway.admit`, sleeps the :class:`Plan`'s ``delay_s`` if any, calls
:meth:`Gateway.execute`, then sleeps the :class:`Reply`'s ``delay_s`` before answering.

Order of work for a request, as on Binance: route (404 for paths the venue does not serve),
rate limits (429/418), scripted faults, signature (SIGNED endpoints), then the endpoint.
Every answer carries the ``X-MBX-USED-WEIGHT-*`` headers of its API family.

``/_admin/*`` (not a Binance path) lets a process drive the venue over HTTP: faults,
venue-side cancels, state and fills; it needs the per-run admin token (``admin.py``).
``/_localex/ready`` answers ``{"ready": true}`` outside rate limits, faults and the token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from freqtrade_exec_ext.localex import admin, auth, replay_clock
from freqtrade_exec_ext.localex.daemon import READY_PATH
from freqtrade_exec_ext.localex.errors import VenueError
from freqtrade_exec_ext.localex.faults import (
    ORDER_KINDS,
    Fault,
    FaultScript,
    OrderFaults,
)
from freqtrade_exec_ext.localex.late import LateRequests
from freqtrade_exec_ext.localex.messages import UNKNOWN_ERROR, HttpStats, Plan, Reply, Request
from freqtrade_exec_ext.localex.ratelimit import RateLimiter, request_weight
from freqtrade_exec_ext.localex.routes import resolve
from freqtrade_exec_ext.localex.trading import TradingEngine
from freqtrade_exec_ext.localex.venue import MarketVenue

logger = logging.getLogger(__name__)

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


def _wall_ms() -> int:
    return int(time.time() * 1000)


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
        *,
        admin_token: str | None = None,
        http_stats: HttpStats | None = None,
    ) -> None:
        self.market = market
        self.engine = engine
        self.limiter = limiter
        self.faults = faults
        self.api_keys = dict(api_keys)
        self.wall_ms = wall_ms
        self.requests = 0
        self.late = LateRequests()
        #: ``/_admin/*`` needs it (a random one unless given): fail closed
        self.admin_token = admin_token or admin.new_admin_token()
        self.http_stats = http_stats or HttpStats()

    # ---------------------------------------------------------------- pipeline

    def admit(self, req: Request) -> Plan | Reply:
        if req.path == READY_PATH:  # readiness probe: no rate limit, fault or token
            note = replay_clock.start_note(self.market.clock)
            return Reply(200, {"ready": True, "start_note": note})
        self.run_late()  # what was due before this request reaches the engine first
        self.requests += 1
        method = req.method.upper()
        if req.path.startswith("/_admin/"):
            return admin.authorized(self, req) or admin.handle(self, req)
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
        plan = Plan(req, route, params, headers, fault, received_ms=now)
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
        if kind == "late_execute":
            return self._hold_back(plan, fault, now)
        return plan  # ambiguous, executed timeout, order-level kinds: after execution

    def _hold_back(self, plan: Plan, fault: Fault, now: int) -> Reply:
        """``late_execute``: answer -1007 now, execute the request later (if still valid)."""
        h = plan.headers
        if plan.route.signed:
            try:  # a request Binance would refuse on receipt is refused, not held back
                self._authenticate(plan, now)
            except VenueError as exc:
                return Reply(exc.status, exc.body(), h)
        self.late.hold(plan, now + int(fault.execute_after_s * 1000), now)
        body = {"code": fault.code or -1007, "msg": fault.msg or UNKNOWN_MSG}
        return Reply(fault.status or 504, body, h, fault.delay_s or 0.0)

    def run_late(self, now: int | None = None) -> list[dict[str, Any]]:
        """Execute the held-back requests that are due (``late_execute``); their outcomes."""
        out = []
        for item in self.late.due(self.wall_ms() if now is None else now):
            reply = self.execute(item.plan)
            out.append(self.late.record(item, reply, self.wall_ms()))
        return out

    def _authenticate(self, plan: Plan, now: int) -> None:
        req = plan.request
        auth.verify_signed(
            query=req.query,
            body=req.body,
            params=plan.params,
            headers=req.headers,
            keys=self.api_keys,
            now_ms=now,
        )

    @staticmethod
    def _timeout_reply(fault: Fault, headers: dict[str, str]) -> Reply:
        delay = fault.delay_s if fault.delay_s is not None else DEFAULT_TIMEOUT_S
        return Reply(504, {"code": -1007, "msg": UNKNOWN_MSG}, headers, delay)

    def execute(self, plan: Plan) -> Reply:
        req, route, h = plan.request, plan.route, plan.headers
        try:
            if route.signed:  # as checked on receipt
                received = plan.received_ms
                self._authenticate(plan, self.wall_ms() if received is None else received)
            with self.engine.lock:
                if route.signed:  # and again on arrival at the matching engine (auth.py)
                    auth.check_engine_window(plan.params, self.wall_ms(), route.market)
                result = route.handler(plan, self)
        except VenueError as exc:
            return Reply(exc.status, exc.body(), h)
        except Exception:  # a venue bug must not look like a Binance answer (nor show one)
            logger.exception("localex: %s %s failed", req.method, req.path)
            self.http_stats.errors += 1
            return Reply(500, {"code": -1000, "msg": UNKNOWN_ERROR}, h)
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
