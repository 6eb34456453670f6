"""Trading state of the local exchange: the :class:`TradingEngine` façade (pure).

No HTTP here: :class:`TradingEngine` takes plain arguments, raises
:class:`~freqtrade_exec_ext.localex.errors.VenueError` with Binance's codes, and keeps
its state in memory.  Prices come from the replay (:class:`~.venue.MarketVenue`).  Its
parts, each in its own module:

* ``model.py``: the records (orders, algo orders, fills, positions, income, fee rates);
* ``filters.py``: Binance's parameter checks and symbol filters;
* ``matching.py``: how orders meet the replayed market and become fills;
* ``accounts.py``: spot balances, the USDT-M wallet, positions, funding payments;
* ``algo.py``: USDT-M conditional (algo) orders.

The engine advances lazily: every request first calls :meth:`TradingEngine.step`, so the
result does not depend on how often clients poll.  Funding is paid every
``funding_interval_h`` hours of served time (00:00, 08:00, 16:00 UTC by default), at the
rate of the datadir's ``futures/*-funding_rate.feather`` when present, else
``default_funding_rate``.  Mark price = replayed price.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from freqtrade_exec_ext.localex.accounts import Accounts, FundingSchedule
from freqtrade_exec_ext.localex.algo import AlgoBook
from freqtrade_exec_ext.localex.errors import VenueError, missing_param
from freqtrade_exec_ext.localex.faults import OrderFaults
from freqtrade_exec_ext.localex.history import DAY_MS, select_fills, select_orders
from freqtrade_exec_ext.localex.matching import Matcher
from freqtrade_exec_ext.localex.model import (
    DEFAULT_FUTURES_BALANCE,
    DEFAULT_PARTICIPATION,
    HOUR_MS,
    SPOT_TYPES,
    USDM_TYPES,
    AlgoOrder,
    Fees,
    Fill,
    Income,
    Order,
    Position,
    apply_position_fill,
    q8,
)
from freqtrade_exec_ext.localex.orders import OrderBook, symbol_rules

if TYPE_CHECKING:
    from freqtrade_exec_ext.localex.venue import MarketVenue

__all__ = [
    "HOUR_MS",
    "AlgoOrder",
    "Fees",
    "Fill",
    "Income",
    "Order",
    "Position",
    "TradingEngine",
    "apply_position_fill",
    "q8",
]


class TradingEngine:
    """Balances, orders and fills of the one account the local exchange serves."""

    def __init__(
        self,
        market: MarketVenue,
        *,
        spot_balances: dict[str, float] | None = None,
        futures_balance: float = DEFAULT_FUTURES_BALANCE,
        fees: Fees | None = None,
        participation: float = DEFAULT_PARTICIPATION,
        default_leverage: int = 20,
        funding_interval_h: int = 8,
        default_funding_rate: float = 0.0001,
        funding_rates: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        self.market = market
        self.fees = fees or Fees()
        self.lock = threading.RLock()
        start = market.server_time()
        self.funding = FundingSchedule(
            funding_interval_h * HOUR_MS,
            default_funding_rate,
            funding_rates or {},
            lambda: market.clock.offset_ms,
            start,
        )
        self.accounts = Accounts(
            self.mark_price,
            spot_balances=spot_balances,
            futures_balance=futures_balance,
            default_leverage=default_leverage,
        )
        self.matcher = Matcher(market, self.accounts, self.fees, participation, self._emit)
        self.book = OrderBook(market, self.accounts, self.matcher, self._emit)
        self.algos = AlgoBook(market, self.book.create, self._emit)
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self.update_time = start

    # ------------------------------------------------------------ state (views of the parts)

    @property
    def spot(self) -> dict[str, list[float]]:
        return self.accounts.spot

    @property
    def wallet(self) -> float:
        return self.accounts.wallet

    @wallet.setter
    def wallet(self, value: float) -> None:
        self.accounts.wallet = value

    @property
    def positions(self) -> dict[str, Position]:
        return self.accounts.positions

    @property
    def income(self) -> list[Income]:
        return self.accounts.income

    @property
    def orders(self) -> dict[int, Order]:
        return self.book.orders

    @property
    def fills(self) -> list[Fill]:
        return self.matcher.fills

    @property
    def algo_orders(self) -> dict[int, AlgoOrder]:
        return self.algos.orders

    @property
    def participation(self) -> float:
        return self.matcher.participation

    # ------------------------------------------------------------ helpers

    def now(self) -> int:
        return self.market.server_time()

    def _rules(self, market: str, symbol: str | None) -> Any:
        return symbol_rules(self.market, market, symbol)

    def _price(self, market: str, symbol: str, served_ms: int | None = None) -> float:
        return self.matcher.price(market, symbol, self.now() if served_ms is None else served_ms)

    def mark_price(self, symbol: str) -> float:
        return self._price("usdm", symbol)

    def _emit(self, event: str, **data: Any) -> None:
        for fn in list(self.listeners):
            fn(event, data)

    def _position(self, symbol: str) -> Position:
        return self.accounts.position(symbol)

    def _reserved(self) -> float:
        return self.book.reserved()

    # ------------------------------------------------------------ stepping

    def step(self) -> None:
        """Advance every open order (and funding) to now."""
        with self.lock:
            now = self.now()
            for algo in self.algos.open():
                self.algos.advance(algo, now, self._position_amount)
            for order in [o for o in self.orders.values() if o.is_open]:
                self.matcher.advance(order, now)
            self._funding(now)
            self.update_time = now

    def _position_amount(self, symbol: str) -> float:
        pos = self.positions.get(symbol)
        return pos.amount if pos else 0.0

    # ------------------------------------------------------------ orders

    def find_order(
        self, market: str, symbol: str | None, order_id: int | None, client_id: str | None
    ) -> Order | None:
        return self.book.find(market, symbol, order_id, client_id)

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
            if type_ not in (SPOT_TYPES if market == "spot" else USDM_TYPES):
                raise VenueError(-1116, "Invalid orderType.")
            return self.book.create(
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

    def cancel(
        self, market: str, symbol: str | None, order_id: int | None, client_id: str | None
    ) -> Order:
        with self.lock:
            self.step()
            o = self.find_order(market, symbol, order_id, client_id)
            if o is None or not o.is_open:
                raise VenueError(-2011, "Unknown order sent.")
            self.matcher.close(o, "CANCELED", self.now())
            return o

    def cancel_all(self, market: str, symbol: str | None) -> list[Order]:
        with self.lock:
            self.step()
            self._rules(market, symbol)
            out = []
            for o in self.orders.values():
                if o.market == market and o.symbol == symbol and o.is_open:
                    self.matcher.close(o, "CANCELED", self.now())
                    out.append(o)
            return out

    def venue_cancel(self, order_id: int, status: str = "CANCELED") -> Order:
        """The venue cancels an open order by itself (e.g. maintenance, risk checks)."""
        with self.lock:
            self.step()
            o = self.orders.get(order_id)
            if o is None or not o.is_open:
                raise KeyError(f"order {order_id} is not open")
            self.matcher.close(o, status, self.now())
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
        max_span_ms: int = DAY_MS,
    ) -> list[Order]:
        with self.lock:
            self.step()
            self._rules(market, symbol)
            mine = [o for o in self.orders.values() if o.market == market and o.symbol == symbol]
            return select_orders(mine, start, end, from_id, limit, max_span_ms)

    def trades(
        self,
        market: str,
        symbol: str | None,
        start: int | None = None,
        end: int | None = None,
        from_id: int | None = None,
        limit: int = 500,
        order_id: int | None = None,
        max_span_ms: int = DAY_MS,
    ) -> list[Fill]:
        with self.lock:
            self.step()
            self._rules(market, symbol)
            mine = [f for f in self.fills if f.market == market and f.symbol == symbol]
            return select_fills(mine, self.now(), start, end, from_id, limit, order_id, max_span_ms)

    # ------------------------------------------------------------ futures

    def unrealized(self, pos: Position) -> float:
        return self.accounts.unrealized(pos)

    def position_margin(self, pos: Position) -> float:
        return self.accounts.position_margin(pos)

    def available_balance(self) -> float:
        return self.accounts.available_balance(self._reserved())

    def set_leverage(self, symbol: str | None, leverage: int | None) -> Position:
        with self.lock:
            self._rules("usdm", symbol)
            assert symbol is not None
            return self.accounts.set_leverage(symbol, leverage)

    def set_margin_type(self, symbol: str | None, margin_type: str | None) -> None:
        with self.lock:
            self._rules("usdm", symbol)
            assert symbol is not None
            has_orders = any(
                o.is_open for o in self.orders.values() if o.symbol == symbol and o.market == "usdm"
            )
            self.accounts.set_margin_type(symbol, margin_type, has_orders)

    def funding_rate(self, symbol: str, served_ms: int) -> float:
        return self.funding.rate(symbol, served_ms)

    def next_funding_time(self, now: int | None = None) -> int:
        return self.funding.next_time(self.now() if now is None else now)

    @property
    def funding_interval_ms(self) -> int:
        return self.funding.interval_ms

    def _funding(self, now: int) -> None:
        for t in self.funding.due(now):
            for symbol, pos in self.positions.items():
                if pos.amount == 0:
                    continue
                mark = self._price("usdm", symbol, t)
                pay = self.accounts.pay_funding(symbol, mark, self.funding_rate(symbol, t), t)
                self._emit("funding", symbol=symbol, amount=pay, time=t)

    # ------------------------------------------------------------ algo orders

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
            self._rules("usdm", symbol)
            assert symbol is not None
            return self.algos.new(
                symbol,
                side,
                order_type,
                quantity,
                trigger_price,
                price,
                now=self.now(),
                mark=self.mark_price(symbol),
                time_in_force=time_in_force,
                reduce_only=reduce_only,
                close_position=close_position,
                working_type=working_type,
                client_algo_id=client_algo_id,
            )

    def find_algo(self, algo_id: int | None, client_algo_id: str | None) -> AlgoOrder | None:
        return self.algos.find(algo_id, client_algo_id)

    def get_algo(self, algo_id: int | None, client_algo_id: str | None) -> AlgoOrder:
        with self.lock:
            self.step()
            a = self.algos.find(algo_id, client_algo_id)
            if a is None:
                raise VenueError(-2013, "Order does not exist.")
            return a

    def cancel_algo(self, algo_id: int | None, client_algo_id: str | None) -> AlgoOrder:
        with self.lock:
            self.step()
            return self.algos.cancel(algo_id, client_algo_id, self.now())

    # ------------------------------------------------------------ views

    def spot_balances(self) -> dict[str, tuple[float, float]]:
        with self.lock:
            self.step()
            return {a: (b[0], b[1]) for a, b in self.spot.items()}
