"""Markouts: how the mid moved after a fill (pure).

For a fill of ``side`` at ``price`` and the mid ``m`` read ``h`` seconds later::

    markout_bps(h) = -s * (m - price) / price * 10_000     s = +1 buy, -1 sell

positive when the market moved against the fill (a buy followed by a lower mid: adverse
selection), negative when it moved in its favour.  The ledger keeps them as
``markouts_bps = {"1s": ..., "10s": ..., "60s": ..., "300s": ...}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HORIZONS_S: tuple[int, ...] = (1, 10, 60, 300)
BPS = 10_000.0


def read_in_time(due_at: float, horizon_s: int, read_at: float) -> bool:
    """Whether a read at ``read_at`` still measures the horizon: within 0.5 s or a fifth of
    the horizon of its due time, whichever is larger (a 1 s markout read 5 s late is not
    a 1 s markout: it is left out, and counted as missing)."""
    return read_at - due_at <= max(0.5, 0.2 * horizon_s)


def horizon_key(seconds: int) -> str:
    return f"{seconds}s"


HORIZON_KEYS: tuple[str, ...] = tuple(horizon_key(h) for h in HORIZONS_S)


def markout_bps(side: str, price: float, mid_after: float) -> float | None:
    """Adverse move of the mid after a fill, in bps of the fill price (None: cannot say)."""
    if side not in ("buy", "sell"):
        raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
    if not (math.isfinite(price) and price > 0 and math.isfinite(mid_after) and mid_after > 0):
        return None
    sign = 1.0 if side == "buy" else -1.0
    return -sign * (mid_after - price) / price * BPS


@dataclass(frozen=True, order=True)
class Due:
    """One markout to read: at epoch second ``at``, the mid of ``pair``."""

    at: float
    fill_key: str
    pair: str
    side: str
    price: float
    horizon_s: int


def schedule(fill_key: str, pair: str, side: str, price: float, filled_at: float) -> list[Due]:
    """The reads a fill needs: one per horizon after ``filled_at`` (epoch seconds)."""
    return [Due(filled_at + h, fill_key, pair, side, price, h) for h in HORIZONS_S]
