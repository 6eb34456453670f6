"""USDT-M public futures data: mark price, funding rates and intervals (pure)."""

from __future__ import annotations

from typing import Any

from freqtrade_exec_ext.localex.api_params import Params, f8, limit_param
from freqtrade_exec_ext.localex.errors import int_param
from freqtrade_exec_ext.localex.trading import TradingEngine


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
    limit = limit_param(p, 100, 1000)
    start, end = int_param(p, "startTime"), int_param(p, "endTime")
    last = now // step * step if end is None else min(end, now) // step * step
    first = last - (limit - 1) * step if start is None else -(-start // step) * step
    rows: list[dict[str, Any]] = []
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
