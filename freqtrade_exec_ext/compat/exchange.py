"""Freqtrade's exchange object and its ccxt clients, as the strategy and the guard use them."""

from __future__ import annotations

from typing import Any

from freqtrade_exec_ext.compat.version import FreqtradeCompatError, supported_freqtrade_version


def exchange_ids() -> tuple[frozenset[str], dict[str, str]]:
    """ccxt's exchange ids, and those Freqtrade refuses (with its reason)."""
    import ccxt
    from freqtrade.exchange.common import BAD_EXCHANGES

    return frozenset(ccxt.exchanges), dict(BAD_EXCHANGES)


def exchange_of(dp: Any) -> Any:
    """Freqtrade's Exchange behind a strategy's DataProvider (private ``dp._exchange``)."""
    return getattr(dp, "_exchange", None)


def fetch_order_book(exchange: Any, pair: str, limit: int) -> dict[str, Any]:
    """The L2 book of ``pair`` through Freqtrade's exchange (ccxt shape)."""
    return dict(exchange.fetch_l2_order_book(pair, limit))


def ccxt_clients(exchange: Any) -> tuple[Any, Any]:
    """Freqtrade's sync and async ccxt clients (private ``_api`` / ``_api_async``)."""
    api = getattr(exchange, "_api", None)
    if api is None:
        raise FreqtradeCompatError(
            f"freqtrade-exec-ext supports Freqtrade {supported_freqtrade_version()}: its "
            "Exchange has no ccxt client '_api'"
        )
    return api, getattr(exchange, "_api_async", None)


def is_spot(exchange: Any) -> bool:
    mode = getattr(exchange, "trading_mode", "spot")
    return str(getattr(mode, "value", mode)) == "spot"
