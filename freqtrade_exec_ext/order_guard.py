"""OrderGuard: no duplicate and no untracked order, and no rate-limit ban (live trading).

Installed by :class:`~freqtrade_exec_ext.strategy.mixin.ExecutionMixin` when Freqtrade trades for
real (``dry_run: false``), between Freqtrade and its ccxt client:

* **every order** (entries, exits, stop-losses) gets a client order id and a journal row
  *before* it is sent (:mod:`~freqtrade_exec_ext.store.journal`), and goes through
  :func:`~freqtrade_exec_ext.execution.placement.place`: an ambiguous answer is settled by
  looking the order up, requests the exchange did not process are retried up to the
  contract's ``orders.max_retries`` after the wait it asked for, and an order whose fate
  cannot be learned stops further orders for that pair until it is settled;
* **every request** waits out the ``Retry-After`` of a 429/418 answer
  (:class:`~freqtrade_exec_ext.execution.throttle.RateGovernor`), so the client never
  sends into a closed rate-limit window, which is what gets an IP banned;
* **every bot loop** (and at start) settles journal rows whose order Freqtrade never
  recorded, e.g. after a crash between the exchange accepting an order and Freqtrade
  saving it: an open one is cancelled; one with fills is handed to Freqtrade, which then
  accounts for it like its own (and the mixin records it in the execution ledger).

Freqtrade internals are reached only through :mod:`freqtrade_exec_ext.compat`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import ccxt

from freqtrade_exec_ext import compat
from freqtrade_exec_ext.compat.ccxt_hooks import Hooked, hook_ccxt
from freqtrade_exec_ext.errors import TemporaryFailure
from freqtrade_exec_ext.execution.placement import (
    ABSENT,
    Outcome,
    PlacementUnknown,
    RetryPolicy,
    new_client_order_id,
    place,
    retry_after_s,
)
from freqtrade_exec_ext.execution.throttle import RateGovernor
from freqtrade_exec_ext.store.journal import UNSETTLED, Intent, OrderJournal, intent_of

logger = logging.getLogger(__name__)

#: an accepted order Freqtrade has not saved after this long is looked at on the exchange
TRACK_GRACE = timedelta(seconds=30)
#: longest wait a request is held for inside the bot loop; longer ones are refused locally
MAX_HOLD_S = 65.0
_TRIGGER_KEYS = ("stopPrice", "triggerPrice", "stopLossPrice")


class NotSent(ccxt.OperationFailed, TemporaryFailure):  # type: ignore[misc]  # untyped base
    """The guard did not send the order (Freqtrade takes it as a temporary error)."""


class OrderGuard:
    def __init__(
        self,
        exchange: Any,
        journal: OrderJournal,
        policy: RetryPolicy,
        *,
        strategy: Any,
        exit_reason_of: Any = None,
        max_hold_s: float = MAX_HOLD_S,
    ) -> None:
        self.exchange = exchange
        self.journal = journal
        self.policy = policy
        self.strategy = strategy
        # (trade) -> the exit reason the strategy recorded when it decided the trade's exit
        self.exit_reason_of = exit_reason_of or (lambda trade: None)
        self.max_hold_s = max_hold_s
        self.api, self.api_async = compat.ccxt_clients(exchange)
        self.governor = RateGovernor()
        self.meta: dict[str, dict[str, Any]] = {}  # pair -> the entry being confirmed
        self.spot = compat.is_spot(exchange)
        self._hooked: Hooked | None = None

    # ------------------------------------------------------------------ install
    def install(self) -> None:
        """Wrap the ccxt clients' order creation and HTTP layer (idempotent)."""
        if self._hooked is not None:
            return
        self._hooked = hook_ccxt(
            self.exchange,
            create_order=self.create_order,
            before_request=lambda url, method: self._hold(),
            before_request_async=lambda url, method: self._ahold(),
            on_response=lambda code, headers: self.governor.on_response(code, headers, time.time()),
        )
        logger.info(
            "exec_ext: order guard on (client order ids, order journal %s, max_retries %d, "
            "Retry-After honoured)",
            self.journal.counts() or "empty",
            self.policy.max_retries,
        )

    def uninstall(self) -> None:
        if self._hooked is not None:
            self._hooked.remove()
            self._hooked = None

    # ------------------------------------------------------------------ rate limits
    def _wait(self) -> float:
        wait = self.governor.wait_s(time.time())
        if wait > self.max_hold_s:
            self.governor.refused()
            raise ccxt.DDoSProtection(
                f"exec_ext: the exchange asked for no requests for another {wait:.0f} s; "
                "request not sent"
            )
        if wait > 0:
            self.governor.held(wait)
        return wait

    def _hold(self) -> None:
        wait = self._wait()
        if wait > 0:
            time.sleep(wait)

    async def _ahold(self) -> None:
        wait = self._wait()
        if wait > 0:
            await asyncio.sleep(wait)

    # ------------------------------------------------------------------ orders
    def annotate_entry(self, pair: str, *, enter_tag: str | None, leverage: float) -> None:
        """What the strategy decided for the entry about to be sent (for adoption)."""
        self.meta[pair] = {"enter_tag": enter_tag, "leverage": leverage}

    def create_order(
        self,
        create: Any,
        symbol: str,
        order_type: str,
        side: str,
        amount: float,
        price: float | None,
        params: dict[str, Any] | None,
    ) -> dict[str, Any]:
        params = dict(params or {})
        cid = (
            params.pop("newClientOrderId", None)
            or params.pop("clientOrderId", None)
            or new_client_order_id()
        )
        params["clientOrderId"] = cid
        conditional = not self.spot and any(params.get(k) for k in _TRIGGER_KEYS)
        intent = intent_of(side, params, spot=self.spot)
        self._settle_earlier(symbol, intent)
        meta = self.meta.pop(symbol, {}) if intent == "entry" else {}
        try:
            self.journal.record(
                cid,
                pair=symbol,
                side=side,
                intent=intent,
                order_type=order_type,
                amount=amount,
                price=price,
                conditional=conditional,
                enter_tag=meta.get("enter_tag"),
                leverage=float(meta.get("leverage") or 1.0),
            )
        except Exception as exc:  # fail closed: an order that is not journaled is not sent
            raise NotSent(
                f"exec_ext: order journal unavailable ({type(exc).__name__}: {exc}); "
                f"{symbol} {intent} order not sent"
            ) from exc
        outcome = Outcome()
        order = place(
            lambda: create(symbol, order_type, side, amount, price, params),
            lambda: self._lookup(symbol, cid, None, conditional),
            cid=cid,
            policy=self.policy,
            sleep=time.sleep,
            retry_after=lambda: retry_after_s(self.api.last_response_headers),
            journal=self.journal,
            outcome=outcome,
        )
        if outcome.recovered:
            logger.warning(
                "exec_ext: %s %s %s order %s: the exchange's answer was lost; found it by "
                "client order id %s (no second order sent)",
                symbol,
                intent,
                side,
                order.get("id"),
                cid,
            )
        return dict(order)

    def _lookup(self, symbol: str, cid: str, order_id: str | None, conditional: bool) -> Any:
        params: dict[str, Any] = {} if order_id else {"clientOrderId": cid}
        if conditional:
            params["trigger"] = True
        try:
            return self.api.fetch_order(order_id, symbol, params)
        except ccxt.OrderNotFound:
            return ABSENT

    def _settle_earlier(self, symbol: str, intent: str) -> None:
        """Refuse a new order while an earlier one for the pair may exist untracked."""
        for it in self.journal.pending(symbol, UNSETTLED):
            result = self.settle(it)
            if result is None:
                raise PlacementUnknown(
                    f"exec_ext: an earlier order for {symbol} ({it.client_order_id}, "
                    f"{it.intent}) may exist on the exchange and cannot be looked up; no new "
                    "order is sent until it is settled"
                )
            if result == "adopted" and (it.intent == intent or intent == "entry"):
                raise NotSent(
                    f"exec_ext: an earlier {it.intent} order for {symbol} "
                    f"({it.client_order_id}) was found with fills and handed to Freqtrade; "
                    f"this {intent} order is not sent"
                )

    def _exit_reason(self, trade: Any) -> str | None:
        """The exit reason the strategy recorded when it decided this exit."""
        reason = self.exit_reason_of(trade)
        return str(reason) if reason else None

    # ------------------------------------------------------------------ reconciliation
    def reconcile(self, *, startup: bool = False) -> dict[str, int]:
        """Settle journal rows whose order Freqtrade may not know.

        Returns how many rows ended in each status (``unsettled``: the exchange could not
        tell yet); rows Freqtrade had saved (the usual case) are not counted.
        """
        now = datetime.now(UTC)
        done: dict[str, int] = {}
        for it in self.journal.pending():
            if it.order_id and compat.order_is_tracked(it.order_id, it.pair):
                self.journal.mark(it.client_order_id, "tracked")
                continue
            if not startup and now - it.updated_at < TRACK_GRACE:
                continue  # Freqtrade is saving it right now (or another thread sends it)
            key = self.settle(it) or "unsettled"
            done[key] = done.get(key, 0) + 1
        return done

    def settle(self, it: Intent) -> str | None:
        """Find out what became of one placement and hand Freqtrade what it should know.

        Returns the journal status it ended in, or None when the exchange cannot tell.
        """
        try:
            order = self._lookup(it.pair, it.client_order_id, it.order_id, it.conditional)
        except Exception as exc:  # noqa: BLE001 - the exchange cannot tell us now
            logger.warning("exec_ext: cannot look up order %s: %s", it.client_order_id, exc)
            return None
        if order is ABSENT:
            self.journal.mark(it.client_order_id, "absent", detail="not on the exchange")
            return "absent"
        oid = str(order.get("id"))
        if compat.order_is_tracked(oid, it.pair):
            self.journal.mark(it.client_order_id, "tracked", order_id=oid)
            return "tracked"
        return self._untracked(it, order)

    def _untracked(self, it: Intent, order: dict[str, Any]) -> str | None:
        oid = str(order.get("id"))
        params = {"trigger": True} if it.conditional else {}
        was_open = order.get("status") == "open"
        if was_open:
            try:
                self.api.cancel_order(oid, it.pair, params)
            except ccxt.OrderNotFound:
                pass  # filled or cancelled meanwhile
            except Exception as exc:  # noqa: BLE001
                logger.warning("exec_ext: cannot cancel untracked order %s: %s", oid, exc)
                return None
            try:
                order = self.api.fetch_order(oid, it.pair, params)
            except Exception as exc:  # noqa: BLE001
                logger.warning("exec_ext: cannot re-read untracked order %s: %s", oid, exc)
                return None
        filled = float(order.get("filled") or 0.0)
        if filled <= 0:
            how = "cancelled by the guard" if was_open else f"{order.get('status')} on the exchange"
            self.journal.mark(
                it.client_order_id,
                "cancelled",
                order_id=oid,
                detail=f"on the exchange but unknown to Freqtrade; {how}, nothing filled",
            )
            logger.warning(
                "exec_ext: %s %s order %s was on the exchange but not in Freqtrade's "
                "database; %s, nothing filled",
                it.pair,
                it.intent,
                oid,
                how,
            )
            return "cancelled"
        where = compat.adopt_order(
            self.exchange, self.strategy, it, order, exit_reason_of=self._exit_reason
        )
        self.journal.mark(it.client_order_id, "adopted", order_id=oid, detail=where)
        logger.warning(
            "exec_ext: %s %s order %s (%s of %s filled) was on the exchange but not in "
            "Freqtrade's database; handed to Freqtrade: %s",
            it.pair,
            it.intent,
            oid,
            filled,
            order.get("amount"),
            where,
        )
        return "adopted"
