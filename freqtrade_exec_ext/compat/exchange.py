"""Freqtrade's exchange object and its ccxt clients, as the strategy and the guard use them."""

from __future__ import annotations

from collections.abc import Callable
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


def price_tick(dp: Any, pair: str) -> float | None:
    """The market's price tick from ccxt's market precision and the exchange's precision
    mode (tick size, or a number of decimals); None when the market states none."""
    from ccxt import TICK_SIZE

    market = dp.market(pair) or {}
    raw = (market.get("precision") or {}).get("price")
    if raw is None:
        return None
    prec = float(raw)
    mode = getattr(exchange_of(dp), "precisionMode", TICK_SIZE)
    tick = prec if mode == TICK_SIZE else 10.0**-prec
    return tick if tick > 0 else None


MMR_QUANTILE = 0.9
MMR_FALLBACK = 0.05


def maintenance_margin_estimate(exchange: str, leverage: float) -> tuple[float, str]:
    """A conservative maintenance-margin rate for USDT-margined positions at ``leverage``,
    and how it was estimated (for messages and ``risk check``).

    The contract names no pairs, so the rate is the first-tier (smallest position) rate
    that 9 in 10 of the exchange's USDT-M markets allowing ``leverage`` stay under, from the
    leverage tiers Freqtrade ships (Binance); for other exchanges a flat 5 %.
    """
    import json
    from importlib.resources import files

    try:
        raw = files("freqtrade.exchange").joinpath(f"{exchange}_leverage_tiers.json")
        tiers = json.loads(raw.read_text(encoding="utf-8"))
    except (FileNotFoundError, ModuleNotFoundError, OSError, ValueError):
        return MMR_FALLBACK, f"a flat {MMR_FALLBACK:.0%} (no leverage tiers for {exchange})"
    rates = sorted(
        float(t[0]["maintenanceMarginRate"])
        for symbol, t in tiers.items()
        if symbol.endswith(":USDT") and t and float(t[0]["maxLeverage"]) >= leverage
    )
    if not rates:
        return (
            MMR_FALLBACK,
            f"a flat {MMR_FALLBACK:.0%} (no {exchange} market allows {leverage:g}x)",
        )
    rate = rates[min(int(MMR_QUANTILE * len(rates)), len(rates) - 1)]
    return rate, (
        f"{rate:.2%}, the first-tier rate 9 in 10 of {len(rates)} {exchange} USDT-M markets "
        f"allowing {leverage:g}x stay under (Freqtrade's bundled leverage tiers)"
    )


def trades_for_order(dp: Any, order_id: str, pair: str, since: Any) -> list[Any]:
    """The exchange's own fills of an order (``Exchange.get_trades_for_order``: ccxt trades
    with ``fee`` and ``takerOrMaker``); [] when they cannot be read (the ledger then infers
    the fee)."""
    import logging

    try:
        return list(exchange_of(dp).get_trades_for_order(order_id, pair, since) or [])
    except Exception as exc:  # noqa: BLE001 - the fee is inferred instead, and said so
        logging.getLogger(__name__).warning(
            "exec_ext: fills of order %s (%s) unavailable: %s", order_id, pair, exc
        )
        return []


def public_mid_reader(
    exchange: Any,
    *,
    may_send: Callable[[], bool] | None = None,
    on_response: Callable[[int, Any], None] | None = None,
    hook: Callable[[Any], None] | None = None,
) -> Any:
    """``read_mid(pair) -> float | None`` on a ccxt client of its own (public endpoints,
    no keys, the same URLs and markets as Freqtrade's), for threads other than the bot's:
    Freqtrade's exchange object is not thread-safe.  One call reads the top of the book.

    It shares the bot's IP and so its rate limits: ``may_send()`` False (the exchange asked
    for no requests now) raises instead of sending, and ``on_response(status, headers)``
    sees every answer (a 429 it gets closes the bot's window too); ``hook(client)`` may
    wrap the client further (the shared request budget)."""
    import copy

    from freqtrade_exec_ext.compat.ccxt_hooks import observe_responses

    api, _ = ccxt_clients(exchange)
    client = type(api)(
        {
            "urls": copy.deepcopy(api.urls),
            "options": copy.deepcopy(dict(api.options)),
            "enableRateLimit": True,
            "timeout": 5_000,
        }
    )
    client.set_markets(api.markets, getattr(api, "currencies", None))
    if on_response is not None:
        observe_responses(client, on_response)
    if hook is not None:
        hook(client)

    def read_mid(pair: str) -> float | None:
        if may_send is not None and not may_send():
            raise RuntimeError("not sent: the exchange asked for no requests now")
        book = client.fetch_order_book(pair, limit=5)
        bids, asks = book.get("bids") or [], book.get("asks") or []
        if not bids or not asks:
            return None
        return (float(bids[0][0]) + float(asks[0][0])) / 2

    return read_mid
