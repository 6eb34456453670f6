"""Stop-loss prices from the contract, at any leverage (pure).

The contract's ``stop_loss.stoploss`` is a **price move from the entry**: -0.03 puts a
long's stop 3% below its entry price, whatever the leverage.  Freqtrade's own stop ratio
is relative to the margin (it divides by the leverage): at 2x, its -0.03 is a 1.5% price
move.  These functions convert between the two, combine a strategy's own stop with the
contract's (the tighter wins), trail in price terms, and estimate liquidation.

Sides: a long's stop is below the price, a short's above.  "Tighter" means closer to the
current price: higher for a long, lower for a short.
"""

from __future__ import annotations

import math


def stop_price(entry: float, stoploss: float, is_short: bool) -> float:
    """The price ``|stoploss|`` (a price move) away from ``entry``, on the losing side."""
    d = abs(stoploss)
    return entry * (1.0 + d) if is_short else entry * (1.0 - d)


def ft_stop_ratio(stop: float, current: float, is_short: bool, leverage: float) -> float:
    """Freqtrade's stop ratio, relative to ``current`` and the margin, that puts the stop at
    ``stop`` (Freqtrade: long stop = current x (1 - |ratio| / leverage)).

    A stop at or beyond ``current`` gives 0 (Freqtrade then exits at once).  Negative, as
    Freqtrade's ``stoploss`` is written.
    """
    if current <= 0 or not math.isfinite(current):
        return -1.0
    move = (stop / current - 1.0) if is_short else (1.0 - stop / current)
    return -max(move, 0.0) * max(leverage, 1.0)


def price_of_ft_ratio(ratio: float, current: float, is_short: bool, leverage: float) -> float:
    """The stop price Freqtrade places for ``ratio`` relative to ``current``."""
    d = abs(ratio) / max(leverage, 1.0)
    return current * (1.0 + d) if is_short else current * (1.0 - d)


def tighter(a: float | None, b: float | None, is_short: bool) -> float | None:
    """The tighter of two stop prices (None: no opinion)."""
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b) if is_short else max(a, b)


def is_looser(stop: float, than: float, is_short: bool, *, rel_tol: float = 1e-9) -> bool:
    """Whether ``stop`` lies farther from the price than ``than`` (beyond a rounding tolerance)."""
    tol = abs(than) * rel_tol
    return stop > than + tol if is_short else stop < than - tol


def trailing_stop_price(
    *,
    entry: float,
    best: float,
    stoploss: float,
    positive: float,
    offset: float,
    only_offset_is_reached: bool,
    is_short: bool,
) -> float | None:
    """The contract's trailing stop in price terms, or None while it does not trail.

    ``best`` is the best price seen since entry (highest for a long).  Once the price has
    moved ``offset`` in our favour, the stop trails ``positive`` behind ``best``; before
    that it trails at the stop distance, unless ``only_offset_is_reached``.
    """
    if entry <= 0 or best <= 0:
        return None
    favour = (entry / best - 1.0) if is_short else (best / entry - 1.0)
    if favour >= offset:
        distance = positive
    elif only_offset_is_reached:
        return None
    else:
        distance = abs(stoploss)
    return best * (1.0 + distance) if is_short else best * (1.0 - distance)


def loss_on_margin(stoploss: float, leverage: float) -> float:
    """The share of the margin lost when the stop (a price move) is hit at ``leverage``."""
    return abs(stoploss) * max(leverage, 1.0)


def liquidation_move(leverage: float, maintenance_margin_rate: float) -> float:
    """Price move from entry at which an isolated position is liquidated (no fees):
    the margin (1 / leverage of the notional) is used up down to the maintenance margin."""
    return max(1.0 / max(leverage, 1.0) - maintenance_margin_rate, 0.0)
