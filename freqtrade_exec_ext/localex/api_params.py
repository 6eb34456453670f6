"""Request parameters and number formats shared by the signed endpoints (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from freqtrade_exec_ext.localex.errors import VenueError, int_param
from freqtrade_exec_ext.localex.faults import OrderFaults
from freqtrade_exec_ext.localex.model import q8

Params = Mapping[str, str]


def f8(x: float) -> str:
    """An amount as Binance writes it: 8 decimals."""
    return f"{q8(x):.8f}"


#: what Binance accepts for a decimal parameter (no sign, no exponent, no nan/inf)
DECIMAL = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")


def float_param(p: Params, name: str) -> float | None:
    """An optional decimal parameter (None when absent or empty; else -1100 as Binance
    answers, naming the legal range)."""
    raw = p.get(name)
    if raw in (None, ""):
        return None
    if not DECIMAL.match(str(raw)):
        raise VenueError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is '{DECIMAL.pattern}'.",
        )
    return float(str(raw))


def bool_param(p: Params, name: str) -> bool:
    return str(p.get(name, "")).lower() == "true"


def limit_param(p: Params, default: int, maximum: int) -> int:
    n = int_param(p, "limit")
    return default if n is None else max(1, min(n, maximum))


def order_ids(p: Params) -> tuple[int | None, str | None]:
    """``(orderId, origClientOrderId)`` of an order query or cancel."""
    return int_param(p, "orderId"), p.get("origClientOrderId") or None


def order_faults(faults: OrderFaults | None) -> OrderFaults | None:
    """The order-level part of a fault (fill cap, venue cancel), if any."""
    return (
        faults
        if faults and (faults.fill_cap_ratio is not None or faults.cancel_after_ms is not None)
        else None
    )
