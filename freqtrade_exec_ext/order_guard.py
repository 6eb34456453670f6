"""OrderGuard: no duplicate and no untracked order, and no rate-limit ban (live trading).

Installed by :class:`~freqtrade_exec_ext.strategy.mixin.ExecutionMixin` when Freqtrade trades for
real (``dry_run: false``), between Freqtrade and its ccxt client:

* **every order** (entries, exits, stop-losses) gets a client order id and a journal row
  *before* it is sent (:mod:`~freqtrade_exec_ext.store.journal`), is signed with a short
  explicit ``recvWindow`` and timestamp where the exchange refuses to execute a request
  after it (:mod:`~freqtrade_exec_ext.compat.venue_rules`), and goes through
  :func:`~freqtrade_exec_ext.execution.placement.place`: an ambiguous answer is settled by
  looking the order up, and it is sent again only once it is *certainly* absent (not found,
  and its window has passed on the exchange's clock); requests the exchange did not process
  are retried up to the contract's ``orders.max_retries`` after the wait it asked for; an
  order whose fate cannot be learned stops further orders for that pair until it is
  settled;
* **every request** waits out the ``Retry-After`` of a 429/418 answer
  (:class:`~freqtrade_exec_ext.execution.throttle.RateGovernor`), so the client never
  sends into a closed rate-limit window, which is what gets an IP banned;
* **every bot loop** (and at start) settles journal rows whose order Freqtrade never
  recorded, e.g. after a crash between the exchange accepting an order and Freqtrade
  saving it: an open one is cancelled; one with fills is handed to Freqtrade, which then
  accounts for it like its own (and the mixin records it in the execution ledger);
* **strays** (orders of ours that nothing accounts for, e.g. one the exchange executed
  late under a client order id that already had an order) are swept for after every
  ambiguous answer and periodically, and undone (:mod:`~freqtrade_exec_ext.order_sweep`).

Freqtrade internals are reached only through :mod:`freqtrade_exec_ext.compat`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import ccxt

from freqtrade_exec_ext import compat
from freqtrade_exec_ext.compat import venue_rules
from freqtrade_exec_ext.compat.ccxt_hooks import Hooked, hook_ccxt
from freqtrade_exec_ext.errors import TemporaryFailure
from freqtrade_exec_ext.execution.placement import (
    ABSENT,
    Absence,
    ExecutionWindow,
    Failure,
    Outcome,
    PlacementUnknown,
    RetryPolicy,
    absence,
    new_client_order_id,
    place,
    retry_after_s,
)
from freqtrade_exec_ext.execution.throttle import RateGovernor
from freqtrade_exec_ext.order_sweep import INTENT_PARAM, TAG_PARAM, StraySweeper
from freqtrade_exec_ext.store.journal import (
    SELLBACK,
    UNSETTLED,
    Intent,
    OrderJournal,
    intent_of,
)

logger = logging.getLogger(__name__)

#: an accepted order Freqtrade has not saved after this long is looked at on the exchange
TRACK_GRACE = timedelta(seconds=30)
#: longest wait a request is held for inside the bot loop; longer ones are refused locally
MAX_HOLD_S = 65.0
#: an order whose absence is not certain yet is warned about at most this often
ALERT_EVERY_S = 600.0
_TRIGGER_KEYS = ("stopPrice", "triggerPrice", "stopLossPrice")
#: TEST ONLY: "<intent>:<step>[:<n>]" kills the bot process (SIGKILL) at the n-th (default
#: 1st) order of that intent at that step: ``before_send`` (journaled, not sent) or
#: ``after_send`` (the exchange answered; neither the journal nor Freqtrade saved it)
CRASH_ENV = "FREQTRADE_EXEC_EXT_TEST_KILL_AT"
_AUTO: Any = object()


class NotSent(ccxt.OperationFailed, TemporaryFailure):  # type: ignore[misc]  # untyped base
    """The guard did not send the order (Freqtrade takes it as a temporary error)."""


class CrashPoint:
    """The e2e tests' ``kill -9`` at an exact order step (off unless :data:`CRASH_ENV`)."""

    def __init__(self, spec: str | None) -> None:
        self.intent = self.step = ""
        self.nth = 0
        self.seen = 0
        if spec:
            parts = spec.split(":")
            self.intent, self.step = parts[0], parts[1] if len(parts) > 1 else "after_send"
            self.nth = int(parts[2]) if len(parts) > 2 else 1
            logger.warning(
                "exec_ext: TEST CRASH POINT ARMED (%s=%s): this bot kills itself at the %d. "
                "%s order, %s",
                CRASH_ENV,
                spec,
                self.nth,
                self.intent,
                self.step,
            )

    def reached(self, intent: str, step: str) -> None:
        if not self.nth or intent != self.intent:
            return
        if step == self.step:
            self.seen += 1
            if self.seen == self.nth:
                logger.critical("exec_ext: test crash point %s:%s reached: SIGKILL", intent, step)
                for handler in logging.getLogger().handlers:
                    handler.flush()
                os.kill(os.getpid(), signal.SIGKILL)


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
        window: ExecutionWindow | None = _AUTO,
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
        # None: the exchange sets no time after which a request cannot execute: never resend
        self.window = venue_rules.execution_window(exchange) if window is _AUTO else window
        self.sweeper = StraySweeper(self)
        self.refused: str | None = None  # why this bot may place no order (bot identity)
        self.crash = CrashPoint(os.environ.get(CRASH_ENV))
        self._alerted: dict[str, float] = {}
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
        window = (
            f"orders signed with recvWindow {self.window.recv_window_ms} ms, resent only once "
            f"that has passed (+{self.window.margin_ms} ms) on the exchange's clock"
            if self.window
            else "never resent: this exchange sets no time after which it cannot execute one"
        )
        logger.info(
            "exec_ext: order guard on (client order ids, order journal %s, max_retries %d, "
            "Retry-After honoured; %s)",
            self.journal.counts() or "empty",
            self.policy.max_retries,
            window,
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
        own_intent = params.pop(INTENT_PARAM, None)  # the guard's own orders (sell-backs)
        own_tag = params.pop(TAG_PARAM, None)
        cid = (
            params.pop("newClientOrderId", None)
            or params.pop("clientOrderId", None)
            or new_client_order_id()
        )
        params["clientOrderId"] = cid
        if self.refused:
            raise NotSent(f"{self.refused}; {symbol} {side} order not sent")
        conditional = not self.spot and any(params.get(k) for k in _TRIGGER_KEYS)
        intent = own_intent or intent_of(side, params, spot=self.spot)
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
                enter_tag=meta.get("enter_tag", own_tag),
                leverage=float(meta.get("leverage") or 1.0),
            )
        except Exception as exc:  # fail closed: an order that is not journaled is not sent
            raise NotSent(
                f"exec_ext: order journal unavailable ({type(exc).__name__}: {exc}); "
                f"{symbol} {intent} order not sent"
            ) from exc
        signed: dict[str, Any] = {}

        def stamp() -> int | None:
            if self.window is None:
                return None
            self._hold()  # a Retry-After wait first, so the timestamp is fresh when sent
            ts = venue_rules.order_timestamp_ms(self.api)
            signed.update(venue_rules.sign_with_window(self.window, ts))
            return ts

        def send() -> Any:
            self.crash.reached(intent, "before_send")
            order = create(symbol, order_type, side, amount, price, {**params, **signed})
            self.crash.reached(intent, "after_send")
            return order

        outcome = Outcome()
        try:
            order = place(
                send,
                lambda: self._lookup(symbol, cid, None, conditional),
                cid=cid,
                policy=self.policy,
                sleep=time.sleep,
                retry_after=lambda: retry_after_s(self.api.last_response_headers),
                journal=self.journal,
                outcome=outcome,
                stamp=stamp,
                window=self.window,
                exchange_now=lambda: venue_rules.exchange_time_ms(self.api),
            )
        finally:
            if Failure.UNKNOWN in (outcome.failures or []):
                self.sweeper.request()  # an ambiguous answer: sweep for strays next loop
        if intent == SELLBACK:
            self.journal.mark(cid, "guard_order", order_id=str(order.get("id")))
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
                    f"{it.intent}) may exist on the exchange, or still be executed by it; no "
                    "new order is sent until it is settled"
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
        if self.refused:
            return {}  # another bot's journal rows are not ours to settle
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
            return self._absent(it)
        oid = str(order.get("id"))
        if it.intent == SELLBACK:  # the guard's own order: never Freqtrade's
            self.journal.mark(it.client_order_id, "guard_order", order_id=oid)
            return "guard_order"
        if compat.order_is_tracked(oid, it.pair):
            self.journal.mark(it.client_order_id, "tracked", order_id=oid)
            return "tracked"
        return self._untracked(it, order)

    def _absent(self, it: Intent) -> str | None:
        """Not found by lookup: ``absent`` once the exchange can no longer execute it,
        else None (the row stays, and the pair blocked)."""
        if it.attempts == 0:
            verdict = Absence.CERTAIN  # journaled, then the bot stopped before sending it
        else:
            window = ExecutionWindow(it.recv_window_ms) if it.recv_window_ms else None
            verdict, _ = absence(window, it.sent_at_ms, self._exchange_now(window, it))
        if verdict is Absence.CERTAIN:
            self.journal.mark(
                it.client_order_id,
                "absent",
                detail="not on the exchange, and past the time it could still be executed",
            )
            return "absent"
        if verdict is Absence.NEVER:
            self._alert(
                it.client_order_id,
                "exec_ext: %s %s order %s is not on the exchange, but the exchange may still "
                "execute it (it sets no time after which it cannot); no order for %s is sent "
                "until a lookup finds it, or you have checked the account and set its status "
                "to 'absent' in exec_ext_order_intents",
                it.pair,
                it.intent,
                it.client_order_id,
                it.pair,
            )
        return None

    def _exchange_now(self, window: ExecutionWindow | None, it: Intent) -> int | None:
        """The exchange's clock, read only once the local clock says the window passed."""
        if window is None or it.sent_at_ms is None:
            return None
        if time.time() * 1000 <= window.gone_after_ms(it.sent_at_ms):
            return int(time.time() * 1000)  # not yet, whatever the exchange's clock says
        try:
            return venue_rules.exchange_time_ms(self.api)
        except Exception as exc:  # noqa: BLE001 - not certain then; asked again next loop
            logger.warning("exec_ext: cannot read the exchange's clock: %s", exc)
            return None

    def _alert(self, key: str, msg: str, *args: Any) -> None:
        now = time.time()
        if now - self._alerted.get(key, -ALERT_EVERY_S) >= ALERT_EVERY_S:
            self._alerted[key] = now
            logger.warning(msg, *args)

    # ------------------------------------------------------------------ strays, identity
    def sweep(self) -> dict[str, int]:
        """Sweep for strays when one is due (after an ambiguous answer, and periodically);
        how many were found per outcome."""
        if self.refused:
            return {}
        return self.sweeper.maybe_sweep(time.time())

    def refuse(self, reason: str) -> None:
        """Place no order at all from now on (another bot uses this database)."""
        self.refused = reason

    def now_s(self) -> float:
        return time.time()

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
