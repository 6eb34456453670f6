"""What the order guard relies on per exchange, decided by ccxt exchange id.

* :func:`execution_window`: whether the exchange refuses to execute an order request once
  its time window has passed (Binance: ``timestamp + recvWindow``), which is what makes a
  lost order *certainly* absent and safe to send again (``execution/placement.py``).
  Exchanges not listed here never get an order sent twice: absence by lookup is not proof.
* :func:`sign_with_window`: the request parameters that sign an order with that window and
  an explicit timestamp (ccxt's Binance ``sign()`` takes both from the request's params).
* :func:`exchange_time_ms`: the exchange's own clock.
* :func:`recent_orders`: the account's recent orders of one market (the stray sweep).
"""

from __future__ import annotations

from typing import Any

from freqtrade_exec_ext.compat.exchange import ccxt_clients
from freqtrade_exec_ext.execution.placement import ExecutionWindow

#: ccxt ids whose matching engine refuses a request whose ``timestamp + recvWindow`` has
#: passed (Binance spot -1021 and USD-M -5028 "outside of the ME recvWindow"; Freqtrade
#: trades both through ccxt's ``binance`` class).  Binance.US, OKX, Bybit and the others
#: are not here: their documentation promises no such check where the order is executed.
RECV_WINDOW_EXCHANGES = frozenset({"binance", "binanceusdm"})


def exchange_id(exchange: Any) -> str:
    return str(getattr(ccxt_clients(exchange)[0], "id", "") or "")


def execution_window(exchange: Any) -> ExecutionWindow | None:
    """The execution window the guard signs orders with on this exchange (None: no rule)."""
    return ExecutionWindow() if exchange_id(exchange) in RECV_WINDOW_EXCHANGES else None


def order_timestamp_ms(api: Any) -> int:
    """The timestamp ccxt would sign a request with now (its clock less any time
    difference it corrects for)."""
    return int(api.nonce())


def sign_with_window(window: ExecutionWindow, timestamp_ms: int) -> dict[str, Any]:
    """Order params that make ccxt's Binance ``sign()`` use this timestamp and window
    (``extend({'timestamp': nonce()}, params)``, then ``params['recvWindow']``)."""
    return {"recvWindow": int(window.recv_window_ms), "timestamp": int(timestamp_ms)}


def exchange_time_ms(api: Any) -> int:
    """The exchange's clock (Binance ``GET /api/v3/time``, ``/fapi/v1/time`` on futures)."""
    value = api.fetch_time()
    if value is None:
        raise ValueError("the exchange did not say what time it is")
    return int(value)


#: orders per listing page (Binance ``allOrders`` allows 1000), and pages per sweep
PAGE, MAX_PAGES = 1000, 10


def recent_orders(api: Any, symbol: str, since_ms: int, *, conditional: bool) -> list[Any]:
    """The account's orders of ``symbol`` created since ``since_ms`` (open and closed;
    Binance ``allOrders`` pages forward from ``startTime``), and its open trigger orders
    too when ``conditional``."""
    orders: list[Any] = []
    for _ in range(MAX_PAGES):
        page = list(api.fetch_orders(symbol, since_ms, PAGE) or [])
        orders.extend(page)
        stamps = [int(o.get("timestamp") or 0) for o in page]
        if len(page) < PAGE or not stamps or max(stamps) < since_ms:
            break
        since_ms = max(stamps) + 1
    if conditional:
        seen = {str(o.get("id")) for o in orders}
        for o in api.fetch_open_orders(symbol, None, None, {"trigger": True}) or []:
            if str(o.get("id")) not in seen:
                orders.append(o)
    return orders
