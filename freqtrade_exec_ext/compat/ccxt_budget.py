"""Every request of Freqtrade's ccxt clients (sync and async) draws on the shared budget.

:func:`install_budget` wraps the clients' ``fetch`` (the HTTP request, after ccxt's own
limiter) and ``on_rest_response`` (every answer, errors included), the same two methods
the order guard wraps; each wrapper keeps the method it found and puts it back on
``uninstall``, so the two compose in either order.

Before a request: its Binance weight (the published per-endpoint weights, as the local
exchange enforces them) is reserved in the shared store; when the window or the bot's
quota is full, or a 429/418 seen by any bot asked every client to wait, the request is
held (the bot loop waits) up to ``max_hold_s``, beyond that refused as a
``ccxt.DDoSProtection`` (Freqtrade: a temporary error, the loop goes on).  After an
answer: a ``Retry-After`` and the exchange's ``X-MBX-USED-WEIGHT-1M`` go to the store.

Without a store (no ``exec_ext.budget`` configured) the hook only counts: weight, answers
by status, exchange errors; the metrics and the kill switch read those counts.

The store being unreachable never stops a request (an exit must go out): the request is
sent on ccxt's own limiter and the failure is counted and logged.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ccxt

from freqtrade_exec_ext.compat.exchange import ccxt_clients
from freqtrade_exec_ext.execution.budget import (
    BINANCE_LIMITS,
    WINDOW_MS,
    BudgetConfig,
    FamilyLimit,
    family_of,
    retry_after_s,
    used_weight,
)

logger = logging.getLogger(__name__)

MAX_HOLD_S = 65.0
REST_FAMILY = "rest"


@dataclass
class ClientCounts:
    """What the hook saw since it was installed (read by metrics and the kill switch)."""

    requests: int = 0
    weight: dict[str, int] = field(default_factory=dict)  # family -> weight sent
    statuses: dict[int, int] = field(default_factory=dict)
    holds: int = 0
    hold_s: float = 0.0
    refused: int = 0
    network_errors: int = 0
    store_errors: int = 0
    errors_since_take: int = 0  # 5xx, 418/429, network errors since take_errors()


def _is_order(url: str) -> bool:
    _, path, _ = family_of(url)
    return path in ("order", "algoOrder", "order/oco", "orderList/oco", "batchOrders")


def is_binance(exchange_id: str) -> bool:
    return exchange_id.startswith("binance")


def default_config(exchange_id: str, rate_limit_ms: float, raw: dict[str, Any]) -> BudgetConfig:
    """Limits per family: Binance's published ones (or ``exec_ext.budget.limits``), one
    ``rest`` family from ccxt's ``rateLimit`` for other exchanges."""
    if is_binance(exchange_id):
        limits = {f: FamilyLimit(n, WINDOW_MS) for f, n in BINANCE_LIMITS.items()}
    else:
        per_min = max(1, int(WINDOW_MS / max(float(rate_limit_ms or 50.0), 1.0)))
        limits = {REST_FAMILY: FamilyLimit(per_min, WINDOW_MS)}
    for fam, spec in (raw.get("limits") or {}).items():
        limits[str(fam)] = FamilyLimit(
            int(spec["limit"]), int(float(spec.get("window_s", 60)) * 1000)
        )
    share = raw.get("share")
    return BudgetConfig(
        limits=limits,
        headroom=float(raw.get("headroom", 0.1)),
        share=float(share) if share is not None else None,
        active_s=float(raw.get("active_s", 120.0)),
    )


class ClientBudget:
    """The hook on one Freqtrade exchange's ccxt clients."""

    def __init__(
        self,
        exchange: Any,
        store: Any,
        bot_id: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_hold_s: float = MAX_HOLD_S,
    ) -> None:
        self.api, self.api_async = ccxt_clients(exchange)
        self.exchange_id = str(getattr(self.api, "id", "") or "")
        self.store = store
        self.bot_id = bot_id
        self.clock = clock
        self.sleep = sleep
        self.max_hold_s = max_hold_s
        self.counts = ClientCounts()
        self._lock = threading.Lock()
        self._originals: list[tuple[Any, str, Any]] = []
        self._store_failing = False
        # order placements: True accepted, False rejected by the exchange (4xx but 418/429)
        self.order_results: deque[bool] = deque(maxlen=1000)
        self.orders_total = 0

    # ------------------------------------------------------------------ install
    def install(self) -> ClientBudget:
        if self._originals:
            return self
        self._wrap_sync(self.api)
        if self.api_async is not None:
            self._wrap_async(self.api_async)
        logger.info(
            "exec_ext: request budget %s for bot %s (%s)",
            "shared" if self.store is not None else "off (counting only)",
            self.bot_id,
            self.exchange_id,
        )
        return self

    def uninstall(self) -> None:
        for client, name, original in reversed(self._originals):
            setattr(client, name, original)
        self._originals = []

    def add_client(self, api: Any) -> None:
        """Count and hold another sync ccxt client of this bot (same IP) on the budget."""
        with self._lock:
            self._wrap_sync(api)

    def _wrap_sync(self, api: Any) -> None:
        fetch, on_resp = api.fetch, api.on_rest_response

        def budget_fetch(
            url: str, method: str = "GET", headers: Any = None, body: Any = None
        ) -> Any:
            self._hold(url, method)
            try:
                return fetch(url, method, headers, body)
            except ccxt.NetworkError:
                self._network_error()
                raise

        self._originals += [(api, "fetch", fetch), (api, "on_rest_response", on_resp)]
        api.fetch = budget_fetch
        api.on_rest_response = self._observer(on_resp)

    def _wrap_async(self, aapi: Any) -> None:
        afetch, on_resp = aapi.fetch, aapi.on_rest_response

        async def budget_afetch(
            url: str, method: str = "GET", headers: Any = None, body: Any = None
        ) -> Any:
            await self._ahold(url, method)
            try:
                return await afetch(url, method, headers, body)
            except ccxt.NetworkError:
                self._network_error()
                raise

        self._originals += [(aapi, "fetch", afetch), (aapi, "on_rest_response", on_resp)]
        aapi.fetch = budget_afetch
        aapi.on_rest_response = self._observer(on_resp)

    # ------------------------------------------------------------------ requests
    def _weigh(self, url: str, method: str) -> tuple[str, int]:
        family, path, params = family_of(url)
        if family is None or not is_binance(self.exchange_id):
            return REST_FAMILY if not is_binance(self.exchange_id) else "spot", 1
        from freqtrade_exec_ext.localex.ratelimit import request_weight

        return family, request_weight(family, method.upper(), path, params)

    def _reserve(self, url: str, method: str) -> tuple[str, int, float]:
        """(family, weight, seconds to wait first: 0 = sent now)."""
        family, weight = self._weigh(url, method)
        if self.store is None or family not in self.store.config.limits:
            return family, weight, 0.0
        try:
            grant = self.store.reserve(
                self.exchange_id, family, self.bot_id, weight, int(self.clock() * 1000)
            )
            self._store_ok()
        except Exception as exc:  # noqa: BLE001 - the budget never stops a request
            self._store_error(exc)
            return family, weight, 0.0
        return family, weight, grant.wait_s

    def _check_wait(self, family: str, waited: float, wait: float) -> None:
        if waited + wait > self.max_hold_s:
            with self._lock:
                self.counts.refused += 1
            self._note(family, waited, refused=True)
            raise ccxt.DDoSProtection(
                f"exec_ext: the shared request budget for {self.exchange_id} {family} has no "
                f"room for another {wait:.0f} s; request not sent"
            )

    def _held(self, family: str, weight: int, waited: float) -> None:
        with self._lock:
            self.counts.requests += 1
            self.counts.weight[family] = self.counts.weight.get(family, 0) + weight
        if waited > 0:
            with self._lock:
                self.counts.holds += 1
                self.counts.hold_s += waited
            self._note(family, waited, refused=False)

    def _hold(self, url: str, method: str) -> None:
        waited = 0.0
        while True:
            family, weight, wait = self._reserve(url, method)
            if wait <= 0:
                self._held(family, weight, waited)
                return
            self._check_wait(family, waited, wait)
            self.sleep(wait)
            waited += wait

    async def _ahold(self, url: str, method: str) -> None:
        waited = 0.0
        while True:
            family, weight, wait = self._reserve(url, method)
            if wait <= 0:
                self._held(family, weight, waited)
                return
            self._check_wait(family, waited, wait)
            await asyncio.sleep(wait)
            waited += wait

    def _note(self, family: str, seconds: float, *, refused: bool) -> None:
        if self.store is None:
            return
        try:
            self.store.note_hold(self.exchange_id, family, self.bot_id, seconds, refused=refused)
        except Exception as exc:  # noqa: BLE001
            self._store_error(exc)

    # ------------------------------------------------------------------ answers
    def _observer(self, original: Any) -> Any:
        def on_rest_response(
            code: Any, reason: Any, url: str, method: str, headers: Any, body: Any, *rest: Any
        ) -> Any:
            try:
                self._observe(code, url, method, headers)
            except Exception:  # never in the way of the answer
                logger.exception("exec_ext: request budget could not read an answer")
            return original(code, reason, url, method, headers, body, *rest)

        return on_rest_response

    def _observe(self, code: Any, url: str, method: str, headers: Any) -> None:
        status = int(code) if code is not None else None
        with self._lock:
            if status is not None:
                self.counts.statuses[status] = self.counts.statuses.get(status, 0) + 1
            if status is not None and (status >= 500 or status in (418, 429)):
                self.counts.errors_since_take += 1
            if status is not None and method.upper() == "POST" and _is_order(url):
                self.order_results.append(not (400 <= status < 500 and status not in (418, 429)))
                self.orders_total += 1
        if self.store is None:
            return
        family, _ = self._weigh(url, method)
        if family not in self.store.config.limits:
            return
        wait = retry_after_s(status, headers)
        reported = used_weight(headers, self.store.config.limits[family].window_ms)
        if wait is None and reported is None:
            return
        try:
            self.store.observe(
                self.exchange_id,
                family,
                self.bot_id,
                int(self.clock() * 1000),
                retry_after_s=wait,
                reported_used=reported,
            )
            self._store_ok()
        except Exception as exc:  # noqa: BLE001
            self._store_error(exc)

    def _network_error(self) -> None:
        with self._lock:
            self.counts.network_errors += 1
            self.counts.errors_since_take += 1

    def take_errors(self) -> int:
        """Exchange errors (5xx, 418/429, network) since the last call."""
        with self._lock:
            n, self.counts.errors_since_take = self.counts.errors_since_take, 0
            return n

    def _store_error(self, exc: Exception) -> None:
        with self._lock:
            self.counts.store_errors += 1
            first = not self._store_failing
            self._store_failing = True
        if first:
            logger.warning(
                "exec_ext: the shared request budget is unreachable (%s: %s); requests go "
                "out on ccxt's own limiter until it answers again",
                type(exc).__name__,
                exc,
            )

    def _store_ok(self) -> None:
        if self._store_failing:
            self._store_failing = False
            logger.warning("exec_ext: the shared request budget answers again")


def install_budget(
    exchange: Any,
    store: Any,
    bot_id: str,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    max_hold_s: float = MAX_HOLD_S,
) -> ClientBudget:
    """Hook Freqtrade's ccxt clients onto the shared budget ``store`` (None: count only)."""
    return ClientBudget(
        exchange, store, bot_id, clock=clock, sleep=sleep, max_hold_s=max_hold_s
    ).install()
