"""Order-book arithmetic: spread, depth and the cost of walking the book.

Pure functions over ccxt-shaped books (``{"bids": [[price, amount], ...], "asks": [...]}``,
bids descending, asks ascending).  A malformed book raises :class:`BookError`; callers
that gate orders treat that as "cannot check" and deny (fail closed).

Costs are in bps and positive when they cost the taker money.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from freqtrade_exec_ext.errors import InputRefused

Level = Sequence[float]
Side = Literal["buy", "sell"]


class BookError(InputRefused, ValueError):
    """The order book is empty, crossed or holds a non-finite or non-positive level."""


def _levels(levels: Sequence[Level] | None, name: str) -> list[tuple[float, float]]:
    if not levels:
        raise BookError(f"order book has no {name}")
    out = []
    for lvl in levels:
        price, amount = float(lvl[0]), float(lvl[1])
        if not (math.isfinite(price) and math.isfinite(amount)) or price <= 0 or amount < 0:
            raise BookError(f"order book {name} hold an invalid level {list(lvl[:2])!r}")
        out.append((price, amount))
    return out


@dataclass(frozen=True)
class Quote:
    best_bid: float
    best_ask: float

    @property
    def mid(self) -> float:
        return (self.best_bid + self.best_ask) / 2.0

    @property
    def spread_bps(self) -> float:
        """Quoted spread as bps of the mid."""
        return (self.best_ask - self.best_bid) / self.mid * 10_000.0


def top_of_book(book: dict[str, Any]) -> Quote:
    bids = _levels(book.get("bids"), "bids")
    asks = _levels(book.get("asks"), "asks")
    quote = Quote(bids[0][0], asks[0][0])
    if quote.best_ask < quote.best_bid:
        raise BookError(f"order book is crossed (bid {quote.best_bid} > ask {quote.best_ask})")
    return quote


@dataclass(frozen=True)
class BookWalk:
    """Result of sweeping one side of the book for a given size."""

    side: Side
    filled_base: float
    filled_quote: float
    levels_used: int
    complete: bool  # False: the visible book is too thin for the whole size
    best_price: float
    mid_price: float
    worst_price: float | None

    @property
    def avg_price(self) -> float | None:
        return self.filled_quote / self.filled_base if self.filled_base > 0 else None

    def _cost_bps(self, reference: float) -> float | None:
        avg = self.avg_price
        if avg is None:
            return None
        raw = (avg - reference) / reference * 10_000.0
        return raw if self.side == "buy" else -raw

    @property
    def slippage_vs_best_bps(self) -> float | None:
        """Impact beyond the best price (0 when the first level covers the size)."""
        return self._cost_bps(self.best_price)

    @property
    def slippage_vs_mid_bps(self) -> float | None:
        """Half-spread plus impact: what a market order pays against the mid."""
        return self._cost_bps(self.mid_price)


def walk_book(
    book: dict[str, Any],
    side: Side,
    *,
    quote_amount: float | None = None,
    base_amount: float | None = None,
) -> BookWalk:
    """Sweep the asks (buy) or bids (sell) for ``quote_amount`` of stake or ``base_amount``.

    Exactly one of the two sizes must be given and be > 0.
    """
    if (quote_amount is None) == (base_amount is None):
        raise ValueError("give exactly one of quote_amount and base_amount")
    size = float(quote_amount if quote_amount is not None else base_amount)  # type: ignore[arg-type]
    if not math.isfinite(size) or size <= 0:
        raise ValueError(f"order size must be a finite number > 0, was {size!r}")
    quote = top_of_book(book)
    levels = _levels(
        book["asks"] if side == "buy" else book["bids"], "asks" if side == "buy" else "bids"
    )
    remaining = size
    filled_base = filled_quote = 0.0
    used = 0
    worst: float | None = None
    for price, amount in levels:
        if remaining <= 0:
            break
        if amount <= 0:
            continue
        level_size = amount * price if quote_amount is not None else amount
        take = min(level_size, remaining)
        take_base = take / price if quote_amount is not None else take
        filled_base += take_base
        filled_quote += take_base * price
        remaining -= take
        used += 1
        worst = price
    complete = remaining <= size * 1e-12
    best = quote.best_ask if side == "buy" else quote.best_bid
    return BookWalk(side, filled_base, filled_quote, used, complete, best, quote.mid, worst)


def depth_within_bps(book: dict[str, Any], side: Side, bps: float) -> float:
    """Stake-currency notional available on ``side``'s book within ``bps`` of the mid."""
    quote = top_of_book(book)
    mid = quote.mid
    if side == "buy":
        limit = mid * (1 + bps / 10_000.0)
        levels = _levels(book["asks"], "asks")
        return sum(p * a for p, a in levels if p <= limit)
    limit = mid * (1 - bps / 10_000.0)
    levels = _levels(book["bids"], "bids")
    return sum(p * a for p, a in levels if p >= limit)
