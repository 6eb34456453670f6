"""Entry and exit decisions: the price of a new order, and the pre-trade checks.

An entry is priced maker-first (or, in backtests, moved ``backtest_bps`` against us) and
kept inside its budget bound on the tick grid; its decision is recorded
(:mod:`~freqtrade_exec_ext.strategy.context`).  An entry whose bound cannot be computed is
refused in ``confirm_trade_entry`` with the reason code.  An exit is never held back.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from freqtrade_exec_ext.execution import checks, pricing
from freqtrade_exec_ext.strategy.context import Decision
from freqtrade_exec_ext.strategy.legs import STOP_REASONS, Leg
from freqtrade_exec_ext.strategy.market import BoundUnknown

logger = logging.getLogger(__name__)

# Orders a person asked for (Freqtrade's forceenter / forceexit, the kill switch): decided
# at the request, so their decision price is the market then, not the signal candle's close
MANUAL_ENTRY_TAGS = frozenset({"force_entry"})
MANUAL_EXIT_REASONS = frozenset({"force_exit"})


def _decided_now(d: Decision, rate: float | None) -> Decision:
    """A manual order's decision price: the book mid at the request, else Freqtrade's rate."""
    ref = d.arrival_mid or rate
    return d.with_(decision_price=ref, manual=True) if ref else d


class Decider:
    def __init__(self, strategy: Any) -> None:
        self._s = strategy

    def capture(
        self,
        pair: str,
        side: str,
        proposed: float,
        decision: float | None,
        book: dict[str, Any] | None,
    ) -> Decision:
        s = self._s
        d = Decision(
            side=side,
            decision_price=decision,
            proposed=proposed,
            price=proposed,
            decision_time=s.clock().isoformat() if s.exec_ext_live() else None,
        )
        q = s.exec_ext_market.quote(book)
        if q is not None:
            d = d.with_(
                arrival_mid=q.mid,
                arrival_spread_bps=q.spread_bps,
                best_bid=q.best_bid,
                best_ask=q.best_ask,
                placed_bid=q.best_bid,
                placed_ask=q.best_ask,
            )
        return d

    # ---------------------------------------------------------------- entries
    def entry_price(
        self,
        pair: str,
        trade: Any,
        proposed: float,
        entry_tag: str | None,
        is_short: bool,
        now: datetime,
    ) -> float:
        s = self._s
        book = s.exec_ext_decisions
        try:
            if trade is not None and not s.exec_ext_take_add(trade):
                return self._replacement(trade, is_short, proposed)
            if trade is None and s.exec_ext_live():
                placed, d = s.exec_ext_repricer.placed_again(pair, is_short)
                if d is not None:  # a ladder step's order, or a refusal (price None)
                    book.pending[pair] = d
                    return float(placed) if placed is not None else proposed
            d = self.new_entry(pair, proposed, entry_tag, is_short)
            if trade is None:
                book.pending[pair] = d
                if s.exec_ext_live():
                    s.exec_ext_repricer.start_ladder(pair, d, now)
            else:  # a position add: its own decision (the candle that triggered it)
                book.save(trade, "entry", d)
            return float(d.price or proposed)
        except BoundUnknown as exc:
            book.pending[pair] = Decision.refusal(pricing.entry_side(is_short), str(exc))
        except Exception as exc:  # fail closed: confirm_trade_entry denies this entry
            logger.exception("exec_ext: custom_entry_price failed for %s", pair)
            book.pending[pair] = Decision.refusal(
                pricing.entry_side(is_short), f"{checks.CHECK_FAILED}: {type(exc).__name__}"
            )
        return proposed

    def _replacement(self, trade: Any, is_short: bool, proposed: float) -> float:
        """Backtests re-price a replaced entry order through custom_entry_price (and then
        discard the result): the order keeps its original decision and bound."""
        d = self._s.exec_ext_decisions.entry(trade)
        leg = Leg.of(self._s.risk_contract, entry=True, is_short=is_short)
        if d and d.decision_price:
            return pricing.within_bound(leg.side, proposed, leg.bound(d.decision_price))
        return proposed

    def new_entry(
        self, pair: str, proposed: float, entry_tag: str | None, is_short: bool
    ) -> Decision:
        """A new entry decision with its first price; raises BoundUnknown."""
        s = self._s
        leg = Leg.of(s.risk_contract, entry=True, is_short=is_short)
        bt_bps = s.exec_ext_backtest_bps()
        manual = entry_tag in MANUAL_ENTRY_TAGS  # decided by a person now, not by a candle
        decision = None if manual else s.exec_ext_market.decision_price(pair)
        d = self.capture(pair, leg.side, proposed, decision, s.exec_ext_market.book(pair))
        if manual:
            d = _decided_now(d, proposed)
        price = pricing.limit_price(
            leg.side,
            proposed,
            decision_price=d.decision_price,
            budget_bps=s.risk_contract.slippage.max_entry_bps,
            best_bid=d.best_bid,
            best_ask=d.best_ask,
            backtest_bps=bt_bps,
        )
        model, signal = s.exec_ext_model, s.exec_ext_market.signal_candle  # [calib] backtests
        plan = model and model.entry(
            pair, leg.side, proposed, d.decision_price, signal(pair), s.timeframe
        )  # [calib] the execution model's fill
        if plan:  # [calib] (a non-zero bt_bps: the ledger records the charge)
            price, bt_bps = plan.price, plan.charged_bps or 1e-9  # [calib]
        if not plan or plan.fills:  # [calib] no fill: it rests where its candle never trades
            price = leg.clamp(price, d.decision_price, s.exec_ext_market.tick(pair))
        return d.with_(
            price=price,
            last_order_price=price,
            bt_bps=bt_bps,
            model=plan.as_ctx() if plan else None,
        )  # [calib]

    def refused(self, pair: str, side: str, amount: float, rate: float) -> bool:
        """Whether custom_entry_price could not bound this entry (said in the log and a
        strategy message)."""
        s = self._s
        d = s.exec_ext_decisions.pending.get(pair)
        if d is None or not d.refused:
            return False
        s.exec_ext_decisions.pending.pop(pair, None)
        s.exec_ext_notify(
            f"{s.risk_contract.strategy_id} entry skipped {pair} {side} amount={amount:g} "
            f"rate={rate:g}: {d.refused}"
        )
        return True

    def checks(self, pair: str, side: str, amount: float) -> checks.Verdict:
        """The pre-trade checks on a fresh book (live and dry-run), fail closed."""
        s = self._s
        c = s.risk_contract
        try:
            services = s.exec_ext_live_services
            if s.exec_ext_real_orders() and services.guard is None:
                raise RuntimeError(
                    f"order guard not running ({services.guard_error or 'bot_start not run'})"
                )
            leg = Leg.of(c, entry=True, is_short=side == "short")
            book = s.exec_ext_market.book(pair, reuse=True)
            funding = s.exec_ext_market.funding_rate(pair) if c.is_futures else None
            verdict = checks.pre_trade_checks(
                book,
                leg.side,
                amount,
                max_spread_bps=c.slippage.max_spread_bps,
                max_entry_bps=c.slippage.max_entry_bps,
                funding_rate=funding,
                is_short=side == "short",
                max_funding_bps=c.funding.max_rate_bps if c.is_futures else None,
            )
            d = s.exec_ext_decisions.pending.get(pair)
            q = s.exec_ext_market.quote(book)
            if d is not None and q is not None:  # the book the order goes out on
                s.exec_ext_decisions.pending[pair] = d.with_(
                    arrival_mid=d.arrival_mid or q.mid,
                    arrival_spread_bps=d.arrival_spread_bps or q.spread_bps,
                    placed_bid=q.best_bid,
                    placed_ask=q.best_ask,
                )
            return verdict
        except Exception as exc:  # noqa: BLE001 - fail closed
            return checks.Verdict(False, checks.CHECK_FAILED, {"reason": repr(exc)})

    # ---------------------------------------------------------------- exits
    def exit_price(self, pair: str, trade: Any, proposed: float, exit_tag: str | None) -> float:
        s = self._s
        book = s.exec_ext_decisions
        leg = Leg.of(s.risk_contract, entry=False, is_short=bool(trade.is_short), reason=exit_tag)
        try:
            pending = book.get(trade, "exit") if s.exec_ext_live() else None
            if pending is not None and pending.pending_step:
                return float(s.exec_ext_repricer.exit_placed_again(trade, pending, proposed))
            bt_bps = s.exec_ext_backtest_bps()
            decision = s.exec_ext_market.exit_decision_price(pair)
            d = self.capture(pair, leg.side, proposed, decision, s.exec_ext_market.book(pair))
            if exit_tag in MANUAL_EXIT_REASONS:
                d = _decided_now(d, proposed)
            if leg.is_stop:  # never hold a stop back for the budget
                price = pricing.apply_slippage(leg.side, proposed, bt_bps)
            elif s.exec_ext_model is not None:  # [calib] modelled, escalations included
                plan = s.exec_ext_model.exit(
                    pair,
                    leg.side,
                    proposed,
                    d.decision_price,
                    s.exec_ext_market.signal_candle(pair),
                    s.timeframe,
                )
                price, bt_bps = plan.price, plan.charged_bps or 1e-9  # [calib]
            else:
                price = pricing.limit_price(
                    leg.side,
                    proposed,
                    decision_price=d.decision_price,
                    budget_bps=leg.budget_bps,
                    backtest_bps=bt_bps,
                )
                price = leg.clamp(
                    price, d.decision_price, s.exec_ext_market.tick_for(pair, entry=False)
                )
            book.save(trade, "exit", d.with_(price=price, last_order_price=price, bt_bps=bt_bps))
            return price
        except Exception:  # an exit is never held back: Freqtrade's price, the last bound
            logger.exception("exec_ext: custom_exit_price failed for %s", pair)
            last = s.exec_ext_market.last_decision.get(pair)
            if last and not leg.is_stop:
                return pricing.within_bound(leg.side, proposed, leg.bound(last))
            return proposed

    def exit_decided(self, trade: Any, exit_reason: str | None, rate: float) -> None:
        """Record the decision behind an exit (live/dry-run: every exit but liquidations)."""
        s = self._s
        try:
            d = s.exec_ext_decisions.get(trade, "exit")
            if d is not None and d.reason is not None:
                return
            if d is None:
                leg = Leg.of(s.risk_contract, entry=False, is_short=bool(trade.is_short))
                decision = s.exec_ext_market.exit_decision_price(trade.pair)
                d = self.capture(trade.pair, leg.side, rate, decision, None)
            if exit_reason in STOP_REASONS and trade.stop_loss:
                d = d.with_(decision_price=float(trade.stop_loss))
            elif exit_reason in MANUAL_EXIT_REASONS and not d.manual:
                d = _decided_now(d, rate)
            s.exec_ext_decisions.save(trade, "exit", d.with_(reason=exit_reason))
        except Exception:
            logger.exception("exec_ext: could not record the exit decision for %s", trade.pair)
