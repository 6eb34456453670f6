"""Hooks on the ccxt clients behind Freqtrade's exchange (its private ``_api`` /
``_api_async``): the only place that patches them.

A hook wraps order creation, every HTTP request (sync and async) and every response.
Hooks compose: each wraps what it found, so the order guard and the shared request budget
can both be installed, and each :class:`Hooked` undoes exactly its own wrapping.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from freqtrade_exec_ext.compat.exchange import ccxt_clients

#: (create, symbol, type, side, amount, price, params) -> order: wraps ccxt create_order
CreateOrder = Callable[..., dict[str, Any]]
#: (url, method) -> None: runs before each request is sent (may sleep, or raise to refuse)
BeforeRequest = Callable[[str, str], None]
AsyncBeforeRequest = Callable[[str, str], Awaitable[None]]
#: (code, headers) -> None: sees each HTTP answer
OnResponse = Callable[[int, Any], None]


@dataclass
class Hooked:
    api: Any
    api_async: Any
    originals: dict[str, Any] = field(default_factory=dict)

    def remove(self) -> None:
        """Undo this hook (only its own wrapping)."""
        for name in ("create_order", "fetch", "on_rest_response"):
            if name in self.originals:
                setattr(self.api, name, self.originals[name])
        if self.api_async is not None:
            for name in ("fetch", "on_rest_response"):
                if f"async_{name}" in self.originals:
                    setattr(self.api_async, name, self.originals[f"async_{name}"])
        self.originals = {}


def hook_ccxt(
    exchange: Any,
    *,
    create_order: CreateOrder | None = None,
    before_request: BeforeRequest | None = None,
    before_request_async: AsyncBeforeRequest | None = None,
    on_response: OnResponse | None = None,
) -> Hooked:
    """Wrap the ccxt clients of Freqtrade's ``exchange``; returns the handle to undo it."""
    api, aapi = ccxt_clients(exchange)
    hooked = Hooked(api, aapi)
    if create_order is not None:
        create = api.create_order
        hooked.originals["create_order"] = create

        def wrapped_create(
            symbol: str,
            type: str,
            side: str,
            amount: float,
            price: float | None = None,
            params: dict[str, Any] | None = None,
        ) -> dict[str, Any]:
            return create_order(create, symbol, type, side, amount, price, params)

        api.create_order = wrapped_create
    if before_request is not None:
        fetch = api.fetch
        hooked.originals["fetch"] = fetch

        def wrapped_fetch(
            url: str, method: str = "GET", headers: Any = None, body: Any = None
        ) -> Any:
            before_request(url, method)
            return fetch(url, method, headers, body)

        api.fetch = wrapped_fetch
    if on_response is not None:
        hooked.originals["on_rest_response"] = api.on_rest_response
        api.on_rest_response = _observer(api.on_rest_response, on_response)
    if aapi is not None and before_request_async is not None:
        afetch = aapi.fetch
        hooked.originals["async_fetch"] = afetch

        async def wrapped_afetch(
            url: str, method: str = "GET", headers: Any = None, body: Any = None
        ) -> Any:
            await before_request_async(url, method)
            return await afetch(url, method, headers, body)

        aapi.fetch = wrapped_afetch
    if aapi is not None and on_response is not None:
        hooked.originals["async_on_rest_response"] = aapi.on_rest_response
        aapi.on_rest_response = _observer(aapi.on_rest_response, on_response)
    return hooked


def observe_responses(client: Any, on_response: OnResponse) -> None:
    """Let ``on_response(status, headers)`` see every answer of a ccxt ``client``."""
    client.on_rest_response = _observer(client.on_rest_response, on_response)


def _observer(original: Any, on_response: OnResponse) -> Any:
    def on_rest_response(
        code: int, reason: Any, url: str, method: str, headers: Any, body: Any, *rest: Any
    ) -> Any:
        on_response(code, headers)
        return original(code, reason, url, method, headers, body, *rest)

    return on_rest_response
