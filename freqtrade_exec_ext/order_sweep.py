"""The stray sweep: orders of ours that nothing accounts for are undone (live trading).

Run by the order guard (:meth:`OrderGuard.sweep`, from the mixin's ``bot_loop_start``):
at the first loop, in the loop after any ambiguous order answer, and otherwise every
:data:`SWEEP_INTERVAL_S`.  For every pair this strategy sent orders for in the last
:data:`SWEEP_LOOKBACK_S`, it lists the account's orders of that pair since then and picks
out the strays (:func:`~freqtrade_exec_ext.execution.sweep.find_strays`): ours by client
order id, known neither to Freqtrade nor to the journal.  Each one is undone, with a
warning and a journal row that says what was done:

* open: cancelled (``stray_cancelled`` when nothing had filled);
* filled (in part or whole): the fill is traded back at market with the guard's own
  journaled order (intent ``sellback``): what the account holds beyond what the open trades
  hold, at most the stray's fill, to the amount step (spot; futures: reduce-only, the
  stray's fill) -> ``stray_sold_back``;
  ``stray_balanced`` when the account already matched the trades; ``stray_unresolved``
  when it cannot be done automatically (below the market's minimum order).

So the account holds what Freqtrade's open trades hold.  A stray entry is traded back
rather than added to the trade: the strategy sized one position, and a doubled one would
break the contract's risk per trade.  Errors (the exchange not answering) leave no row:
the next sweep tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import ccxt

from freqtrade_exec_ext import compat
from freqtrade_exec_ext.compat import positions, venue_rules
from freqtrade_exec_ext.execution.placement import CLIENT_ID_PREFIX
from freqtrade_exec_ext.execution.sweep import Seen, Stray, find_strays, undo_amount
from freqtrade_exec_ext.store.journal import PENDING, SELLBACK, Intent

logger = logging.getLogger(__name__)

#: periodic sweep interval: Binance weighs a listing (``allOrders``) 20 per pair
SWEEP_INTERVAL_S = 60.0
#: how far back orders are listed (Binance ``allOrders`` spans at most 24 h from startTime)
SWEEP_LOOKBACK_S = 24 * 3600.0
#: an order's own params: the guard's order intent and journal tag (see order_guard.py)
INTENT_PARAM, TAG_PARAM = "exec_ext_intent", "exec_ext_tag"


class StraySweeper:
    def __init__(self, guard: Any) -> None:
        self.g = guard
        self._due = True  # the first loop sweeps
        self._next_at = 0.0
        self.stats: dict[str, int] = {}  # every outcome since start

    def request(self) -> None:
        """Sweep at the next chance (after an ambiguous answer)."""
        self._due = True

    def maybe_sweep(self, now_s: float) -> dict[str, int]:
        if not self._due and now_s < self._next_at:
            return {}
        self._due = False
        self._next_at = now_s + SWEEP_INTERVAL_S
        try:
            done = self.sweep(now_s)
        except Exception:  # the next sweep tries again; nothing was half-done
            logger.exception("exec_ext: stray sweep failed")
            return {"failed": 1}
        for k, v in done.items():
            self.stats[k] = self.stats.get(k, 0) + v
        return done

    def sweep(self, now_s: float) -> dict[str, int]:
        """One sweep over every pair this strategy sent orders for; outcomes by status."""
        since = datetime.fromtimestamp(now_s - SWEEP_LOOKBACK_S, UTC)
        rows = {r.client_order_id: r for r in self.g.journal.since(since - timedelta(hours=1))}
        done: dict[str, int] = {}
        for pair in sorted({r.pair for r in rows.values()}):
            conditional = any(r.conditional for r in rows.values() if r.pair == pair)
            listed = venue_rules.recent_orders(
                self.g.api, pair, int(since.timestamp() * 1000), conditional=conditional
            )
            seen = [Seen.of(o) for o in listed]
            for stray in find_strays(seen, rows, compat.order_is_tracked, prefix=CLIENT_ID_PREFIX):
                status = self.undo(stray, rows[stray.parent], rows)
                done[status] = done.get(status, 0) + 1
        return done

    # ---------------------------------------------------------------- undoing one
    def undo(self, stray: Stray, parent: Intent, rows: Mapping[str, Intent]) -> str:
        o = stray.order
        key = f"{parent.client_order_id}@{o.order_id}"[:64]
        earlier = [
            r for r in rows.values() if r.intent == SELLBACK and r.enter_tag == f"undo:{key}"
        ]
        if any(r.status == "guard_order" for r in earlier):  # done, the row was not written
            return self._record(parent, o, "stray_sold_back", "traded back earlier")
        if any(r.status in PENDING for r in earlier):
            return "retry"  # its sell-back is being settled: not a second one
        params = {"trigger": True} if parent.conditional else {}
        if o.is_open:
            try:
                self.g.api.cancel_order(o.order_id, o.symbol, params)
            except ccxt.OrderNotFound:
                pass  # filled or cancelled meanwhile
            except Exception as exc:  # noqa: BLE001 - tried again at the next sweep
                logger.warning("exec_ext: cannot cancel stray order %s: %s", o.order_id, exc)
                return "retry"
            try:
                o = Seen.of(self.g.api.fetch_order(o.order_id, o.symbol, params))
            except Exception as exc:  # noqa: BLE001
                logger.warning("exec_ext: cannot re-read stray order %s: %s", o.order_id, exc)
                return "retry"
            if o.is_open:
                return "retry"
        if o.filled <= 0:
            return self._record(
                parent, o, "stray_cancelled", "it was open; cancelled, nothing had filled"
            )
        return self._trade_back(parent, o, key)

    def _trade_back(self, parent: Intent, o: Seen, key: str) -> str:
        api = self.g.api
        base = str(api.market(o.symbol)["base"])
        side = "sell" if o.side == "buy" else "buy"
        off_by = self._off_by(base, o.side) if self.g.spot else None
        qty = undo_amount(o.filled, off_by, positions.amount_step(api, o.symbol))
        if off_by is not None and off_by <= 0:
            return self._record(
                parent,
                o,
                "stray_balanced",
                f"filled {o.filled:g}; the account already held no more than the open trades",
            )
        min_amount, min_cost = positions.market_minimums(api, o.symbol)
        if qty <= 0 or qty < min_amount or qty * o.price < min_cost:
            return self._record(
                parent,
                o,
                "stray_unresolved",
                f"filled {o.filled:g}; {qty:g} {base} to trade back is below the market's "
                f"minimum order ({min_amount:g} {base}, {min_cost:g} notional): check the "
                "account",
            )
        params: dict[str, Any] = {INTENT_PARAM: SELLBACK, TAG_PARAM: f"undo:{key}"}
        if not self.g.spot:
            params["reduceOnly"] = True
        try:
            order = api.create_order(o.symbol, "market", side, qty, None, params)
        except Exception as exc:  # noqa: BLE001 - the journal keeps the sell-back's fate
            logger.warning(
                "exec_ext: STRAY %s order %s (%s): the %s of %g %s to trade it back failed "
                "(%s); tried again at the next sweep",
                o.symbol,
                o.order_id,
                parent.client_order_id,
                side,
                qty,
                base,
                exc,
            )
            return "retry"
        return self._record(
            parent,
            o,
            "stray_sold_back",
            f"filled {o.filled:g}; traded back: {side} {qty:g} {base} at market, order "
            f"{order.get('id')}",
        )

    def _off_by(self, base: str, stray_side: str) -> float:
        """How far the account is off Freqtrade's open trades in the stray's direction."""
        total = float((self.g.api.fetch_balance().get("total") or {}).get(base) or 0.0)
        held = positions.open_trades_hold(base)
        return total - held if stray_side == "buy" else held - total

    def _record(self, parent: Intent, o: Seen, status: str, what: str) -> str:
        detail = (
            f"STRAY: {o.side} order {o.order_id} under client order id "
            f"{parent.client_order_id} ({parent.intent}, {o.status}, {o.filled:g} of "
            f"{o.amount:g} filled) was on the exchange and known neither to Freqtrade nor to "
            f"the journal; {what}"
        )
        self.g.journal.record_stray(parent, o.order_id, status, amount=o.amount, detail=detail)
        logger.warning("exec_ext: %s %s -> %s", o.symbol, detail, status)
        return status
