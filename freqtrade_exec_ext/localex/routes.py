"""Which Binance paths the venue serves, and the handler of each (pure).

:func:`resolve` maps ``(method, path)`` to a :class:`Route`: its API family (rate limits),
market (answers), whether it is SIGNED, whether it creates an order (order-count limits,
order-level faults) and its handler.  Paths not listed here are not served (404).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from freqtrade_exec_ext.localex import api_algo, api_spot, api_usdm, api_usdm_public
from freqtrade_exec_ext.localex.errors import VenueError, int_param
from freqtrade_exec_ext.localex.trading import TradingEngine
from freqtrade_exec_ext.localex.venue import MarketVenue

if TYPE_CHECKING:
    from freqtrade_exec_ext.localex.gateway import Gateway
    from freqtrade_exec_ext.localex.messages import Plan

# URL prefix -> API family (rate limits) and market (answers)
PREFIXES: dict[str, tuple[str, str]] = {
    "/api/v3": ("spot", "spot"),
    "/sapi/v1": ("sapi", "spot"),
    "/fapi/v1": ("usdm", "usdm"),
    "/fapi/v2": ("usdm", "usdm"),
    "/fapi/v3": ("usdm", "usdm"),
    "/dapi/v1": ("coinm", "coinm"),
}


@dataclass(frozen=True)
class Route:
    family: str
    market: str
    method: str
    name: str
    signed: bool
    handler: Callable[[Plan, Gateway], Any]
    creates_order: bool = False


def _symbols(params: Mapping[str, str]) -> list[str] | None:
    raw = params.get("symbols")
    if not raw:
        return None
    try:
        out = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
        out = None
    if not isinstance(out, list) or not all(isinstance(s, str) for s in out):
        raise VenueError(-1100, "Illegal characters found in parameter 'symbols'.")
    return out


# ------------------------------------------------------------------ route table

_PUBLIC: dict[str, Callable[[MarketVenue, TradingEngine, str, Mapping[str, str]], Any]] = {
    "ping": lambda v, e, m, q: {},
    "time": lambda v, e, m, q: {"serverTime": v.server_time()},
    "exchangeInfo": lambda v, e, m, q: v.exchange_info(m),
    "depth": lambda v, e, m, q: v.depth(m, q.get("symbol"), int_param(q, "limit")),
    "ticker/24hr": lambda v, e, m, q: v.ticker_24hr(m, q.get("symbol"), _symbols(q)),
    "ticker/bookTicker": lambda v, e, m, q: v.book_ticker(m, q.get("symbol"), _symbols(q)),
    "ticker/price": lambda v, e, m, q: v.price_ticker(m, q.get("symbol"), _symbols(q)),
}
_KLINES = ("klines", "uiKlines", "markPriceKlines", "indexPriceKlines", "continuousKlines")
_USDM_PUBLIC: dict[str, Callable[[TradingEngine, Mapping[str, str]], Any]] = {
    "premiumIndex": api_usdm_public.premium_index,
    "fundingRate": api_usdm_public.funding_rate_history,
    "fundingInfo": api_usdm_public.funding_info,
}
# (family, method, name) -> (handler, creates_order)
_PRIVATE: dict[tuple[str, str, str], tuple[Callable[..., Any], bool]] = {
    ("spot", "POST", "order"): (api_spot.spot_new_order, True),
    ("spot", "GET", "order"): (api_spot.spot_get_order, False),
    ("spot", "DELETE", "order"): (api_spot.spot_cancel_order, False),
    ("spot", "DELETE", "openOrders"): (api_spot.spot_cancel_all, False),
    ("spot", "GET", "openOrders"): (api_spot.spot_open_orders, False),
    ("spot", "GET", "allOrders"): (api_spot.spot_all_orders, False),
    ("spot", "GET", "myTrades"): (api_spot.spot_my_trades, False),
    ("spot", "GET", "account"): (api_spot.spot_account, False),
    ("spot", "GET", "account/commission"): (api_spot.spot_commission, False),
    ("sapi", "GET", "spot/delist-schedule"): (api_spot.sapi_delist_schedule, False),
    ("sapi", "GET", "asset/tradeFee"): (api_spot.sapi_trade_fee, False),
    ("usdm", "POST", "order"): (api_usdm.usdm_new_order, True),
    ("usdm", "GET", "order"): (api_usdm.usdm_get_order, False),
    ("usdm", "DELETE", "order"): (api_usdm.usdm_cancel_order, False),
    ("usdm", "DELETE", "allOpenOrders"): (api_usdm.usdm_cancel_all, False),
    ("usdm", "GET", "openOrders"): (api_usdm.usdm_open_orders, False),
    ("usdm", "GET", "openOrder"): (api_usdm.usdm_open_order, False),
    ("usdm", "GET", "allOrders"): (api_usdm.usdm_all_orders, False),
    ("usdm", "GET", "userTrades"): (api_usdm.usdm_user_trades, False),
    ("usdm", "GET", "account"): (api_usdm.usdm_account, False),
    ("usdm", "GET", "balance"): (api_usdm.usdm_balance, False),
    ("usdm", "GET", "positionRisk"): (api_usdm.usdm_position_risk, False),
    ("usdm", "POST", "leverage"): (api_usdm.usdm_set_leverage, False),
    ("usdm", "POST", "marginType"): (api_usdm.usdm_set_margin_type, False),
    ("usdm", "GET", "positionSide/dual"): (api_usdm.usdm_position_side, False),
    ("usdm", "POST", "positionSide/dual"): (api_usdm.usdm_set_position_side, False),
    ("usdm", "GET", "multiAssetsMargin"): (api_usdm.usdm_multi_assets, False),
    ("usdm", "GET", "leverageBracket"): (api_usdm.usdm_leverage_bracket, False),
    ("usdm", "GET", "income"): (api_usdm.usdm_income, False),
    ("usdm", "GET", "commissionRate"): (api_usdm.usdm_commission_rate, False),
    ("usdm", "POST", "algoOrder"): (api_algo.usdm_new_algo, True),
    ("usdm", "GET", "algoOrder"): (api_algo.usdm_get_algo, False),
    ("usdm", "DELETE", "algoOrder"): (api_algo.usdm_cancel_algo, False),
    ("usdm", "GET", "openAlgoOrders"): (api_algo.usdm_open_algos, False),
    ("usdm", "GET", "allAlgoOrders"): (api_algo.usdm_all_algos, False),
}


def _public_handler(name: str) -> Callable[[Plan, Gateway], Any]:
    if name in _KLINES:
        return lambda plan, gw: gw.market.klines(
            plan.route.market,
            plan.params.get("symbol") or plan.params.get("pair"),
            plan.params.get("interval"),
            int_param(plan.params, "startTime"),
            int_param(plan.params, "endTime"),
            int_param(plan.params, "limit"),
        )
    if name in _USDM_PUBLIC:
        fn = _USDM_PUBLIC[name]
        return lambda plan, gw: fn(gw.engine, plan.params)
    fn2 = _PUBLIC[name]
    return lambda plan, gw: fn2(gw.market, gw.engine, plan.route.market, plan.params)


def _private_handler(fn: Callable[..., Any], creates: bool) -> Callable[[Plan, Gateway], Any]:
    if creates:
        return lambda plan, gw: fn(gw.engine, plan.params, gw.order_faults(plan.fault))
    return lambda plan, gw: fn(gw.engine, plan.params)


def resolve(method: str, path: str) -> Route | None:
    for prefix, (family, market) in PREFIXES.items():
        if not path.startswith(prefix + "/"):
            continue
        name = path[len(prefix) + 1 :]
        key = (family, method, name)
        if key in _PRIVATE:
            fn, creates = _PRIVATE[key]
            return Route(family, market, method, name, True, _private_handler(fn, creates), creates)
        public = name in _PUBLIC or name in _KLINES or (family == "usdm" and name in _USDM_PUBLIC)
        if public and method == "GET" and family != "sapi":
            return Route(family, market, method, name, False, _public_handler(name))
        return None
    return None
