"""Exchange test environments the testnet stage can use (a table kept in code, with sources).

Freqtrade 2026.9 has no sandbox switch (``"sandbox": true`` is silently ignored).  What
works is either ``exchange.demo_trading`` (only exchanges whose Freqtrade class sets
``supports_demo_trading``: Bybit) or overriding ccxt's URLs in ``exchange.ccxt_config``.
ccxt deep-merges ``urls``, so every URL group that is *not* overridden keeps its
production host, and a testnet key would be sent to production.  The entries below
therefore map the test groups to the test hosts and every other group of the exchange
to :data:`BLOCKED_URL` (a closed port on 127.0.0.1), so that a stray call fails locally.
:func:`production_endpoints` (used by ``freqtrade-exec validate`` and the tests) builds
the ccxt client from a generated config and lists any URL still pointing at production.

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


@dataclass(frozen=True)
class Testnet:
    """One exchange's test environment for one trading mode."""

    exchange: str
    trading_mode: str
    name: str
    key_note: str  # where the user gets keys for it
    sources: tuple[str, ...]
    _fragment: Callable[[str], dict[str, Any]] = field(repr=False)
    caveat: str = ""

    def exchange_fragment(self) -> dict[str, Any]:
        """Keys merged into ``config["exchange"]`` (never credentials)."""
        return self._fragment(self.trading_mode)


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
    ),
    ("binance", "futures"): Testnet(
        "binance",
        "futures",
        "Binance Futures demo trading (demo-fapi.binance.com)",
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
        "bybit",
        "spot",
        "Bybit demo trading (api-demo.bybit.com)",
        "demo-trading API keys created in Bybit's demo trading mode",
        (
            "https://bybit-exchange.github.io/docs/v5/demo",
            "freqtrade exchange/bybit.py: _ft_has supports_demo_trading = True",
            "freqtrade exchange/exchange.py: demo_trading -> ccxt enable_demo_trading(True)",
        ),
        _bybit,
    ),
    ("bybit", "futures"): Testnet(
        "bybit",
        "futures",
        "Bybit demo trading (api-demo.bybit.com)",
        "demo-trading API keys created in Bybit's demo trading mode",
        (
            "https://bybit-exchange.github.io/docs/v5/demo",
            "freqtrade exchange/bybit.py: _ft_has supports_demo_trading = True",
        ),
        _bybit,
    ),
}


def find_testnet(exchange: str, trading_mode: str) -> Testnet | None:
    return TESTNETS.get((exchange.lower(), trading_mode))


def known_testnets() -> list[str]:
    return [f"{ex} {mode}" for ex, mode in TESTNETS]


def _hosts(urls: Any) -> set[str]:
    out: set[str] = set()
    if isinstance(urls, dict):
        for value in urls.values():
            out |= _hosts(value)
    elif isinstance(urls, str) and "://" in urls:
        host = urlparse(urls.replace("{hostname}", "HOSTNAME")).hostname
        if host:
            out.add(host)
    return out


def _expand(urls: Any, hostname: str) -> Any:
    if isinstance(urls, dict):
        return {k: _expand(v, hostname) for k, v in urls.items()}
    if isinstance(urls, str):
        return urls.replace("{hostname}", hostname)
    return urls


def production_endpoints(exchange_config: dict[str, Any]) -> list[str]:
    """URLs of the ccxt client built from ``exchange_config`` that reach production.

    Builds the client the way Freqtrade does (``ccxt_config`` merged into the constructor
    arguments, then ``enable_demo_trading`` when ``demo_trading`` is set) and compares the
    hosts of its REST URLs with those of an untouched client of the same exchange.
    """
    import ccxt

    name = str(exchange_config.get("name", "")).lower()
    cls = getattr(ccxt, name, None)
    if cls is None:
        return [f"exchange.name {name!r}: unknown to ccxt"]
    production = cls()
    prod_hosts = _hosts(_expand(production.urls.get("api", {}), production.hostname or ""))
    args = dict(exchange_config.get("ccxt_config") or {})
    args.update(exchange_config.get("ccxt_sync_config") or {})
    client = cls(args)
    if exchange_config.get("demo_trading"):
        client.enable_demo_trading(True)
    api = _expand(client.urls.get("api", {}), client.hostname or "")
    bad: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, str) and "://" in node:
            host = urlparse(node).hostname
            if host in prod_hosts:
                bad.append(f"{path} = {node}")

    walk(api, "")
    return sorted(bad)
