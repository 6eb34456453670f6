"""A filled order's execution record, from plain facts (pure).

The strategy adapter (``strategy/recording.py``) reads Freqtrade's order and trade, the
decision the mixin recorded and the fees, and hands them here as :class:`FillFacts`;
:func:`build_fill_record` does the arithmetic.  :func:`attempt_of` groups a trade's orders
into the current entry or exit attempt; :func:`infer_liquidity` labels a fill maker or
taker when the exchange's own fills are not available (dry-run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from freqtrade_exec_ext.execution.ledger import FillRecord, signed_bps

CANCELLED = frozenset({"canceled", "cancelled"})


@dataclass(frozen=True)
class OrderView:
    """What grouping needs of one order."""

    order_id: str
    side: str  # Freqtrade's order side: buy | sell | stoploss
    filled: float
    status: str
    placed: datetime | None
    price: float | None  # the price Freqtrade requested


@dataclass(frozen=True)
class Attempt:
    """The orders of one entry (or exit) attempt: after the last completed order."""

    first_placed: datetime | None
    first_price: float | None
    reprices: int  # cancelled orders of the attempt before ``upto``


def attempt_of(orders: Sequence[OrderView], side: str, upto: str | None = None) -> Attempt:
    """The attempt ``upto`` belongs to (or the last one): a filled, finished order of the
    same side closes the previous attempt."""
    attempt: list[OrderView] = []
    last: OrderView | None = None
    for o in orders:
        if o.side != side:
            continue
        if upto is not None and o.order_id == upto:
            attempt.append(o)
            last = o
            break
        if o.filled > 0 and o.status != "open":
            attempt = []
            continue
        attempt.append(o)
    first = attempt[0] if attempt else last
    reprices = sum(
        1 for o in attempt if (upto is None or o.order_id != upto) and o.status in CANCELLED
    )
    return Attempt(first.placed if first else None, first.price if first else None, reprices)


def infer_liquidity(
    *,
    order_type: str,
    side: str,
    fill_price: float | None,
    best_bid: float | None,
    best_ask: float | None,
    placed: datetime | None,
    filled_at: datetime | None,
) -> str | None:
    """Maker or taker without the exchange's fills.

    Market orders take.  A limit fill at or through the far side of the book seen when that
    order was placed took; one resting on its own side (or inside the spread) made.  Without
    a book: filled within a second of placement = taker.
    """
    if order_type != "limit":
        return "taker"
    if fill_price is not None and best_bid is not None and best_ask is not None:
        crossing = fill_price >= best_ask if side == "buy" else fill_price <= best_bid
        return "taker" if crossing else "maker"
    if placed is None or filled_at is None:
        return None
    return "maker" if (filled_at - placed).total_seconds() >= 1.0 else "taker"


@dataclass(frozen=True)
class FillFacts:
    """Everything a record is computed from; no Freqtrade object."""

    strategy_id: str
    pair: str
    side: str  # order side on the exchange
    intent: str  # entry | exit
    is_short: bool
    order_type: str
    order_id: str
    trade_id: int | None
    runmode: str
    decision_price: float | None
    decision_time: str | None
    arrival_mid: float | None
    arrival_spread_bps: float | None
    requested_price: float | None
    fill_price: float
    filled_amount: float
    ordered_amount: float
    fee_cost: float | None
    fee_currency: str | None
    fee_rate: float | None
    liquidity: str | None
    fee_inferred: bool
    funding_fees: float
    reprice_count: int
    placed: datetime | None
    filled_at: datetime | None
    budget_bps: float
    exit_reason: str | None
    backtest_slippage_bps: float


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def build_fill_record(f: FillFacts) -> FillRecord:
    notional = f.filled_amount * f.fill_price
    spread_cost = None
    if f.arrival_spread_bps is not None and f.liquidity is not None:
        spread_cost = f.arrival_spread_bps / 2.0 if f.liquidity == "taker" else 0.0
    slip = signed_bps(f.side, f.decision_price, f.fill_price)
    ttf = (f.filled_at - f.placed).total_seconds() if f.placed and f.filled_at else None
    return FillRecord(
        strategy_id=f.strategy_id,
        pair=f.pair,
        side="buy" if f.side == "buy" else "sell",
        intent="entry" if f.intent == "entry" else "exit",
        is_short=f.is_short,
        order_type=f.order_type,
        order_id=f.order_id,
        trade_id=f.trade_id,
        runmode=f.runmode,
        decision_price=f.decision_price,
        decision_time=f.decision_time,
        arrival_mid=f.arrival_mid,
        arrival_spread_bps=f.arrival_spread_bps,
        requested_price=f.requested_price,
        fill_price=f.fill_price,
        filled_amount=f.filled_amount,
        ordered_amount=f.ordered_amount,
        notional=notional,
        slippage_decision_bps=slip,
        slippage_arrival_bps=signed_bps(f.side, f.arrival_mid, f.fill_price),
        spread_cost_bps=spread_cost,
        fee_cost=f.fee_cost,
        fee_currency=f.fee_currency,
        fee_rate=f.fee_rate,
        liquidity="maker" if f.liquidity == "maker" else "taker" if f.liquidity else None,
        fee_inferred=f.fee_inferred,
        funding_fees=f.funding_fees,
        reprice_count=f.reprice_count,
        placed_time=_iso(f.placed),
        filled_time=_iso(f.filled_at),
        time_to_fill_s=ttf,
        slippage_budget_bps=float(f.budget_bps),
        over_budget=slip is not None and slip > f.budget_bps + 1e-9,
        exit_reason=f.exit_reason,
        backtest_slippage_bps=f.backtest_slippage_bps,
    )
