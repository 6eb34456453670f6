"""ccxt / Freqtrade configuration that points ccxt's binance class at the local exchange.

ccxt deep-merges ``urls``: any group left out keeps its production URL.  So every REST
group ccxt 4.5's ``binance`` knows (spot, margin/sapi, USDT-M, coin-M, options, portfolio
margin) is overridden here, public and private, and websockets point at the local host too
(Freqtrade must run with ``enable_ws: false``; the local exchange has no websocket yet, so
a stray websocket connection fails locally instead of reaching Binance).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

# ccxt url group -> path on the local exchange
REST_GROUPS: dict[str, str] = {
    "public": "/api/v3",
    "private": "/api/v3",
    "v1": "/api/v1",
    "sapi": "/sapi/v1",
    "sapiV2": "/sapi/v2",
    "sapiV3": "/sapi/v3",
    "sapiV4": "/sapi/v4",
    "fapiPublic": "/fapi/v1",
    "fapiPublicV2": "/fapi/v2",
    "fapiPublicV3": "/fapi/v3",
    "fapiPrivate": "/fapi/v1",
    "fapiPrivateV2": "/fapi/v2",
    "fapiPrivateV3": "/fapi/v3",
    "fapiData": "/futures/data",
    "dapiPublic": "/dapi/v1",
    "dapiPrivate": "/dapi/v1",
    "dapiPrivateV2": "/dapi/v2",
    "dapiData": "/futures/data",
    "eapiPublic": "/eapi/v1",
    "eapiPrivate": "/eapi/v1",
    "papi": "/papi/v1",
    "papiV2": "/papi/v2",
}
WS_GROUPS = ("spot", "margin", "future", "delivery", "option", "papi")


def _check(base_url: str) -> str:
    parsed = urlparse(base_url)
    if parsed.scheme != "http" or not parsed.hostname or parsed.path not in ("", "/"):
        raise ValueError(f"base_url {base_url!r}: expected http://127.0.0.1:<port>")
    return base_url.rstrip("/")


def ccxt_urls(base_url: str) -> dict[str, Any]:
    """The dict for ``config["exchange"]["ccxt_config"]`` (``urls`` and ``options``)."""
    base = _check(base_url)
    ws_base = "ws" + base[len("http") :]
    api: dict[str, Any] = {group: base + path for group, path in REST_GROUPS.items()}
    api["ws"] = {group: f"{ws_base}/ws" for group in WS_GROUPS}
    return {
        "urls": {"api": api},
        "options": {
            # no sapi currency/margin-pair calls at market load
            "fetchCurrencies": False,
            "fetchMargins": False,
        },
    }


def freqtrade_exchange_config(base_url: str, name: str = "binance") -> dict[str, Any]:
    """A ``config["exchange"]`` fragment (the caller adds ``pair_whitelist``)."""
    if name != "binance":
        raise ValueError(f"exchange name {name!r}: the local exchange speaks Binance only")
    ccxt_config = ccxt_urls(base_url)
    return {
        "name": name,
        "key": "",
        "secret": "",
        "enable_ws": False,
        "ccxt_config": ccxt_config,
        "ccxt_async_config": {},
        "pair_whitelist": [],
        "pair_blacklist": [],
    }


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def local_base_url(exchange_config: dict[str, Any]) -> str | None:
    """The local exchange a Freqtrade ``exchange`` section points at (None: a real venue)."""
    ccxt_config = exchange_config.get("ccxt_config")
    urls = ccxt_config.get("urls") if isinstance(ccxt_config, dict) else None
    api = urls.get("api") if isinstance(urls, dict) else None
    public = api.get("public") if isinstance(api, dict) else None
    if not isinstance(public, str):
        return None
    parsed = urlparse(public)
    if parsed.scheme != "http" or parsed.hostname not in LOOPBACK_HOSTS:
        return None
    return f"{parsed.scheme}://{parsed.netloc}"


def not_running_hint(base_url: str) -> str:
    """The first-run line when nothing answers at ``base_url``."""
    port = urlparse(base_url).port or 80
    return (
        f"the local exchange at {base_url} is not running (the config's "
        f"exchange.ccxt_config.urls point there), so Freqtrade cannot load markets: start it "
        f"with 'freqtrade-exec exchange start --port {port} --datadir user_data/data/binance' "
        "and run this again"
    )
