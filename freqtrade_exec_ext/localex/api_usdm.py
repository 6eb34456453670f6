"""USDT-M signed endpoints (``/fapi``): orders, account, positions (pure).

Same contract as ``api_spot.py``: the engine and the request parameters in, what Binance's
USDT-M API answers out (ccxt's ``parse_order``/``parse_position``/``parse_account_position``
read it as they read Binance).  Conditional orders: ``api_algo.py``; public futures data
(mark price, funding): ``api_usdm_public.py``.
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
from freqtrade_exec_ext.localex.errors import VenueError, int_param, missing_param
from freqtrade_exec_ext.localex.faults import OrderFaults
from freqtrade_exec_ext.localex.model import Fill, Order, Position
from freqtrade_exec_ext.localex.trading import TradingEngine

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
        float_param(p, "quantity"),
        float_param(p, "price"),
        time_in_force=p.get("timeInForce"),
        client_order_id=p.get("newClientOrderId"),
        reduce_only=bool_param(p, "reduceOnly"),
        faults=order_faults(faults),
    )
    return usdm_order(o)


def usdm_get_order(eng: TradingEngine, p: Params) -> dict[str, Any]:
    return usdm_order(eng.get_order("usdm", p.get("symbol"), *order_ids(p)))


def usdm_cancel_order(eng: TradingEngine, p: Params) -> dict[str, Any]:
    return usdm_order(eng.cancel("usdm", p.get("symbol"), *order_ids(p)))


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
    o = eng.get_order("usdm", p.get("symbol"), *order_ids(p))
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
        limit_param(p, 500, 1000),
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
        limit_param(p, 500, 1000),
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
    if bool_param(p, "dualSidePosition"):
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
    rows = rows[: limit_param(p, 100, 1000)]
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
