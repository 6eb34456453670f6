"""Order and trade history queries as Binance answers them (pure).

``allOrders`` and ``myTrades``/``userTrades`` select by ``startTime``/``endTime`` (at most
``max_span_ms`` apart: 24 h spot, 7 days USDT-M), ``orderId``/``fromId`` and ``limit``: the
oldest rows from a given start, else the newest ones.
"""

from __future__ import annotations

from collections.abc import Iterable

from freqtrade_exec_ext.localex.errors import VenueError
from freqtrade_exec_ext.localex.model import Fill, Order

DAY_MS = 86_400_000


def window(start: int | None, end: int | None, span: int) -> tuple[int | None, int | None]:
    """The time window a query selects (-1127 when start and end are too far apart)."""
    if start is not None and end is not None:
        if end - start > span:
            raise VenueError(-1127, "More than 24 hours between startTime and endTime.")
        return start, end
    if start is not None:
        return start, start + span
    if end is not None:
        return end - span, end
    return None, None


def _in(t: int, lo: int | None, hi: int | None) -> bool:
    return (lo is None or t >= lo) and (hi is None or t <= hi)


def select_orders(
    orders: Iterable[Order],
    start: int | None,
    end: int | None,
    from_id: int | None,
    limit: int,
    max_span_ms: int,
) -> list[Order]:
    """``allOrders`` over one symbol's orders."""
    lo, hi = window(start, end, max_span_ms)
    rows = [o for o in orders if (from_id is None or o.order_id >= from_id) and _in(o.time, lo, hi)]
    rows.sort(key=lambda o: o.order_id)
    return rows[:limit] if (from_id is not None or lo is not None) else rows[-limit:]


def select_fills(
    fills: Iterable[Fill],
    now: int,
    start: int | None,
    end: int | None,
    from_id: int | None,
    limit: int,
    order_id: int | None,
    max_span_ms: int,
) -> list[Fill]:
    """``myTrades``/``userTrades`` over one symbol's fills (the last ``max_span_ms`` to
    ``now`` when no window, ``fromId`` or ``orderId`` is given)."""
    if order_id is not None:
        return [f for f in fills if f.order_id == order_id][:limit]
    lo, hi = window(start, end, max_span_ms)
    if lo is None and hi is None and from_id is None:
        hi = now
        lo = hi - max_span_ms
    rows = [f for f in fills if (from_id is None or f.trade_id >= from_id) and _in(f.time, lo, hi)]
    return rows[:limit] if (from_id is not None or start is not None) else rows[-limit:]
