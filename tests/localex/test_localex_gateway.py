"""Signatures, rate limits and scripted faults, through the gateway (pure, no HTTP)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from urllib.parse import urlencode

import pytest

from freqtrade_exec_ext.localex import auth
from freqtrade_exec_ext.localex.faults import FaultError, FaultScript, load_fault_file
from freqtrade_exec_ext.localex.gateway import Gateway, Request
from freqtrade_exec_ext.localex.ratelimit import (
    Limit,
    RateLimitConfig,
    RateLimiter,
    request_weight,
)

KEY, SECRET = secrets.token_hex(16), secrets.token_hex(32)


class Wall:
    def __init__(self, t: int) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t


def _limits(weight: int = 6000, orders_10s: int = 100, ban_after: int = 10) -> RateLimitConfig:
    return RateLimitConfig(
        limits={
            "spot": (
                Limit("REQUEST_WEIGHT", "MINUTE", 1, weight),
                Limit("ORDERS", "SECOND", 10, orders_10s),
            ),
            "usdm": (Limit("REQUEST_WEIGHT", "MINUTE", 1, 2400),),
        },
        ban_after=ban_after,
    )


@pytest.fixture
def gw(market, engine, fake_clock):
    wall = Wall(fake_clock())
    g = Gateway(market, engine, RateLimiter(_limits()), FaultScript(), {KEY: SECRET}, wall)
    g.wall = wall  # type: ignore[attr-defined]
    return g


def signed(gw: Gateway, method: str, path: str, body: bool = False, **params) -> Request:
    params = {**params, "timestamp": gw.wall_ms(), "recvWindow": 5000}
    payload = urlencode(params)
    sig = auth.sign(payload, SECRET)
    q = "" if body else f"{payload}&signature={sig}"
    b = f"{payload}&signature={sig}" if body else ""
    return Request(method, path, q, b, {"X-MBX-APIKEY": KEY})


# ---------------------------------------------------------------- signatures


def test_hmac_signature_is_checked_like_binance(gw) -> None:
    ok = gw.handle(signed(gw, "GET", "/api/v3/account"))
    assert ok.status == 200 and {b["asset"] for b in ok.body["balances"]} == {"USDT", "BTC"}
    body_signed = gw.handle(
        signed(
            gw,
            "POST",
            "/api/v3/order",
            body=True,
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.001",
            price="100000",
        )
    )
    assert body_signed.status == 200 and body_signed.body["status"] == "NEW"
    req = signed(gw, "GET", "/api/v3/account")
    tampered = Request(
        "GET", req.path, req.query.replace("recvWindow=5000", "recvWindow=6000"), "", req.headers
    )
    assert gw.handle(tampered).body == {
        "code": -1022,
        "msg": "Signature for this request is not valid.",
    }
    wrong_key = Request("GET", req.path, req.query, "", {"X-MBX-APIKEY": "nope"})
    r = gw.handle(wrong_key)
    assert (r.status, r.body["code"]) == (401, -2015)
    r = gw.handle(Request("GET", req.path, req.query, ""))
    assert (r.status, r.body["code"]) == (401, -2014)
    unsigned = Request("GET", "/api/v3/account", "timestamp=1", "", {"X-MBX-APIKEY": KEY})
    assert gw.handle(unsigned).body["code"] == -1102


def test_stale_or_future_timestamps_are_refused(gw) -> None:
    req = signed(gw, "GET", "/api/v3/account")
    gw.wall.t += 5_001  # older than recvWindow
    assert gw.handle(req).body["code"] == -1021
    gw.wall.t -= 10_000  # now the request is 5 s in the future
    assert gw.handle(req).body["code"] == -1021


def test_strip_signature_keeps_the_parameter_order() -> None:
    assert auth.strip_signature("a=1&signature=ff&b=2") == ("a=1&b=2", "ff")
    assert auth.strip_signature("") == ("", None)


# ---------------------------------------------------------------- rate limits


def test_weights_follow_binance_tables() -> None:
    assert request_weight("spot", "GET", "exchangeInfo", {}) == 20
    assert request_weight("spot", "GET", "depth", {"limit": "500"}) == 25
    assert request_weight("spot", "GET", "openOrders", {}) == 80
    assert request_weight("spot", "GET", "openOrders", {"symbol": "BTCUSDT"}) == 6
    assert request_weight("usdm", "GET", "klines", {"limit": "1500"}) == 10
    assert request_weight("usdm", "GET", "income", {}) == 30


def test_weight_headers_then_429_then_418_for_a_client_that_does_not_back_off(gw) -> None:
    gw.limiter = RateLimiter(_limits(weight=50, ban_after=3))
    t0 = gw.wall.t
    first = gw.handle(Request("GET", "/api/v3/exchangeInfo"))
    assert first.headers["X-MBX-USED-WEIGHT-1M"] == "20"
    gw.handle(Request("GET", "/api/v3/exchangeInfo"))
    over = gw.handle(Request("GET", "/api/v3/exchangeInfo"))  # 60 > 50
    assert over.status == 429 and over.body["code"] == -1003
    retry = int(over.headers["Retry-After"])
    assert 0 < retry <= 60
    statuses = [gw.handle(Request("GET", "/api/v3/ping")).status for _ in range(3)]
    assert statuses == [429, 429, 418]
    banned = gw.handle(Request("GET", "/api/v3/ping"))
    assert banned.status == 418 and "banned until" in banned.body["msg"]
    assert gw.limiter.bans() == 1
    gw.wall.t = t0 + 121_000 + retry * 1000  # after the 2-minute ban
    assert gw.handle(Request("GET", "/api/v3/ping")).status == 200


def test_a_client_that_waits_for_retry_after_is_never_banned(gw) -> None:
    gw.limiter = RateLimiter(_limits(weight=50, ban_after=3))
    for _ in range(5):  # five storms in a row
        while (r := gw.handle(Request("GET", "/api/v3/exchangeInfo"))).status == 200:
            pass
        assert r.status == 429
        gw.wall.t += int(r.headers["Retry-After"]) * 1000
    assert gw.limiter.bans() == 0
    assert gw.handle(Request("GET", "/api/v3/ping")).status == 200


def test_order_count_limit_answers_1015(gw) -> None:
    gw.limiter = RateLimiter(_limits(orders_10s=2))
    codes = []
    for i in range(3):
        r = gw.handle(
            signed(
                gw,
                "POST",
                "/api/v3/order",
                body=True,
                symbol="BTCUSDT",
                side="BUY",
                type="LIMIT",
                timeInForce="GTC",
                quantity="0.001",
                price=str(90000 + i),
            )
        )
        codes.append((r.status, r.body.get("code")))
        assert "X-MBX-ORDER-COUNT-10S" in r.headers
    assert codes[:2] == [(200, None), (200, None)] and codes[2] == (429, -1015)


# ---------------------------------------------------------------- faults


def new_order(gw: Gateway, price: str = "100000", **extra) -> Request:
    return signed(
        gw,
        "POST",
        "/api/v3/order",
        body=True,
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price=price,
        **extra,
    )


def test_ambiguous_create_places_the_order_but_answers_an_error(gw, engine) -> None:
    gw.faults.add(endpoint="POST /api/v3/order", kind="ambiguous", count=1)
    r = gw.handle(new_order(gw, newClientOrderId="mine-1"))
    assert r.status == 503 and r.body["code"] == -1007
    (o,) = engine.orders.values()
    assert o.client_order_id == "mine-1" and o.status == "NEW"
    # the order can be found by its client id, and a blind retry is refused as a duplicate
    q = gw.handle(signed(gw, "GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="mine-1"))
    assert q.status == 200 and q.body["orderId"] == o.order_id
    again = gw.handle(new_order(gw, newClientOrderId="mine-1"))
    assert again.body == {"code": -2010, "msg": "Duplicate order sent."}


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"kind": "http_error", "status": 502}, 502, -1001),
        ({"kind": "rate_limit", "retry_after_s": 3}, 429, -1003),
        ({"kind": "ban", "ban_s": 60}, 418, -1003),
        ({"kind": "reject", "reason": "insufficient_balance"}, 400, -2010),
        ({"kind": "reject", "reason": "min_notional"}, 400, -1013),
        ({"kind": "timeout", "delay_s": 2.5}, 504, -1007),
    ],
)
def test_scripted_errors_are_not_executed(gw, engine, fault, status, code) -> None:
    gw.faults.add(endpoint="POST /api/v3/order", **fault)
    r = gw.handle(new_order(gw))
    assert (r.status, r.body["code"]) == (status, code)
    assert not engine.orders  # nothing was placed
    if fault["kind"] == "timeout":
        assert r.delay_s == 2.5
    if fault["kind"] == "rate_limit":
        assert r.headers["Retry-After"] == "3"
        assert gw.handle(Request("GET", "/api/v3/ping")).status == 429  # must back off
    after = {"ban": 418, "rate_limit": 429}.get(fault["kind"], 200)
    assert gw.handle(new_order(gw)).status == after  # count=1: spent, unless backing off


def test_latency_after_count_and_symbol_matching(gw) -> None:
    f = gw.faults.add(
        endpoint="GET /api/v3/ticker/*",
        kind="latency",
        delay_s=0.7,
        after=1,
        count=2,
        symbol="BTCUSDT",
    )
    req = Request("GET", "/api/v3/ticker/price", "symbol=BTCUSDT")
    delays = [gw.handle(req).delay_s for _ in range(4)]
    assert delays == [0.0, 0.7, 0.7, 0.0]
    assert gw.handle(Request("GET", "/api/v3/ticker/price", "symbol=ETHUSDT")).delay_s == 0
    assert f.fired == 2 and f.spent


def test_order_faults_only_hit_order_creation(gw, engine) -> None:
    gw.faults.add(endpoint="*", kind="partial_fill", ratio=0.5, count=1)
    gw.handle(Request("GET", "/api/v3/ping"))
    ask = engine.market.book("spot", "BTCUSDT", 1).asks[0][0]
    r = gw.handle(new_order(gw, price=f"{ask:.2f}"))
    assert r.body["status"] == "PARTIALLY_FILLED"
    assert float(r.body["executedQty"]) == pytest.approx(0.0005)


def test_fault_descriptions_are_validated(tmp_path: Path) -> None:
    script = FaultScript()
    with pytest.raises(FaultError, match="kind 'boom'"):
        script.add(kind="boom")
    with pytest.raises(FaultError, match="unknown field"):
        script.add(kind="latency", colour="red")
    with pytest.raises(FaultError, match="reason"):
        script.add(kind="reject")
    f = tmp_path / "faults.yaml"
    f.write_text("faults:\n  - {endpoint: POST /api/v3/order, kind: ambiguous}\n")
    assert load_fault_file(f) == [{"endpoint": "POST /api/v3/order", "kind": "ambiguous"}]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"kind": "latency"}, {"kind": "nope"}]))
    with pytest.raises(FaultError, match=r"faults\[1\]"):
        load_fault_file(bad)


def admin(gw: Gateway, method: str, name: str, payload: object = None, **headers: str) -> Request:
    body = "" if payload is None else json.dumps(payload)
    h = {"Authorization": f"Bearer {gw.admin_token}", "Host": "127.0.0.1:8765", **headers}
    return Request(method, f"/_admin/{name}", body=body, headers=h)


def test_admin_endpoint_scripts_faults_and_reports_state(gw, engine) -> None:
    fault = {"endpoint": "GET /api/v3/time", "kind": "http_error", "status": 500}
    r = gw.handle(admin(gw, "POST", "faults", {"faults": [fault]}))
    assert r.status == 200 and r.body["added"]
    assert gw.handle(Request("GET", "/api/v3/time")).status == 500
    bad = gw.handle(admin(gw, "POST", "faults", {"kind": "nope"}))
    assert bad.status == 400 and bad.body["code"] == -1100 and "kind" in bad.body["msg"]
    gw.handle(new_order(gw))
    (o,) = engine.orders.values()
    c = gw.handle(admin(gw, "POST", "cancel", {"order_id": o.order_id}))
    assert c.body == {"order_id": o.order_id, "status": "CANCELED"}
    state = gw.handle(admin(gw, "GET", "state")).body
    assert state["open_orders"] == [] and state["faults_fired"] == 1
    # what the HTTP limits refused, and the late requests (docs/local-exchange.md)
    assert set(state["http"]) >= {"refused_connections", "header_timeouts", "too_large"}
    assert state["late_requests"] == {"pending": 0, "outcomes": []}
    assert gw.handle(admin(gw, "DELETE", "faults")).body == {"cleared": True}
    assert gw.handle(admin(gw, "GET", "faults")).body["faults"] == []


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Authorization": ""}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "Basic abc"}, 401),
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Host": "evil.example"}, 403),
        ({"Host": "rebound.example:8765"}, 403),
        ({"Host": "localhost:8765"}, 200),
        ({"Host": "[::1]:8765"}, 200),
    ],
)
def test_admin_needs_the_token_no_origin_and_a_loopback_host(gw, headers, status) -> None:
    """A web page (Origin) or a DNS-rebound name (Host) cannot drive the venue, even with
    the token; nobody can without it."""
    r = gw.handle(admin(gw, "POST", "faults", {"kind": "http_error"}, **headers))
    assert r.status == status
    if status != 200:
        assert r.body["code"] == -1002 and set(r.body) == {"code", "msg"}
        assert gw.faults.active() == []
        assert gw.admin_token not in r.body["msg"]


def test_every_gateway_gets_its_own_random_admin_token(market, engine) -> None:
    tokens = {
        Gateway(market, engine, RateLimiter(_limits()), FaultScript(), {}).admin_token
        for _ in range(3)
    }
    assert len(tokens) == 3 and all(len(t) >= 32 for t in tokens)


def test_readiness_probe_needs_no_token_and_uses_no_fault_or_weight(gw) -> None:
    gw.faults.add(endpoint="*", kind="http_error", count=None)
    r = gw.handle(Request("GET", "/_localex/ready"))
    assert (r.status, r.body["ready"]) == (200, True)
    assert gw.faults.fired() == 0


@pytest.mark.parametrize("body", ['{"order_id": 1e400}', '{"order_id": 1.5}', '{"order_id": true}',
                                  '{"order_id": "x"}', '{"id": 1}', "[1]"])  # fmt: skip
def test_admin_cancel_names_what_it_expects_for_any_order_id(gw, body) -> None:
    h = {"Authorization": f"Bearer {gw.admin_token}", "Host": "127.0.0.1:8765"}
    r = gw.handle(Request("POST", "/_admin/cancel", body=body, headers=h))
    assert (r.status, r.body) == (
        400,
        {"code": -1100, "msg": 'localex admin: expected {"order_id": <integer id>}'},
    )
