"""Pre-trade checks (pure): spread, book-walk slippage, funding.

Each check returns a :class:`Verdict` with a machine code and the numbers behind it,
printed like ``SPREAD_TOO_WIDE: spread_bps=14.2, max=10``.  A book that cannot be read
or is malformed denies the entry (fail closed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from freqtrade_exec_ext.execution.orderbook import BookError, Quote, top_of_book, walk_book
from freqtrade_exec_ext.execution.pricing import Side

OK = "OK"
SPREAD_TOO_WIDE = "SPREAD_TOO_WIDE"
SLIPPAGE_TOO_HIGH = "SLIPPAGE_TOO_HIGH"
BOOK_TOO_THIN = "BOOK_TOO_THIN"
# the pairlist filter: too little resting within the slippage budget for the stake
DEPTH_TOO_LOW = "DEPTH_TOO_LOW"
BOOK_INVALID = "BOOK_INVALID"
FUNDING_TOO_COSTLY = "FUNDING_TOO_COSTLY"
FUNDING_UNKNOWN = "FUNDING_UNKNOWN"
CHECK_FAILED = "CHECK_FAILED"
# an order's bound cannot be computed: the entry is skipped (fail closed)
DECISION_PRICE_UNKNOWN = "DECISION_PRICE_UNKNOWN"
TICK_SIZE_UNKNOWN = "TICK_SIZE_UNKNOWN"
BOOK_UNAVAILABLE = "BOOK_UNAVAILABLE"
# a position adjustment that would take the trade beyond the contract's sizing
POSITION_ADD_OVER_SIZING = "POSITION_ADD_OVER_SIZING"
# an entry decision that timed out is not entered again on its own signal candle
ENTRY_DECISION_EXPIRED = "ENTRY_DECISION_EXPIRED"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    code: str
    numbers: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [f"{key}={_fmt(value)}" for key, value in self.numbers.items()]
        return f"{self.code}: {', '.join(parts)}" if parts else self.code


def _fmt(value: Any) -> str:
    """Numbers as people read them: 14.2, 10, 0.0005."""
    if isinstance(value, bool) or not isinstance(value, float | int):
        return str(value)
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    if abs(value) >= 0.1:
        return f"{value:.1f}"
    return f"{value:.2g}"


PASS = Verdict(True, OK)


def check_spread(quote: Quote, max_spread_bps: float) -> Verdict:
    spread = quote.spread_bps
    if spread > max_spread_bps:
        return Verdict(False, SPREAD_TOO_WIDE, {"spread_bps": spread, "max": max_spread_bps})
    return Verdict(True, OK, {"spread_bps": spread, "max": max_spread_bps})


def check_book_walk(
    book: dict[str, Any], side: Side, base_amount: float, max_entry_bps: float
) -> Verdict:
    """Estimated cost of sweeping the book for ``base_amount``, in bps of the mid."""
    walk = walk_book(book, side, base_amount=base_amount)
    if not walk.complete:
        return Verdict(
            False,
            BOOK_TOO_THIN,
            {"amount": base_amount, "visible": walk.filled_base, "levels": walk.levels_used},
        )
    est = walk.slippage_vs_mid_bps or 0.0
    nums = {"est_slippage_bps": est, "max": max_entry_bps, "levels": walk.levels_used}
    if est > max_entry_bps:
        return Verdict(False, SLIPPAGE_TOO_HIGH, nums)
    return Verdict(True, OK, nums)


def check_funding(rate: float | None, is_short: bool, max_rate_bps: float) -> Verdict:
    """A long pays a positive funding rate, a short a negative one (rate per interval)."""
    if rate is None or not math.isfinite(rate):
        return Verdict(False, FUNDING_UNKNOWN, {"max": max_rate_bps})
    cost_bps = (-rate if is_short else rate) * 10_000.0
    nums = {"funding_cost_bps": cost_bps, "max": max_rate_bps}
    if cost_bps > max_rate_bps:
        return Verdict(False, FUNDING_TOO_COSTLY, nums)
    return Verdict(True, OK, nums)


def pre_trade_checks(
    book: dict[str, Any] | None,
    side: Side,
    base_amount: float,
    *,
    max_spread_bps: float,
    max_entry_bps: float,
    funding_rate: float | None = None,
    is_short: bool = False,
    max_funding_bps: float | None = None,
) -> Verdict:
    """Every entry check in order; the first failure is the verdict (fail closed)."""
    try:
        if book is None:
            return Verdict(False, BOOK_INVALID, {"reason": "no order book"})
        quote = top_of_book(book)
        verdict = check_spread(quote, max_spread_bps)
        if not verdict.ok:
            return verdict
        verdict = check_book_walk(book, side, base_amount, max_entry_bps)
        if not verdict.ok:
            return verdict
        if max_funding_bps is not None:
            funding = check_funding(funding_rate, is_short, max_funding_bps)
            if not funding.ok:
                return funding
        return Verdict(True, OK, {"spread_bps": quote.spread_bps, **verdict.numbers})
    except BookError as exc:
        return Verdict(False, BOOK_INVALID, {"reason": str(exc)})
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        return Verdict(False, CHECK_FAILED, {"reason": f"{type(exc).__name__}: {exc}"})
