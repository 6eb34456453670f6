"""Fees and maker/taker of one order from the exchange's fills (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OrderFees:
    cost: float  # in ``currency``
    currency: str | None
    rate: float | None  # cost / notional, when the fee is in the quote currency
    liquidity: str | None  # the side of most of the filled amount: maker | taker


def _f(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return 0.0
    return v if math.isfinite(v) else 0.0


def fees_from_trades(
    trades: list[dict[str, Any]], *, base: str, quote: str, notional: float
) -> OrderFees:
    """Sum ccxt trades' fees (base-currency fees converted at the trade price) and take
    the liquidity of the larger filled amount."""
    cost = 0.0
    currency: str | None = None
    kinds: dict[str, float] = {}
    for t in trades:
        fee = t.get("fee") or {}
        fcost = _f(fee.get("cost"))
        ccy = fee.get("currency")
        if ccy == base and base != quote:
            fcost *= _f(t.get("price"))
            ccy = quote
        if ccy:
            currency = ccy if currency in (None, ccy) else currency
        cost += fcost
        kind = t.get("takerOrMaker")
        if kind in ("maker", "taker"):
            kinds[kind] = kinds.get(kind, 0.0) + _f(t.get("amount"))
    liquidity = max(kinds, key=lambda k: kinds[k]) if kinds else None
    rate = cost / notional if notional > 0 and currency in (quote, None) and trades else None
    return OrderFees(cost, currency or quote, rate, liquidity)
