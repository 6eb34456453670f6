"""Order attempts: what one decision to enter or exit became (pure; no I/O).

An **attempt** is one decision: every order placed for it (a reprice cancels an order and
places another) until one fills or the decision times out.  Filled attempts come from the
execution ledger (one :class:`~freqtrade_exec_ext.execution.ledger.FillRecord` per filled
order); unfilled entries exist only in the order journal (``exec_ext_order_intents``, live
trading with the order guard), because Freqtrade deletes a trade, its orders and its
custom data when its only entry order is cancelled unfilled.  Without a journal (dry-run)
only filled entries are known and the fill probability is not measured.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from freqtrade_exec_ext.execution.ledger import FillRecord, signed_bps

STOP_REASONS = frozenset({"stop_loss", "trailing_stop_loss", "stoploss_on_exchange", "liquidation"})


@dataclass(frozen=True)
class Placement:
    """One order the journal saw go out (only what grouping needs)."""

    pair: str
    intent: str  # entry | exit | stoploss
    side: str
    order_type: str
    amount: float
    price: float | None
    order_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class Attempt:
    pair: str
    intent: str  # entry | exit
    side: str  # buy | sell
    order_type: str  # limit | market
    placed_at: datetime | None  # first order of the decision
    decision_price: float | None
    filled: bool
    fill_price: float | None
    filled_ratio: float  # of the amount ordered; 0 when unfilled
    notional: float | None  # filled (or, unfilled, ordered) quantity x price
    cost_bps: float | None  # slippage vs the decision + fee, bps of notional
    slippage_bps: float | None
    fee_rate: float | None
    liquidity: str | None
    half_spread_bps: float | None
    time_to_fill_s: float | None
    stop: bool = False  # a stop-loss fill (decision price = the stop price)
    # filled in from candles (features.py); None when no candle was found
    through_bps: float | None = None
    candle_up: bool | None = None
    participation_pct: float | None = None

    def with_candle(self, through: float, up: bool, participation: float | None) -> Attempt:
        return replace(self, through_bps=through, candle_up=up, participation_pct=participation)


def _base_type(order_type: str) -> str:
    t = (order_type or "").lower()
    return "market" if "market" in t and "limit" not in t else "limit"


def _iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def from_record(
    rec: FillRecord, *, placed_at: datetime | None = None, stop_price: float | None = None
) -> Attempt:
    """A filled attempt from its ledger record.

    ``stop_price``: the record is the fill of a stop-loss order with this stop (its gap
    is measured from the stop, whatever decision price the record holds).
    """
    stop = stop_price is not None or (
        rec.intent == "exit" and (rec.exit_reason or "") in STOP_REASONS
    )
    fee = rec.fee_rate if rec.fee_rate is not None and math.isfinite(rec.fee_rate) else None
    decision = stop_price if stop_price is not None else rec.decision_price
    slip = (
        signed_bps(rec.side, stop_price, rec.fill_price)
        if stop_price is not None
        else rec.slippage_decision_bps
    )
    cost = None if slip is None else slip + (fee or 0.0) * 10_000.0
    placed = placed_at or _iso(rec.placed_time)
    filled_at = _iso(rec.filled_time)
    ttf = rec.time_to_fill_s
    if placed_at is not None and filled_at is not None:
        ttf = max(0.0, (filled_at - placed_at).total_seconds())
    ordered = rec.ordered_amount or rec.filled_amount
    half = rec.arrival_spread_bps / 2.0 if rec.arrival_spread_bps is not None else None
    return Attempt(
        pair=rec.pair,
        intent=rec.intent,
        side=rec.side,
        order_type=_base_type(rec.order_type),
        placed_at=placed,
        decision_price=decision,
        filled=True,
        fill_price=rec.fill_price,
        filled_ratio=min(1.0, rec.filled_amount / ordered) if ordered else 1.0,
        notional=rec.notional,
        cost_bps=cost,
        slippage_bps=slip,
        fee_rate=fee,
        liquidity=rec.liquidity,
        half_spread_bps=half,
        time_to_fill_s=ttf,
        stop=stop,
    )


def entry_attempts(
    records: Sequence[FillRecord], journal: Sequence[Placement], timeout_s: float
) -> tuple[list[Attempt], bool]:
    """Entry attempts, and whether unfilled ones could be seen (a journal exists).

    Journal placements of a pair are grouped into decisions: a placement belongs to the
    current decision while nothing of it has filled and it went out within ``timeout_s``
    of the decision's first placement.  A ledger record without a journal row (dry-run,
    or a journal started later) is a filled attempt of its own.
    """
    by_order = {r.order_id: r for r in records if r.intent == "entry"}
    used: set[str] = set()
    out: list[Attempt] = []
    rows = sorted((p for p in journal if p.intent == "entry"), key=lambda p: (p.pair, p.created_at))
    group: list[Placement] = []

    def close() -> None:
        if group:
            out.append(_group_attempt(group, by_order, used))
            group.clear()

    for p in rows:
        if group and (
            p.pair != group[0].pair
            or (p.created_at - group[0].created_at).total_seconds() > timeout_s
        ):
            close()
        group.append(p)
        if p.order_id is not None and p.order_id in by_order:
            close()
    close()
    for r in records:
        if r.intent == "entry" and r.order_id not in used:
            out.append(from_record(r))
    return out, bool(rows)


def _group_attempt(
    group: list[Placement], by_order: dict[str, FillRecord], used: set[str]
) -> Attempt:
    first = group[0]
    for p in group:
        rec = by_order.get(p.order_id or "")
        if rec is not None:
            used.add(rec.order_id)
            return from_record(rec, placed_at=first.created_at)
    notional = first.amount * first.price if first.price else None
    return Attempt(
        pair=first.pair,
        intent="entry",
        side=first.side,
        order_type=_base_type(first.order_type),
        placed_at=first.created_at,
        decision_price=None,
        filled=False,
        fill_price=None,
        filled_ratio=0.0,
        notional=notional,
        cost_bps=None,
        slippage_bps=None,
        fee_rate=None,
        liquidity=None,
        half_spread_bps=None,
        time_to_fill_s=None,
    )


def exit_attempts(
    records: Iterable[FillRecord], stop_orders: dict[str, float | None] | None = None
) -> list[Attempt]:
    """Every exit fill (exits always end filled: the contract escalates a timed-out exit
    to a market order), stop-loss fills marked ``stop``.

    An emergency exit (the market order a timed-out limit exit escalates to) belongs to
    the limit exits' cell: it is how that decision ended, measured from its decision.
    """
    stops = stop_orders or {}
    out = []
    for r in records:
        if r.intent != "exit":
            continue
        a = from_record(r, stop_price=stops.get(r.order_id) if r.order_id in stops else None)
        if r.order_id in stops and a.decision_price is None:
            a = replace(a, stop=True)
        if (r.exit_reason or "") == "emergency_exit":
            a = replace(a, order_type="limit")
        out.append(a)
    return out
