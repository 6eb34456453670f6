"""Every route the local exchange serves answers as Binance does, and ccxt parses it.

One venue for the whole module, on the repo's candles, with a hand-driven clock (the
replay, the books and the matching only move when a test advances it), driven over HTTP by
real ccxt (sync ``binance``, signed with a throwaway key).  Three things are proved:

* **shape** - for each route with a real captured Binance answer (``fixtures/binance-rest/``,
  from nautilus_trader's test resources, see the README there), the venue's raw JSON has the
  same keys and the same JSON types (numbers-as-strings stay strings, ints ints, bools
  bools, klines rows the same arity).  Every difference is in ``SHAPE_ALLOW`` with its
  reason, and an allowance that no longer matches a difference fails too;
* **parsing** - each route through the ccxt method Freqtrade uses (or, where ccxt has no
  unified method, the implicit one Freqtrade calls), with the unified fields checked against
  the venue's own state (``ex.engine``, ``ex.venue``);
* **coverage** - every ``(prefix, method, name)`` the gateway serves answered HTTP 200 at
  least once in this module, or is in ``UNREACHABLE`` with its reason.  The gateway routes by
  API family, so ``/fapi/v3/depth`` answers like ``/fapi/v1/depth`` although Binance has no
  such path and ccxt no method for it: every GET answered 200 is replayed on those aliases at
  once, and each must answer exactly what its source answered.  A route added to the
  gateway's tables without a test here fails ``test_every_served_route_answered_200``.
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import ccxt
import pytest
from support import FakeClock

from freqtrade_exec_ext.localex import ccxt_urls, replay, routes
from freqtrade_exec_ext.localex import gateway as gw
from freqtrade_exec_ext.localex.api_usdm import BRACKETS
from freqtrade_exec_ext.localex.server import LocalExchange
from freqtrade_exec_ext.localex.trading import Order, TradingEngine
from freqtrade_exec_ext.localex.urls import REST_GROUPS

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "binance-rest"
SPOT, PERP, ETH_PERP = "BTC/USDT", "BTC/USDT:USDT", "ETH/USDT:USDT"
BTC = "BTCUSDT"
# 1 s into a 5-minute candle of served time; with the conftest's rising 2025-10-16 09:40
# candle replayed there, the price falls from 109800.10 to the low (109635.15) over the
# first 100 s, then rises to the high by 200 s.
START_MS = 1_900_000_200_000 - 1_900_000_200_000 % 300_000 + 1_000
CCXT_STATUS = {
    "NEW": "open",
    "PARTIALLY_FILLED": "open",
    "FILLED": "closed",
    "CANCELED": "canceled",
    "EXPIRED": "expired",
}

RouteKey = tuple[str, str, str]  # (URL prefix, HTTP method, endpoint name)


# ---------------------------------------------------------------- the gateway's routes


def served_routes() -> set[RouteKey]:
    """Every (prefix, method, name) the gateway answers, from its own route tables."""
    names = {(m, n) for (_, m, n) in routes._PRIVATE}
    names |= {("GET", n) for n in (*routes._PUBLIC, *routes._KLINES, *routes._USDM_PUBLIC)}
    return {
        (prefix, m, n)
        for prefix in routes.PREFIXES
        for m, n in names
        if routes.resolve(m, f"{prefix}/{n}") is not None
    }


def ccxt_declared() -> set[RouteKey]:
    """The (prefix, method, name) ccxt's binance class has an API method for."""
    api = ccxt.binance().describe()["api"]
    out: set[RouteKey] = set()
    for group, prefix in REST_GROUPS.items():
        for verb, endpoints in api.get(group, {}).items():
            out |= {(prefix, verb.upper(), name) for name in endpoints}
    return out


SERVED = served_routes()
DECLARED = SERVED & ccxt_declared()


def _family(prefix: str) -> str:
    return routes.PREFIXES[prefix][0]


def _source(alias: RouteKey) -> RouteKey | None:
    """The ccxt-reachable route an alias must answer like (same family first)."""
    prefix, method, name = alias
    same = [k for k in DECLARED if k[1:] == (method, name) and k not in UNREACHABLE]
    same.sort(key=lambda k: (_family(k[0]) != _family(prefix), k[0]))
    return same[0] if same else None


# Routes no request can get an HTTP 200 from, by design (each is asserted to answer the
# error named here in test_unreachable_routes_answer_the_binance_error).
COINM_NO_SYMBOLS = (
    "no coin-M symbol is listed (/dapi/v1/exchangeInfo has none): every symbol-bound "
    "coin-M endpoint answers -1121 Invalid symbol, as Binance does for an unknown symbol"
)
ONE_WAY_ONLY = (
    "the venue is one-way only: asking for one-way answers -4059 'No need to change position "
    "side.' (as Binance does when nothing changes) and hedge mode is refused"
)
UNREACHABLE: dict[RouteKey, str] = {
    **{("/dapi/v1", "GET", n): COINM_NO_SYMBOLS for n in ("depth", *routes._KLINES)},
    **{
        (p, "POST", "positionSide/dual"): ONE_WAY_ONLY for p in ("/fapi/v1", "/fapi/v2", "/fapi/v3")
    },
}
ALIASES = {
    k: src
    for k in sorted(SERVED - DECLARED)
    if k not in UNREACHABLE and k[1] == "GET" and (src := _source(k)) is not None
}


# ---------------------------------------------------------------- recording what answered


@dataclass
class Mirror:
    source: RouteKey
    status: int
    body: Any
    source_body: Any


def route_key(method: str, path: str) -> RouteKey | None:
    for prefix in routes.PREFIXES:
        if path.startswith(prefix + "/"):
            return (prefix, method.upper(), path[len(prefix) + 1 :])
    return None


class Recorder:
    """Counts the venue's HTTP 200 answers per route, and mirrors GETs on their aliases.

    Installed on the running gateway's instance (``gateway.execute`` is looked up per
    request by the HTTP layer); the mirrored request goes through ``admit`` and ``execute``
    again with the alias path and the same query and headers (the signature covers the
    query, not the path), while the venue state is still the one the source saw.
    """

    def __init__(self, gateway: gw.Gateway) -> None:
        self.gateway = gateway
        self.hits: dict[RouteKey, int] = {}
        self.mirrors: dict[RouteKey, Mirror] = {}
        self._execute = gateway.execute
        gateway.execute = self.execute  # type: ignore[method-assign]

    def execute(self, plan: gw.Plan) -> gw.Reply:
        reply = self._execute(plan)
        key = route_key(plan.request.method, plan.request.path)
        if key is not None and reply.status == 200:
            self.hits[key] = self.hits.get(key, 0) + 1
            for alias, source in ALIASES.items():
                if source == key and alias not in self.mirrors:
                    self._mirror(plan.request, key, alias, reply)
        return reply

    def _mirror(
        self, req: gw.Request, source: RouteKey, alias: RouteKey, source_reply: gw.Reply
    ) -> None:
        prefix, method, name = alias
        mirrored = gw.Request(method, f"{prefix}/{name}", req.query, req.body, req.headers)
        plan = self.gateway.admit(mirrored)
        reply = plan if isinstance(plan, gw.Reply) else self._execute(plan)
        if reply.status == 200:
            self.hits[alias] = self.hits.get(alias, 0) + 1
        self.mirrors[alias] = Mirror(source, reply.status, reply.body, source_reply.body)


# ---------------------------------------------------------------- the venue under test


Clock = FakeClock


@dataclass
class Venue:
    ex: LocalExchange
    clock: Clock
    rec: Recorder
    client: ccxt.binance
    seeded: dict[str, str] = field(default_factory=dict)

    @property
    def engine(self) -> TradingEngine:
        assert self.ex.engine is not None
        return self.ex.engine

    @property
    def now(self) -> int:
        assert self.ex.venue is not None
        return self.ex.venue.server_time()

    def advance(self, seconds: float) -> None:
        self.clock.t += int(seconds * 1000)

    def top(self, market: str, symbol: str = BTC) -> tuple[float, float]:
        assert self.ex.venue is not None
        b = self.ex.venue.book(market, symbol, 1)
        return b.bids[0][0], b.asks[0][0]

    def below(self, symbol: str, pct: float) -> float:
        """A price ``pct`` % below the best bid, on the tick."""
        market = "spot" if symbol == SPOT else "usdm"
        bid = self.top(market)[0]
        return float(self.client.price_to_precision(symbol, bid * (1 - pct / 100)))

    def order(self, order_id: str) -> Order:
        return self.engine.orders[int(order_id)]


@pytest.fixture(scope="module")
def v(repo_datadir: Path, rising_candle: datetime) -> Iterator[Venue]:
    key, secret = secrets.token_hex(16), secrets.token_hex(32)
    clock = Clock(START_MS)
    ex = LocalExchange(
        repo_datadir,
        start_at=rising_candle,
        clock=clock,
        api_keys={key: secret},
        spot_balances={"USDT": 50_000.0, "BTC": 0.5},
        futures_balance=20_000.0,
    )
    with ex:
        assert ex.gateway is not None
        rec = Recorder(ex.gateway)
        client = ccxt.binance(
            {**ccxt_urls(ex.base_url), "apiKey": key, "secret": secret, "enableRateLimit": False}
        )
        client.load_markets()
        venue = Venue(ex, clock, rec, client)
        # what the shape checks need to exist: a trade and a resting order in each market
        c = client
        venue.seeded = {
            "spot_trade": c.create_order(SPOT, "market", "buy", 0.01)["id"],
            "spot_open": c.create_order(SPOT, "limit", "buy", 0.01, venue.below(SPOT, 5))["id"],
            "perp_trade": c.create_order(PERP, "market", "buy", 0.01)["id"],
            "perp_open": c.create_order(PERP, "limit", "buy", 0.01, venue.below(PERP, 4))["id"],
        }
        yield venue


# ---------------------------------------------------------------- shape against real Binance


def _kind(x: Any) -> str:
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, str):
        try:
            float(x)
        except ValueError:
            return "string"
        return "numeric string"
    return {int: "int", float: "float", type(None): "null", list: "list", dict: "dict"}[type(x)]


def _discriminator(items: list[Any]) -> str | None:
    for k in ("filterType", "rateLimitType"):
        if items and all(isinstance(i, dict) and k in i for i in items):
            return k
    return None


def shape_diff(venue: Any, real: Any, path: str = "$") -> set[tuple[str, str]]:
    """(kind of difference, JSON path) between a venue answer and a real Binance answer.

    Kinds: ``extra``/``missing`` keys, ``type`` (JSON type differs; a numeric string must
    stay a numeric string, any other string may hold any text), ``arity`` (a positional row
    such as a kline or a book level), ``empty`` (the venue answered [] where Binance has
    items, so nothing would be compared).
    """
    kv, kr = _kind(venue), _kind(real)
    if kv != kr and not (kr == "string" and kv == "numeric string"):
        return {("type", f"{path}: venue {kv}, Binance {kr}")}
    if isinstance(real, dict):
        out = {("missing", f"{path}.{k}") for k in real.keys() - venue.keys()}
        out |= {("extra", f"{path}.{k}") for k in venue.keys() - real.keys()}
        for k in real.keys() & venue.keys():
            out |= shape_diff(venue[k], real[k], f"{path}.{k}")
        return out
    if not (isinstance(real, list) and real):
        return set()
    if not venue:
        return {("empty", path)}
    if all(isinstance(r, list) for r in real):  # rows: positional
        return _rows_diff(venue, real[0], path)
    return _items_diff(venue, real, path)


def _rows_diff(venue: list[Any], ref: list[Any], path: str) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for row in venue:
        if not isinstance(row, list) or len(row) != len(ref):
            out.add(("arity", f"{path}[]"))
            continue
        for i, (a, b) in enumerate(zip(row, ref, strict=True)):
            out |= shape_diff(a, b, f"{path}[][{i}]")
    return out


def _items_diff(venue: list[Any], real: list[Any], path: str) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    by = _discriminator(real)
    for item in venue:
        if by is None:
            out |= shape_diff(item, real[0], f"{path}[]")
            continue
        tag = item.get(by) if isinstance(item, dict) else None
        ref = next((r for r in real if r[by] == tag), None)
        if ref is None:
            out.add(("extra", f"{path}[{by}={tag}]"))
        else:
            out |= shape_diff(item, ref, f"{path}[{tag}]")
    return out


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


ADDED_SPOT_ACCOUNT = (
    "added to GET /api/v3/account by Binance after this 2021 capture (its current docs list "
    "it); ccxt's parse_balance reads balances[] and updateTime only"
)
ADDED_USDM_ORDER = (
    "added to USDT-M orders by Binance after this capture (cumQty: in new-order and cancel "
    "answers); ccxt's parse_order does not read it"
)
TRAILING_ONLY = (
    "only on TRAILING_STOP_MARKET orders (the captured order is one); the venue refuses that "
    "type with -1116 and ccxt's parse_order does not read it"
)
V3_POSITION = (
    "positionRisk field of current Binance (ccxt's own fetch_positions_risk example lists it "
    "'added in v3'); the gateway routes by API family, so /fapi/v1, v2 and v3 positionRisk "
    "share one answer; ccxt reads initialMargin/maintMargin only when leverage is absent"
)
CURRENT_POSITION = (
    "returned by current Binance positionRisk (v2 and v3), absent from this 2020 capture; ccxt "
    "reads it (notional gives the position side, isolatedWallet the isolated margin), so the "
    "venue keeps it"
)
# fixture -> {(kind, path): reason}: the complete list of differences from real Binance.
SHAPE_ALLOW: dict[str, dict[tuple[str, str], str]] = {
    "http_futures_market_book_ticker": {
        ("extra", "$.lastUpdateId"): "added to the USDT-M bookTicker by Binance after this 2020 "
        "capture (current docs list it); ccxt's parse_ticker does not read it",
    },
    "http_futures_market_funding_rate": {
        ("extra", "$[].markPrice"): "added to fundingRate history by Binance in 2023; ccxt's "
        "parse_funding_rate_history reads symbol, fundingRate and fundingTime only",
    },
    "http_spot_wallet_account": {
        ("extra", f"$.{k}"): ADDED_SPOT_ACCOUNT
        for k in ("commissionRates", "brokered", "requireSelfTradePrevention", "preventSor", "uid")
    },
    "http_futures_account_orders": {
        ("missing", "$[].activatePrice"): TRAILING_ONLY,
        ("missing", "$[].priceRate"): TRAILING_ONLY,
        **{
            ("extra", f"$[].{k}"): ADDED_USDM_ORDER
            for k in ("cumQty", "priceMatch", "selfTradePreventionMode", "goodTillDate")
        },
    },
    "http_futures_account_positions_one_way": {
        **{
            ("extra", f"$[].{k}"): CURRENT_POSITION
            for k in ("notional", "breakEvenPrice", "isolatedWallet")
        },
        **{
            ("extra", f"$[].{k}"): V3_POSITION
            for k in (
                "marginAsset",
                "initialMargin",
                "maintMargin",
                "positionInitialMargin",
                "openOrderInitialMargin",
                "adl",
                "bidNotional",
                "askNotional",
            )
        },
    },
}


def raw(method: str, **params: Any) -> Callable[[Venue], Any]:
    """The raw JSON of a ccxt implicit API method (e.g. ``fapiPrivateGetOrder``)."""
    return lambda v: getattr(v.client, method)(params)


def _new_perp_order(v: Venue) -> Any:
    price = str(v.below(PERP, 4))
    order = {"symbol": BTC, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    return v.client.fapiPrivatePostOrder({**order, "quantity": "0.01", "price": price})


def _cancelled_perp_order(v: Venue) -> Any:
    oid = _new_perp_order(v)["orderId"]
    return v.client.fapiPrivateDeleteOrder({"symbol": BTC, "orderId": oid})


def _seeded_perp_order(method: str) -> Callable[[Venue], Any]:
    return lambda v: getattr(v.client, method)({"symbol": BTC, "orderId": v.seeded["perp_open"]})


@dataclass(frozen=True)
class Shape:
    """A route, the real capture its answer must look like, and how to call it.

    ``mode``: "same" compares the answer with the capture; "item" an answer object with the
    first item of a captured list; "items" each item of an answer list with a captured object.
    """

    fixture: str
    route: str  # "METHOD /prefix/name"
    call: Callable[[Venue], Any]
    mode: str = "same"

    @property
    def key(self) -> RouteKey:
        method, path = self.route.split(" ")
        key = route_key(method, path)
        assert key is not None
        return key


KLINE = {"symbol": BTC, "interval": "5m", "limit": 3}
PERPETUAL = {"pair": BTC, "contractType": "PERPETUAL", "interval": "5m", "limit": 3}
SHAPES: list[Shape] = [
    Shape("http_spot_market_ping", "GET /api/v3/ping", raw("publicGetPing")),
    Shape("http_spot_market_ping", "GET /fapi/v1/ping", raw("fapiPublicGetPing")),
    Shape("http_spot_market_ping", "GET /dapi/v1/ping", raw("dapiPublicGetPing")),
    Shape("http_spot_market_time", "GET /api/v3/time", raw("publicGetTime")),
    Shape("http_spot_market_time", "GET /fapi/v1/time", raw("fapiPublicGetTime")),
    Shape("http_spot_market_time", "GET /dapi/v1/time", raw("dapiPublicGetTime")),
    Shape(
        "http_spot_market_exchange_info", "GET /api/v3/exchangeInfo", raw("publicGetExchangeInfo")
    ),
    Shape(
        "http_futures_market_exchange_info",
        "GET /fapi/v1/exchangeInfo",
        raw("fapiPublicGetExchangeInfo"),
    ),
    Shape(
        "http_spot_market_depth", "GET /api/v3/depth", raw("publicGetDepth", symbol=BTC, limit=10)
    ),
    Shape(
        "http_futures_market_depth",
        "GET /fapi/v1/depth",
        raw("fapiPublicGetDepth", symbol=BTC, limit=5),
    ),
    Shape(
        "http_futures_market_ticker_24hr",
        "GET /fapi/v1/ticker/24hr",
        raw("fapiPublicGetTicker24hr", symbol=BTC),
    ),
    Shape(
        "http_spot_market_book_ticker",
        "GET /api/v3/ticker/bookTicker",
        raw("publicGetTickerBookTicker", symbol=BTC),
    ),
    Shape(
        "http_futures_market_book_ticker",
        "GET /fapi/v1/ticker/bookTicker",
        raw("fapiPublicGetTickerBookTicker", symbol=BTC),
    ),
    Shape(
        "http_spot_market_ticker_price",
        "GET /api/v3/ticker/price",
        raw("publicGetTickerPrice", symbol=BTC),
    ),
    Shape(
        "http_futures_market_ticker_price",
        "GET /fapi/v1/ticker/price",
        raw("fapiPublicGetTickerPrice", symbol=BTC),
    ),
    Shape(
        "http_futures_market_ticker_price",
        "GET /fapi/v2/ticker/price",
        raw("fapiPublicV2GetTickerPrice", symbol=BTC),
    ),
    Shape("http_spot_market_klines", "GET /api/v3/klines", raw("publicGetKlines", **KLINE)),
    # uiKlines rows are klines rows (Binance docs); ccxt has no unified method for them
    Shape("http_spot_market_klines", "GET /api/v3/uiKlines", raw("publicGetUiKlines", **KLINE)),
    Shape("http_futures_market_klines", "GET /fapi/v1/klines", raw("fapiPublicGetKlines", **KLINE)),
    Shape(
        "http_futures_market_continuous_klines",
        "GET /fapi/v1/continuousKlines",
        raw("fapiPublicGetContinuousKlines", **PERPETUAL),
    ),
    Shape(
        "http_futures_market_index_price_klines",
        "GET /fapi/v1/indexPriceKlines",
        raw("fapiPublicGetIndexPriceKlines", pair=BTC, interval="5m", limit=3),
    ),
    Shape(
        "http_futures_market_mark_price_klines",
        "GET /fapi/v1/markPriceKlines",
        raw("fapiPublicGetMarkPriceKlines", **KLINE),
    ),
    Shape(
        "http_futures_market_premium_index",
        "GET /fapi/v1/premiumIndex",
        raw("fapiPublicGetPremiumIndex", symbol=BTC),
    ),
    Shape(
        "http_futures_market_funding_rate",
        "GET /fapi/v1/fundingRate",
        raw("fapiPublicGetFundingRate", symbol=BTC, limit=3),
    ),
    Shape("http_spot_wallet_account", "GET /api/v3/account", raw("privateGetAccount")),
    Shape("http_wallet_trading_fees", "GET /sapi/v1/asset/tradeFee", raw("sapiGetAssetTradeFee")),
    # Binance answers a one-item list for one symbol; the capture holds the item
    Shape(
        "http_wallet_trading_fee",
        "GET /sapi/v1/asset/tradeFee",
        raw("sapiGetAssetTradeFee", symbol=BTC),
        "items",
    ),
    Shape(
        "http_futures_account_orders",
        "GET /fapi/v1/openOrders",
        raw("fapiPrivateGetOpenOrders", symbol=BTC),
    ),
    Shape(
        "http_futures_account_orders",
        "GET /fapi/v1/allOrders",
        raw("fapiPrivateGetAllOrders", symbol=BTC),
    ),
    Shape(
        "http_futures_account_orders",
        "GET /fapi/v1/order",
        _seeded_perp_order("fapiPrivateGetOrder"),
        "item",
    ),
    Shape(
        "http_futures_account_orders",
        "GET /fapi/v1/openOrder",
        _seeded_perp_order("fapiPrivateGetOpenOrder"),
        "item",
    ),
    Shape("http_futures_account_orders", "POST /fapi/v1/order", _new_perp_order, "item"),
    Shape("http_futures_account_orders", "DELETE /fapi/v1/order", _cancelled_perp_order, "item"),
    Shape(
        "http_futures_account_position_side_dual",
        "GET /fapi/v1/positionSide/dual",
        raw("fapiPrivateGetPositionSideDual"),
    ),
    Shape(
        "http_futures_account_positions_one_way",
        "GET /fapi/v1/positionRisk",
        raw("fapiPrivateGetPositionRisk", symbol=BTC),
    ),
    Shape(
        "http_futures_account_positions_one_way",
        "GET /fapi/v2/positionRisk",
        raw("fapiPrivateV2GetPositionRisk", symbol=BTC),
    ),
    # Binance's v3 drops marginType, leverage, isAutoAddMargin and maxNotionalValue; the venue
    # keeps them on v3 (one handler for the family), so ccxt's fetch_positions gets a leverage
    # here where it gets None from Binance (not visible against this v2 capture)
    Shape(
        "http_futures_account_positions_one_way",
        "GET /fapi/v3/positionRisk",
        raw("fapiPrivateV3GetPositionRisk", symbol=BTC),
    ),
    Shape(
        "http_futures_account_trades",
        "GET /fapi/v1/userTrades",
        raw("fapiPrivateGetUserTrades", symbol=BTC),
    ),
    Shape(
        "http_futures_wallet_commission_rate_btcusdt",
        "GET /fapi/v1/commissionRate",
        raw("fapiPrivateGetCommissionRate", symbol=BTC),
    ),
]


@pytest.mark.parametrize("shape", SHAPES, ids=[f"{s.route} <- {s.fixture}" for s in SHAPES])
def test_answer_has_the_shape_of_real_binance(v: Venue, shape: Shape) -> None:
    real = fixture(shape.fixture)
    hits = v.rec.hits.get(shape.key, 0)
    answer = shape.call(v)
    assert v.rec.hits.get(shape.key, 0) == hits + 1, f"the call did not reach {shape.route}"
    if shape.mode == "item":
        assert isinstance(answer, dict)
        answer = [answer]
    elif shape.mode == "items":
        assert isinstance(answer, list) and answer
        real = [real]
    got = shape_diff(answer, real)
    allowed = set(SHAPE_ALLOW.get(shape.fixture, {}))
    assert got - allowed == set(), f"{shape.route}: differs from real Binance ({shape.fixture})"
    assert allowed - got == set(), f"{shape.fixture}: allowance no longer needed; remove it"


def test_every_real_capture_is_used() -> None:
    names = {p.stem for p in FIXTURES.glob("*.json")}
    assert names == {s.fixture for s in SHAPES}
    readme = (FIXTURES / "README.md").read_text()
    assert all(f"{n}.json" in readme for n in names)  # provenance and sha256 listed


# ---------------------------------------------------------------- public data through ccxt


def test_time_and_markets_come_from_the_venue(v: Venue) -> None:
    c = v.client
    assert c.fetch_time() == v.now  # /api/v3/time
    assert c.fetch_time({"subType": "linear"}) == v.now  # /fapi/v1/time
    assert c.fetch_time({"subType": "inverse"}) == v.now  # /dapi/v1/time
    markets = c.load_markets(reload=True)  # exchangeInfo of /api/v3, /fapi/v1, /dapi/v1
    venue = v.ex.venue
    assert venue is not None
    assert {m["id"] for m in markets.values() if m["spot"]} == set(venue.symbols("spot"))
    assert {m["id"] for m in markets.values() if m["swap"]} == set(venue.symbols("usdm"))
    assert not any(m["inverse"] for m in markets.values())  # coin-M lists nothing
    for symbol, market in ((SPOT, "spot"), (PERP, "usdm")):
        m, f = markets[symbol], venue.filters(market, BTC)
        assert m["precision"]["price"] == float(f["PRICE_FILTER"]["tickSize"])
        assert m["precision"]["amount"] == float(f["LOT_SIZE"]["stepSize"])
        assert m["limits"]["amount"]["min"] == float(f["LOT_SIZE"]["minQty"])
        notional = f["MIN_NOTIONAL"].get("minNotional") or f["MIN_NOTIONAL"]["notional"]
        assert m["limits"]["cost"]["min"] == float(notional)
    perp = markets[PERP]
    assert (perp["linear"], perp["settle"], perp["contractSize"]) == (True, "USDT", 1.0)


def test_ohlcv_is_the_replayed_candles(v: Venue) -> None:
    venue = v.ex.venue
    assert venue is not None

    def expected(market: str, tf: str, n: int) -> list[list[float]]:
        rows = venue.klines(market, BTC, tf, None, None, n)
        return [[r[0], *(float(x) for x in r[1:6])] for r in rows]

    assert v.client.fetch_ohlcv(SPOT, "5m", limit=20) == expected("spot", "5m", 20)
    assert v.client.fetch_ohlcv(SPOT, "1h", limit=3) == expected("spot", "1h", 3)
    assert v.client.fetch_ohlcv(PERP, "5m", limit=20) == expected("usdm", "5m", 20)
    # Freqtrade's funding-fee candles: mark and index price klines
    for price in ("mark", "index"):
        rows = v.client.fetch_ohlcv(PERP, "1h", limit=4, params={"price": price})
        assert [r[:5] for r in rows] == [r[:5] for r in expected("usdm", "1h", 4)]
    last = v.client.fetch_ohlcv(SPOT, "5m", limit=1)[0]
    assert last[0] <= v.now < last[0] + 300_000  # the running candle ends now


def test_tickers_books_and_prices_match_the_venue(v: Venue) -> None:
    c, venue = v.client, v.ex.venue
    assert venue is not None
    price = replay.current_price(venue.series["spot"][BTC], venue.data_time())
    bid, ask = v.top("spot")
    t = c.fetch_ticker(SPOT)  # /api/v3/ticker/24hr
    assert [t["last"], t["bid"], t["ask"]] == pytest.approx([price, bid, ask], abs=1e-8)
    assert t["timestamp"] == v.now
    assert t["low"] <= t["last"] <= t["high"] and t["quoteVolume"] > 0
    pt = c.fetch_ticker(PERP)  # /fapi/v1/ticker/24hr: no bid/ask on Binance futures
    perp_price = replay.current_price(venue.series["usdm"][BTC], venue.data_time())
    assert pt["last"] == pytest.approx(perp_price, abs=1e-8)
    assert pt["bid"] is None and pt["baseVolume"] > 0
    tickers = c.fetch_tickers([SPOT, "ETH/USDT"])  # ?symbols=[...]
    assert set(tickers) == {SPOT, "ETH/USDT"} and tickers[SPOT]["last"] == t["last"]
    swaps = c.fetch_tickers(None, {"type": "swap"})
    assert set(swaps) == {s for s, m in c.markets.items() if m["swap"]}
    # Freqtrade merges bid/ask from bookTicker into futures tickers
    ba = c.fetch_bids_asks([SPOT])[SPOT]
    assert [ba["bid"], ba["ask"]] == pytest.approx([bid, ask], abs=1e-8) and ba["bidVolume"] > 0
    pba = c.fetch_bids_asks(None, {"type": "swap"})[PERP]
    assert [pba["bid"], pba["ask"]] == pytest.approx(list(v.top("usdm")), abs=1e-8)
    assert c.fetch_last_prices([SPOT])[SPOT]["price"] == t["last"]  # /api/v3/ticker/price
    assert c.fetch_last_prices([PERP])[PERP]["price"] == pt["last"]  # /fapi/v2/ticker/price
    for symbol, market, n in ((SPOT, "spot", 20), (PERP, "usdm", 50)):
        ob = c.fetch_order_book(symbol, n)
        book = venue.book(market, BTC, n)
        for side in ("bids", "asks"):
            levels = getattr(book, side)
            assert len(ob[side]) == len(levels) == n
            flat = [x for level in levels for x in level]
            assert [x for level in ob[side] for x in level] == pytest.approx(flat, abs=1e-8)
        assert ob["nonce"] == v.now
    # coin-M: no symbols, empty lists
    inverse = {"type": "swap", "subType": "inverse"}
    assert c.fetch_tickers(None, inverse) == {}
    assert c.fetch_bids_asks(None, inverse) == {}
    assert c.fetch_last_prices(None, inverse) == {}


def test_routes_ccxt_reaches_only_through_implicit_methods(v: Venue) -> None:
    """Routes with no unified ccxt method: called as Freqtrade (or a user) calls them."""
    c, eng = v.client, v.engine
    for ping in (c.publicGetPing, c.fapiPublicGetPing, c.dapiPublicGetPing):
        assert ping() == {}
    klines = c.publicGetKlines({"symbol": BTC, "interval": "5m", "limit": 5})
    assert c.publicGetUiKlines({"symbol": BTC, "interval": "5m", "limit": 5}) == klines
    cont = c.fapiPublicGetContinuousKlines(
        {"pair": BTC, "contractType": "PERPETUAL", "interval": "5m", "limit": 5}
    )
    assert cont == c.fapiPublicGetKlines({"symbol": BTC, "interval": "5m", "limit": 5})
    # Freqtrade's futures start-up checks and its spot delisting check
    assert c.fapiPrivateGetPositionSideDual() == {"dualSidePosition": False}
    assert c.fapiPrivateGetMultiAssetsMargin() == {"multiAssetsMargin": False}
    assert c.sapi_get_spot_delist_schedule() == []
    com = c.privateGetAccountCommission({"symbol": BTC})["standardCommission"]
    assert (float(com["maker"]), float(com["taker"])) == (eng.fees.spot_maker, eng.fees.spot_taker)
    # the obsolete v1 account/balance/positionRisk and the v2/v3 balance answer as v2/v3 do
    assert c.fapiPrivateGetAccount() == c.fapiPrivateV2GetAccount()
    assert c.fapiPrivateGetPositionRisk() == c.fapiPrivateV2GetPositionRisk()
    balances = [c.fapiPrivateGetBalance(), c.fapiPrivateV2GetBalance(), c.fapiPrivateV3GetBalance()]
    assert balances[0] == balances[1] == balances[2]
    (usdt,) = balances[0]
    assert float(usdt["balance"]) == eng.wallet
    assert float(usdt["availableBalance"]) == pytest.approx(eng.available_balance(), abs=1e-8)


# ---------------------------------------------------------------- spot trading through ccxt


def _spot_open(eng: TradingEngine) -> set[str]:
    return {str(o.order_id) for o in eng.orders.values() if o.market == "spot" and o.is_open}


def test_spot_orders_as_freqtrade_places_them(v: Venue) -> None:
    c, eng = v.client, v.engine
    bal = c.fetch_balance()  # /api/v3/account
    for asset in ("USDT", "BTC"):
        free, locked = eng.spot[asset]
        assert (bal[asset]["free"], bal[asset]["used"]) == (free, locked)
    assert bal["timestamp"] == v.now
    usdt_locked = eng.spot["USDT"][1]
    price = v.below(SPOT, 1)
    o = c.create_order(SPOT, "limit", "buy", 0.01, price)  # POST /api/v3/order
    eo = v.order(o["id"])
    assert (o["status"], o["type"], o["side"], o["price"], o["amount"], o["filled"]) == (
        "open",
        "limit",
        "buy",
        price,
        0.01,
        0,
    )
    assert (eo.status, eo.price, eo.orig_qty, o["timestamp"]) == ("NEW", price, 0.01, v.now)
    assert o["clientOrderId"] == eo.client_order_id
    assert c.fetch_balance()["USDT"]["used"] == pytest.approx(usdt_locked + 0.01 * price)
    # post-only: LIMIT_MAKER
    pm = c.create_order(SPOT, "limit", "buy", 0.01, price, {"postOnly": True})
    assert pm["postOnly"] and v.order(pm["id"]).type == "LIMIT_MAKER"
    with pytest.raises(ccxt.OrderImmediatelyFillable):  # would take: -2010
        c.create_order(SPOT, "limit", "buy", 0.01, v.below(SPOT, -1), {"postOnly": True})
    # Freqtrade's spot stop-loss: stop_loss_limit with params stopPrice
    stop = v.below(SPOT, 3)
    limit = float(c.price_to_precision(SPOT, stop * 0.99))
    sl = c.create_order(SPOT, "stop_loss_limit", "sell", 0.01, limit, {"stopPrice": stop})
    got = c.fetch_order(sl["id"], SPOT)  # GET /api/v3/order
    assert (got["status"], got["stopPrice"], got["triggerPrice"], got["price"]) == (
        "open",
        stop,
        stop,
        limit,
    )
    assert got["info"]["type"] == v.order(sl["id"]).type == "STOP_LOSS_LIMIT"
    assert got["timestamp"] == v.order(sl["id"]).time
    by_client_id = c.fetch_order(None, SPOT, {"origClientOrderId": o["clientOrderId"]})
    assert by_client_id["id"] == o["id"]
    assert {x["id"] for x in c.fetch_open_orders(SPOT)} == _spot_open(eng)  # openOrders
    # market order: filled against the book at once, fee in the asset received
    m = c.create_order(SPOT, "market", "buy", 0.01)
    fills = [f for f in eng.fills if f.order_id == int(m["id"])]
    assert (m["status"], m["filled"], m["remaining"]) == ("closed", 0.01, 0)
    assert m["average"] == pytest.approx(sum(f.quote_qty for f in fills) / 0.01)
    assert m["fee"] == {"currency": "BTC", "cost": pytest.approx(sum(f.commission for f in fills))}
    trades = [t for t in c.fetch_my_trades(SPOT, since=m["timestamp"]) if t["order"] == m["id"]]
    assert [(t["id"], t["takerOrMaker"]) for t in trades] == [
        (str(f.trade_id), "taker") for f in fills
    ]
    assert [
        x for t in trades for x in (t["price"], t["amount"], t["fee"]["cost"])
    ] == pytest.approx([x for f in fills for x in (f.price, f.qty, f.commission)], abs=1e-8)
    cx = c.cancel_order(o["id"], SPOT)  # DELETE /api/v3/order
    assert cx["status"] == "canceled" and v.order(o["id"]).status == "CANCELED"
    still_open = _spot_open(eng)
    assert {pm["id"], sl["id"]} <= still_open
    gone = c.cancel_all_orders(SPOT)  # DELETE /api/v3/openOrders
    assert {x["id"] for x in gone} == still_open and {x["status"] for x in gone} == {"canceled"}
    assert c.fetch_open_orders(SPOT) == [] and _spot_open(eng) == set()
    assert c.fetch_balance()["USDT"]["used"] == 0 == eng.spot["USDT"][1]
    every = c.fetch_orders(SPOT)  # /api/v3/allOrders
    spot_orders = [x for x in eng.orders.values() if x.market == "spot"]
    assert {x["id"]: x["status"] for x in every} == {
        str(x.order_id): CCXT_STATUS[x.status] for x in spot_orders
    }
    assert {x["id"] for x in c.fetch_closed_orders(SPOT)} == {
        str(x.order_id) for x in spot_orders if x.status == "FILLED"
    }


def test_spot_fees(v: Venue) -> None:
    fees = v.engine.fees
    one = v.client.fetch_trading_fee(SPOT)  # /sapi/v1/asset/tradeFee?symbol=
    assert (one["maker"], one["taker"]) == (fees.spot_maker, fees.spot_taker)
    every = v.client.fetch_trading_fees()  # /sapi/v1/asset/tradeFee
    assert set(every) == {s for s, m in v.client.markets.items() if m["spot"]}
    assert {(f["maker"], f["taker"]) for f in every.values()} == {
        (fees.spot_maker, fees.spot_taker)
    }


# ---------------------------------------------------------------- USDT-M through ccxt


def test_usdm_account_setup_as_freqtrade_does_it(v: Venue) -> None:
    c, eng = v.client, v.engine
    assert c.set_leverage(4, PERP)["leverage"] == 4 == eng.positions[BTC].leverage
    c.set_margin_mode("isolated", ETH_PERP)  # POST marginType
    assert eng.positions["ETHUSDT"].margin_type == "isolated"
    with pytest.raises(ccxt.MarginModeAlreadySet):  # -4046
        c.set_margin_mode("isolated", ETH_PERP)
    c.set_margin_mode("cross", ETH_PERP)
    assert eng.positions["ETHUSDT"].margin_type == "cross"
    tiers = c.fetch_leverage_tiers([PERP])[PERP]  # GET leverageBracket
    floors = [0, *(b[0] for b in BRACKETS[:-1])]
    assert [
        (t["minNotional"], t["maxNotional"], t["maintenanceMarginRate"], t["maxLeverage"])
        for t in tiers
    ] == [(f, cap, mmr, lev) for f, (cap, mmr, lev) in zip(floors, BRACKETS, strict=True)]
    assert c.fetch_market_leverage_tiers(PERP) == tiers  # ?symbol=, as Freqtrade asks


def _perp_open_ids(eng: TradingEngine) -> set[str]:
    return {
        str(o.order_id)
        for o in eng.orders.values()
        if o.market == "usdm" and o.symbol == BTC and o.is_open
    }


def test_usdm_orders_positions_and_balance(v: Venue) -> None:
    c, eng = v.client, v.engine
    price = v.below(PERP, 1)
    o = c.create_order(PERP, "limit", "buy", 0.01, price)  # POST /fapi/v1/order
    assert (o["status"], o["price"], o["amount"], o["reduceOnly"]) == ("open", price, 0.01, False)
    assert v.order(o["id"]).margin_reserved == pytest.approx(
        0.01 * price / eng.positions[BTC].leverage
    )
    gtx = c.create_order(PERP, "limit", "buy", 0.01, price, {"postOnly": True})
    assert gtx["postOnly"] and v.order(gtx["id"]).time_in_force == "GTX"
    with pytest.raises(ccxt.ExchangeError, match="-5022"):  # would take
        c.create_order(PERP, "limit", "buy", 0.01, v.below(PERP, -1), {"postOnly": True})
    assert c.fetch_open_order(o["id"], PERP)["status"] == "open"  # GET openOrder
    assert c.fetch_order(o["id"], PERP)["price"] == price  # GET order
    assert {x["id"] for x in c.fetch_open_orders(PERP)} == _perp_open_ids(eng)
    m = c.create_order(PERP, "market", "buy", 0.01)
    eo = v.order(m["id"])
    assert (m["status"], m["filled"], m["average"]) == ("closed", 0.01, pytest.approx(eo.avg_price))
    pos = eng.positions[BTC]
    for params in ({}, {"useV2": True}, {"method": "account"}):  # v3, v2 positionRisk; account
        (p,) = c.fetch_positions([PERP], params)
        assert (p["side"], p["contracts"], p["marginMode"]) == ("long", pos.amount, "cross")
        assert p["entryPrice"] == pytest.approx(pos.entry_price)
        assert p["unrealizedPnl"] == pytest.approx(eng.unrealized(pos), abs=1e-8)
        assert p["notional"] == pytest.approx(pos.amount * eng.mark_price(BTC))
    (p,) = c.fetch_positions([PERP])
    assert p["leverage"] == pos.leverage
    assert p["markPrice"] == pytest.approx(eng.mark_price(BTC), abs=1e-8)
    upnl = eng.unrealized(pos)
    for params in ({"type": "swap"}, {"type": "swap", "useV2": True}):  # v3 / v2 account
        usdt = c.fetch_balance(params)["USDT"]
        assert usdt["free"] == pytest.approx(eng.available_balance(), abs=1e-8)
        assert usdt["total"] == pytest.approx(eng.wallet + upnl, abs=1e-8)
        reserved = sum(x.margin_reserved for x in eng.orders.values() if x.is_open)
        assert usdt["used"] == pytest.approx(eng.position_margin(pos) + reserved, abs=1e-8)
    fills = [f for f in eng.fills if f.order_id == int(m["id"])]
    trades = [t for t in c.fetch_my_trades(PERP) if t["order"] == m["id"]]  # userTrades
    assert [(t["id"], t["fee"]["currency"]) for t in trades] == [
        (str(f.trade_id), "USDT") for f in fills
    ]
    assert [
        x for t in trades for x in (t["price"], t["amount"], t["fee"]["cost"])
    ] == pytest.approx([x for f in fills for x in (f.price, f.qty, f.commission)], abs=1e-8)
    fee = c.fetch_trading_fee(PERP)  # GET commissionRate
    assert (fee["maker"], fee["taker"]) == (eng.fees.usdm_maker, eng.fees.usdm_taker)
    assert c.cancel_order(o["id"], PERP)["status"] == "canceled"  # DELETE order
    every = c.fetch_orders(PERP)  # GET allOrders
    perp_orders = [x for x in eng.orders.values() if x.market == "usdm" and x.symbol == BTC]
    assert {x["id"]: x["status"] for x in every} == {
        str(x.order_id): CCXT_STATUS[x.status] for x in perp_orders
    }
    assert m["id"] in {x["id"] for x in c.fetch_closed_orders(PERP)}


def test_usdm_stop_loss_is_an_algo_order(v: Venue) -> None:
    """Freqtrade's futures stop-loss: stop_market / stop with params stopPrice + reduceOnly."""
    c, eng = v.client, v.engine
    stop = v.below(PERP, 2)
    sl = c.create_order(
        PERP, "stop_market", "sell", 0.01, None, {"stopPrice": stop, "reduceOnly": True}
    )
    a = eng.algo_orders[int(sl["id"])]  # POST algoOrder
    assert (a.order_type, a.trigger_price, a.reduce_only) == ("STOP_MARKET", stop, True)
    assert (sl["status"], sl["triggerPrice"], sl["stopPrice"], sl["amount"]) == (
        "open",
        stop,
        stop,
        0.01,
    )
    limit = float(c.price_to_precision(PERP, stop * 0.99))
    sll = c.create_order(PERP, "stop", "sell", 0.01, limit, {"stopPrice": stop, "reduceOnly": True})
    assert (eng.algo_orders[int(sll["id"])].order_type, sll["price"]) == ("STOP", limit)
    got = c.fetch_order(sl["id"], PERP, {"stop": True})  # GET algoOrder
    assert (got["status"], got["triggerPrice"], got["reduceOnly"]) == ("open", stop, True)
    opened = c.fetch_open_orders(PERP, params={"stop": True})  # GET openAlgoOrders
    assert {x["id"] for x in opened} == {
        str(x.algo_id) for x in eng.algo_orders.values() if x.is_open and x.symbol == BTC
    }
    assert c.cancel_order(sl["id"], PERP, {"stop": True})["id"] == sl["id"]  # DELETE algoOrder
    assert eng.algo_orders[int(sl["id"])].status == "CANCELED"
    every = c.fetch_orders(PERP, params={"stop": True})  # GET allAlgoOrders
    assert {x["id"]: x["status"] for x in every} == {
        str(x.algo_id): {"NEW": "open", "CANCELED": "canceled", "FINISHED": "closed"}[x.status]
        for x in eng.algo_orders.values()
        if x.symbol == BTC
    }
    c.cancel_all_orders(PERP)  # DELETE allOpenOrders: plain and algo orders
    assert _perp_open_ids(eng) == set()
    assert not any(x.is_open for x in eng.algo_orders.values() if x.symbol == BTC)
    assert c.fetch_open_orders(PERP) == [] == c.fetch_open_orders(PERP, params={"stop": True})


def test_resting_orders_fill_and_stops_trigger_as_the_replay_moves(v: Venue) -> None:
    c, eng = v.client, v.engine
    price = replay.current_price(v.ex.venue.series["spot"][BTC], v.ex.venue.data_time())
    assert 109_760 < price < 109_820, "expected 1 s into the rising 09:40 candle"
    buy = c.create_order(SPOT, "limit", "buy", 0.01, 109_700.0)
    c.create_order(PERP, "market", "buy", 0.01)
    sl = c.create_order(
        PERP, "stop_market", "sell", 0.01, None, {"stopPrice": 109_750.0, "reduceOnly": True}
    )
    amount = eng.positions[BTC].amount
    v.advance(100)  # the replayed price falls to 109635.15
    got = c.fetch_order(buy["id"], SPOT)
    assert (got["status"], got["filled"], got["average"]) == ("closed", 0.01, 109_700.0)
    (trade,) = [t for t in c.fetch_my_trades(SPOT) if t["order"] == buy["id"]]
    assert trade["takerOrMaker"] == "maker"
    assert trade["fee"]["cost"] == pytest.approx(0.01 * eng.fees.spot_maker)
    # Freqtrade's fetch_stoploss_order: the algo order is closed; actualOrderId is the fill
    algo = c.fetch_order(sl["id"], PERP, {"stop": True})
    assert algo["status"] == "closed" and eng.algo_orders[int(sl["id"])].status == "FINISHED"
    actual = c.fetch_order(algo["info"]["actualOrderId"], PERP)
    assert (actual["status"], actual["filled"], actual["reduceOnly"], actual["side"]) == (
        "closed",
        0.01,
        True,
        "sell",
    )
    assert eng.positions[BTC].amount == pytest.approx(amount - 0.01)


def test_funding_rates_and_the_fees_paid(v: Venue) -> None:
    c, eng = v.client, v.engine
    now = v.now
    rate = c.fetch_funding_rate(PERP)  # premiumIndex?symbol=
    assert rate["fundingRate"] == eng.funding_rate(BTC, now)
    assert rate["fundingTimestamp"] == eng.next_funding_time(now)
    assert rate["markPrice"] == pytest.approx(eng.mark_price(BTC), abs=1e-8)
    assert rate["timestamp"] == now
    perps = {s for s, m in c.markets.items() if m["swap"]}
    assert set(c.fetch_funding_rates()) == perps  # premiumIndex
    intervals = c.fetch_funding_intervals()  # fundingInfo
    assert {s: r["interval"] for s, r in intervals.items()} == {
        s: f"{eng.funding_interval_ms // 3_600_000}h" for s in perps
    }
    hist = c.fetch_funding_rate_history(PERP, limit=3)  # fundingRate
    step = eng.funding_interval_ms
    assert [h["timestamp"] for h in hist] == [now // step * step - i * step for i in (2, 1, 0)]
    assert [h["fundingRate"] for h in hist] == [eng.funding_rate(BTC, h["timestamp"]) for h in hist]
    pos = eng.positions[BTC]
    assert pos.amount > 0
    v.clock.t += eng.next_funding_time(now) - now + 1_000  # past the next funding time
    paid = c.fetch_funding_history(PERP)  # income?incomeType=FUNDING_FEE
    expected = [i for i in eng.income if i.income_type == "FUNDING_FEE" and i.symbol == BTC]
    assert len(expected) == 1
    assert [(f["timestamp"], f["amount"], f["code"]) for f in paid] == [
        (i.time, i.income, "USDT") for i in expected
    ]
    t = expected[0].time
    mark = eng._price("usdm", BTC, t)
    assert expected[0].income == pytest.approx(-pos.amount * mark * eng.funding_rate(BTC, t))


# ---------------------------------------------------------------- prefixes ccxt has no method for


def _group(prefix: str, signed: bool) -> str:
    groups = [g for g, p in REST_GROUPS.items() if p == prefix]
    private = [g for g in groups if "Private" in g or g in ("private", "sapi")]
    public = [g for g in groups if g not in private]
    return (private if signed else public)[0]


def test_usdm_writes_answer_alike_on_every_version_prefix(v: Venue) -> None:
    """POST/DELETE aliases on /fapi/v2 and /fapi/v3 (not mirrored: they change state)."""
    c, eng = v.client, v.engine

    def call(prefix: str, method: str, name: str, params: dict[str, Any]) -> Any:
        return c.request(name, [_group(prefix, True)], method, params)

    for prefix in ("/fapi/v2", "/fapi/v3"):
        assert call(prefix, "POST", "leverage", {"symbol": BTC, "leverage": 3})["leverage"] == 3
        assert call(
            prefix, "POST", "marginType", {"symbol": "ETHUSDT", "marginType": "ISOLATED"}
        ) == {
            "code": 200,
            "msg": "success",
        }
        call(prefix, "POST", "marginType", {"symbol": "ETHUSDT", "marginType": "CROSSED"})
        assert eng.positions["ETHUSDT"].margin_type == "cross"
        price = str(v.below(PERP, 3))
        order = {"symbol": BTC, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
        made = call(prefix, "POST", "order", {**order, "quantity": "0.01", "price": price})
        v1 = c.fapiPrivatePostOrder({**order, "quantity": "0.01", "price": price})
        assert shape_diff(made, v1) == set() and made["status"] == "NEW"
        cancelled = call(prefix, "DELETE", "order", {"symbol": BTC, "orderId": made["orderId"]})
        assert cancelled["status"] == "CANCELED" == v.order(str(made["orderId"])).status
        stop = str(v.below(PERP, 3))
        algo = {"symbol": BTC, "side": "SELL", "algoType": "CONDITIONAL", "type": "STOP_MARKET"}
        a = call(prefix, "POST", "algoOrder", {**algo, "triggerPrice": stop, "quantity": "0.01"})
        assert eng.algo_orders[a["algoId"]].is_open
        gone = call(prefix, "DELETE", "algoOrder", {"algoId": a["algoId"]})
        assert gone["algoId"] == a["algoId"] and eng.algo_orders[a["algoId"]].status == "CANCELED"
        done = call(prefix, "DELETE", "allOpenOrders", {"symbol": BTC})
        assert done == {"code": 200, "msg": "The operation of cancel all open order is done."}
        assert _perp_open_ids(eng) == set()


def test_unreachable_routes_answer_the_binance_error(v: Venue) -> None:
    c = v.client
    coinm = {
        "symbol": "BTCUSD_PERP",
        "pair": "BTCUSD",
        "interval": "1h",
        "contractType": "PERPETUAL",
    }
    for prefix, method, name in UNREACHABLE:
        if name == "positionSide/dual":
            continue
        assert (prefix, method) == ("/dapi/v1", "GET")
        with pytest.raises(ccxt.BadSymbol, match="-1121"):
            c.request(name, ["dapiPublic"], "GET", coinm)
    with pytest.raises(ccxt.ExchangeError, match="-4059"):
        c.set_position_mode(False, PERP)  # POST /fapi/v1/positionSide/dual
    with pytest.raises(ccxt.OperationFailed, match="hedge mode"):  # -1000
        c.set_position_mode(True, PERP)
    for prefix in ("/fapi/v2", "/fapi/v3"):
        with pytest.raises(ccxt.ExchangeError, match="-4059"):
            c.request(
                "positionSide/dual", [_group(prefix, True)], "POST", {"dualSidePosition": "false"}
            )


# ---------------------------------------------------------------- the guards (keep them last)


def test_mirrored_aliases_answered_like_their_source(v: Venue) -> None:
    missing = sorted(set(ALIASES) - set(v.rec.mirrors))
    assert missing == [], "aliases whose source route was never answered 200 in this module"
    for alias, m in v.rec.mirrors.items():
        assert m.status == 200, f"{alias} answered {m.status} {m.body}"
        if _family(alias[0]) == _family(m.source[0]):
            assert m.body == m.source_body, f"{alias} differs from {m.source}"
        else:  # e.g. /api/v3/markPriceKlines (spot candles) from /fapi/v1/markPriceKlines
            assert shape_diff(m.body, m.source_body) == set(), f"{alias} vs {m.source}"


def test_every_served_route_answered_200(v: Venue, request: pytest.FixtureRequest) -> None:
    here = [i for i in request.session.items if i.module is request.module]
    every = [n for n in dir(request.module) if n.startswith("test_")]
    if {i.originalname for i in here} != set(every):
        pytest.skip("route coverage is only known when the whole module runs")
    assert set(UNREACHABLE) <= SERVED, "UNREACHABLE names a route the gateway does not serve"
    never = sorted(SERVED - set(v.rec.hits) - set(UNREACHABLE))
    assert never == [], "served routes no test here got an HTTP 200 from"
    stale = sorted(set(UNREACHABLE) & set(v.rec.hits))
    assert stale == [], "UNREACHABLE routes that did answer 200: remove them from the list"


def test_the_route_tables_are_what_this_module_counts() -> None:
    """The coverage guard enumerates the tables correctly (so it cannot pass vacuously)."""
    assert DECLARED < SERVED and len(ALIASES) > 0
    assert ("/fapi/v3", "GET", "positionRisk") in DECLARED
    assert ("/fapi/v3", "GET", "depth") in SERVED - DECLARED
    assert ALIASES[("/fapi/v3", "GET", "depth")] == ("/fapi/v1", "GET", "depth")
    assert ALIASES[("/api/v3", "GET", "markPriceKlines")] == ("/fapi/v1", "GET", "markPriceKlines")
    assert all(
        k[0] != "/sapi/v1" or k[1:] in {("GET", "asset/tradeFee"), ("GET", "spot/delist-schedule")}
        for k in SERVED
    )
    pairs = itertools.product(("GET", "POST"), ("/api/v3/nope", "/sapi/v1/ping"))
    assert all(routes.resolve(m, p) is None for m, p in pairs)
