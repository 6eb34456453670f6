"""Every private endpoint as real ccxt (sync ``binance``) signs, sends and parses it."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from pathlib import Path

import ccxt
import pytest

from freqtrade_exec_ext.localex import ccxt_urls
from freqtrade_exec_ext.localex.server import LocalExchange

pytestmark = pytest.mark.slow

SPOT, PERP = "BTC/USDT", "BTC/USDT:USDT"


@pytest.fixture
def venue(repo_datadir: Path, rising_candle) -> Iterator[LocalExchange]:
    key, secret = secrets.token_hex(16), secrets.token_hex(32)
    ex = LocalExchange(
        repo_datadir,
        start_at=rising_candle,
        api_keys={key: secret},
        spot_balances={"USDT": 50_000.0, "BTC": 0.5},
        futures_balance=20_000.0,
    )
    ex.test_keys = (key, secret)  # type: ignore[attr-defined]
    with ex:
        yield ex


@pytest.fixture
def client(venue: LocalExchange) -> ccxt.binance:
    key, secret = venue.test_keys  # type: ignore[attr-defined]
    # ccxt's own client-side throttle (weight x 50 ms) only slows these tests down
    c = ccxt.binance(
        {**ccxt_urls(venue.base_url), "apiKey": key, "secret": secret, "enableRateLimit": False}
    )
    c.load_markets()
    return c


def _below(client: ccxt.binance, symbol: str, bps: float) -> float:
    bid = client.fetch_order_book(symbol, 5)["bids"][0][0]
    return float(client.price_to_precision(symbol, bid * (1 - bps / 1e4)))


def test_spot_balance_order_lifecycle_and_lookups(client: ccxt.binance) -> None:
    bal = client.fetch_balance()
    assert bal["USDT"] == {"free": 50_000.0, "used": 0.0, "total": 50_000.0}
    price = _below(client, SPOT, 100)
    o = client.create_order(SPOT, "limit", "buy", 0.01, price)
    assert (o["status"], o["type"], o["side"], o["price"], o["amount"]) == (
        "open",
        "limit",
        "buy",
        price,
        0.01,
    )
    assert o["filled"] == 0 and o["clientOrderId"].startswith("x-")
    assert client.fetch_balance()["USDT"]["used"] == pytest.approx(0.01 * price)
    assert [x["id"] for x in client.fetch_open_orders(SPOT)] == [o["id"]]
    same = client.fetch_order(o["id"], SPOT)
    assert same["timestamp"] == o["timestamp"] and same["status"] == "open"
    by_client_id = client.fetch_order(None, SPOT, {"origClientOrderId": o["clientOrderId"]})
    assert by_client_id["id"] == o["id"]
    assert client.cancel_order(o["id"], SPOT)["status"] == "canceled"
    assert client.fetch_order(o["id"], SPOT)["status"] == "canceled"
    assert client.fetch_open_orders(SPOT) == []
    listed = client.fetch_orders(SPOT, since=o["timestamp"] - 1000)
    assert [x["id"] for x in listed] == [o["id"]]
    with pytest.raises(ccxt.OrderNotFound):
        client.fetch_order("123", SPOT)
    with pytest.raises(ccxt.OrderNotFound):
        client.cancel_order(o["id"], SPOT)


def test_spot_market_order_fills_and_trades_say_taker_with_fee(client: ccxt.binance) -> None:
    o = client.create_order(SPOT, "market", "buy", 0.02)
    assert o["status"] == "closed" and o["filled"] == 0.02
    assert o["average"] > 0 and o["cost"] == pytest.approx(o["average"] * 0.02)
    assert o["fee"]["currency"] == "BTC" and o["fee"]["cost"] == pytest.approx(0.00002)
    trades = client.fetch_my_trades(SPOT, since=o["timestamp"] - 1000)
    assert {t["order"] for t in trades} == {o["id"]}
    assert all(t["takerOrMaker"] == "taker" and t["side"] == "buy" for t in trades)
    assert sum(t["amount"] for t in trades) == pytest.approx(0.02)
    assert sum(t["fee"]["cost"] for t in trades) == pytest.approx(0.00002)
    sell = client.create_order(SPOT, "market", "sell", 0.02)
    assert sell["fee"]["currency"] == "USDT"
    assert client.fetch_balance()["BTC"]["total"] == pytest.approx(0.5 - 0.00002)


def test_spot_stop_loss_limit_as_freqtrade_places_it(client: ccxt.binance) -> None:
    stop = _below(client, SPOT, 300)
    limit = float(client.price_to_precision(SPOT, stop * 0.99))
    # Freqtrade: create_order(pair, "stop_loss_limit", "sell", amount, limit, {stopPrice})
    o = client.create_order(SPOT, "stop_loss_limit", "sell", 0.1, limit, {"stopPrice": stop})
    assert o["status"] == "open"
    got = client.fetch_order(o["id"], SPOT)
    assert got["stopPrice"] == stop and got["triggerPrice"] == stop and got["price"] == limit
    assert got["info"]["type"] == "STOP_LOSS_LIMIT"
    assert client.fetch_balance()["BTC"]["used"] == pytest.approx(0.1)
    with pytest.raises(ccxt.OrderImmediatelyFillable):
        high = _below(client, SPOT, -300)
        client.create_order(SPOT, "stop_loss_limit", "sell", 0.1, high, {"stopPrice": high})


def test_spot_rejections_map_to_ccxt_exceptions(client: ccxt.binance) -> None:
    crossing = _below(client, SPOT, -10)  # 10 bps above the bid: through the ask
    with pytest.raises(ccxt.OrderImmediatelyFillable, match="immediately match and take"):
        client.create_order(SPOT, "limit", "buy", 0.01, crossing, {"timeInForce": "PO"})
    with pytest.raises(ccxt.InsufficientFunds):
        client.create_order(SPOT, "limit", "buy", 1.0, _below(client, SPOT, 10))
    with pytest.raises(ccxt.BadRequest, match="MIN_NOTIONAL"):  # as from api.binance.com
        client.create_order(SPOT, "limit", "buy", 0.00002, _below(client, SPOT, 10))
    ok = client.create_order(
        SPOT, "limit", "buy", 0.01, _below(client, SPOT, 50), {"timeInForce": "PO"}
    )
    assert ok["postOnly"] and ok["status"] == "open"


def test_usdm_account_setup_calls_freqtrade_makes_at_start(client: ccxt.binance) -> None:
    assert client.fapiPrivateGetPositionSideDual() == {"dualSidePosition": False}
    assert client.fapiPrivateGetMultiAssetsMargin() == {"multiAssetsMargin": False}
    assert client.set_leverage(3, PERP)["leverage"] == 3
    client.set_margin_mode("isolated", PERP)
    with pytest.raises(ccxt.MarginModeAlreadySet):
        client.set_margin_mode("isolated", PERP)
    tiers = client.fetch_leverage_tiers([PERP])[PERP]
    assert tiers[0]["maxLeverage"] == 125 and tiers[0]["minNotional"] == 0
    assert all(a["maxNotional"] == b["minNotional"] for a, b in itertools.pairwise(tiers))
    rate = client.fetch_funding_rate(PERP)
    assert rate["fundingRate"] == 0.0001 and rate["markPrice"] > 0
    assert rate["fundingTimestamp"] % (8 * 3_600_000) == 0
    assert set(client.fetch_funding_rates([PERP])) == {PERP}
    hist = client.fetch_funding_rate_history(PERP, limit=3)
    assert len(hist) == 3 and all(h["fundingRate"] == 0.0001 for h in hist)


def test_usdm_position_balance_trades_and_algo_stop(client: ccxt.binance) -> None:
    client.set_leverage(5, PERP)
    o = client.create_order(PERP, "market", "buy", 0.05)
    assert o["status"] == "closed" and o["filled"] == 0.05 and o["average"] > 0
    (pos,) = client.fetch_positions([PERP])
    assert (pos["side"], pos["contracts"], pos["leverage"]) == ("long", 0.05, 5)
    assert pos["entryPrice"] == pytest.approx(o["average"])
    assert pos["marginMode"] == "cross"
    bal = client.fetch_balance({"type": "swap"})["USDT"]
    assert bal["used"] == pytest.approx(0.05 * o["average"] / 5, rel=1e-6)
    assert bal["total"] < 20_000  # the taker commission left the wallet
    (trade,) = client.fetch_my_trades(PERP, since=o["timestamp"] - 1000)
    assert trade["fee"]["currency"] == "USDT" and trade["takerOrMaker"] == "taker"
    # Freqtrade's futures stop-loss: a conditional (algo) order
    stop = _below(client, PERP, 500)
    sl = client.create_order(
        PERP, "stop_market", "sell", 0.05, None, {"stopPrice": stop, "reduceOnly": True}
    )
    assert sl["status"] == "open" and sl["triggerPrice"] == stop
    assert client.fetch_order(sl["id"], PERP, {"stop": True})["status"] == "open"
    assert [x["id"] for x in client.fetch_open_orders(PERP, params={"stop": True})] == [sl["id"]]
    client.cancel_order(sl["id"], PERP, {"stop": True})
    assert client.fetch_order(sl["id"], PERP, {"stop": True})["status"] == "canceled"
    closed = client.create_order(PERP, "market", "sell", 0.05, None, {"reduceOnly": True})
    assert closed["reduceOnly"] is True
    assert client.fetch_positions([PERP]) == []
    income = client.fetch_funding_history(PERP)
    assert income == []  # no funding time passed


def test_gtx_post_only_is_rejected_on_usdm(client: ccxt.binance) -> None:
    crossing = _below(client, PERP, -10)
    # -5022: ccxt maps it for Binance's own hosts only; here it is an ExchangeError
    with pytest.raises(ccxt.ExchangeError, match="-5022"):
        client.create_order(PERP, "limit", "buy", 0.01, crossing, {"timeInForce": "PO"})


def test_faults_as_ccxt_sees_them(venue: LocalExchange, client: ccxt.binance) -> None:
    venue.faults.add(endpoint="POST /api/v3/order", kind="ambiguous")
    with pytest.raises(ccxt.NetworkError):  # RequestTimeout: execution status unknown
        client.create_order(SPOT, "limit", "buy", 0.01, _below(client, SPOT, 100))
    assert len(client.fetch_open_orders(SPOT)) == 1  # ... but the order exists
    venue.faults.add(endpoint="GET /api/v3/ticker/24hr", kind="timeout", delay_s=1.0)
    client.timeout = 300
    with pytest.raises(ccxt.RequestTimeout):
        client.fetch_ticker(SPOT)
    client.timeout = 10_000
    venue.faults.add(endpoint="GET /api/v3/account", kind="rate_limit", retry_after_s=1)
    with pytest.raises(ccxt.DDoSProtection, match="429"):
        client.fetch_balance()
    with pytest.raises(ccxt.DDoSProtection, match="back off"):  # asked to wait 1 s
        client.fetch_balance()


def test_venue_side_cancel_is_seen_by_the_client(venue: LocalExchange, client) -> None:
    o = client.create_order(SPOT, "limit", "buy", 0.01, _below(client, SPOT, 100))
    venue.venue_cancel(int(o["id"]))
    assert client.fetch_order(o["id"], SPOT)["status"] == "canceled"
    assert client.fetch_balance()["USDT"]["used"] == 0


def test_weight_headers_reach_the_client(client: ccxt.binance) -> None:
    client.fetch_ticker(SPOT)
    used = int(client.last_response_headers["X-MBX-USED-WEIGHT-1M"])
    client.fetch_order_book(SPOT, 500)
    assert int(client.last_response_headers["X-MBX-USED-WEIGHT-1M"]) == used + 25
