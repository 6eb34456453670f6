"""The execution ledger, written from Freqtrade's ``order_filled``.

One :class:`~freqtrade_exec_ext.execution.ledger.FillRecord` per filled order: in the
trade's custom data in live and dry-run (idempotent by order id: Freqtrade's recovery paths
fire ``order_filled`` again), in a JSON-lines file beside the backtest results in
backtests, nowhere in hyperopt.  This module reads Freqtrade's order and trade and the
recorded decision; the arithmetic is :func:`~freqtrade_exec_ext.execution.fills.build_fill_record`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from freqtrade_exec_ext import compat
from freqtrade_exec_ext.execution.fees import fees_from_trades
from freqtrade_exec_ext.execution.fills import (
    Attempt,
    FillFacts,
    OrderView,
    attempt_of,
    build_fill_record,
    infer_liquidity,
)
from freqtrade_exec_ext.execution.ledger import LEDGER_KEY_PREFIX, FillRecord, signed_bps
from freqtrade_exec_ext.execution.numbers import finite
from freqtrade_exec_ext.store.ledger_files import backtest_ledger_path
from freqtrade_exec_ext.strategy.context import Decision
from freqtrade_exec_ext.strategy.legs import STOP_REASONS
from freqtrade_exec_ext.timeutil import as_utc

logger = logging.getLogger(__name__)


utc = as_utc


def attempt_for(trade: Any, entry: bool, upto: Any = None) -> Attempt:
    """The entry (or exit) attempt of ``trade`` that ``upto`` belongs to."""
    side = trade.entry_side if entry else trade.exit_side
    views = [
        OrderView(
            str(o.order_id),
            str(o.ft_order_side),
            float(o.filled or 0.0),
            str(o.status),
            utc(o.order_date),
            finite(o.ft_price),
        )
        for o in trade.orders
    ]
    return attempt_of(views, side, str(upto.order_id) if upto is not None else None)


class FillRecorder:
    def __init__(self, strategy: Any) -> None:
        self._s = strategy
        self._seen: set[str] = set()
        self._file: IO[str] | None = None
        self.path: Path | None = None

    def open_file(self, results_dir: Path, strategy_name: str) -> Path:
        """Backtests: the ledger file, truncated at every run and written as fills happen
        (Freqtrade has no end-of-backtest callback)."""
        results_dir.mkdir(parents=True, exist_ok=True)
        self.close()
        self.path = backtest_ledger_path(results_dir, strategy_name)
        self._file = self.path.open("w", encoding="utf-8")
        return self.path

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def reset(self) -> None:
        self._seen.clear()

    # ---------------------------------------------------------------- order_filled
    def on_fill(
        self, trade: Any, order: Any, current_time: datetime, live: bool
    ) -> FillRecord | None:
        """Record a filled order once; returns the new record (None: nothing new)."""
        key = LEDGER_KEY_PREFIX + str(order.order_id)
        if (trade.get_custom_data(key) is not None) if live else key in self._seen:
            return None
        record = self.record(trade, order, current_time, live)
        if record is None:
            return None
        if live:
            trade.set_custom_data(key, record.to_dict())
        else:
            self._seen.add(key)
            if self._file is not None:
                self._file.write(record.to_json() + "\n")
                self._file.flush()
        return record

    def record(
        self, trade: Any, order: Any, current_time: datetime, live: bool
    ) -> FillRecord | None:
        s = self._s
        filled = finite(order.filled) or 0.0
        fill_price = finite(order.safe_price)
        if filled <= 0 or not fill_price:
            return None
        is_entry = order.ft_order_side == trade.entry_side
        book = s.exec_ext_decisions
        d = (book.entry(trade) if is_entry else book.get(trade, "exit")) or Decision(side="")
        side = str(order.side)
        requested = finite(order.ft_price)
        reason = None if is_entry else (order.ft_order_tag or d.reason)
        decision = d.decision_price
        if decision is None and not is_entry:
            # exits no callback priced (stop-loss, ROI, market): the stop price for stops,
            # else the signal candle's close
            if reason in STOP_REASONS:
                decision = finite(order.stop_price) or finite(trade.stop_loss) or requested
            else:
                decision = s.exec_ext_market.exit_decision_price(trade.pair) or requested
        attempt = attempt_for(trade, is_entry, upto=order)
        placed = attempt.first_placed or utc(order.order_date)
        filled_at = (utc(order.order_filled_date) if live else None) or utc(current_time)
        cost, ccy, rate, liquidity, inferred = self._fees(
            trade, order, is_entry, filled * fill_price, d, live
        )
        charged = 0.0
        if not live and d.bt_bps and d.proposed:
            charged = signed_bps(side, d.proposed, requested) or 0.0
        c = s.risk_contract
        mode = s.exec_ext_runmode()
        return build_fill_record(FillFacts(
            strategy_id=c.strategy_id, pair=trade.pair, side=side,
            intent="entry" if is_entry else "exit", is_short=bool(trade.is_short),
            order_type=str(order.order_type), order_id=str(order.order_id),
            trade_id=trade.id, runmode=str(getattr(mode, "value", mode)),
            decision_price=decision, decision_time=d.decision_time,
            arrival_mid=d.arrival_mid, arrival_spread_bps=d.arrival_spread_bps,
            requested_price=requested, fill_price=fill_price, filled_amount=filled,
            ordered_amount=finite(order.amount) or filled, fee_cost=cost, fee_currency=ccy,
            fee_rate=rate, liquidity=liquidity, fee_inferred=inferred,
            funding_fees=float(trade.funding_fees or 0.0), reprice_count=attempt.reprices,
            placed=placed, filled_at=filled_at,
            budget_bps=float(c.slippage.max_entry_bps if is_entry else c.slippage.max_exit_bps),
            exit_reason=reason, backtest_slippage_bps=charged,
        ))  # fmt: skip

    def _fees(
        self, trade: Any, order: Any, is_entry: bool, notional: float, d: Decision, live: bool
    ) -> tuple[float | None, str | None, float | None, str | None, bool]:
        """(fee cost, currency, rate, maker|taker, inferred)."""
        s = self._s
        quote = s.config.get("stake_currency")
        if s.exec_ext_real_orders():
            trades = compat.trades_for_order(
                s.dp, order.order_id, trade.pair, utc(order.order_date)
            )
            if trades:
                base, _, rest = trade.pair.partition("/")
                f = fees_from_trades(
                    trades, base=base, quote=quote or rest.split(":")[0], notional=notional
                )
                return f.cost, f.currency, f.rate, f.liquidity, False
        rate = finite(trade.fee_open if is_entry else trade.fee_close)
        liquidity = None
        if live:  # judged against the book when this order was placed
            liquidity = infer_liquidity(
                order_type=str(order.order_type),
                side=str(order.side),
                fill_price=finite(order.safe_price),
                best_bid=d.placed_bid if d.placed_bid is not None else d.best_bid,
                best_ask=d.placed_ask if d.placed_ask is not None else d.best_ask,
                placed=utc(order.order_date),
                filled_at=utc(order.order_filled_date),
            )
        cost = notional * rate if rate is not None else None
        return cost, quote, rate, liquidity, True
