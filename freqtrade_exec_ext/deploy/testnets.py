"""Exchange test environments the testnet stage can use (a table kept in code, with sources).

Freqtrade 2026.9 has no sandbox switch (``"sandbox": true`` is silently ignored).  What
works is either ``exchange.demo_trading`` (only exchanges whose Freqtrade class sets
``supports_demo_trading``: Bybit) or doing in ``exchange.ccxt_config`` what ccxt's own
switch does: overriding URLs (Binance), or setting a header (OKX demo trading is the
production host plus ``x-simulated-trading: 1``).  ccxt deep-merges ``urls``, so every URL
group that is *not* overridden keeps its production host, and a testnet key would be sent
to production.  The entries below therefore map the test groups to the test hosts and
every other group of the exchange to :data:`BLOCKED_URL` (a closed port on 127.0.0.1), so
that a stray call fails locally.

:func:`environment_problems` (used by ``freqtrade-exec validate`` and the tests)
builds the ccxt client from a generated config the way Freqtrade does and compares it with
ccxt's own client for the environment (``set_sandbox_mode(True)`` or
``enable_demo_trading(True)``): every host must be one of that client's, every header it
adds must be set.  :func:`reference_hosts` is also what the testnet evidence accepts as the
host of a recorded run session.

An exchange missing here has no known test environment: the testnet stage then runs
against the project's local exchange (``--exchange local``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

#: where URL groups without a test host go: a closed port on loopback (fails fast)
BLOCKED_URL = "http://127.0.0.1:9/exec-ext-blocked"

# ccxt 4.5.90 ``binance().urls['api']`` groups (REST).  A test in tests/deploy checks this
# list against the installed ccxt, so a ccxt upgrade that adds a group fails loudly.
BINANCE_REST_GROUPS: tuple[str, ...] = (
    "sapi", "sapiV2", "sapiV3", "sapiV4",
    "dapiPublic", "dapiPrivate", "dapiPrivateV2", "dapiData",
    "eapiPublic", "eapiPrivate",
    "fapiPublic", "fapiPublicV2", "fapiPublicV3",
    "fapiPrivate", "fapiPrivateV2", "fapiPrivateV3", "fapiData",
    "public", "private", "v1",
    "papi", "papiV2",
)  # fmt: skip

_BINANCE_SPOT_TEST = {
    "public": "https://testnet.binance.vision/api/v3",
    "private": "https://testnet.binance.vision/api/v3",
    "v1": "https://testnet.binance.vision/api/v1",
}
_BINANCE_FUTURES_DEMO = {
    "fapiPublic": "https://demo-fapi.binance.com/fapi/v1",
    "fapiPublicV2": "https://demo-fapi.binance.com/fapi/v2",
    "fapiPublicV3": "https://demo-fapi.binance.com/fapi/v3",
    "fapiPrivate": "https://demo-fapi.binance.com/fapi/v1",
    "fapiPrivateV2": "https://demo-fapi.binance.com/fapi/v2",
    "fapiPrivateV3": "https://demo-fapi.binance.com/fapi/v3",
    # the spot groups serve exchangeInfo/currencies at start-up: demo spot host
    "public": "https://demo-api.binance.com/api/v3",
    "private": "https://demo-api.binance.com/api/v3",
    "v1": "https://demo-api.binance.com/api/v1",
}


def _binance_urls(test: dict[str, str]) -> dict[str, str]:
    return {group: test.get(group, f"{BLOCKED_URL}/{group}") for group in BINANCE_REST_GROUPS}


def _binance_spot(_: str) -> dict[str, Any]:
    return {
        "enable_ws": False,  # websocket candles would come from production
        "ccxt_config": {
            "urls": {"api": _binance_urls(_BINANCE_SPOT_TEST)},
            "options": {
                "sandboxMode": True,  # fetch_markets skips margin/option markets
                "fetchCurrencies": False,  # no sapi call (no testnet host for sapi)
                "fetchMargins": False,
            },
        },
    }


def _binance_futures(_: str) -> dict[str, Any]:
    return {
        "enable_ws": False,
        "ccxt_config": {
            "urls": {"api": _binance_urls(_BINANCE_FUTURES_DEMO)},
            "options": {"fetchCurrencies": False, "fetchMargins": False},
        },
    }


def _bybit(_: str) -> dict[str, Any]:
    return {"enable_ws": False, "demo_trading": True}


def _okx(_: str) -> dict[str, Any]:
    # what ccxt's okx.set_sandbox_mode(True) does (Freqtrade has no switch that calls it):
    # the same host, the demo header on every request, no private currency call, and the
    # TEST instrument families skipped by fetch_markets
    return {
        "enable_ws": False,
        "ccxt_config": {
            "headers": dict(OKX_DEMO_HEADERS),
            "options": {"sandboxMode": True},
            "isSandboxModeEnabled": True,
        },
    }


#: the header that makes OKX route a request to demo trading (ccxt okx.set_sandbox_mode)
OKX_DEMO_HEADERS = {"x-simulated-trading": "1"}


@dataclass(frozen=True)
class Testnet:
    """One exchange's test environment for one trading mode."""

    exchange: str
    trading_mode: str
    name: str
    key_note: str  # where the user gets keys for it
    sources: tuple[str, ...]
    _fragment: Callable[[str], dict[str, Any]] = field(repr=False)
    #: how ccxt itself switches to this environment: set_sandbox_mode or enable_demo_trading
    ccxt_switch: str = "demo"
    caveat: str = ""

    def exchange_fragment(self) -> dict[str, Any]:
        """Keys merged into ``config["exchange"]`` (never credentials)."""
        return self._fragment(self.trading_mode)


_BYBIT_SOURCES = (
    "https://bybit-exchange.github.io/docs/v5/demo",
    "freqtrade exchange/bybit.py: _ft_has supports_demo_trading = True",
    "freqtrade exchange/exchange.py: demo_trading -> ccxt enable_demo_trading(True)",
)
_OKX_SOURCES = (
    "https://www.okx.com/docs-v5/en/#overview-demo-trading-services",
    "ccxt 4.5.90 okx.set_sandbox_mode: header x-simulated-trading: 1, options.sandboxMode",
)

TESTNETS: dict[tuple[str, str], Testnet] = {
    ("binance", "spot"): Testnet(
        "binance",
        "spot",
        "Binance Spot Test Network (testnet.binance.vision)",
        "keys from https://testnet.binance.vision/ (GitHub login); production keys do not work",
        (
            (
                "https://developers.binance.com/docs/binance-spot-api-docs/testnet/rest-api/"
                "general-api-information"
            ),
            "ccxt 4.5.90 binance.describe()['urls']['test']",
            "/work/shared/docs/freqtrade-integration.md section 5 (URL overrides, verified)",
        ),
        _binance_spot,
        ccxt_switch="sandbox",
    ),
    ("binance", "futures"): Testnet(
        "binance",
        "futures",
        "Binance USD-M Futures demo trading (demo-fapi.binance.com)",
        "keys from Binance demo trading (https://demo.binance.com/), not production keys",
        (
            "https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info",
            "ccxt 4.5.90 binance.describe()['urls']['demo']",
            "freqtrade exchange/binance.py: supports_demo_trading is False, so URL overrides",
        ),
        _binance_futures,
        caveat="Freqtrade does not officially support Binance's demo hosts; the URL "
        "mapping is verified offline only",
    ),
    ("bybit", "spot"): Testnet(
        "bybit", "spot", "Bybit demo trading (api-demo.bybit.com)",
        "demo-trading API keys created in Bybit's demo trading mode", _BYBIT_SOURCES, _bybit,
    ),
    ("bybit", "futures"): Testnet(
        "bybit", "futures", "Bybit demo trading (api-demo.bybit.com)",
        "demo-trading API keys created in Bybit's demo trading mode", _BYBIT_SOURCES, _bybit,
    ),
    ("okx", "spot"): Testnet(
        "okx", "spot", "OKX demo trading (www.okx.com, header x-simulated-trading: 1)",
        "demo-trading API key, secret and passphrase (OKX: Trade > Demo trading > API); "
        "production keys do not work", _OKX_SOURCES, _okx, ccxt_switch="sandbox",
    ),
    ("okx", "futures"): Testnet(
        "okx", "futures", "OKX demo trading (www.okx.com, header x-simulated-trading: 1)",
        "demo-trading API key, secret and passphrase (OKX: Trade > Demo trading > API); "
        "production keys do not work", _OKX_SOURCES, _okx, ccxt_switch="sandbox",
    ),
}  # fmt: skip


def find_testnet(exchange: str, trading_mode: str) -> Testnet | None:
    return TESTNETS.get((exchange.lower(), trading_mode))


def known_testnets() -> list[str]:
    return [f"{ex} {mode}" for ex, mode in TESTNETS]


def _walk_urls(node: Any, hostname: str, path: str = "") -> list[tuple[str, str]]:
    """``(group path, url)`` of every URL in a ccxt ``urls['api']`` tree."""
    if isinstance(node, dict):
        out: list[tuple[str, str]] = []
        for key, value in node.items():
            out += _walk_urls(value, hostname, f"{path}.{key}" if path else str(key))
        return out
    if isinstance(node, str) and "://" in node:
        return [(path, node.replace("{hostname}", hostname))]
    return []


def _host(url: str) -> str | None:
    return urlparse(url).hostname


def client_from_config(exchange_config: dict[str, Any]) -> Any:
    """The ccxt client Freqtrade builds from ``exchange_config`` (no request is made):
    ``ccxt_config`` merged into the constructor arguments, then ``enable_demo_trading``
    when ``demo_trading`` is set."""
    import ccxt

    name = str(exchange_config.get("name", "")).lower()
    cls = getattr(ccxt, name, None)
    if cls is None:
        raise ValueError(f"exchange.name {name!r}: unknown to ccxt")
    args = dict(exchange_config.get("ccxt_config") or {})
    args.update(exchange_config.get("ccxt_sync_config") or {})
    client = cls(args)
    if exchange_config.get("demo_trading"):
        client.enable_demo_trading(True)
    return client


def reference_client(testnet: Testnet) -> Any:
    """ccxt's own client for the test environment: ``set_sandbox_mode(True)`` or
    ``enable_demo_trading(True)`` on an untouched client of the exchange."""
    import ccxt

    client = getattr(ccxt, testnet.exchange)()
    if testnet.ccxt_switch == "sandbox":
        client.set_sandbox_mode(True)
    else:
        client.enable_demo_trading(True)
    return client


def reference_hosts(testnet: Testnet) -> frozenset[str]:
    """The REST hosts of ccxt's own client for the test environment."""
    ref = reference_client(testnet)
    hosts = (_host(u) for _, u in _walk_urls(ref.urls.get("api", {}), ref.hostname or ""))
    return frozenset(h for h in hosts if h)


def required_headers(testnet: Testnet) -> dict[str, str]:
    """Headers ccxt's own test client sends that the production client does not."""
    import ccxt

    plain = getattr(ccxt, testnet.exchange)().headers or {}
    ref = reference_client(testnet).headers or {}
    return {k: str(v) for k, v in ref.items() if plain.get(k) != v}


def environment_problems(exchange_config: dict[str, Any], testnet: Testnet) -> list[str]:
    """Why the client built from ``exchange_config`` is not ccxt's test environment.

    Every REST URL must point at a host of ccxt's own test client for it
    (:func:`reference_client`) or at :data:`BLOCKED_URL`, and every header that client adds
    (OKX's ``x-simulated-trading: 1``) must be set: without it the same host trades
    production.
    """
    import ccxt

    client = client_from_config(exchange_config)
    production = getattr(ccxt, testnet.exchange)()
    prod_hosts = {
        _host(u) for _, u in _walk_urls(production.urls.get("api", {}), production.hostname or "")
    }
    allowed = reference_hosts(testnet) | {_host(BLOCKED_URL)}
    bad: list[str] = []
    for path, url in _walk_urls(client.urls.get("api", {}), client.hostname or ""):
        host = _host(url)
        if host in allowed:
            continue
        what = "production" if host in prod_hosts else f"{host}, not a {testnet.name} host"
        bad.append(f"reaches {what}: {path} = {url}")
    headers = {str(k).lower(): str(v) for k, v in (client.headers or {}).items()}
    for key, value in required_headers(testnet).items():
        if headers.get(key.lower()) != value:
            bad.append(
                f"reaches production: header {key}: {value} missing (ccxt_config.headers); "
                "without it every request goes to the production account"
            )
    return sorted(bad)
