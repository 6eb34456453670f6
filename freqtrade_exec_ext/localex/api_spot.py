"""Spot signed endpoints (``/api/v3``, ``/sapi/v1``): parameters in, Binance JSON out (pure).

Each handler takes the :class:`~freqtrade_exec_ext.localex.trading.TradingEngine`, the
request parameters (query and form body merged) and, for order creation, the order-level
faults; it returns what Binance returns for that endpoint, field names and string
formatting included, so that ccxt's ``parse_order``/``parse_trade``/``parse_balance`` read
it as they read Binance.
"""

from __future__ import annotations

from typing import Any

from freqtrade_exec_ext.localex.api_params import (
    Params,
    bool_param,
    f8,
    float_param,
    limit_param,
    order_faults,
    order_ids,
)
from freqtrade_exec_ext.localex.errors import int_param, missing_param
from freqtrade_exec_ext.localex.faults import OrderFaults
from freqtrade_exec_ext.localex.model import Fill, Order
from freqtrade_exec_ext.localex.trading import TradingEngine

# ------------------------------------------------------------------ spot shapes


def spot_order(o: Order) -> dict[str, Any]:
    out: dict[str, Any] = {
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_order_id,
        "price": f8(o.price),
        "origQty": f8(o.orig_qty),
        "executedQty": f8(o.executed_qty),
        "cummulativeQuoteQty": f8(o.cum_quote),
        "status": o.status,
        "timeInForce": o.time_in_force,
        "type": o.type,
        "side": o.side,
        "stopPrice": f8(o.stop_price),
        "icebergQty": f8(0),
        "time": o.time,
        "updateTime": o.update_time,
        "isWorking": o.triggered,
        "workingTime": o.working_time,
        "origQuoteOrderQty": f8(o.quote_order_qty),
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }
    return out


def spot_new_order_response(o: Order, fills: list[Fill], resp_type: str) -> dict[str, Any]:
    base = {
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_order_id,
        "transactTime": o.time,
    }
    if resp_type == "ACK":
        return base
    base.update(
        {
            "price": f8(o.price),
            "origQty": f8(o.orig_qty),
            "executedQty": f8(o.executed_qty),
            "origQuoteOrderQty": f8(o.quote_order_qty),
            "cummulativeQuoteQty": f8(o.cum_quote),
            "status": o.status,
            "timeInForce": o.time_in_force,
            "type": o.type,
            "side": o.side,
            "workingTime": o.working_time,
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }
    )
    if o.stop_price:
        base["stopPrice"] = f8(o.stop_price)
    if resp_type == "FULL":
        base["fills"] = [
            {
                "price": f8(f.price),
                "qty": f8(f.qty),
                "commission": f8(f.commission),
                "commissionAsset": f.commission_asset,
                "tradeId": f.trade_id,
            }
            for f in fills
        ]
    return base


def spot_trade(f: Fill) -> dict[str, Any]:
    return {
        "symbol": f.symbol,
        "id": f.trade_id,
        "orderId": f.order_id,
        "orderListId": -1,
        "price": f8(f.price),
        "qty": f8(f.qty),
        "quoteQty": f8(f.quote_qty),
        "commission": f8(f.commission),
        "commissionAsset": f.commission_asset,
        "time": f.time,
        "isBuyer": f.side == "BUY",
        "isMaker": f.is_maker,
        "isBestMatch": True,
    }


# ------------------------------------------------------------------ spot handlers


def spot_new_order(
    eng: TradingEngine, p: Params, faults: OrderFaults | None = None
) -> dict[str, Any]:
    before = len(eng.fills)
    o = eng.new_order(
        "spot",
        p.get("symbol"),
        p.get("side"),
        p.get("type"),
        float_param(p, "quantity"),
        float_param(p, "price"),
        time_in_force=p.get("timeInForce"),
        stop_price=float_param(p, "stopPrice"),
        quote_order_qty=float_param(p, "quoteOrderQty"),
        client_order_id=p.get("newClientOrderId"),
        faults=order_faults(faults),
    )
    fills = [f for f in eng.fills[before:] if f.order_id == o.order_id]
    default = "FULL" if o.type in ("MARKET", "LIMIT") else "ACK"
    resp_type = (p.get("newOrderRespType") or default).upper()
    return spot_new_order_response(o, fills, resp_type)


def spot_get_order(eng: TradingEngine, p: Params) -> dict[str, Any]:
    return spot_order(eng.get_order("spot", p.get("symbol"), *order_ids(p)))


def spot_cancel_order(eng: TradingEngine, p: Params) -> dict[str, Any]:
    o = eng.cancel("spot", p.get("symbol"), *order_ids(p))
    return {
        "symbol": o.symbol,
        "origClientOrderId": o.client_order_id,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": p.get("newClientOrderId") or f"cancel{o.order_id}",
        "transactTime": o.update_time,
        "price": f8(o.price),
        "origQty": f8(o.orig_qty),
        "executedQty": f8(o.executed_qty),
        "cummulativeQuoteQty": f8(o.cum_quote),
        "status": o.status,
        "timeInForce": o.time_in_force,
        "type": o.type,
        "side": o.side,
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def spot_cancel_all(eng: TradingEngine, p: Params) -> list[dict[str, Any]]:
    if not p.get("symbol"):
        raise missing_param("symbol")
    return [spot_order(o) for o in eng.cancel_all("spot", p.get("symbol"))]


def spot_open_orders(eng: TradingEngine, p: Params) -> list[dict[str, Any]]:
    return [spot_order(o) for o in eng.open_orders("spot", p.get("symbol") or None)]


def spot_all_orders(eng: TradingEngine, p: Params) -> list[dict[str, Any]]:
    rows = eng.all_orders(
        "spot",
        p.get("symbol"),
        int_param(p, "startTime"),
        int_param(p, "endTime"),
        int_param(p, "orderId"),
        limit_param(p, 500, 1000),
    )
    return [spot_order(o) for o in rows]


def spot_my_trades(eng: TradingEngine, p: Params) -> list[dict[str, Any]]:
    rows = eng.trades(
        "spot",
        p.get("symbol"),
        int_param(p, "startTime"),
        int_param(p, "endTime"),
        int_param(p, "fromId"),
        limit_param(p, 500, 1000),
        int_param(p, "orderId"),
    )
    return [spot_trade(f) for f in rows]


def spot_account(eng: TradingEngine, p: Params) -> dict[str, Any]:
    bals = eng.spot_balances()
    omit_zero = bool_param(p, "omitZeroBalances")
    rows = [
        {"asset": a, "free": f8(free), "locked": f8(locked)}
        for a, (free, locked) in sorted(bals.items())
        if not (omit_zero and free == 0 and locked == 0)
    ]
    fees = eng.fees
    return {
        "makerCommission": round(fees.spot_maker * 10_000),
        "takerCommission": round(fees.spot_taker * 10_000),
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": f8(fees.spot_maker),
            "taker": f8(fees.spot_taker),
            "buyer": f8(0),
            "seller": f8(0),
        },
        "canTrade": True,
        "canWithdraw": False,
        "canDeposit": False,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": eng.update_time,
        "accountType": "SPOT",
        "balances": rows,
        "permissions": ["SPOT"],
        "uid": 1,
    }


def spot_commission(eng: TradingEngine, p: Params) -> dict[str, Any]:
    if not p.get("symbol"):
        raise missing_param("symbol")
    eng._rules("spot", p.get("symbol"))
    fees = eng.fees
    rates = {
        "maker": f8(fees.spot_maker),
        "taker": f8(fees.spot_taker),
        "buyer": f8(0),
        "seller": f8(0),
    }
    return {
        "symbol": p.get("symbol"),
        "standardCommission": rates,
        "taxCommission": {"maker": f8(0), "taker": f8(0), "buyer": f8(0), "seller": f8(0)},
        "discount": {
            "enabledForAccount": False,
            "enabledForSymbol": False,
            "discountAsset": "BNB",
            "discount": "0.75000000",
        },
    }


def sapi_trade_fee(eng: TradingEngine, p: Params) -> list[dict[str, Any]]:
    symbols = [p["symbol"]] if p.get("symbol") else eng.market.symbols("spot")
    return [
        {
            "symbol": s,
            "makerCommission": f8(eng.fees.spot_maker),
            "takerCommission": f8(eng.fees.spot_taker),
        }
        for s in symbols
    ]


def sapi_delist_schedule(eng: TradingEngine, p: Params) -> list[dict[str, Any]]:
    return []  # nothing is ever delisted here
