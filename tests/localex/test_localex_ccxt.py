"""The local exchange seen through real ccxt (sync binance class, urls from ccxt_urls)."""

from __future__ import annotations

import itertools
import json
import statistics
import time
import urllib.error
import urllib.request

import ccxt
import pytest

from freqtrade_exec_ext.localex import book as bm
from freqtrade_exec_ext.localex import ccxt_urls

pytestmark = pytest.mark.slow

M5 = 300_000


def test_markets_carry_the_real_binance_rules(ccxt_client) -> None:
    m = ccxt_client.markets
    btc = m["BTC/USDT"]
    assert btc["precision"]["amount"] == 1e-05
    assert btc["precision"]["price"] == 0.01
    assert btc["limits"]["cost"]["min"] == 5
    perp = m["BTC/USDT:USDT"]
    assert perp["swap"] and perp["linear"] and perp["precision"]["price"] == 0.1
    # only pairs with candles in the datadir are listed; no coin-M markets
    assert {s for s in m if m[s]["spot"]} == {"BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"}
    assert not any(mk["inverse"] for mk in m.values())


def test_ohlcv_is_fresh_and_equals_the_replayed_data(ccxt_client, localex, btc_5m) -> None:
    rows = ccxt_client.fetch_ohlcv("BTC/USDT", "5m", limit=50)
    now = ccxt_client.milliseconds()
    assert len(rows) == 50
    assert rows[-1][0] <= now < rows[-1][0] + M5 + 2_000
    assert all(b[0] - a[0] == M5 for a, b in itertools.pairwise(rows))
    offset = localex.venue.clock.offset_ms
    for ts, o, h, low, c, v in rows[:-1]:
        d = btc_5m.loc[ts - offset]
        assert (o, h, low, c) == (d.open, d.high, d.low, d.close)
        assert v == pytest.approx(d.volume, rel=1e-6)
    ts, o, h, low, c, _ = rows[-1]  # the running candle
    d = btc_5m.loc[ts - offset]
    assert o == d.open and d.low <= low <= c <= h <= d.high


def test_hourly_candles_and_since(ccxt_client, localex, btc_5m) -> None:
    rows = ccxt_client.fetch_ohlcv("BTC/USDT", "1h", limit=3)
    ts, o, h, low, c, _ = rows[0]
    assert ts % 3_600_000 == 0
    part = btc_5m.loc[ts - localex.venue.clock.offset_ms :].iloc[:12]
    expected = (part.open.iloc[0], part.high.max(), part.low.min(), part.close.iloc[-1])
    assert (o, h, low, c) == expected
    since = rows[0][0] - 10 * M5
    five = ccxt_client.fetch_ohlcv("BTC/USDT", "5m", since=since, limit=4)
    assert [r[0] for r in five] == [since + i * M5 for i in range(4)]


def test_ticker_quotes_around_the_replayed_price(ccxt_client) -> None:
    t = ccxt_client.fetch_ticker("ETH/USDT")
    last_candle = ccxt_client.fetch_ohlcv("ETH/USDT", "5m", limit=1)[0]
    assert 0 < t["bid"] < t["ask"]
    assert t["bid"] <= t["last"] < t["ask"]
    assert t["last"] == pytest.approx(last_candle[4], rel=2e-3)
    assert t["high"] >= t["last"] >= t["low"]
    assert t["quoteVolume"] > 0
    perp = ccxt_client.fetch_ticker("ETH/USDT:USDT")
    assert perp["last"] == pytest.approx(t["last"], rel=2e-3)
    ba = ccxt_client.fetch_bids_asks(["ETH/USDT:USDT"])["ETH/USDT:USDT"]
    assert ba["bid"] < ba["ask"]


def test_order_book_is_sorted_with_realistic_spread_and_depth(ccxt_client) -> None:
    ob = ccxt_client.fetch_order_book("BTC/USDT", 20)
    bids, asks = ob["bids"], ob["asks"]
    assert len(bids) == len(asks) == 20
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
    assert [p for p, _ in asks] == sorted(p for p, _ in asks)
    mid = (bids[0][0] + asks[0][0]) / 2
    spread_ticks = round((asks[0][0] - bids[0][0]) / 0.01)
    assert 1 <= spread_ticks <= 2  # BTC trades at a one-tick spread on Binance
    real = json.loads(bm.CALIBRATION_FILE.read_text())["markets"]["spot"]["top20_notional"]
    depth = (sum(p * a for p, a in bids) + sum(p * a for p, a in asks)) / 2
    assert real["p05"] / 10 <= depth <= real["p95"] * 10
    assert (mid - bids[-1][0]) / mid * 1e4 < 20
    # XRP/USDT trades a fraction of BTC's volume: its levels are typically smaller
    xrp = ccxt_client.fetch_order_book("XRP/USDT", 20)
    assert _median_level(xrp) < _median_level(ob) / 1.5


def _median_level(ob: dict) -> float:
    return statistics.median(p * a for p, a in ob["bids"] + ob["asks"])


def test_server_time_is_now(ccxt_client) -> None:
    assert abs(ccxt_client.fetch_time() - time.time() * 1000) < 5_000


def test_private_calls_stay_local_and_need_a_known_key(localex) -> None:
    client = ccxt.binance({**ccxt_urls(localex.base_url), "apiKey": "x", "secret": "y"})
    client.load_markets()
    # this venue was started without API keys: every signed call is refused like Binance
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        client.fetch_balance()
    # and a path the venue does not serve is a local 404, never a call to Binance
    with pytest.raises(ccxt.BaseError, match="not implemented by the local exchange"):
        client.sapi_get_capital_config_getall()
    for group, url in client.urls["api"].items():
        urls = url.values() if isinstance(url, dict) else [url]
        assert all("127.0.0.1" in u for u in urls), group


def test_unknown_symbol_answers_like_binance(localex) -> None:
    url = f"{localex.base_url}/api/v3/klines?symbol=NOPEUSDT&interval=5m"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url, timeout=5)
    assert err.value.code == 400
    assert json.loads(err.value.read()) == {"code": -1121, "msg": "Invalid symbol."}


def test_only_loopback_hosts(repo_datadir) -> None:
    from freqtrade_exec_ext.localex.server import LocalExchange, LocalExchangeError

    with pytest.raises(LocalExchangeError, match="not a loopback"):
        LocalExchange(repo_datadir, host="0.0.0.0")
