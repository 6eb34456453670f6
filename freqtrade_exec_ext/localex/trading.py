"""Trading state of the local exchange: balances, orders, matching, fills, futures (pure).

No HTTP here: :class:`TradingEngine` takes plain arguments, raises
:class:`~freqtrade_exec_ext.localex.errors.VenueError` with Binance's codes, and keeps
its state in memory.  Prices come from the replay (:class:`~.venue.MarketVenue`).

Matching model
--------------

* **Market orders** walk the calibrated book of the current second (``book.py``) level by
  level, as taker.  Whatever the book cannot fill expires (status ``EXPIRED``).
* **Limit orders** that cross the book when placed take the levels up to their price (taker);
  the rest rests (GTC), expires (IOC) or the whole order is refused (FOK, ``EXPIRED``).
  Post-only orders (spot ``LIMIT_MAKER``, futures ``timeInForce=GTX``) that would cross are
  rejected: spot -2010 "Order would immediately match and take.", futures -5022.
* **Resting orders** fill, as maker at their own price, when the replayed price trades
  *through* them (touching is not enough: the queue ahead of us).  The engine walks the
  replayed price path (``replay.path_points``) since the order was last looked at, segment
  by segment; in a segment where the price is beyond the limit the order gets at most
  ``participation`` (default 20 %) of the volume the replay traded there, pro rata to the
  time spent beyond the limit.  A large order therefore fills partially, over several
  segments.  The book does not remember our fills (it is rebuilt each second).
* **Stop orders** (spot ``STOP_LOSS_LIMIT``/``STOP_LOSS``/``TAKE_PROFIT_LIMIT``/
  ``TAKE_PROFIT``, futures algo ``STOP``/``STOP_MARKET``/``TAKE_PROFIT``/
  ``TAKE_PROFIT_MARKET``) trigger when the path reaches ``stopPrice``; they then become a
  limit (taking the book if their price crosses it) or a market order.
* The engine advances lazily: every request first calls :meth:`TradingEngine.step`, so the
  result does not depend on how often clients poll.

Accounts
--------

* **Spot**: free/locked per asset.  Orders lock the quote (buys, ``qty × price``) or the
  base (sells).  Commission is charged in the asset received (base on buys, quote on
  sells), at the maker or taker rate, as on Binance without BNB.
* **USDT-M**: one-way mode, one position per symbol (signed amount, average entry price,
  leverage, cross/isolated).  Opening needs ``notional / leverage`` of available balance
  (else -2019); closing realises PnL into the wallet; commission in USDT.  Funding is paid
  every ``funding_interval_h`` hours of served time (00:00, 08:00, 16:00 UTC by default):
  ``-position × mark × rate`` (longs pay a positive rate), rate from the datadir's
  ``futures/*-funding_rate.feather`` when present, else ``default_funding_rate``.
  Mark price = replayed price.  No liquidations.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from freqtrade_exec_ext.localex import replay
from freqtrade_exec_ext.localex.errors import VenueError, invalid_symbol, missing_param
from freqtrade_exec_ext.localex.faults import OrderFaults

if TYPE_CHECKING:
    from freqtrade_exec_ext.localex.venue import MarketVenue

HOUR_MS = 3_600_000
TAKE_DEPTH = 500
FIRST_ORDER_ID = 4_000_000_001
FIRST_TRADE_ID = 900_000_001
FIRST_ALGO_ID = 1_000_001
EPS = 1e-12

SPOT_TYPES = (
    "LIMIT",
    "MARKET",
    "LIMIT_MAKER",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
)
USDM_TYPES = ("LIMIT", "MARKET")
USDM_ALGO_TYPES = ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET")
STOP_TYPES = {
    # type -> (triggers when a SELL's price falls to the stop?, becomes limit?)
    "STOP_LOSS": (True, False),
    "STOP_LOSS_LIMIT": (True, True),
    "TAKE_PROFIT": (False, False),
    "TAKE_PROFIT_LIMIT": (False, True),
    "STOP": (True, True),
    "STOP_MARKET": (True, False),
    "TAKE_PROFIT_MARKET": (False, False),
}
OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED")
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTX")


def q8(x: float) -> float:
    """Round an amount to Binance's 8 decimals (kills float dust)."""
    return round(x + 0.0, 8)


def _steps(x: float, step: float) -> float:
    """``x`` rounded down to a multiple of ``step``."""
    if step <= 0:
        return x
    n = math.floor(x / step + 1e-9)
    decimals = max(0, -math.floor(math.log10(step)) + 1)
    return round(n * step, decimals)


def _is_multiple(x: float, step: float) -> bool:
    if step <= 0:
        return True
    n = x / step
    return abs(n - round(n)) < 1e-6


@dataclass(frozen=True)
class Fees:
    """Commission rates (Binance VIP 0, no BNB discount, by default)."""

    spot_maker: float = 0.001
    spot_taker: float = 0.001
    usdm_maker: float = 0.0002
    usdm_taker: float = 0.0005

    def rate(self, market: str, maker: bool) -> float:
        if market == "spot":
            return self.spot_maker if maker else self.spot_taker
        return self.usdm_maker if maker else self.usdm_taker


@dataclass
class Order:
    order_id: int
    market: str  # spot | usdm
    symbol: str
    client_order_id: str
    side: str  # BUY | SELL
    type: str
    time_in_force: str
    orig_qty: float
    price: float
    time: int
    stop_price: float = 0.0
    quote_order_qty: float = 0.0
    executed_qty: float = 0.0
    cum_quote: float = 0.0
    status: str = "NEW"
    update_time: int = 0
    working_time: int = -1
    triggered: bool = True
    reduce_only: bool = False
    close_position: bool = False
    locked_asset: str | None = None
    locked_amount: float = 0.0
    margin_reserved: float = 0.0
    margin_per_qty: float = 0.0
    fill_cap: float | None = None
    cancel_at: int | None = None
    cancel_status: str = "CANCELED"
    last_eval: int = 0  # served ms the path was matched up to
    algo_id: int | None = None  # futures: the algo (conditional) order this came from
    trade_ids: list[int] = field(default_factory=list)

    @property
    def remaining(self) -> float:
        return q8(self.orig_qty - self.executed_qty)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def avg_price(self) -> float:
        return self.cum_quote / self.executed_qty if self.executed_qty > 0 else 0.0

    @property
    def fillable(self) -> float:
        rem = self.remaining
        if self.fill_cap is not None:
            rem = min(rem, q8(self.fill_cap - self.executed_qty))
        return max(rem, 0.0)


@dataclass
class AlgoOrder:
    """A USDT-M conditional order (``/fapi/v1/algoOrder``)."""

    algo_id: int
    symbol: str
    client_algo_id: str
    side: str
    order_type: str  # STOP | STOP_MARKET | TAKE_PROFIT | TAKE_PROFIT_MARKET
    quantity: float
    trigger_price: float
    price: float
    time_in_force: str
    reduce_only: bool
    close_position: bool
    working_type: str
    create_time: int
    update_time: int
    status: str = "NEW"  # NEW | FINISHED | CANCELED | EXPIRED
    trigger_time: int = 0
    actual_order_id: int | None = None
    last_eval: int = 0

    @property
    def is_open(self) -> bool:
        return self.status == "NEW"


@dataclass(frozen=True)
class Fill:
    trade_id: int
    order_id: int
    market: str
    symbol: str
    side: str
    price: float
    qty: float
    quote_qty: float
    commission: float
    commission_asset: str
    time: int
    is_maker: bool
    realized_pnl: float = 0.0


@dataclass
class Position:
    symbol: str
    amount: float = 0.0  # signed: > 0 long, < 0 short
    entry_price: float = 0.0
    leverage: int = 20
    margin_type: str = "cross"  # cross | isolated
    update_time: int = 0


@dataclass(frozen=True)
class Income:
    tran_id: int
    symbol: str
    income_type: str  # REALIZED_PNL | COMMISSION | FUNDING_FEE | TRANSFER
    income: float
    asset: str
    time: int
    trade_id: int | None = None


def apply_position_fill(
    amount: float, entry: float, qty_signed: float, price: float
) -> tuple[float, float, float]:
    """One-way position after a fill: ``(new amount, new entry price, realized PnL)``."""
    new_amount = q8(amount + qty_signed)
    if amount == 0 or (amount > 0) == (qty_signed > 0):
        total = abs(amount) + abs(qty_signed)
        new_entry = (abs(amount) * entry + abs(qty_signed) * price) / total if total else 0.0
        return new_amount, new_entry, 0.0
    closing = min(abs(qty_signed), abs(amount))
    realized = closing * (price - entry) * (1 if amount > 0 else -1)
    if abs(new_amount) < EPS:
        return 0.0, 0.0, realized
    if (new_amount > 0) == (amount > 0):
        return new_amount, entry, realized
    return new_amount, price, realized  # flipped: the excess opens at the fill price


class TradingEngine:
    """Balances, orders and fills of the one account the local exchange serves."""

    def __init__(
        self,
        market: MarketVenue,
        *,
        spot_balances: dict[str, float] | None = None,
        futures_balance: float = 10_000.0,
        fees: Fees | None = None,
        participation: float = 0.2,
        default_leverage: int = 20,
        funding_interval_h: int = 8,
        default_funding_rate: float = 0.0001,
        funding_rates: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        self.market = market
        self.fees = fees or Fees()
        self.participation = participation
        self.default_leverage = default_leverage
        self.funding_interval_ms = funding_interval_h * HOUR_MS
        self.default_funding_rate = default_funding_rate
        self.funding_rates = funding_rates or {}
        self.lock = threading.RLock()
        start = market.server_time()
        self.spot: dict[str, list[float]] = {
            a: [q8(v), 0.0] for a, v in (spot_balances or {"USDT": 10_000.0}).items()
        }
        self.wallet = q8(futures_balance)  # USDT-M wallet balance (USDT)
        self.positions: dict[str, Position] = {}
        self.orders: dict[int, Order] = {}
        self.algo_orders: dict[int, AlgoOrder] = {}
        self.fills: list[Fill] = []
        self.income: list[Income] = []
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self._next_order = FIRST_ORDER_ID
        self._next_trade = FIRST_TRADE_ID
        self._next_algo = FIRST_ALGO_ID
        self._next_tran = 1
        self._funding_done = start // self.funding_interval_ms * self.funding_interval_ms
        self.update_time = start

    # ------------------------------------------------------------ helpers

    def now(self) -> int:
        return self.market.server_time()

    def _rules(self, market: str, symbol: str | None):
        if not symbol:
            raise missing_param("symbol")
        try:
            return self.market.rules[market][symbol]
        except KeyError:
            raise invalid_symbol() from None

    def _price(self, market: str, symbol: str, served_ms: int | None = None) -> float:
        s = self.market.series[market][symbol]
        t = self.now() if served_ms is None else served_ms
        return replay.current_price(s, t - self.market.clock.offset_ms)

    def mark_price(self, symbol: str) -> float:
        return self._price("usdm", symbol)

    def _emit(self, event: str, **data: Any) -> None:
        for fn in list(self.listeners):
            fn(event, data)

    def _spot_bal(self, asset: str) -> list[float]:
        return self.spot.setdefault(asset, [0.0, 0.0])

    def _new_order_id(self) -> int:
        self._next_order += 1
        return self._next_order - 1

    def _income(
        self, symbol: str, kind: str, amount: float, t: int, trade_id: int | None = None
    ) -> None:
        self.income.append(Income(self._next_tran, symbol, kind, q8(amount), "USDT", t, trade_id))
        self._next_tran += 1

    # ------------------------------------------------------------ stepping

    def step(self) -> None:
        """Advance every open order (and funding) to now."""
        with self.lock:
            now = self.now()
            for algo in [a for a in self.algo_orders.values() if a.is_open]:
                self._advance_algo(algo, now)
            for order in [o for o in self.orders.values() if o.is_open]:
                self._advance(order, now)
            self._funding(now)
            self.update_time = now

    def _advance(self, o: Order, now: int) -> None:
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
            self._close(o, o.cancel_status, o.cancel_at)
            self._emit("venue_cancel", order_id=o.order_id, status=o.cancel_status)

    def _segment(
        self, o: Order, series: replay.CandleSeries, ta: int, pa: float, tb: int, pb: float
    ) -> None:
        if not o.triggered:
            hit = _trigger_time(o.side, o.type, o.stop_price, ta, pa, tb, pb)
            if hit is None:
                return
            ta, pa = hit, o.stop_price
            o.triggered = True
            o.working_time = hit
            o.update_time = hit
            if not STOP_TYPES[o.type][1]:  # stop-market: take the book now
                self._take(o, None, hit)
                if o.is_open:
                    self._close(o, "EXPIRED", hit)
                return
            self._take(o, o.price, hit)  # a stop-limit whose price crosses takes the book
            if not o.is_open:
                return
        if o.type == "MARKET":
            return
        # resting limit: fills when the path trades through its price
        frac = _fraction_through(o.side, o.price, pa, pb)
        if frac <= 0:
            return
        vol = replay.volume_between(
            series, ta - self.market.clock.offset_ms, tb - self.market.clock.offset_ms
        )
        avail = vol * frac * self.participation
        step = self.market.rules[o.market][o.symbol].step
        qty = min(o.fillable, _steps(avail, step))
        if o.fillable - qty < step - EPS and avail >= o.fillable:
            qty = o.fillable
        qty = self._reduce_cap(o, qty)
        if qty <= EPS:
            return
        self._fill(o, o.price, qty, maker=True, t=tb)

    def _advance_algo(self, a: AlgoOrder, now: int) -> None:
        if now <= a.last_eval:
            return
        series = self.market.series["usdm"][a.symbol]
        off = self.market.clock.offset_ms
        pts = replay.path_points(series, a.last_eval - off, now - off)
        for (ta, pa), (tb, pb) in itertools.pairwise(pts):
            hit = _trigger_time(a.side, a.order_type, a.trigger_price, ta + off, pa, tb + off, pb)
            if hit is not None:
                self._trigger_algo(a, hit)
                break
        a.last_eval = now

    def _trigger_algo(self, a: AlgoOrder, t: int) -> None:
        a.trigger_time = t
        a.update_time = t
        pos = self.positions.get(a.symbol)
        qty = a.quantity
        if a.close_position:
            qty = abs(pos.amount) if pos else 0.0
        is_limit = STOP_TYPES[a.order_type][1]
        try:
            o = self._create(
                "usdm",
                a.symbol,
                a.side,
                "LIMIT" if is_limit else "MARKET",
                qty,
                a.price if is_limit else 0.0,
                "GTC" if is_limit else "",
                client_order_id=f"algo-{a.algo_id}",
                reduce_only=a.reduce_only or a.close_position,
                t=t,
            )
        except VenueError:
            a.status = "EXPIRED"
            return
        o.algo_id = a.algo_id
        a.actual_order_id = o.order_id
        a.status = "FINISHED"
        self._emit("algo_triggered", algo_id=a.algo_id, order_id=o.order_id)

    # ------------------------------------------------------------ fills

    def _take(self, o: Order, limit: float | None, t: int) -> None:
        """Take the current book as taker, up to ``limit`` (None: market)."""
        rules = self.market.rules[o.market][o.symbol]
        book = self.market.book_at(o.market, o.symbol, TAKE_DEPTH, t)
        levels = book.asks if o.side == "BUY" else book.bids
        budget = o.quote_order_qty - o.cum_quote if o.quote_order_qty else None
        for px, size in levels:
            if o.fillable <= EPS:
                break
            if limit is not None and (
                (o.side == "BUY" and px > limit + EPS) or (o.side == "SELL" and px < limit - EPS)
            ):
                break
            qty = self._reduce_cap(o, min(size, o.fillable))
            if budget is not None:
                qty = min(qty, _steps(budget / px, rules.step))
            if qty <= EPS:
                break
            self._fill(o, px, qty, maker=False, t=t)
            if budget is not None:
                budget = o.quote_order_qty - o.cum_quote

    def _reduce_cap(self, o: Order, qty: float) -> float:
        """A reduce-only futures order never opens or flips a position."""
        if o.market != "usdm" or not o.reduce_only:
            return qty
        pos = self.positions.get(o.symbol)
        amount = pos.amount if pos else 0.0
        reducing = amount != 0 and (amount > 0) == (o.side == "SELL")
        allowed = abs(amount) if reducing else 0.0
        if allowed <= EPS and o.is_open:
            self._close(o, "EXPIRED", o.update_time)
        return min(qty, allowed)

    def _fill(self, o: Order, price: float, qty: float, *, maker: bool, t: int) -> None:
        qty = q8(qty)
        quote = q8(qty * price)
        rate = self.fees.rate(o.market, maker)
        rules = self.market.rules[o.market][o.symbol]
        realized = 0.0
        if o.market == "spot":
            if o.side == "BUY":
                commission, asset = q8(qty * rate), rules.base
                if o.locked_asset:  # a limit buy locked qty × price
                    release = q8(qty * o.price)
                    bal = self._spot_bal(rules.quote)
                    bal[1] = q8(bal[1] - release)
                    bal[0] = q8(bal[0] + release - quote)
                    o.locked_amount = q8(o.locked_amount - release)
                else:
                    bal = self._spot_bal(rules.quote)
                    bal[0] = q8(bal[0] - quote)
                base = self._spot_bal(rules.base)
                base[0] = q8(base[0] + qty - commission)
            else:
                commission, asset = q8(quote * rate), rules.quote
                base = self._spot_bal(rules.base)
                if o.locked_asset:
                    base[1] = q8(base[1] - qty)
                    o.locked_amount = q8(o.locked_amount - qty)
                else:
                    base[0] = q8(base[0] - qty)
                bal = self._spot_bal(rules.quote)
                bal[0] = q8(bal[0] + quote - commission)
        else:
            commission, asset = q8(quote * rate), "USDT"
            pos = self._position(o.symbol)
            signed = qty if o.side == "BUY" else -qty
            pos.amount, pos.entry_price, realized = apply_position_fill(
                pos.amount, pos.entry_price, signed, price
            )
            pos.update_time = t
            realized = q8(realized)
            self.wallet = q8(self.wallet + realized - commission)
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
                self._income(o.symbol, "REALIZED_PNL", realized, t, fill.trade_id)
            self._income(o.symbol, "COMMISSION", -commission, t, fill.trade_id)
        if o.status == "FILLED":
            self._release(o)
        self._emit("fill", trade_id=fill.trade_id, order_id=o.order_id)

    def _release(self, o: Order) -> None:
        """Give back what an order still locks (spot) or reserves (futures)."""
        if o.market == "spot" and o.locked_asset and o.locked_amount > 0:
            bal = self._spot_bal(o.locked_asset)
            bal[1] = q8(bal[1] - o.locked_amount)
            bal[0] = q8(bal[0] + o.locked_amount)
        o.locked_amount = 0.0
        o.margin_reserved = 0.0

    def _close(self, o: Order, status: str, t: int) -> None:
        o.status = status
        o.update_time = t
        self._release(o)

    # ------------------------------------------------------------ orders

    def _position(self, symbol: str) -> Position:
        pos = self.positions.get(symbol)
        if pos is None:
            pos = Position(symbol, leverage=self.default_leverage, update_time=0)
            self.positions[symbol] = pos
        return pos

    def find_order(
        self, market: str, symbol: str | None, order_id: int | None, client_id: str | None
    ) -> Order | None:
        self._rules(market, symbol)
        if order_id is None and not client_id:
            raise VenueError(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        for o in self.orders.values():
            if o.market != market or o.symbol != symbol:
                continue
            if order_id is not None and o.order_id == order_id:
                return o
            if order_id is None and o.client_order_id == client_id:
                return o
        return None

    def new_order(
        self,
        market: str,
        symbol: str | None,
        side: str | None,
        type_: str | None,
        quantity: float | None,
        price: float | None,
        *,
        time_in_force: str | None = None,
        stop_price: float | None = None,
        quote_order_qty: float | None = None,
        client_order_id: str | None = None,
        reduce_only: bool = False,
        faults: OrderFaults | None = None,
    ) -> Order:
        """Validate, accept and match a new order (Binance's checks and error codes)."""
        with self.lock:
            self.step()
            if not side:
                raise missing_param("side")
            if not type_:
                raise missing_param("type")
            if side not in ("BUY", "SELL"):
                raise VenueError(-1116, "Invalid side.")
            allowed = SPOT_TYPES if market == "spot" else USDM_TYPES
            if type_ not in allowed:
                raise VenueError(-1116, "Invalid orderType.")
            o = self._create(
                market,
                symbol,
                side,
                type_,
                quantity,
                price,
                time_in_force,
                stop_price=stop_price,
                quote_order_qty=quote_order_qty,
                client_order_id=client_order_id,
                reduce_only=reduce_only,
                faults=faults,
                t=self.now(),
            )
            return o

    def _create(
        self,
        market: str,
        symbol: str | None,
        side: str,
        type_: str,
        quantity: float | None,
        price: float | None,
        time_in_force: str | None,
        *,
        stop_price: float | None = None,
        quote_order_qty: float | None = None,
        client_order_id: str | None = None,
        reduce_only: bool = False,
        faults: OrderFaults | None = None,
        t: int,
    ) -> Order:
        rules = self._rules(market, symbol)
        assert symbol is not None
        filters = self.market.filters(market, symbol)
        is_limit = type_ in ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
        is_stop = type_ in STOP_TYPES
        tif = _check_order_params(
            market, type_, time_in_force, price, stop_price, quantity, quote_order_qty
        )
        quantity = float(quantity or 0.0)
        price = float(price or 0.0)
        self._check_filters(market, symbol, rules, filters, type_, quantity, price, stop_price)
        if client_order_id:
            dup = next(
                (
                    o
                    for o in self.orders.values()
                    if o.symbol == symbol
                    and o.market == market
                    and o.is_open
                    and o.client_order_id == client_order_id
                ),
                None,
            )
            if dup is not None:
                raise VenueError(-2010, "Duplicate order sent.")
        ref = price or self._price(market, symbol, t)
        if quote_order_qty:
            notional = float(quote_order_qty)
        else:
            notional = quantity * (price if is_limit else ref)
        self._check_notional(market, filters, type_, notional, reduce_only)
        o = Order(
            order_id=self._new_order_id(),
            market=market,
            symbol=symbol,
            client_order_id=client_order_id or f"localex{self._next_order}",
            side=side,
            type=type_,
            time_in_force=tif or "GTC",
            orig_qty=quantity,
            price=price,
            stop_price=float(stop_price or 0.0),
            quote_order_qty=float(quote_order_qty or 0.0),
            time=t,
            update_time=t,
            working_time=-1 if is_stop else t,
            triggered=not is_stop,
            reduce_only=reduce_only,
            last_eval=t,
        )
        if market == "spot":
            self._lock_spot(o, rules)
        else:
            self._reserve_margin(o, ref)
        if faults is not None:
            if faults.fill_cap_ratio is not None:
                o.fill_cap = _steps(o.orig_qty * faults.fill_cap_ratio, rules.step)
            if faults.cancel_after_ms is not None:
                o.cancel_at = t + faults.cancel_after_ms
                o.cancel_status = faults.cancel_status
        self.orders[o.order_id] = o
        self._match_new(o, t)
        self._emit("new_order", order_id=o.order_id)
        return o

    def _check_filters(
        self,
        market: str,
        symbol: str,
        rules: Any,
        filters: dict[str, dict[str, Any]],
        type_: str,
        quantity: float,
        price: float,
        stop_price: float | None,
    ) -> None:
        pf = filters.get("PRICE_FILTER", {})
        for p in (price, stop_price):
            if not p:
                continue
            lo, hi = float(pf.get("minPrice", 0) or 0), float(pf.get("maxPrice", 0) or 0)
            if p < 0 or (lo and p < lo) or (hi and p > hi) or not _is_multiple(p, rules.tick):
                raise VenueError(-1013, "Filter failure: PRICE_FILTER")
        if quantity:
            lot = filters.get("MARKET_LOT_SIZE" if type_ == "MARKET" else "LOT_SIZE") or {}
            if not float(lot.get("stepSize", 0) or 0):
                lot = filters.get("LOT_SIZE", {})
            lo, hi = float(lot.get("minQty", 0) or 0), float(lot.get("maxQty", 0) or 0)
            if (
                quantity <= 0
                or (lo and quantity < lo - EPS)
                or (hi and quantity > hi + EPS)
                or not _is_multiple(quantity, rules.step)
            ):
                raise VenueError(-1013, "Filter failure: LOT_SIZE")

    def _check_notional(
        self,
        market: str,
        filters: dict[str, dict[str, Any]],
        type_: str,
        notional: float,
        reduce_only: bool,
    ) -> None:
        if market == "spot":
            f = filters.get("MIN_NOTIONAL") or filters.get("NOTIONAL")
            if not f:
                return
            if type_ in ("MARKET", "STOP_LOSS", "TAKE_PROFIT") and not f.get(
                "applyToMarket", f.get("applyMinToMarket", True)
            ):
                return
            if notional < float(f.get("minNotional", 0)) - EPS:
                name = "MIN_NOTIONAL" if "MIN_NOTIONAL" in filters else "NOTIONAL"
                raise VenueError(-1013, f"Filter failure: {name}")
            return
        f = filters.get("MIN_NOTIONAL")
        if f and not reduce_only and notional < float(f.get("notional", 0)) - EPS:
            raise VenueError(
                -4164,
                f"Order's notional must be no smaller than {float(f['notional']):g} (unless you "
                "choose reduce only).",
            )

    def _lock_spot(self, o: Order, rules: Any) -> None:
        if o.side == "SELL":
            need, asset = o.orig_qty, rules.base
        elif o.type in ("MARKET", "STOP_LOSS", "TAKE_PROFIT"):
            # market buys spend as they walk the book: check the walk's cost now
            need = (o.quote_order_qty or self._walk_cost(o)) if o.type == "MARKET" else 0.0
            if self._spot_bal(rules.quote)[0] + EPS < need:
                raise VenueError(-2010, "Account has insufficient balance for requested action.")
            return
        else:
            need, asset = q8(o.orig_qty * o.price), rules.quote
        bal = self._spot_bal(asset)
        if bal[0] + EPS < need:
            raise VenueError(-2010, "Account has insufficient balance for requested action.")
        bal[0] = q8(bal[0] - need)
        bal[1] = q8(bal[1] + need)
        o.locked_asset, o.locked_amount = asset, q8(need)

    def _walk_cost(self, o: Order) -> float:
        book = self.market.book_at(o.market, o.symbol, TAKE_DEPTH, o.time)
        left, cost = o.orig_qty, 0.0
        for px, size in book.asks:
            take = min(size, left)
            cost += take * px
            left -= take
            if left <= EPS:
                break
        return cost

    def _reserve_margin(self, o: Order, ref: float) -> None:
        pos = self._position(o.symbol)
        signed = o.orig_qty if o.side == "BUY" else -o.orig_qty
        reduces = pos.amount != 0 and (pos.amount > 0) != (signed > 0)
        if o.reduce_only:
            if not reduces:
                raise VenueError(-2022, "ReduceOnly Order is rejected.")
            return
        opening = o.orig_qty - (abs(pos.amount) if reduces else 0.0)
        if opening <= EPS:
            return
        need = q8(opening * (o.price or ref) / pos.leverage)
        if need > self.available_balance() + EPS:
            raise VenueError(-2019, "Margin is insufficient.")
        o.margin_reserved = need
        o.margin_per_qty = need / o.orig_qty

    def _match_new(self, o: Order, t: int) -> None:
        if not o.triggered:
            if _would_trigger(o.side, o.type, o.stop_price, self._price(o.market, o.symbol, t)):
                del self.orders[o.order_id]
                self._release(o)
                raise VenueError(-2010, "Stop price would trigger immediately.")
            return
        post_only = o.type == "LIMIT_MAKER" or o.time_in_force == "GTX"
        if o.type == "MARKET":
            if o.quote_order_qty:  # spend quoteOrderQty: the quantity is what it buys
                book = self.market.book_at(o.market, o.symbol, 1, t)
                o.orig_qty = q8(o.quote_order_qty / book.asks[0][0] * 2 + 1)
                self._take(o, None, t)
                o.orig_qty = o.executed_qty
                o.status = "FILLED" if o.executed_qty > 0 else "EXPIRED"
                self._release(o)
                return
            self._take(o, None, t)
            if o.is_open:
                self._close(o, "EXPIRED", t)
            return
        book = self.market.book_at(o.market, o.symbol, 1, t)
        crosses = (o.side == "BUY" and o.price >= book.asks[0][0] - EPS) or (
            o.side == "SELL" and o.price <= book.bids[0][0] + EPS
        )
        if post_only and crosses:
            del self.orders[o.order_id]
            self._release(o)
            if o.market == "spot":
                raise VenueError(-2010, "Order would immediately match and take.")
            raise VenueError(
                -5022,
                "Due to the order could not be executed as maker, the Post Only order will be "
                "rejected. The order will not be recorded in the order history",
            )
        if o.time_in_force == "FOK":
            deep = self.market.book_at(o.market, o.symbol, TAKE_DEPTH, t)
            levels = deep.asks if o.side == "BUY" else deep.bids
            avail = sum(
                size
                for p, size in levels
                if (o.side == "BUY" and p <= o.price) or (o.side == "SELL" and p >= o.price)
            )
            if avail + EPS < o.remaining or (o.fill_cap is not None and o.fill_cap < o.orig_qty):
                self._close(o, "EXPIRED", t)
                return
        if crosses:
            self._take(o, o.price, t)
        if o.is_open and o.time_in_force in ("IOC", "FOK"):
            self._close(o, "EXPIRED", t)

    def cancel(
        self, market: str, symbol: str | None, order_id: int | None, client_id: str | None
    ) -> Order:
        with self.lock:
            self.step()
            o = self.find_order(market, symbol, order_id, client_id)
            if o is None or not o.is_open:
                raise VenueError(-2011, "Unknown order sent.")
            self._close(o, "CANCELED", self.now())
            return o

    def cancel_all(self, market: str, symbol: str | None) -> list[Order]:
        with self.lock:
            self.step()
            self._rules(market, symbol)
            out = []
            for o in self.orders.values():
                if o.market == market and o.symbol == symbol and o.is_open:
                    self._close(o, "CANCELED", self.now())
                    out.append(o)
            return out

    def venue_cancel(self, order_id: int, status: str = "CANCELED") -> Order:
        """The venue cancels an open order by itself (e.g. maintenance, risk checks)."""
        with self.lock:
            self.step()
            o = self.orders.get(order_id)
            if o is None or not o.is_open:
                raise KeyError(f"order {order_id} is not open")
            self._close(o, status, self.now())
            self._emit("venue_cancel", order_id=order_id, status=status)
            return o

    def get_order(
        self, market: str, symbol: str | None, order_id: int | None, client_id: str | None
    ) -> Order:
        with self.lock:
            self.step()
            o = self.find_order(market, symbol, order_id, client_id)
            if o is None:
                raise VenueError(-2013, "Order does not exist.")
            return o

    def open_orders(self, market: str, symbol: str | None = None) -> list[Order]:
        with self.lock:
            self.step()
            if symbol:
                self._rules(market, symbol)
            return [
                o
                for o in self.orders.values()
                if o.market == market and o.is_open and (not symbol or o.symbol == symbol)
            ]

    def all_orders(
        self,
        market: str,
        symbol: str | None,
        start: int | None = None,
        end: int | None = None,
        from_id: int | None = None,
        limit: int = 500,
        max_span_ms: int = 86_400_000,
    ) -> list[Order]:
        with self.lock:
            self.step()
            self._rules(market, symbol)
            lo, hi = _window(start, end, max_span_ms)
            rows = [
                o
                for o in self.orders.values()
                if o.market == market
                and o.symbol == symbol
                and (from_id is None or o.order_id >= from_id)
                and (lo is None or o.time >= lo)
                and (hi is None or o.time <= hi)
            ]
            rows.sort(key=lambda o: o.order_id)
            return rows[:limit] if (from_id is not None or lo is not None) else rows[-limit:]

    def trades(
        self,
        market: str,
        symbol: str | None,
        start: int | None = None,
        end: int | None = None,
        from_id: int | None = None,
        limit: int = 500,
        order_id: int | None = None,
        max_span_ms: int = 86_400_000,
    ) -> list[Fill]:
        with self.lock:
            self.step()
            self._rules(market, symbol)
            if order_id is not None:
                rows = [
                    f
                    for f in self.fills
                    if f.market == market and f.order_id == order_id and f.symbol == symbol
                ]
                return rows[:limit]
            lo, hi = _window(start, end, max_span_ms)
            if lo is None and hi is None and from_id is None:
                hi = self.now()
                lo = hi - max_span_ms
            rows = [
                f
                for f in self.fills
                if f.market == market
                and f.symbol == symbol
                and (from_id is None or f.trade_id >= from_id)
                and (lo is None or f.time >= lo)
                and (hi is None or f.time <= hi)
            ]
            return rows[:limit] if (from_id is not None or start is not None) else rows[-limit:]

    # ------------------------------------------------------------ futures

    def unrealized(self, pos: Position) -> float:
        if pos.amount == 0:
            return 0.0
        return pos.amount * (self.mark_price(pos.symbol) - pos.entry_price)

    def position_margin(self, pos: Position) -> float:
        if pos.amount == 0:
            return 0.0
        return abs(pos.amount) * pos.entry_price / pos.leverage

    def available_balance(self) -> float:
        upnl = sum(self.unrealized(p) for p in self.positions.values())
        used = sum(self.position_margin(p) for p in self.positions.values())
        reserved = sum(o.margin_reserved for o in self.orders.values() if o.is_open)
        return max(0.0, self.wallet + upnl - used - reserved)

    def set_leverage(self, symbol: str | None, leverage: int | None) -> Position:
        with self.lock:
            self._rules("usdm", symbol)
            assert symbol is not None
            if leverage is None:
                raise missing_param("leverage")
            if not 1 <= leverage <= 125:
                raise VenueError(-4028, f"Leverage {leverage} is not valid")
            pos = self._position(symbol)
            pos.leverage = leverage
            return pos

    def set_margin_type(self, symbol: str | None, margin_type: str | None) -> None:
        with self.lock:
            self._rules("usdm", symbol)
            assert symbol is not None
            if not margin_type:
                raise missing_param("marginType")
            want = {"ISOLATED": "isolated", "CROSSED": "cross", "CROSS": "cross"}.get(
                margin_type.upper()
            )
            if want is None:
                raise VenueError(-1116, "Invalid marginType.")
            pos = self._position(symbol)
            if pos.margin_type == want:
                raise VenueError(-4046, "No need to change margin type.")
            if pos.amount != 0 or any(
                o.is_open for o in self.orders.values() if o.symbol == symbol and o.market == "usdm"
            ):
                raise VenueError(-4048, "Margin type cannot be changed if there exists position.")
            pos.margin_type = want

    def funding_rate(self, symbol: str, served_ms: int) -> float:
        table = self.funding_rates.get(symbol)
        if table is None:
            return self.default_funding_rate
        times, rates = table
        d = served_ms - self.market.clock.offset_ms
        i = int(np.searchsorted(times, d, side="right")) - 1
        return float(rates[max(i, 0)])

    def next_funding_time(self, now: int | None = None) -> int:
        now = self.now() if now is None else now
        return (now // self.funding_interval_ms + 1) * self.funding_interval_ms

    def _funding(self, now: int) -> None:
        t = self._funding_done + self.funding_interval_ms
        while t <= now:
            for pos in self.positions.values():
                if pos.amount == 0:
                    continue
                mark = self._price("usdm", pos.symbol, t)
                pay = q8(-pos.amount * mark * self.funding_rate(pos.symbol, t))
                self.wallet = q8(self.wallet + pay)
                self._income(pos.symbol, "FUNDING_FEE", pay, t)
                self._emit("funding", symbol=pos.symbol, amount=pay, time=t)
            self._funding_done = t
            t += self.funding_interval_ms

    def new_algo_order(
        self,
        symbol: str | None,
        side: str | None,
        order_type: str | None,
        quantity: float | None,
        trigger_price: float | None,
        price: float | None,
        *,
        time_in_force: str | None = None,
        reduce_only: bool = False,
        close_position: bool = False,
        working_type: str | None = None,
        client_algo_id: str | None = None,
    ) -> AlgoOrder:
        with self.lock:
            self.step()
            rules = self._rules("usdm", symbol)
            assert symbol is not None
            if not side:
                raise missing_param("side")
            if side not in ("BUY", "SELL"):
                raise VenueError(-1116, "Invalid side.")
            if order_type not in USDM_ALGO_TYPES:
                raise VenueError(-1116, "Invalid orderType.")
            if not trigger_price:
                raise missing_param("triggerPrice")
            is_limit = STOP_TYPES[order_type][1]
            if is_limit and not price:
                raise missing_param("price")
            if not close_position and not quantity:
                raise missing_param("quantity")
            filters = self.market.filters("usdm", symbol)
            self._check_filters(
                "usdm",
                symbol,
                rules,
                filters,
                "LIMIT" if is_limit else "MARKET",
                float(quantity or 0),
                float(price or 0),
                trigger_price,
            )
            now = self.now()
            a = AlgoOrder(
                algo_id=self._next_algo,
                symbol=symbol,
                client_algo_id=client_algo_id or f"localexalgo{self._next_algo}",
                side=side,
                order_type=order_type,
                quantity=float(quantity or 0),
                trigger_price=float(trigger_price),
                price=float(price or 0),
                time_in_force=(time_in_force or "GTC").upper(),
                reduce_only=reduce_only,
                close_position=close_position,
                working_type=working_type or "CONTRACT_PRICE",
                create_time=now,
                update_time=now,
                last_eval=now,
            )
            self._next_algo += 1
            mark = self.mark_price(symbol)
            if _would_trigger(side, order_type, a.trigger_price, mark):
                raise VenueError(-2021, "Order would immediately trigger.")
            self.algo_orders[a.algo_id] = a
            return a

    def find_algo(self, algo_id: int | None, client_algo_id: str | None) -> AlgoOrder | None:
        if algo_id is None and not client_algo_id:
            raise VenueError(
                -1102, "Param 'algoId' or 'clientAlgoId' must be sent, but both were empty/null!"
            )
        for a in self.algo_orders.values():
            if (algo_id is not None and a.algo_id == algo_id) or (
                algo_id is None and a.client_algo_id == client_algo_id
            ):
                return a
        return None

    def get_algo(self, algo_id: int | None, client_algo_id: str | None) -> AlgoOrder:
        with self.lock:
            self.step()
            a = self.find_algo(algo_id, client_algo_id)
            if a is None:
                raise VenueError(-2013, "Order does not exist.")
            return a

    def cancel_algo(self, algo_id: int | None, client_algo_id: str | None) -> AlgoOrder:
        with self.lock:
            self.step()
            a = self.find_algo(algo_id, client_algo_id)
            if a is None or not a.is_open:
                raise VenueError(-2011, "Unknown order sent.")
            a.status = "CANCELED"
            a.update_time = self.now()
            return a

    # ------------------------------------------------------------ views

    def spot_balances(self) -> dict[str, tuple[float, float]]:
        with self.lock:
            self.step()
            return {a: (b[0], b[1]) for a, b in self.spot.items()}


def _window(start: int | None, end: int | None, span: int) -> tuple[int | None, int | None]:
    if start is not None and end is not None:
        if end - start > span:
            raise VenueError(-1127, "More than 24 hours between startTime and endTime.")
        return start, end
    if start is not None:
        return start, start + span
    if end is not None:
        return end - span, end
    return None, None


def _fraction_through(side: str, limit: float, pa: float, pb: float) -> float:
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


def _would_trigger(side: str, type_: str, stop: float, price: float) -> bool:
    falls = STOP_TYPES[type_][0]
    # a SELL stop-loss (or a BUY take-profit) triggers when the price falls to the stop
    down = falls if side == "SELL" else not falls
    return price <= stop if down else price >= stop


def _trigger_time(
    side: str, type_: str, stop: float, ta: int, pa: float, tb: int, pb: float
) -> int | None:
    """When a linear segment reaches a stop's trigger price, or None."""
    if _would_trigger(side, type_, stop, pa):
        return ta
    if not _would_trigger(side, type_, stop, pb):
        return None
    if pb == pa:
        return tb
    frac = (stop - pa) / (pb - pa)
    return int(ta + min(max(frac, 0.0), 1.0) * (tb - ta))


def _check_order_params(
    market: str,
    type_: str,
    time_in_force: str | None,
    price: float | None,
    stop_price: float | None,
    quantity: float | None,
    quote_order_qty: float | None,
) -> str:
    """Binance's mandatory/forbidden parameter checks; returns the time in force."""
    is_limit = type_ in ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
    tif = (time_in_force or "").upper()
    if type_ in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
        if not tif:
            raise missing_param("timeInForce")
        if tif not in TIME_IN_FORCE or (market == "spot" and tif == "GTX"):
            raise VenueError(-1115, "Invalid timeInForce.")
    elif tif and type_ != "LIMIT_MAKER" and not (market == "usdm" and type_ == "MARKET"):
        raise VenueError(-1106, "Parameter 'timeInForce' sent when not required.")
    if is_limit and not price:
        raise missing_param("price")
    if type_ in STOP_TYPES and not stop_price:
        raise missing_param("stopPrice")
    if quote_order_qty and type_ != "MARKET":
        raise VenueError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
    if not quantity and not quote_order_qty:
        raise missing_param("quantity")
    return tif
