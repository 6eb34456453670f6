"""Freqtrade's own Exchange class loads markets and prices from the local exchange."""

from __future__ import annotations

import pytest

from freqtrade_exec_ext.localex import freqtrade_exchange_config


def _config(base_url: str, tmp_path, trading_mode: str = "spot") -> dict:
    from freqtrade.configuration.config_validation import validate_config_consistency
    from freqtrade.enums import RunMode

    ex = freqtrade_exchange_config(base_url)
    pair = "BTC/USDT" if trading_mode == "spot" else "BTC/USDT:USDT"
    ex["pair_whitelist"] = [pair]
    config = {
        "runmode": RunMode.DRY_RUN,
        "dry_run": True,
        "trading_mode": trading_mode,
        "margin_mode": "isolated" if trading_mode == "futures" else "",
        "stake_currency": "USDT",
        "stake_amount": 100,
        "max_open_trades": 1,
        "timeframe": "5m",
        "minimal_roi": {"0": 0.1},
        "stoploss": -0.1,
        "user_data_dir": str(tmp_path),
        "datadir": str(tmp_path),
        "exchange": ex,
        "pairlists": [{"method": "StaticPairList"}],
        "entry_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
        "exit_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
    }
    validate_config_consistency(config)
    return config


@pytest.mark.parametrize("trading_mode", ["spot", "futures"])
def test_freqtrade_exchange_loads_markets_from_the_local_exchange(
    localex, tmp_path, trading_mode
) -> None:
    from freqtrade.resolvers import ExchangeResolver

    config = _config(localex.base_url, tmp_path, trading_mode)
    exchange = ExchangeResolver.load_exchange(config, load_leverage_tiers=True)
    try:
        pair = config["exchange"]["pair_whitelist"][0]
        assert exchange.name == "Binance"
        assert pair in exchange.markets
        assert exchange.get_min_pair_stake_amount(pair, 100_000.0, -0.1) >= 5
        rate = exchange.get_rate(pair, side="entry", is_short=False, refresh=True)
        # entry at price_side "same" for a long: the best bid of the served book
        book = exchange.fetch_l2_order_book(pair, 5)
        assert book["bids"][0][0] < book["asks"][0][0]
        assert rate == pytest.approx(book["bids"][0][0], rel=2e-3)
        assert exchange.fetch_ticker(pair)["last"] == pytest.approx(rate, rel=2e-3)
        candles = exchange.refresh_latest_ohlcv([(pair, "5m", config["candle_type_def"])])
        df = candles[(pair, "5m", config["candle_type_def"])]
        assert len(df) > 100
        # the running candle was dropped: the newest one is closed and recent
        age = exchange._api.milliseconds() - df["date"].iloc[-1].value // 1_000_000
        assert 300_000 <= age < 600_000 + 5_000
    finally:
        exchange.close()
