"""Entry/exit limit prices: maker-first, bounded by the slippage budget (pure).

Sides are order sides: ``buy`` (long entry, short exit) or ``sell``.  A budget bound is
the worst price an order may carry: ``decision x (1 + bps)`` for a buy and
``decision x (1 - bps)`` for a sell.
"""

from __future__ import annotations

import math
from typing import Literal

Side = Literal["buy", "sell"]


def entry_side(is_short: bool) -> Side:
    return "sell" if is_short else "buy"


def exit_side(is_short: bool) -> Side:
    return "buy" if is_short else "sell"


def budget_bound(side: Side, decision_price: float, budget_bps: float) -> float:
    """Worst acceptable price for ``side`` given the decision price and a budget in bps."""
    f = budget_bps / 10_000.0
    return decision_price * (1.0 + f) if side == "buy" else decision_price * (1.0 - f)


def within_bound(side: Side, price: float, bound: float) -> float:
    """``price`` moved back inside the bound (never worse than it)."""
    return min(price, bound) if side == "buy" else max(price, bound)


def is_worse(side: Side, price: float, than: float) -> bool:
    return price > than if side == "buy" else price < than


def maker_price(
    side: Side, proposed: float, best_bid: float | None = None, best_ask: float | None = None
) -> float:
    """Maker-first: join our own side of the book (bid for a buy, ask for a sell)."""
    passive = best_bid if side == "buy" else best_ask
    if passive is None or not math.isfinite(passive) or passive <= 0:
        return proposed
    return passive


def limit_price(
    side: Side,
    proposed: float,
    *,
    decision_price: float | None,
    budget_bps: float,
    best_bid: float | None = None,
    best_ask: float | None = None,
    backtest_bps: float = 0.0,
) -> float:
    """The price of a new limit order: maker-first (or backtest-slipped), inside the budget.

    ``backtest_bps`` > 0 moves the price against us by that many bps of ``proposed`` (the
    backtest fills exactly at the order price, so this is the charged slippage).
    """
    if backtest_bps:
        price = apply_slippage(side, proposed, backtest_bps)
    else:
        price = maker_price(side, proposed, best_bid, best_ask)
    if decision_price is not None and decision_price > 0:
        price = within_bound(side, price, budget_bound(side, decision_price, budget_bps))
    return price


def apply_slippage(side: Side, price: float, bps: float) -> float:
    """``price`` moved against ``side`` by ``bps`` (a buy pays more, a sell gets less)."""
    f = bps / 10_000.0
    return price * (1.0 + f) if side == "buy" else price * (1.0 - f)


def reprice_step_due(elapsed_s: float, timeout_s: float, max_reprices: int) -> int:
    """How many reprices should have happened after ``elapsed_s`` (evenly spread, < timeout).

    With ``max_reprices = n`` the steps fall at ``k x timeout / (n + 1)``, k = 1..n.
    """
    if max_reprices <= 0 or elapsed_s <= 0 or timeout_s <= 0:
        return 0
    due = int(elapsed_s * (max_reprices + 1) // timeout_s)
    return min(due, max_reprices)


def ladder_price(
    side: Side, start: float, target: float, bound: float, step: int, max_reprices: int
) -> float:
    """Price after ``step`` of ``max_reprices`` reprices, moving ``start`` toward ``target``.

    The target is first pulled inside the budget ``bound``; the last step reaches it.
    A target that is no better for the market than ``start`` leaves the price at start.
    """
    if max_reprices <= 0 or step <= 0:
        return start
    goal = within_bound(side, target, bound)
    if not is_worse(side, goal, start):  # nothing to gain by moving
        return start
    k = min(step, max_reprices) / max_reprices
    return within_bound(side, start + (goal - start) * k, bound)


def round_inside(side: Side, price: float, tick: float | None) -> float:
    """``price`` on the market's tick grid, rounded toward the better side for ``side``.

    A buy rounds down, a sell up, so that Freqtrade's own rounding to the nearest tick
    cannot push a price past its budget bound.
    """
    if not tick or tick <= 0 or not math.isfinite(price):
        return price
    steps = price / tick
    n = math.floor(steps + 1e-9) if side == "buy" else math.ceil(steps - 1e-9)
    decimals = max(0, -math.floor(math.log10(tick)) + 2)
    return round(n * tick, decimals)
