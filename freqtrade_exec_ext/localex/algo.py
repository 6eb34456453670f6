"""USDT-M conditional (algo) orders: ``/fapi/v1/algoOrder`` (pure).

``STOP``/``STOP_MARKET``/``TAKE_PROFIT``/``TAKE_PROFIT_MARKET`` wait, outside the order
book, until the replayed path reaches ``triggerPrice``; they then place a limit or market
order (client id ``algo-<algoId>``) and are ``FINISHED``, or ``EXPIRED`` when that order is
refused (e.g. a reduce-only order with nothing to reduce).  An algo order that would trigger
at once is refused (-2021).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

from freqtrade_exec_ext.localex import replay
from freqtrade_exec_ext.localex.errors import VenueError, missing_param
from freqtrade_exec_ext.localex.filters import check_filters
from freqtrade_exec_ext.localex.matching import trigger_time, would_trigger
from freqtrade_exec_ext.localex.model import (
    FIRST_ALGO_ID,
    STOP_TYPES,
    USDM_ALGO_TYPES,
    AlgoOrder,
    Order,
)

if TYPE_CHECKING:
    from freqtrade_exec_ext.localex.venue import MarketVenue

#: places the order a triggered algo order becomes (the engine's order creation)
CreateOrder = Callable[..., Order]


class AlgoBook:
    """The account's conditional orders."""

    def __init__(
        self, market: MarketVenue, create_order: CreateOrder, emit: Callable[..., None]
    ) -> None:
        self.market = market
        self.create_order = create_order
        self.emit = emit
        self.orders: dict[int, AlgoOrder] = {}
        self._next_algo = FIRST_ALGO_ID

    def new(
        self,
        symbol: str,
        side: str | None,
        order_type: str | None,
        quantity: float | None,
        trigger_price: float | None,
        price: float | None,
        *,
        now: int,
        mark: float,
        time_in_force: str | None = None,
        reduce_only: bool = False,
        close_position: bool = False,
        working_type: str | None = None,
        client_algo_id: str | None = None,
    ) -> AlgoOrder:
        """Validate and accept a conditional order (Binance's checks and error codes)."""
        is_limit = _check_params(side, order_type, quantity, trigger_price, price, close_position)
        assert side is not None and order_type is not None and trigger_price is not None
        check_filters(
            self.market.filters("usdm", symbol),
            self.market.rules["usdm"][symbol],
            "LIMIT" if is_limit else "MARKET",
            float(quantity or 0),
            float(price or 0),
            trigger_price,
        )
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
        if would_trigger(side, order_type, a.trigger_price, mark):
            raise VenueError(-2021, "Order would immediately trigger.")
        self.orders[a.algo_id] = a
        return a

    def find(self, algo_id: int | None, client_algo_id: str | None) -> AlgoOrder | None:
        if algo_id is None and not client_algo_id:
            raise VenueError(
                -1102, "Param 'algoId' or 'clientAlgoId' must be sent, but both were empty/null!"
            )
        for a in self.orders.values():
            if (algo_id is not None and a.algo_id == algo_id) or (
                algo_id is None and a.client_algo_id == client_algo_id
            ):
                return a
        return None

    def cancel(self, algo_id: int | None, client_algo_id: str | None, now: int) -> AlgoOrder:
        a = self.find(algo_id, client_algo_id)
        if a is None or not a.is_open:
            raise VenueError(-2011, "Unknown order sent.")
        a.status = "CANCELED"
        a.update_time = now
        return a

    def open(self, symbol: str | None = None) -> list[AlgoOrder]:
        return [
            a for a in self.orders.values() if a.is_open and (symbol is None or a.symbol == symbol)
        ]

    # ------------------------------------------------------------ triggering

    def advance(self, a: AlgoOrder, now: int, position_amount: Callable[[str], float]) -> None:
        """Walk the path since ``a`` was last looked at; trigger it where it reaches its
        price (``position_amount``: the symbol's position, for ``closePosition``)."""
        if now <= a.last_eval:
            return
        series = self.market.series["usdm"][a.symbol]
        off = self.market.clock.offset_ms
        pts = replay.path_points(series, a.last_eval - off, now - off)
        for (ta, pa), (tb, pb) in itertools.pairwise(pts):
            hit = trigger_time(a.side, a.order_type, a.trigger_price, ta + off, pa, tb + off, pb)
            if hit is not None:
                self._trigger(a, hit, position_amount(a.symbol))
                break
        a.last_eval = now

    def _trigger(self, a: AlgoOrder, t: int, position: float) -> None:
        a.trigger_time = t
        a.update_time = t
        qty = abs(position) if a.close_position else a.quantity
        is_limit = STOP_TYPES[a.order_type][1]
        try:
            o = self.create_order(
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
        self.emit("algo_triggered", algo_id=a.algo_id, order_id=o.order_id)


def _check_params(
    side: str | None,
    order_type: str | None,
    quantity: float | None,
    trigger_price: float | None,
    price: float | None,
    close_position: bool,
) -> bool:
    """Binance's parameter checks of a new algo order; whether it becomes a limit order."""
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
    return is_limit
