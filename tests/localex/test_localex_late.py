"""Late execution as Binance's backend does it: -1007 now, the request executed later,
unless its ``timestamp + recvWindow`` has passed by then (then it is dropped, -1021).

The pure gateway runs on the tests' fake clocks; the ccxt tests run a real server on the
wall clock and wait on the venue's own record of the late request (never on a fixed sleep).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import ccxt
import pytest

from freqtrade_exec_ext.localex import auth, ccxt_urls
from freqtrade_exec_ext.localex.faults import FaultError, FaultScript
from freqtrade_exec_ext.localex.gateway import UNKNOWN_MSG, Gateway, Request
from freqtrade_exec_ext.localex.ratelimit import RateLimitConfig, RateLimiter
from freqtrade_exec_ext.localex.server import LocalExchange

KEY, SECRET = secrets.token_hex(16), secrets.token_hex(32)
SPOT, PERP = "BTC/USDT", "BTC/USDT:USDT"


class Wall:
    def __init__(self, t: int) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t


@pytest.fixture
def gw(market, engine, fake_clock):
    wall = Wall(fake_clock())
    limiter = RateLimiter(RateLimitConfig(enabled=False))
    g = Gateway(market, engine, limiter, FaultScript(), {KEY: SECRET}, wall)
    g.wall = wall  # type: ignore[attr-defined]
    return g


def _advance(gw: Gateway, fake_clock, seconds: float) -> None:
    gw.wall.t += int(seconds * 1000)  # type: ignore[attr-defined]
    fake_clock.advance(seconds)


def _signed(gw: Gateway, method: str, path: str, recv_window: int = 5000, **params) -> Request:
    params = {**params, "timestamp": gw.wall_ms(), "recvWindow": recv_window}
    payload = urlencode(params)
    return Request(
        method, path, f"{payload}&signature={auth.sign(payload, SECRET)}", "", {"X-MBX-APIKEY": KEY}
    )


def _new_buy(gw: Gateway, client_id: str, recv_window: int = 5000, price: str = "100000"):
    return _signed(
        gw, "POST", "/api/v3/order", recv_window, symbol="BTCUSDT", side="BUY", type="LIMIT",
        timeInForce="GTC", quantity="0.001", price=price, newClientOrderId=client_id,
    )  # fmt: skip


def _by_client_id(gw: Gateway, client_id: str):
    return gw.handle(
        _signed(gw, "GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId=client_id)
    )


# ---------------------------------------------------------------- recvWindow at the engine


def test_a_request_held_past_its_window_before_the_engine_is_refused(gw, fake_clock) -> None:
    """Binance checks ``timestamp + recvWindow`` when the request reaches the matching
    engine: a request delayed on the way (a latency fault) past its window is not executed."""
    gw.faults.add(endpoint="POST /api/v3/order", kind="latency", delay_s=2.0)
    plan = gw.admit(_new_buy(gw, "slow-1", recv_window=1500))
    _advance(gw, fake_clock, 2.0)  # what the server sleeps before executing it
    reply = gw.execute(plan)
    assert (reply.status, reply.body) == (
        400,
        {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."},
    )
    assert gw.engine.orders == {}
    # the same delay inside a longer window executes
    gw.faults.add(endpoint="POST /api/v3/order", kind="latency", delay_s=2.0)
    plan = gw.admit(_new_buy(gw, "slow-2", recv_window=3000))
    _advance(gw, fake_clock, 2.0)
    assert gw.execute(plan).body["status"] == "NEW"


def test_usdm_answers_its_own_code_when_the_engine_gets_a_request_too_late(gw, fake_clock) -> None:
    gw.faults.add(endpoint="POST /fapi/v1/order", kind="latency", delay_s=2.0)
    order = _signed(
        gw, "POST", "/fapi/v1/order", 1500, symbol="BTCUSDT", side="BUY", type="LIMIT",
        timeInForce="GTC", quantity="0.002", price="100000",
    )  # fmt: skip
    plan = gw.admit(order)
    _advance(gw, fake_clock, 2.0)
    assert gw.execute(plan).body == {
        "code": -5028,
        "msg": "Timestamp for this request is outside of the ME recvWindow.",
    }
    assert gw.engine.orders == {}


# ---------------------------------------------------------------- late_execute


def test_late_request_inside_its_window_is_executed_and_queryable(gw, fake_clock) -> None:
    gw.faults.add(endpoint="POST /api/v3/order", kind="late_execute", execute_after_s=3.0)
    reply = gw.handle(_new_buy(gw, "late-1", recv_window=5000))
    assert (reply.status, reply.body) == (504, {"code": -1007, "msg": UNKNOWN_MSG})
    assert gw.engine.orders == {}  # not executed yet: a lookup finds nothing
    assert _by_client_id(gw, "late-1").body["code"] == -2013
    _advance(gw, fake_clock, 2.9)
    assert gw.run_late() == [] and gw.engine.orders == {}
    _advance(gw, fake_clock, 0.2)  # due; any request runs what is due before itself
    found = _by_client_id(gw, "late-1")
    assert found.status == 200 and found.body["status"] == "NEW"
    assert found.body["clientOrderId"] == "late-1"
    (order,) = gw.engine.orders.values()
    assert order.time == fake_clock()  # executed when it was due, not when it arrived
    listed = gw.handle(_signed(gw, "GET", "/api/v3/allOrders", symbol="BTCUSDT")).body
    assert [o["clientOrderId"] for o in listed] == ["late-1"]
    (entry,) = gw.late.log
    assert entry["outcome"] == "executed" and entry["order_id"] == order.order_id
    assert entry["client_order_id"] == "late-1" and gw.late.pending() == 0
    # GET /_admin/state lists it (docs/local-exchange.md)
    from freqtrade_exec_ext.localex.admin import state

    assert state(gw)["late_requests"] == {"pending": 0, "outcomes": [entry]}


def test_late_request_past_its_window_is_dropped(gw, fake_clock) -> None:
    gw.faults.add(endpoint="POST /api/v3/order", kind="late_execute", execute_after_s=3.0)
    sent = _new_buy(gw, "late-2", recv_window=2000)
    assert gw.handle(sent).body["code"] == -1007
    _advance(gw, fake_clock, 3.0)
    (entry,) = gw.run_late()
    assert entry["outcome"] == "dropped" and entry["code"] == -1021  # (USDT-M: -5028)
    assert entry["deadline_ms"] == entry["received_ms"] + 2000 < entry["at_ms"]
    assert gw.engine.orders == {}
    assert _by_client_id(gw, "late-2").body["code"] == -2013
    _advance(gw, fake_clock, 60.0)  # and never later
    assert gw.run_late() == [] and gw.engine.orders == {}


def test_a_late_request_does_not_lock_funds_before_it_executes(gw, fake_clock) -> None:
    usdt = gw.engine.spot["USDT"][:]
    gw.faults.add(endpoint="POST /api/v3/order", kind="late_execute", execute_after_s=1.0)
    gw.handle(_new_buy(gw, "late-3"))
    assert gw.engine.spot["USDT"] == usdt
    _advance(gw, fake_clock, 1.0)
    gw.run_late()
    assert gw.engine.spot["USDT"][1] == pytest.approx(usdt[1] + 0.001 * 100_000)


def test_a_request_binance_refuses_on_receipt_is_refused_not_held(gw, fake_clock) -> None:
    gw.faults.add(endpoint="POST /api/v3/order", kind="late_execute", count=None)
    req = _new_buy(gw, "late-4")
    tampered = Request(req.method, req.path, req.query.replace("0.001", "0.002"), "", req.headers)
    assert gw.handle(tampered).body["code"] == -1022
    stale = _new_buy(gw, "late-5", recv_window=1000)
    _advance(gw, fake_clock, 1.5)
    assert gw.handle(stale).body["code"] == -1021
    assert gw.late.pending() == 0


def test_late_execute_fault_is_validated() -> None:
    with pytest.raises(FaultError, match="execute_after_s"):
        FaultScript().add(kind="late_execute", execute_after_s=-1)


# ---------------------------------------------------------------- over HTTP, with ccxt


@pytest.fixture
def venue(repo_datadir: Path, rising_candle) -> Iterator[LocalExchange]:
    ex = LocalExchange(
        repo_datadir,
        start_at=rising_candle,
        api_keys={KEY: SECRET},
        rate_limits=RateLimitConfig(enabled=False),
    )
    with ex:
        yield ex


def _client(venue: LocalExchange, **options) -> ccxt.binance:
    c = ccxt.binance(
        {**ccxt_urls(venue.base_url), "apiKey": KEY, "secret": SECRET, "enableRateLimit": False}
    )
    c.options.update(options)
    c.load_markets()
    return c


def _below_bid(client: ccxt.binance, symbol: str) -> float:
    bid = client.fetch_order_book(symbol, 5)["bids"][0][0]
    return float(client.price_to_precision(symbol, bid * 0.99))


def _wait_late(venue: LocalExchange, n: int, timeout: float = 120.0) -> list[dict]:
    assert venue.gateway is not None
    deadline = time.monotonic() + timeout
    while len(venue.gateway.late.log) < n:
        assert time.monotonic() < deadline, "the held-back request was never run"
        time.sleep(0.02)
    return venue.gateway.late.log


@pytest.mark.slow
@pytest.mark.parametrize(("symbol", "path"), [(SPOT, "/api/v3/order"), (PERP, "/fapi/v1/order")])
def test_ccxt_sees_minus_1007_then_finds_the_late_order(venue, symbol, path) -> None:
    client = _client(venue)
    venue.faults.add(endpoint=f"POST {path}", kind="late_execute", execute_after_s=0.3)
    price = _below_bid(client, symbol)
    params = {"newClientOrderId": "late-ccxt-1"}
    with pytest.raises(ccxt.RequestTimeout, match="-1007"):  # a NetworkError: retry-able
        client.create_order(symbol, "limit", "buy", 0.002, price, params)
    (entry,) = _wait_late(venue, 1)
    assert entry["outcome"] == "executed"
    found = client.fetch_order(None, symbol, {"origClientOrderId": "late-ccxt-1"})
    assert found["clientOrderId"] == "late-ccxt-1" and found["status"] == "open"
    assert [o["id"] for o in client.fetch_open_orders(symbol)] == [found["id"]]


@pytest.mark.slow
def test_a_held_connection_times_the_client_out_and_the_order_still_executes(venue) -> None:
    client = _client(venue)
    client.timeout = 500  # ms
    venue.faults.add(
        endpoint="POST /api/v3/order", kind="late_execute", delay_s=3.0, execute_after_s=0.2
    )
    price = _below_bid(client, SPOT)
    with pytest.raises(ccxt.RequestTimeout):
        client.create_order(SPOT, "limit", "buy", 0.002, price, {"newClientOrderId": "held-1"})
    assert _wait_late(venue, 1)[0]["outcome"] == "executed"
    client.timeout = 10_000
    assert client.fetch_order(None, SPOT, {"origClientOrderId": "held-1"})["status"] == "open"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("symbol", "path", "code"), [(SPOT, "/api/v3/order", -1021), (PERP, "/fapi/v1/order", -5028)]
)
def test_ccxt_order_with_a_short_window_is_dropped_when_executed_too_late(
    venue, symbol, path, code
) -> None:
    client = _client(venue, recvWindow=1000)  # ccxt signs every request with it
    venue.faults.add(endpoint=f"POST {path}", kind="late_execute", execute_after_s=1.5)
    price = _below_bid(client, symbol)
    with pytest.raises(ccxt.RequestTimeout):
        client.create_order(symbol, "limit", "buy", 0.002, price, {"newClientOrderId": "late-x"})
    (entry,) = _wait_late(venue, 1)
    assert (entry["outcome"], entry["code"]) == ("dropped", code)
    with pytest.raises(ccxt.OrderNotFound):
        client.fetch_order(None, symbol, {"origClientOrderId": "late-x"})
    assert client.fetch_orders(symbol) == []
