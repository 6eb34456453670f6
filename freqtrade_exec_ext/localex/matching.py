"""Matching: how orders meet the replayed market and become fills (pure).

* **Market orders** walk the calibrated book of the current second (``book.py``) level by
  level, as taker.  Whatever the book cannot fill expires (status ``EXPIRED``).
* **Limit orders** that cross the book when placed take the levels up to their price (taker);
  the rest rests (GTC), expires (IOC) or the whole order is refused (FOK, ``EXPIRED``).
  Post-only orders (spot ``LIMIT_MAKER``, futures ``timeInForce=GTX``) that would cross are
  rejected: spot -2010 "Order would immediately match and take.", futures -5022.
* **Resting orders** fill, as maker at their own price, when the replayed price trades
  *through* them (touching is not enough: the queue ahead of us).  The matcher walks the
  replayed price path (``replay.path_points``) since the order was last looked at, segment
  by segment; in a segment where the price is beyond the limit the order gets at most
  ``participation`` (default 20 %) of the volume the replay traded there, pro rata to the
  time spent beyond the limit.  A large order therefore fills partially, over several
  segments.  The book does not remember our fills (it is rebuilt each second).
* **Stop orders** (spot ``STOP_LOSS_LIMIT``/``STOP_LOSS``/``TAKE_PROFIT_LIMIT``/
  ``TAKE_PROFIT``) trigger when the path reaches ``stopPrice``; they then become a limit
  (taking the book if their price crosses it) or a market order.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

from freqtrade_exec_ext.localex import replay
from freqtrade_exec_ext.localex.accounts import Accounts
from freqtrade_exec_ext.localex.errors import VenueError
from freqtrade_exec_ext.localex.model import (
    EPS,
    FIRST_TRADE_ID,
    STOP_TYPES,
    TAKE_DEPTH,
    Fees,
    Fill,
    Order,
    q8,
    steps,
)

if TYPE_CHECKING:
    from freqtrade_exec_ext.localex.venue import MarketVenue

Emit = Callable[..., None]
POST_ONLY_FUTURES_MSG = (
    "Due to the order could not be executed as maker, the Post Only order will be "
    "rejected. The order will not be recorded in the order history"
)


class Matcher:
    """Moves open orders along the replayed path and books their fills."""

    def __init__(
        self,
        market: MarketVenue,
        accounts: Accounts,
        fees: Fees,
        participation: float,
        emit: Emit,
    ) -> None:
        self.market = market
        self.accounts = accounts
        self.fees = fees
        self.participation = participation
        self.emit = emit
        self.fills: list[Fill] = []
        self._next_trade = FIRST_TRADE_ID

    def price(self, market: str, symbol: str, served_ms: int) -> float:
        s = self.market.series[market][symbol]
        return replay.current_price(s, served_ms - self.market.clock.offset_ms)

    # ------------------------------------------------------------ resting orders

    def advance(self, o: Order, now: int) -> None:
        """Match ``o`` against the path up to ``now`` (and apply a scripted venue cancel)."""
        end = now if o.cancel_at is None else min(now, o.cancel_at)
        if end > o.last_eval:
            series = self.market.series[o.market][o.symbol]
            off = self.market.clock.offset_ms
            pts = replay.path_points(series, o.last_eval - off, end - off)
            for (ta, pa), (tb, pb) in itertools.pairwise(pts):
                if not o.is_open:
                    break
                self._segment(o, series, ta + off, pa, tb + off, pb)
            o.last_eval = end
        if o.is_open and o.cancel_at is not None and now >= o.cancel_at:
            self.close(o, o.cancel_status, o.cancel_at)
            self.emit("venue_cancel", order_id=o.order_id, status=o.cancel_status)

    def _segment(
        self, o: Order, series: replay.CandleSeries, ta: int, pa: float, tb: int, pb: float
    ) -> None:
        if not o.triggered:
            hit = trigger_time(o.side, o.type, o.stop_price, ta, pa, tb, pb)
            if hit is None:
                return
            ta, pa = hit, o.stop_price
            if not self._trigger(o, hit):
                return
        if o.type == "MARKET":
            return
        # resting limit: fills when the path trades through its price
        frac = fraction_through(o.side, o.price, pa, pb)
        if frac <= 0:
            return
        off = self.market.clock.offset_ms
        vol = replay.volume_between(series, ta - off, tb - off)
        avail = vol * frac * self.participation
        step = self.market.rules[o.market][o.symbol].step
        qty = min(o.fillable, steps(avail, step))
        if o.fillable - qty < step - EPS and avail >= o.fillable:
            qty = o.fillable
        qty = self.reduce_cap(o, qty)
        if qty <= EPS:
            return
        self.fill(o, o.price, qty, maker=True, t=tb)

    def _trigger(self, o: Order, hit: int) -> bool:
        """A stop order reached its trigger: whether it goes on resting as a limit."""
        o.triggered = True
        o.working_time = hit
        o.update_time = hit
        if not STOP_TYPES[o.type][1]:  # stop-market: take the book now
            self.take(o, None, hit)
            if o.is_open:
                self.close(o, "EXPIRED", hit)
            return False
        self.take(o, o.price, hit)  # a stop-limit whose price crosses takes the book
        return o.is_open

    # ------------------------------------------------------------ taking

    def take(self, o: Order, limit: float | None, t: int) -> None:
        """Take the current book as taker, up to ``limit`` (None: market)."""
        rules = self.market.rules[o.market][o.symbol]
        book = self.market.book_at(o.market, o.symbol, TAKE_DEPTH, t)
        levels = book.asks if o.side == "BUY" else book.bids
        budget = o.quote_order_qty - o.cum_quote if o.quote_order_qty else None
        for px, size in levels:
            if o.fillable <= EPS or not _within(o.side, px, limit):
                break
            qty = self.reduce_cap(o, min(size, o.fillable))
            if budget is not None:
                qty = min(qty, steps(budget / px, rules.step))
            if qty <= EPS:
                break
            self.fill(o, px, qty, maker=False, t=t)
            if budget is not None:
                budget = o.quote_order_qty - o.cum_quote

    def walk_cost(self, o: Order) -> float:
        """What buying ``o.orig_qty`` from the book of its second costs."""
        book = self.market.book_at(o.market, o.symbol, TAKE_DEPTH, o.time)
        left, cost = o.orig_qty, 0.0
        for px, size in book.asks:
            take = min(size, left)
            cost += take * px
            left -= take
            if left <= EPS:
                break
        return cost

    def reduce_cap(self, o: Order, qty: float) -> float:
        """A reduce-only futures order never opens or flips a position."""
        if o.market != "usdm" or not o.reduce_only:
            return qty
        allowed = self.accounts.reduce_allowance(o)
        if allowed <= EPS and o.is_open:
            self.close(o, "EXPIRED", o.update_time)
        return min(qty, allowed)

    # ------------------------------------------------------------ fills

    def fill(self, o: Order, price: float, qty: float, *, maker: bool, t: int) -> None:
        qty = q8(qty)
        quote = q8(qty * price)
        rate = self.fees.rate(o.market, maker)
        rules = self.market.rules[o.market][o.symbol]
        commission, asset, realized = self.accounts.settle(o, rules, price, qty, rate, t)
        fill = Fill(
            self._next_trade,
            o.order_id,
            o.market,
            o.symbol,
            o.side,
            price,
            qty,
            quote,
            commission,
            asset,
            t,
            maker,
            realized,
        )
        self._next_trade += 1
        self.fills.append(fill)
        o.trade_ids.append(fill.trade_id)
        o.executed_qty = q8(o.executed_qty + qty)
        o.cum_quote = q8(o.cum_quote + quote)
        o.update_time = t
        o.status = "FILLED" if o.remaining <= EPS else "PARTIALLY_FILLED"
        if o.margin_reserved:
            o.margin_reserved = q8(o.margin_per_qty * o.remaining)
        if o.market == "usdm":
            if realized:
                self.accounts.record_income(o.symbol, "REALIZED_PNL", realized, t, fill.trade_id)
            self.accounts.record_income(o.symbol, "COMMISSION", -commission, t, fill.trade_id)
        if o.status == "FILLED":
            self.accounts.release(o)
        self.emit("fill", trade_id=fill.trade_id, order_id=o.order_id)

    def close(self, o: Order, status: str, t: int) -> None:
        o.status = status
        o.update_time = t
        self.accounts.release(o)

    # ------------------------------------------------------------ new orders

    def match_new(self, o: Order, t: int) -> None:
        """Match a new order on arrival.  Raises :class:`VenueError` when it is refused
        as a whole (a stop that would trigger at once, a post-only order that would take);
        the caller then forgets it and releases what it holds."""
        if not o.triggered:
            if would_trigger(o.side, o.type, o.stop_price, self.price(o.market, o.symbol, t)):
                raise VenueError(-2010, "Stop price would trigger immediately.")
            return
        if o.type == "MARKET":
            self._market(o, t)
            return
        book = self.market.book_at(o.market, o.symbol, 1, t)
        crosses = (o.side == "BUY" and o.price >= book.asks[0][0] - EPS) or (
            o.side == "SELL" and o.price <= book.bids[0][0] + EPS
        )
        if crosses and (o.type == "LIMIT_MAKER" or o.time_in_force == "GTX"):
            if o.market == "spot":
                raise VenueError(-2010, "Order would immediately match and take.")
            raise VenueError(-5022, POST_ONLY_FUTURES_MSG)
        if o.time_in_force == "FOK" and not self._fok_fillable(o, t):
            self.close(o, "EXPIRED", t)
            return
        if crosses:
            self.take(o, o.price, t)
        if o.is_open and o.time_in_force in ("IOC", "FOK"):
            self.close(o, "EXPIRED", t)

    def _market(self, o: Order, t: int) -> None:
        if o.quote_order_qty:  # spend quoteOrderQty: the quantity is what it buys
            book = self.market.book_at(o.market, o.symbol, 1, t)
            o.orig_qty = q8(o.quote_order_qty / book.asks[0][0] * 2 + 1)
            self.take(o, None, t)
            o.orig_qty = o.executed_qty
            o.status = "FILLED" if o.executed_qty > 0 else "EXPIRED"
            self.accounts.release(o)
            return
        self.take(o, None, t)
        if o.is_open:
            self.close(o, "EXPIRED", t)

    def _fok_fillable(self, o: Order, t: int) -> bool:
        deep = self.market.book_at(o.market, o.symbol, TAKE_DEPTH, t)
        levels = deep.asks if o.side == "BUY" else deep.bids
        avail = sum(
            size
            for p, size in levels
            if (o.side == "BUY" and p <= o.price) or (o.side == "SELL" and p >= o.price)
        )
        capped = o.fill_cap is not None and o.fill_cap < o.orig_qty
        return not (avail + EPS < o.remaining or capped)


def _within(side: str, px: float, limit: float | None) -> bool:
    """Whether a book level at ``px`` is inside a taker's ``limit`` (None: any)."""
    if limit is None:
        return True
    return px <= limit + EPS if side == "BUY" else px >= limit - EPS


def fraction_through(side: str, limit: float, pa: float, pb: float) -> float:
    """Share of a linear segment ``pa -> pb`` strictly beyond a resting order's price."""
    lo, hi = min(pa, pb), max(pa, pb)
    if side == "BUY":
        if lo >= limit:
            return 0.0
        if hi <= limit or hi == lo:
            return 1.0
        return (limit - lo) / (hi - lo)
    if hi <= limit:
        return 0.0
    if lo >= limit or hi == lo:
        return 1.0
    return (hi - limit) / (hi - lo)


def would_trigger(side: str, type_: str, stop: float, price: float) -> bool:
    falls = STOP_TYPES[type_][0]
    # a SELL stop-loss (or a BUY take-profit) triggers when the price falls to the stop
    down = falls if side == "SELL" else not falls
    return price <= stop if down else price >= stop


def trigger_time(
    side: str, type_: str, stop: float, ta: int, pa: float, tb: int, pb: float
) -> int | None:
    """When a linear segment reaches a stop's trigger price, or None."""
    if would_trigger(side, type_, stop, pa):
        return ta
    if not would_trigger(side, type_, stop, pb):
        return None
    if pb == pa:
        return tb
    frac = (stop - pa) / (pb - pa)
    return int(ta + min(max(frac, 0.0), 1.0) * (tb - ta))
