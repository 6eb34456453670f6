"""Private (signed) endpoints: request parameters in, Binance-shaped JSON out (pure).

Each handler takes the :class:`~freqtrade_exec_ext.localex.trading.TradingEngine`, the
request parameters (query and form body merged) and, for order creation, the order-level
faults; it returns what Binance returns for that endpoint, field names and string
formatting included, so that ccxt's ``parse_order``/``parse_trade``/``parse_balance``/
``parse_position`` read it as they read Binance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from freqtrade_exec_ext.localex.errors import (
    VenueError,
    illegal_param,
    int_param,
    missing_param,
)
from freqtrade_exec_ext.localex.faults import OrderFaults
from freqtrade_exec_ext.localex.trading import (
    AlgoOrder,
    Fill,
    Order,
    Position,
    TradingEngine,
    q8,
)

Params = Mapping[str, str]

# Binance's leverage brackets of BTCUSDT (notional cap, maintenance ratio, max leverage);
# served for every perpetual.
BRACKETS: tuple[tuple[float, float, int], ...] = (
    (50_000, 0.004, 125),
    (500_000, 0.005, 100),
    (8_000_000, 0.01, 50),
    (50_000_000, 0.025, 20),
    (80_000_000, 0.05, 10),
    (100_000_000, 0.1, 5),
    (200_000_000, 0.125, 4),
    (400_000_000, 0.15, 3),
    (1_000_000_000, 0.25, 2),
    (1_500_000_000, 0.5, 1),
)


def f8(x: float) -> str:
    return f"{q8(x):.8f}"


def _float(p: Params, name: str) -> float | None:
    raw = p.get(name)
    if raw in (None, ""):
        return None
    try:
        return float(str(raw))
    except ValueError:
        raise illegal_param(name) from None


def _bool(p: Params, name: str) -> bool:
    return str(p.get(name, "")).lower() == "true"


def _limit(p: Params, default: int, maximum: int) -> int:
    n = int_param(p, "limit")
    return default if n is None else max(1, min(n, maximum))


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


def _order_faults(faults: OrderFaults | None) -> OrderFaults | None:
    return (
        faults
        if faults and (faults.fill_cap_ratio is not None or faults.cancel_after_ms is not None)
        else None
    )


def spot_new_order(
    eng: TradingEngine, p: Params, faults: OrderFaults | None = None
) -> dict[str, Any]:
    before = len(eng.fills)
    o = eng.new_order(
        "spot",
        p.get("symbol"),
        p.get("side"),
        p.get("type"),
        _float(p, "quantity"),
        _float(p, "price"),
        time_in_force=p.get("timeInForce"),
        stop_price=_float(p, "stopPrice"),
        quote_order_qty=_float(p, "quoteOrderQty"),
        client_order_id=p.get("newClientOrderId"),
        faults=_order_faults(faults),
    )
    fills = [f for f in eng.fills[before:] if f.order_id == o.order_id]
    default = "FULL" if o.type in ("MARKET", "LIMIT") else "ACK"
    resp_type = (p.get("newOrderRespType") or default).upper()
    return spot_new_order_response(o, fills, resp_type)


def _ids(p: Params) -> tuple[int | None, str | None]:
    return int_param(p, "orderId"), p.get("origClientOrderId") or None


def spot_get_order(eng: TradingEngine, p: Params) -> dict[str, Any]:
    return spot_order(eng.get_order("spot", p.get("symbol"), *_ids(p)))


def spot_cancel_order(eng: TradingEngine, p: Params) -> dict[str, Any]:
    o = eng.cancel("spot", p.get("symbol"), *_ids(p))
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
        _limit(p, 500, 1000),
    )
    return [spot_order(o) for o in rows]


def spot_my_trades(eng: TradingEngine, p: Params) -> list[dict[str, Any]]:
    rows = eng.trades(
        "spot",
        p.get("symbol"),
        int_param(p, "startTime"),
        int_param(p, "endTime"),
        int_param(p, "fromId"),
        _limit(p, 500, 1000),
        int_param(p, "orderId"),
    )
    return [spot_trade(f) for f in rows]


def spot_account(eng: TradingEngine, p: Params) -> dict[str, Any]:
    bals = eng.spot_balances()
    omit_zero = _bool(p, "omitZeroBalances")
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


# ------------------------------------------------------------------ USDT-M shapes


def usdm_order(o: Order) -> dict[str, Any]:
    return {
        "orderId": o.order_id,
        "symbol": o.symbol,
        "status": o.status,
        "clientOrderId": o.client_order_id,
        "price": f8(o.price),
        "avgPrice": f8(o.avg_price),
        "origQty": f8(o.orig_qty),
        "executedQty": f8(o.executed_qty),
        "cumQty": f8(o.executed_qty),
        "cumQuote": f8(o.cum_quote),
        "timeInForce": o.time_in_force,
        "type": o.type,
        "reduceOnly": o.reduce_only,
        "closePosition": o.close_position,
        "side": o.side,
        "positionSide": "BOTH",
        "stopPrice": f8(o.stop_price),
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "origType": o.type,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "time": o.time,
        "updateTime": o.update_time,
    }


def usdm_trade(f: Fill) -> dict[str, Any]:
    return {
        "symbol": f.symbol,
        "id": f.trade_id,
        "orderId": f.order_id,
        "side": f.side,
        "price": f8(f.price),
        "qty": f8(f.qty),
        "realizedPnl": f8(f.realized_pnl),
        "marginAsset": "USDT",
        "quoteQty": f8(f.quote_qty),
        "commission": f8(f.commission),
        "commissionAsset": f.commission_asset,
        "time": f.time,
        "positionSide": "BOTH",
        "buyer": f.side == "BUY",
        "maker": f.is_maker,
    }


def algo_order(a: AlgoOrder) -> dict[str, Any]:
    out: dict[str, Any] = {
        "algoId": a.algo_id,
        "clientAlgoId": a.client_algo_id,
        "algoType": "CONDITIONAL",
        "orderType": a.order_type,
        "symbol": a.symbol,
        "side": a.side,
        "positionSide": "BOTH",
        "timeInForce": a.time_in_force,
        "quantity": f8(a.quantity),
        "algoStatus": a.status,
        "triggerPrice": f8(a.trigger_price),
        "price": f8(a.price),
        "icebergQuantity": None,
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "workingType": a.working_type,
        "priceMatch": "NONE",
        "closePosition": a.close_position,
        "priceProtect": False,
        "reduceOnly": a.reduce_only,
        "createTime": a.create_time,
        "updateTime": a.update_time,
        "triggerTime": a.trigger_time,
        "goodTillDate": 0,
    }
    if a.actual_order_id is not None:
        out["actualOrderId"] = str(a.actual_order_id)
    return out


def _liq_price(eng: TradingEngine, pos: Position) -> float:
    if pos.amount == 0 or pos.margin_type != "isolated":
        return 0.0
    mmr = BRACKETS[0][1]
    side = 1 if pos.amount > 0 else -1
    return max(0.0, pos.entry_price * (1 - side / pos.leverage) / (1 - side * mmr))


def position_row(eng: TradingEngine, pos: Position) -> dict[str, Any]:
    mark = eng.mark_price(pos.symbol)
    upnl = eng.unrealized(pos)
    margin = eng.position_margin(pos)
    isolated = pos.margin_type == "isolated"
    return {
        "symbol": pos.symbol,
        "positionSide": "BOTH",
        "positionAmt": f8(pos.amount),
        "entryPrice": f8(pos.entry_price),
        "breakEvenPrice": f8(pos.entry_price),
        "markPrice": f8(mark),
        "unRealizedProfit": f8(upnl),
        "liquidationPrice": f8(_liq_price(eng, pos)),
        "isolatedMargin": f8(margin + upnl if isolated else 0.0),
        "notional": f8(pos.amount * mark),
        "marginAsset": "USDT",
        "isolatedWallet": f8(margin if isolated else 0.0),
        "initialMargin": f8(margin),
        "maintMargin": f8(abs(pos.amount) * mark * BRACKETS[0][1]),
        "positionInitialMargin": f8(margin),
        "openOrderInitialMargin": f8(
            sum(
                o.margin_reserved
                for o in eng.orders.values()
                if o.symbol == pos.symbol and o.market == "usdm" and o.is_open
            )
        ),
        "adl": 0,
        "bidNotional": f8(0),
        "askNotional": f8(0),
        "updateTime": pos.update_time,
        # v2 fields (kept: ccxt reads leverage and margin mode from them)
        "leverage": str(pos.leverage),
        "marginType": pos.margin_type,
        "isAutoAddMargin": "false",
        "maxNotionalValue": f8(BRACKETS[0][0] if pos.leverage > BRACKETS[1][2] else 1e9),
    }


def account_position_row(eng: TradingEngine, pos: Position) -> dict[str, Any]:
    """A ``positions[]`` row of ``/fapi/v2|v3/account``: not the positionRisk row.

    Binance spells it ``unrealizedProfit`` here (``unRealizedProfit`` in positionRisk) and
    ccxt's ``parse_account_position`` reads that spelling, ``isolated`` and ``leverage``.
    The v2 and v3 fields are both served (the venue routes by API family, not version).
    """
    row = position_row(eng, pos)
    return {
        "symbol": row["symbol"],
        "positionSide": row["positionSide"],
        "positionAmt": row["positionAmt"],
        "unrealizedProfit": row["unRealizedProfit"],
        "isolatedMargin": row["isolatedMargin"],
        "notional": row["notional"],
        "isolatedWallet": row["isolatedWallet"],
        "initialMargin": row["initialMargin"],
        "maintMargin": row["maintMargin"],
        "positionInitialMargin": row["positionInitialMargin"],
        "openOrderInitialMargin": row["openOrderInitialMargin"],
        "leverage": row["leverage"],
        "isolated": pos.margin_type == "isolated",
        "entryPrice": row["entryPrice"],
        "breakEvenPrice": row["breakEvenPrice"],
        "maxNotional": row["maxNotionalValue"],
        "bidNotional": row["bidNotional"],
        "askNotional": row["askNotional"],
        "updateTime": row["updateTime"],
    }


# ------------------------------------------------------------------ USDT-M handlers


def usdm_new_order(
    eng: TradingEngine, p: Params, faults: OrderFaults | None = None
) -> dict[str, Any]:
    if p.get("positionSide") not in (None, "", "BOTH"):
        raise VenueError(-4061, "Order's position side does not match user's setting.")
    o = eng.new_order(
        "usdm",
        p.get("symbol"),
        p.get("side"),
        p.get("type"),
        _float(p, "quantity"),
        _float(p, "price"),
        time_in_force=p.get("timeInForce"),
        client_order_id=p.get("newClientOrderId"),
        reduce_only=_bool(p, "reduceOnly"),
        faults=_order_faults(faults),
    )
    return usdm_order(o)


def usdm_get_order(eng: TradingEngine, p: Params) -> dict[str, Any]:
    return usdm_order(eng.get_order("usdm", p.get("symbol"), *_ids(p)))


def usdm_cancel_order(eng: TradingEngine, p: Params) -> dict[str, Any]:
    return usdm_order(eng.cancel("usdm", p.get("symbol"), *_ids(p)))


def usdm_cancel_all(eng: TradingEngine, p: Params) -> dict[str, Any]:
    if not p.get("symbol"):
        raise missing_param("symbol")
    eng.cancel_all("usdm", p.get("symbol"))
    for a in list(eng.algo_orders.values()):
        if a.symbol == p.get("symbol") and a.is_open:
            eng.cancel_algo(a.algo_id, None)
    return {"code": 200, "msg": "The operation of cancel all open order is done."}


def usdm_open_orders(eng: TradingEngine, p: Params) -> list[dict[str, Any]]:
    return [usdm_order(o) for o in eng.open_orders("usdm", p.get("symbol") or None)]


def usdm_open_order(eng: TradingEngine, p: Params) -> dict[str, Any]:
    o = eng.get_order("usdm", p.get("symbol"), *_ids(p))
    if not o.is_open:
        raise VenueError(-2013, "Order does not exist.")
    return usdm_order(o)


def usdm_all_orders(eng: TradingEngine, p: Params) -> list[dict[str, Any]]:
    rows = eng.all_orders(
        "usdm",
        p.get("symbol"),
        int_param(p, "startTime"),
        int_param(p, "endTime"),
        int_param(p, "orderId"),
        _limit(p, 500, 1000),
        max_span_ms=7 * 86_400_000,
    )
    return [usdm_order(o) for o in rows]


def usdm_user_trades(eng: TradingEngine, p: Params) -> list[dict[str, Any]]:
    rows = eng.trades(
        "usdm",
        p.get("symbol"),
        int_param(p, "startTime"),
        int_param(p, "endTime"),
        int_param(p, "fromId"),
        _limit(p, 500, 1000),
        int_param(p, "orderId"),
        max_span_ms=7 * 86_400_000,
    )
    return [usdm_trade(f) for f in rows]


def _positions(eng: TradingEngine, symbol: str | None = None) -> list[Position]:
    if symbol:
        eng._rules("usdm", symbol)
        return [eng._position(symbol)]
    return [eng._position(s) for s in eng.market.symbols("usdm")]


def usdm_account(eng: TradingEngine, p: Params) -> dict[str, Any]:
    eng.step()
    positions = _positions(eng)
    upnl = sum(eng.unrealized(x) for x in positions)
    pos_im = sum(eng.position_margin(x) for x in positions)
    ord_im = sum(o.margin_reserved for o in eng.orders.values() if o.is_open)
    maint = sum(abs(x.amount) * eng.mark_price(x.symbol) * BRACKETS[0][1] for x in positions)
    avail = eng.available_balance()
    t = eng.update_time
    asset = {
        "asset": "USDT",
        "walletBalance": f8(eng.wallet),
        "unrealizedProfit": f8(upnl),
        "marginBalance": f8(eng.wallet + upnl),
        "maintMargin": f8(maint),
        "initialMargin": f8(pos_im + ord_im),
        "positionInitialMargin": f8(pos_im),
        "openOrderInitialMargin": f8(ord_im),
        "crossWalletBalance": f8(eng.wallet),
        "crossUnPnl": f8(upnl),
        "availableBalance": f8(avail),
        "maxWithdrawAmount": f8(avail),
        "marginAvailable": True,
        "updateTime": t,
    }
    return {
        "feeTier": 0,
        "canTrade": True,
        "canDeposit": False,
        "canWithdraw": False,
        "feeBurn": False,
        "tradeGroupId": -1,
        "updateTime": 0,
        "multiAssetsMargin": False,
        "totalInitialMargin": asset["initialMargin"],
        "totalMaintMargin": asset["maintMargin"],
        "totalWalletBalance": asset["walletBalance"],
        "totalUnrealizedProfit": asset["unrealizedProfit"],
        "totalMarginBalance": asset["marginBalance"],
        "totalPositionInitialMargin": asset["positionInitialMargin"],
        "totalOpenOrderInitialMargin": asset["openOrderInitialMargin"],
        "totalCrossWalletBalance": asset["crossWalletBalance"],
        "totalCrossUnPnl": asset["crossUnPnl"],
        "availableBalance": asset["availableBalance"],
        "maxWithdrawAmount": asset["maxWithdrawAmount"],
        "assets": [asset],
        "positions": [account_position_row(eng, x) for x in positions if x.amount != 0],
    }


def usdm_balance(eng: TradingEngine, p: Params) -> list[dict[str, Any]]:
    acc = usdm_account(eng, p)
    a = acc["assets"][0]
    return [
        {
            "accountAlias": "localex",
            "asset": "USDT",
            "balance": a["walletBalance"],
            "crossWalletBalance": a["crossWalletBalance"],
            "crossUnPnl": a["crossUnPnl"],
            "availableBalance": a["availableBalance"],
            "maxWithdrawAmount": a["maxWithdrawAmount"],
            "marginAvailable": True,
            "updateTime": a["updateTime"],
        }
    ]


def usdm_position_risk(eng: TradingEngine, p: Params) -> list[dict[str, Any]]:
    eng.step()
    return [position_row(eng, x) for x in _positions(eng, p.get("symbol") or None)]


def usdm_set_leverage(eng: TradingEngine, p: Params) -> dict[str, Any]:
    pos = eng.set_leverage(p.get("symbol"), int_param(p, "leverage"))
    cap = next(b[0] for b in BRACKETS if pos.leverage >= b[2] or b is BRACKETS[-1])
    return {"leverage": pos.leverage, "maxNotionalValue": str(int(cap)), "symbol": pos.symbol}


def usdm_set_margin_type(eng: TradingEngine, p: Params) -> dict[str, Any]:
    eng.set_margin_type(p.get("symbol"), p.get("marginType"))
    return {"code": 200, "msg": "success"}


def usdm_position_side(eng: TradingEngine, p: Params) -> dict[str, Any]:
    return {"dualSidePosition": False}


def usdm_set_position_side(eng: TradingEngine, p: Params) -> dict[str, Any]:
    if _bool(p, "dualSidePosition"):
        raise VenueError(-1000, "localex: hedge mode (dualSidePosition=true) is not supported")
    raise VenueError(-4059, "No need to change position side.")


def usdm_multi_assets(eng: TradingEngine, p: Params) -> dict[str, Any]:
    return {"multiAssetsMargin": False}


def usdm_leverage_bracket(eng: TradingEngine, p: Params) -> list[dict[str, Any]]:
    symbols = [p["symbol"]] if p.get("symbol") else eng.market.symbols("usdm")
    rows = []
    for s in symbols:
        eng._rules("usdm", s)
        brackets, floor, cum, prev_mmr = [], 0.0, 0.0, 0.0
        for i, (cap, mmr, lev) in enumerate(BRACKETS, start=1):
            cum += floor * (mmr - prev_mmr)
            brackets.append(
                {
                    "bracket": i,
                    "initialLeverage": lev,
                    "notionalCap": int(cap),
                    "notionalFloor": int(floor),
                    "maintMarginRatio": mmr,
                    "cum": round(cum, 8),
                }
            )
            floor, prev_mmr = cap, mmr
        rows.append({"symbol": s, "brackets": brackets})
    return rows


def usdm_income(eng: TradingEngine, p: Params) -> list[dict[str, Any]]:
    eng.step()
    symbol = p.get("symbol") or None
    kind = p.get("incomeType") or None
    start, end = int_param(p, "startTime"), int_param(p, "endTime")
    if start is None and end is None:
        end = eng.now()
        start = end - 7 * 86_400_000
    elif start is None:
        assert end is not None
        start = end - 7 * 86_400_000
    elif end is None:
        end = start + 7 * 86_400_000
    rows = [
        i
        for i in eng.income
        if (symbol is None or i.symbol == symbol)
        and (kind is None or i.income_type == kind)
        and start <= i.time <= end
    ]
    rows = rows[: _limit(p, 100, 1000)]
    return [
        {
            "symbol": i.symbol,
            "incomeType": i.income_type,
            "income": f8(i.income),
            "asset": i.asset,
            "info": i.income_type,
            "time": i.time,
            "tranId": i.tran_id,
            "tradeId": "" if i.trade_id is None else str(i.trade_id),
        }
        for i in rows
    ]


def usdm_commission_rate(eng: TradingEngine, p: Params) -> dict[str, Any]:
    if not p.get("symbol"):
        raise missing_param("symbol")
    eng._rules("usdm", p.get("symbol"))
    return {
        "symbol": p.get("symbol"),
        "makerCommissionRate": f"{eng.fees.usdm_maker:.6f}",
        "takerCommissionRate": f"{eng.fees.usdm_taker:.6f}",
    }


def usdm_new_algo(
    eng: TradingEngine, p: Params, faults: OrderFaults | None = None
) -> dict[str, Any]:
    if (p.get("algoType") or "CONDITIONAL") != "CONDITIONAL":
        raise VenueError(-1116, "Invalid algoType.")
    a = eng.new_algo_order(
        p.get("symbol"),
        p.get("side"),
        p.get("type") or p.get("orderType"),
        _float(p, "quantity"),
        _float(p, "triggerPrice") or _float(p, "stopPrice"),
        _float(p, "price"),
        time_in_force=p.get("timeInForce"),
        reduce_only=_bool(p, "reduceOnly"),
        close_position=_bool(p, "closePosition"),
        working_type=p.get("workingType"),
        client_algo_id=p.get("clientAlgoId"),
    )
    return algo_order(a)


def _algo_ids(p: Params) -> tuple[int | None, str | None]:
    return int_param(p, "algoId"), p.get("clientAlgoId") or None


def usdm_get_algo(eng: TradingEngine, p: Params) -> dict[str, Any]:
    return algo_order(eng.get_algo(*_algo_ids(p)))


def usdm_cancel_algo(eng: TradingEngine, p: Params) -> dict[str, Any]:
    a = eng.cancel_algo(*_algo_ids(p))
    return {"algoId": a.algo_id, "clientAlgoId": a.client_algo_id, "code": "200", "msg": "success"}


def usdm_open_algos(eng: TradingEngine, p: Params) -> list[dict[str, Any]]:
    eng.step()
    symbol = p.get("symbol") or None
    return [
        algo_order(a)
        for a in eng.algo_orders.values()
        if a.is_open and (symbol is None or a.symbol == symbol)
    ]


def usdm_all_algos(eng: TradingEngine, p: Params) -> list[dict[str, Any]]:
    eng.step()
    symbol = p.get("symbol")
    if not symbol:
        raise missing_param("symbol")
    return [algo_order(a) for a in eng.algo_orders.values() if a.symbol == symbol]


# ------------------------------------------------------------------ public futures data


def premium_index_one(eng: TradingEngine, symbol: str) -> dict[str, Any]:
    now = eng.now()
    mark = eng.mark_price(symbol)
    return {
        "symbol": symbol,
        "markPrice": f8(mark),
        "indexPrice": f8(mark),
        "estimatedSettlePrice": f8(mark),
        "lastFundingRate": f8(eng.funding_rate(symbol, now)),
        "interestRate": "0.00010000",
        "nextFundingTime": eng.next_funding_time(now),
        "time": now,
    }


def premium_index(eng: TradingEngine, p: Params) -> Any:
    symbol = p.get("symbol")
    if symbol:
        eng._rules("usdm", symbol)
        return premium_index_one(eng, symbol)
    return [premium_index_one(eng, s) for s in eng.market.symbols("usdm")]


def funding_rate_history(eng: TradingEngine, p: Params) -> list[dict[str, Any]]:
    symbols = [p["symbol"]] if p.get("symbol") else eng.market.symbols("usdm")
    now = eng.now()
    step = eng.funding_interval_ms
    limit = _limit(p, 100, 1000)
    start, end = int_param(p, "startTime"), int_param(p, "endTime")
    last = now // step * step if end is None else min(end, now) // step * step
    first = last - (limit - 1) * step if start is None else -(-start // step) * step
    rows = []
    for s in symbols:
        eng._rules("usdm", s)
        t = first
        while t <= last and len(rows) < limit:
            rows.append(
                {
                    "symbol": s,
                    "fundingRate": f8(eng.funding_rate(s, t)),
                    "fundingTime": t,
                    "markPrice": f8(eng._price("usdm", s, t)),
                }
            )
            t += step
    return rows


def funding_info(eng: TradingEngine, p: Params) -> list[dict[str, Any]]:
    hours = eng.funding_interval_ms // 3_600_000
    return [
        {
            "symbol": s,
            "adjustedFundingRateCap": "0.02000000",
            "adjustedFundingRateFloor": "-0.02000000",
            "fundingIntervalHours": hours,
            "disclaimer": False,
        }
        for s in eng.market.symbols("usdm")
    ]
