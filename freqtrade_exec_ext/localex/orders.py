"""The account's orders: ids, acceptance (checks, holds, matching on arrival), lookup (pure).

:meth:`OrderBook.create` runs Binance's checks in Binance's order (parameters, filters,
duplicate open ``newClientOrderId`` -2010, notional), then locks the spot balance or
reserves the futures margin, applies order-level faults and matches the order on arrival.
An order refused as a whole on arrival (a post-only order that would take, a stop that
would trigger at once) is not recorded and holds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from freqtrade_exec_ext.localex.accounts import Accounts
from freqtrade_exec_ext.localex.errors import VenueError, invalid_symbol, missing_param
from freqtrade_exec_ext.localex.faults import OrderFaults
from freqtrade_exec_ext.localex.filters import (
    LIMIT_TYPES,
    check_filters,
    check_notional,
    check_order_params,
)
from freqtrade_exec_ext.localex.matching import Matcher
from freqtrade_exec_ext.localex.model import FIRST_ORDER_ID, STOP_TYPES, Order, steps

if TYPE_CHECKING:
    from freqtrade_exec_ext.localex.venue import MarketVenue


def symbol_rules(venue: MarketVenue, market: str, symbol: str | None) -> Any:
    """The listed symbol's tick/step rules (-1102 without a symbol, -1121 unknown)."""
    if not symbol:
        raise missing_param("symbol")
    try:
        return venue.rules[market][symbol]
    except KeyError:
        raise invalid_symbol() from None


class OrderBook:
    """Every order the account placed (open and closed), by order id."""

    def __init__(
        self,
        market: MarketVenue,
        accounts: Accounts,
        matcher: Matcher,
        emit: Callable[..., None],
    ) -> None:
        self.market = market
        self.accounts = accounts
        self.matcher = matcher
        self.emit = emit
        self.orders: dict[int, Order] = {}
        self._next_order = FIRST_ORDER_ID

    def reserved(self) -> float:
        """Initial margin the open orders reserve."""
        return sum(o.margin_reserved for o in self.orders.values() if o.is_open)

    def find(
        self, market: str, symbol: str | None, order_id: int | None, client_id: str | None
    ) -> Order | None:
        symbol_rules(self.market, market, symbol)
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

    def create(
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
        rules = symbol_rules(self.market, market, symbol)
        assert symbol is not None
        filters = self.market.filters(market, symbol)
        tif = check_order_params(
            market, type_, time_in_force, price, stop_price, quantity, quote_order_qty
        )
        quantity = float(quantity or 0.0)
        price = float(price or 0.0)
        check_filters(filters, rules, type_, quantity, price, stop_price)
        if client_order_id and self._open_with_client_id(market, symbol, client_order_id):
            raise VenueError(-2010, "Duplicate order sent.")
        ref = price or self.matcher.price(market, symbol, t)
        if quote_order_qty:
            notional = float(quote_order_qty)
        else:
            notional = quantity * (price if type_ in LIMIT_TYPES else ref)
        check_notional(market, filters, type_, notional, reduce_only)
        is_stop = type_ in STOP_TYPES
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
            self.accounts.lock_spot(o, rules, lambda: self.matcher.walk_cost(o))
        else:
            self.accounts.reserve_margin(o, ref, self.reserved())
        if faults is not None:
            _apply_order_faults(o, faults, rules.step, t)
        self.orders[o.order_id] = o
        try:
            self.matcher.match_new(o, t)
        except VenueError:  # refused as a whole: not recorded, nothing held
            del self.orders[o.order_id]
            self.accounts.release(o)
            raise
        self.emit("new_order", order_id=o.order_id)
        return o

    def _open_with_client_id(self, market: str, symbol: str, client_id: str) -> bool:
        return any(
            o.client_order_id == client_id and o.is_open and o.symbol == symbol
            for o in self.orders.values()
            if o.market == market
        )

    def _new_order_id(self) -> int:
        self._next_order += 1
        return self._next_order - 1


def _apply_order_faults(o: Order, faults: OrderFaults, step: float, t: int) -> None:
    if faults.fill_cap_ratio is not None:
        o.fill_cap = steps(o.orig_qty * faults.fill_cap_ratio, step)
    if faults.cancel_after_ms is not None:
        o.cancel_at = t + faults.cancel_after_ms
        o.cancel_status = faults.cancel_status
