"""Unfilled and partially filled orders at their timeout (pure)."""

from __future__ import annotations

from enum import StrEnum


class TimeoutAction(StrEnum):
    WAIT = "wait"  # keep the order working
    CANCEL = "cancel"  # cancel; nothing (or too little) filled
    KEEP_PARTIAL = "keep_partial"  # cancel the rest, keep the partial position


def entry_timeout_action(
    *, filled: float, amount: float, elapsed_s: float, timeout_s: float, min_fill_ratio: float
) -> tuple[TimeoutAction, float]:
    """What to do with an open entry order, and its fill ratio.

    Before the timeout: wait.  At the timeout a partial fill of at least ``min_fill_ratio``
    of the ordered amount is kept (the rest is cancelled); a smaller one is cancelled and
    the filled part is to be exited.
    """
    ratio = filled / amount if amount > 0 else 0.0
    if elapsed_s < timeout_s:
        return TimeoutAction.WAIT, ratio
    if filled > 0 and ratio >= min_fill_ratio:
        return TimeoutAction.KEEP_PARTIAL, ratio
    return TimeoutAction.CANCEL, ratio


def exit_timed_out(*, elapsed_s: float, timeout_s: float) -> bool:
    """An exit past its timeout is cancelled; Freqtrade then escalates to a market exit."""
    return elapsed_s >= timeout_s
