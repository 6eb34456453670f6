"""The reprice ladder inside Freqtrade (``docs/mixin.md``, "Repricing").

Backtests: Freqtrade calls ``adjust_*_price`` once per candle; the step due then is taken.
Live and dry-run: steps happen at their scheduled times.  Freqtrade replaces an order only
once a candle has closed after it was placed, so a due step is also carried out by
cancelling the order (``check_*_timeout``) and having Freqtrade place it again in the same
bot loop, at the step's price: an entry on its still-current signal, an exit through the
mixin's ``custom_exit``.  Exits always go that way (Freqtrade's exit escalation counts
cancelled exits: ``exit_timeout_count`` is max_reprices + 1); entries use Freqtrade's
replacement when it is offered.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any

from freqtrade_exec_ext import compat
from freqtrade_exec_ext.execution import checks, ladder, pricing
from freqtrade_exec_ext.execution.fills import Attempt
from freqtrade_exec_ext.execution.numbers import finite
from freqtrade_exec_ext.strategy.context import Decision
from freqtrade_exec_ext.strategy.legs import Leg
from freqtrade_exec_ext.strategy.market import BoundUnknown

logger = logging.getLogger(__name__)


class Repricer:
    def __init__(self, strategy: Any) -> None:
        self._s = strategy
        self.ladders: dict[str, ladder.EntryLadder] = {}  # live: pair -> entry ladder

    @property
    def _c(self) -> Any:
        return self._s.risk_contract

    # ---------------------------------------------------------------- step prices
    def step_price(
        self,
        leg: Leg,
        pair: str,
        d: Decision,
        step: int,
        *,
        fallback: float | None,
        first: float | None,
    ) -> tuple[float | None, Decision]:
        """The price of ladder step ``step``: from the decision's first price toward the far
        side of a fresh book (else ``fallback``), never past the bound, never back from the
        market; with the decision updated to the book seen now."""
        s = self._s
        start = d.price or first
        decision = d.decision_price or start
        if start is None or decision is None:
            return None, d
        target = fallback
        q = s.exec_ext_market.quote(s.exec_ext_market.book(pair))
        if q is not None:
            target = q.best_ask if leg.side == "buy" else q.best_bid
            d = d.with_(placed_bid=q.best_bid, placed_ask=q.best_ask)
        if target is None:
            return None, d
        target = pricing.apply_slippage(leg.side, target, s.exec_ext_backtest_bps())
        new = pricing.ladder_price(
            leg.side, start, target, leg.bound(decision), step, self._c.orders.max_reprices
        )
        if d.last_order_price is not None and pricing.is_worse(leg.side, d.last_order_price, new):
            new = d.last_order_price  # a ladder never steps back from the market
        tick = s.exec_ext_market.tick_for(pair, entry=leg.entry)
        return leg.clamp(new, decision, tick), d

    # ---------------------------------------------------------------- replacement path
    def reprice(
        self,
        trade: Any,
        order: Any,
        attempt: Attempt,
        proposed: float,
        current: float,
        entry: bool,
        now: datetime | None,
    ) -> float | None:
        """``adjust_*_price``: Freqtrade offers this order for replacement."""
        s = self._s
        if order is None or (not entry and s.exec_ext_live()):
            return current  # live exits are placed again by the mixin, never replaced
        lad = self.ladders.get(trade.pair) if entry and s.exec_ext_live() else None
        start_at = lad.start if lad is not None else attempt.first_placed
        done = lad.steps if lad is not None else attempt.reprices
        if start_at is None or now is None:
            return current
        o = self._c.orders
        timeout = o.entry_timeout_s if entry else o.exit_timeout_s
        due = ladder.steps_due((now - start_at).total_seconds(), timeout, o.max_reprices)
        if due <= done:
            return current
        d = s.exec_ext_decisions.entry(trade) if entry else s.exec_ext_decisions.get(trade, "exit")
        d = d or Decision(side="buy")
        leg = Leg.of(self._c, entry=entry, is_short=bool(trade.is_short), reason=d.reason)
        new, d = self.step_price(
            leg, trade.pair, d, done + 1, fallback=proposed, first=attempt.first_price or current
        )
        if lad is not None:
            lad.steps = done + 1
        if (
            new is None
            or math.isclose(new, current, rel_tol=1e-9)
            or not pricing.is_worse(leg.side, new, current)
        ):
            return current
        s.exec_ext_decisions.save(trade, leg.intent, d)  # the book this order is placed on
        logger.info(
            "exec_ext: reprice %s %s %s -> %s (step %d/%d, replace)",
            trade.pair,
            leg.intent,
            current,
            new,
            done + 1,
            o.max_reprices,
        )
        return new

    # ---------------------------------------------------------------- cancel path: entries
    def entry_step_cancel(
        self, pair: str, trade: Any, order: Any, lad: ladder.EntryLadder, elapsed: float
    ) -> bool:
        """Live: cancel an unfilled entry at a due step when Freqtrade will not replace it
        now; Freqtrade enters again in the same bot loop at the step's price."""
        s = self._s
        o = self._c.orders
        due = ladder.steps_due(elapsed, o.entry_timeout_s, o.max_reprices)
        if due <= lad.steps or (order.filled or 0) > 0 or elapsed >= o.entry_timeout_s:
            return False
        if compat.replace_allowed(s.dp, s.timeframe, pair, order.order_date_utc):
            return False  # Freqtrade's replacement does this step (adjust_entry_price)
        d = (s.exec_ext_decisions.entry(trade) or lad.decision).with_(
            last_order_price=finite(order.safe_placement_price)
        )
        leg = Leg.of(self._c, entry=True, is_short=bool(trade.is_short))
        price, _ = self.step_price(leg, pair, d, due, fallback=None, first=None)
        if price is None or math.isclose(price, float(order.safe_placement_price), rel_tol=1e-12):
            lad.steps = due  # the market came to us: nothing to gain by moving
            return False
        lad.pending, lad.decision = due, d
        logger.info(
            "exec_ext: reprice %s entry: step %d/%d at %.0fs, cancel and place again",
            pair,
            due,
            o.max_reprices,
            elapsed,
        )
        return True

    def placed_again(self, pair: str, is_short: bool) -> tuple[float | None, Decision | None]:
        """Live: ``(price, decision)`` of a ladder step's order (its order was cancelled at
        the step); ``(None, refusal)`` when a decision that timed out would enter again on
        its own signal candle; ``(None, None)``: a new decision."""
        s = self._s
        lad = self.ladders.get(pair)
        if lad is None or lad.signal_candle != s.exec_ext_market.signal_candle(pair):
            self.ladders.pop(pair, None)
            return None, None
        if lad.pending is None:
            if lad.expired:
                side = pricing.entry_side(is_short)
                return None, Decision.refusal(
                    side,
                    f"{checks.ENTRY_DECISION_EXPIRED}: the entry timed out on this signal candle",
                )
            return None, None
        step, lad.pending = lad.pending, None
        leg = Leg.of(self._c, entry=True, is_short=is_short)
        price, d = self.step_price(leg, pair, lad.decision, step, fallback=None, first=None)
        if price is None:
            return None, None
        lad.steps = step
        logger.info("exec_ext: %s entry step %d placed again at %s", pair, step, price)
        return price, d.with_(last_order_price=price)

    def start_ladder(self, pair: str, decision: Decision, now: datetime) -> None:
        self.ladders[pair] = ladder.EntryLadder(
            start=now,
            signal_candle=self._s.exec_ext_market.signal_candle(pair),
            decision=decision,
        )

    # ---------------------------------------------------------------- cancel path: exits
    def exit_step_cancel(
        self, pair: str, trade: Any, attempt: Attempt, elapsed: float, price: float | None
    ) -> bool:
        """Live: cancel an exit at a due step; the mixin's ``custom_exit`` asks Freqtrade for
        the exit again in the same bot loop, priced at the step.  At the timeout, steps the
        bot loop missed are caught up first, one per loop, so the escalation still comes."""
        s = self._s
        o = self._c.orders
        due = ladder.steps_due(elapsed, o.exit_timeout_s, o.max_reprices)
        if elapsed >= o.exit_timeout_s:
            escalates = compat.canceled_exit_orders(trade) + 1 >= o.max_reprices + 1
            if escalates or attempt.reprices >= o.max_reprices:
                return False  # the timeout itself: Freqtrade's emergency exit follows
            due = attempt.reprices + 1
        if due <= attempt.reprices:
            return False
        d = s.exec_ext_decisions.get(trade, "exit") or Decision(side="sell")
        s.exec_ext_decisions.save(
            trade, "exit", d.with_(pending_step=attempt.reprices + 1, last_order_price=price)
        )
        logger.info(
            "exec_ext: reprice %s exit: step %d/%d at %.0fs, cancel and place again",
            pair,
            attempt.reprices + 1,
            o.max_reprices,
            elapsed,
        )
        return True

    def pending_exit(self, trade: Any) -> str | None:
        """The reason of an exit cancelled at a ladder step and not yet placed again."""
        if any(o.ft_order_side == trade.exit_side for o in trade.open_orders):
            return None
        d = self._s.exec_ext_decisions.get(trade, "exit")
        if d is None or not d.pending_step:
            return None
        return str(d.reason or "exit_reprice")[:60]

    def exit_placed_again(self, trade: Any, d: Decision, proposed: float) -> float:
        """An exit placed again at a ladder step: the same decision, the step's price."""
        step = int(d.pending_step or 1)
        leg = Leg.of(self._c, entry=False, is_short=bool(trade.is_short), reason=d.reason)
        try:
            price, d = self.step_price(leg, trade.pair, d, step, fallback=proposed, first=proposed)
        except BoundUnknown:
            price = None
        self._s.exec_ext_decisions.save(trade, "exit", d.with_(pending_step=None))
        logger.info("exec_ext: %s exit step %d placed again at %s", trade.pair, step, price)
        return price if price is not None else proposed


DISCARD_KEY = "exec_ext.discard_partial"
EXIT_PARTIAL_BELOW_MIN = "exec_partial_fill_below_min"


class Timeouts:
    """``check_entry_timeout`` / ``check_exit_timeout``: the contract's timeouts (Freqtrade's
    ``unfilledtimeout`` is only a backstop 60 s later) and the cancel path of the ladder."""

    def __init__(self, strategy: Any, repricer: Repricer) -> None:
        self._s = strategy
        self._r = repricer
        self.discard: set[Any] = set()  # trades whose small partial fill is to be exited

    def entry(self, pair: str, trade: Any, order: Any, now: datetime) -> bool:
        from freqtrade_exec_ext.execution import timeouts
        from freqtrade_exec_ext.strategy.recording import attempt_for, utc

        s = self._s
        o = s.risk_contract.orders
        s.exec_ext_decisions.entry(trade)  # keep the decision with the trade while it works
        attempt = attempt_for(trade, True, upto=order)
        lad = self._r.ladders.get(pair) if s.exec_ext_live() else None
        first = (lad.start if lad else None) or attempt.first_placed or utc(order.order_date)
        elapsed = (now - first).total_seconds() if first else 0.0
        if lad is not None and self._r.entry_step_cancel(pair, trade, order, lad, elapsed):
            return True
        action, ratio = timeouts.entry_timeout_action(
            filled=float(order.filled or 0.0),
            amount=float(order.amount or 0.0),
            elapsed_s=elapsed,
            timeout_s=o.entry_timeout_s,
            min_fill_ratio=o.min_fill_ratio,
        )
        if action is timeouts.TimeoutAction.WAIT:
            return False
        if lad is not None:
            lad.expired = True  # no new entry on the same signal candle
        if action is timeouts.TimeoutAction.CANCEL and (order.filled or 0) > 0:
            self.discard.add(trade.id)
            if s.exec_ext_live():
                trade.set_custom_data(DISCARD_KEY, True)
        logger.info(
            "exec_ext: entry timeout %s after %.0fs, filled %.1f%% (min %.1f%%): %s",
            pair,
            elapsed,
            ratio * 100,
            o.min_fill_ratio * 100,
            action.value,
        )
        return True

    def exit(self, pair: str, trade: Any, order: Any, now: datetime) -> bool:
        from freqtrade_exec_ext.execution import timeouts
        from freqtrade_exec_ext.strategy.recording import attempt_for, utc

        s = self._s
        attempt = attempt_for(trade, False, upto=order)
        first = attempt.first_placed or utc(order.order_date)
        elapsed = (now - first).total_seconds() if first else 0.0
        if s.exec_ext_live() and self._r.exit_step_cancel(
            pair, trade, attempt, elapsed, finite(order.safe_placement_price)
        ):
            return True
        if timeouts.exit_timed_out(
            elapsed_s=elapsed, timeout_s=s.risk_contract.orders.exit_timeout_s
        ):
            logger.warning(
                "exec_ext: exit order for %s unfilled after %.0fs: cancelling; Freqtrade "
                "escalates to a market exit (exit_timeout_count)",
                pair,
                elapsed,
            )
            return True
        return False

    def discard_reason(self, trade: Any) -> str | None:
        """Exit reason for a partial entry fill below min_fill_ratio (live/dry-run)."""
        if trade.id in self.discard:
            return EXIT_PARTIAL_BELOW_MIN
        if trade.get_custom_data(DISCARD_KEY):
            self.discard.add(trade.id)
            return EXIT_PARTIAL_BELOW_MIN
        return None
