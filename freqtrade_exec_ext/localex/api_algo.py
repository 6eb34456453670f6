"""USDT-M conditional orders (``/fapi/v1/algoOrder`` and lists): Binance JSON (pure)."""

from __future__ import annotations

from typing import Any

from freqtrade_exec_ext.localex.api_params import Params, bool_param, f8, float_param
from freqtrade_exec_ext.localex.errors import VenueError, int_param, missing_param
from freqtrade_exec_ext.localex.faults import OrderFaults
from freqtrade_exec_ext.localex.model import AlgoOrder
from freqtrade_exec_ext.localex.trading import TradingEngine


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


def usdm_new_algo(
    eng: TradingEngine, p: Params, faults: OrderFaults | None = None
) -> dict[str, Any]:
    if (p.get("algoType") or "CONDITIONAL") != "CONDITIONAL":
        raise VenueError(-1116, "Invalid algoType.")
    a = eng.new_algo_order(
        p.get("symbol"),
        p.get("side"),
        p.get("type") or p.get("orderType"),
        float_param(p, "quantity"),
        float_param(p, "triggerPrice") or float_param(p, "stopPrice"),
        float_param(p, "price"),
        time_in_force=p.get("timeInForce"),
        reduce_only=bool_param(p, "reduceOnly"),
        close_position=bool_param(p, "closePosition"),
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
