"""The reprice ladder: when each step of an unfilled order falls, and which schedules
Freqtrade can carry out (pure).

With ``max_reprices = n`` and a timeout ``T``, step ``k`` (1..n) falls ``k x T / (n + 1)``
after the first order of the decision.  In live and dry-run trading a step is carried out
in one of two ways (``docs/mixin.md``, "Repricing"):

* **replace**: Freqtrade's own order replacement (``adjust_entry_price`` /
  ``adjust_exit_price``).  Freqtrade offers it only for an order older than the last closed
  candle, so at most once per candle per order;
* **cancel and place again**: the mixin cancels the order at the step
  (``check_entry_timeout`` / ``check_exit_timeout``) and Freqtrade places the step's order
  in the same bot loop: an entry through its entry signal, which holds while the signal's
  candle is the latest one; an exit through the mixin's ``custom_exit``.

Exits always cancel and place again.  Entries do so during the decision's candle, then use
replacement: so after the decision's candle, at most one entry step per candle can happen.
:func:`entry_schedule_problem` names a schedule that cannot be kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


def step_times(timeout_s: float, max_reprices: int) -> list[float]:
    """Seconds after the first order at which each step falls."""
    n = max(int(max_reprices), 0)
    return [k * timeout_s / (n + 1) for k in range(1, n + 1)]


def steps_due(elapsed_s: float, timeout_s: float, max_reprices: int) -> int:
    """How many steps should have happened after ``elapsed_s`` (never the timeout itself)."""
    if max_reprices <= 0 or elapsed_s <= 0 or timeout_s <= 0:
        return 0
    due = int(elapsed_s * (max_reprices + 1) // timeout_s)
    return min(due, max_reprices)


def entry_schedule_problem(timeout_s: float, max_reprices: int, timeframe_s: float) -> str | None:
    """Why the entry ladder cannot be kept on this timeframe, or None when it can.

    Steps during the decision's candle are placed again on the same signal; a later step
    needs Freqtrade's replacement, which it allows once per candle: two steps in one later
    candle cannot both happen.  The decision is taken right after its signal candle closes.
    """
    if timeframe_s <= 0:
        return None
    times = step_times(timeout_s, max_reprices)
    candles = [int(t // timeframe_s) for t in times]
    for k in range(1, len(candles)):
        if candles[k] >= 1 and candles[k] == candles[k - 1]:
            return (
                f"entry steps at {times[k - 1]:g} s and {times[k]:g} s after the decision "
                f"fall in the same later candle ({timeframe_s:g} s); Freqtrade replaces an "
                "order at most once per candle, and places an entry again only while its "
                "signal candle is the latest"
            )
    return None


@dataclass
class EntryLadder:
    """An entry decision's ladder, kept while its orders are cancelled and placed again
    (Freqtrade gives each placement a new trade when nothing filled)."""

    start: datetime
    signal_candle: datetime | None
    decision: Any = None  # the decision (price, bound, book): the strategy's record of it
    steps: int = 0
    pending: int | None = None  # a step cancelled for, to be placed this bot loop
    expired: bool = False  # timed out: no new entry on the same signal candle
