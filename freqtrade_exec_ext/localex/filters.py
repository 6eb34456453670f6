"""Binance's order checks: mandatory/forbidden parameters and symbol filters (pure).

Each check raises :class:`~freqtrade_exec_ext.localex.errors.VenueError` with the code and
message Binance answers with; the filters are the symbol's ``exchangeInfo`` filters
(``PRICE_FILTER``, ``LOT_SIZE``, ``MARKET_LOT_SIZE``, ``MIN_NOTIONAL``/``NOTIONAL``).
"""

from __future__ import annotations

from typing import Any

from freqtrade_exec_ext.localex.errors import VenueError, missing_param
from freqtrade_exec_ext.localex.model import EPS, STOP_TYPES, TIME_IN_FORCE, is_multiple

Filters = dict[str, dict[str, Any]]
LIMIT_TYPES = ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
#: order types that need a ``timeInForce``
TIF_TYPES = ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
#: spot types the (MIN_)NOTIONAL filter may exempt (``applyToMarket``)
MARKET_LIKE = ("MARKET", "STOP_LOSS", "TAKE_PROFIT")


def check_order_params(
    market: str,
    type_: str,
    time_in_force: str | None,
    price: float | None,
    stop_price: float | None,
    quantity: float | None,
    quote_order_qty: float | None,
) -> str:
    """Binance's mandatory/forbidden parameter checks; returns the time in force."""
    tif = (time_in_force or "").upper()
    if type_ in TIF_TYPES:
        if not tif:
            raise missing_param("timeInForce")
        if tif not in TIME_IN_FORCE or (market == "spot" and tif == "GTX"):
            raise VenueError(-1115, "Invalid timeInForce.")
    elif tif and type_ != "LIMIT_MAKER" and not (market == "usdm" and type_ == "MARKET"):
        raise VenueError(-1106, "Parameter 'timeInForce' sent when not required.")
    if type_ in LIMIT_TYPES and not price:
        raise missing_param("price")
    if type_ in STOP_TYPES and not stop_price:
        raise missing_param("stopPrice")
    if quote_order_qty and type_ != "MARKET":
        raise VenueError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
    if not quantity and not quote_order_qty:
        raise missing_param("quantity")
    return tif


def check_price(filters: Filters, tick: float, *prices: float | None) -> None:
    """PRICE_FILTER: within min/max and a multiple of the tick (-1013)."""
    pf = filters.get("PRICE_FILTER", {})
    lo, hi = float(pf.get("minPrice", 0) or 0), float(pf.get("maxPrice", 0) or 0)
    for p in prices:
        if not p:
            continue
        if p < 0 or (lo and p < lo) or (hi and p > hi) or not is_multiple(p, tick):
            raise VenueError(-1013, "Filter failure: PRICE_FILTER")


def check_quantity(filters: Filters, step: float, type_: str, quantity: float) -> None:
    """LOT_SIZE (MARKET_LOT_SIZE for market orders when it has a step): -1013."""
    if not quantity:
        return
    lot = filters.get("MARKET_LOT_SIZE" if type_ == "MARKET" else "LOT_SIZE") or {}
    if not float(lot.get("stepSize", 0) or 0):
        lot = filters.get("LOT_SIZE", {})
    lo, hi = float(lot.get("minQty", 0) or 0), float(lot.get("maxQty", 0) or 0)
    if (
        quantity <= 0
        or (lo and quantity < lo - EPS)
        or (hi and quantity > hi + EPS)
        or not is_multiple(quantity, step)
    ):
        raise VenueError(-1013, "Filter failure: LOT_SIZE")


def check_filters(
    filters: Filters,
    rules: Any,
    type_: str,
    quantity: float,
    price: float,
    stop_price: float | None,
) -> None:
    """Price and quantity filters of a new order (``rules``: the symbol's tick and step)."""
    check_price(filters, rules.tick, price, stop_price)
    check_quantity(filters, rules.step, type_, quantity)


def check_notional(
    market: str, filters: Filters, type_: str, notional: float, reduce_only: bool
) -> None:
    """Spot MIN_NOTIONAL/NOTIONAL (-1013); USDT-M MIN_NOTIONAL unless reduce-only (-4164)."""
    if market == "spot":
        f = filters.get("MIN_NOTIONAL") or filters.get("NOTIONAL")
        if not f:
            return
        if type_ in MARKET_LIKE and not f.get("applyToMarket", f.get("applyMinToMarket", True)):
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
