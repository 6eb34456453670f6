"""What Freqtrade's open trades hold, for the stray sweep's "account == trades" check."""

from __future__ import annotations

from typing import Any


def open_trades_hold(base_currency: str) -> float:
    """The amount of ``base_currency`` Freqtrade's open trades hold (filled amounts)."""
    from freqtrade.persistence.trade_model import Trade

    return float(
        sum(
            float(t.amount or 0.0)
            for t in Trade.get_trades_proxy(is_open=True)
            if str(t.base_currency) == base_currency
        )
    )


def amount_step(api: Any, symbol: str) -> float | None:
    """The market's amount step (ccxt precision as a step, whatever its precision mode)."""
    from ccxt import TICK_SIZE

    market = api.market(symbol)
    raw = (market.get("precision") or {}).get("amount")
    if raw is None:
        return None
    prec = float(raw)
    return prec if getattr(api, "precisionMode", TICK_SIZE) == TICK_SIZE else 10.0**-prec


def market_minimums(api: Any, symbol: str) -> tuple[float, float]:
    """The market's minimum order amount and minimum notional (0 when it states none)."""
    limits = api.market(symbol).get("limits") or {}
    amount = (limits.get("amount") or {}).get("min") or 0.0
    cost = (limits.get("cost") or {}).get("min") or 0.0
    return float(amount), float(cost)
