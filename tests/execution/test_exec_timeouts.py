"""Partial fills at the entry timeout, exit escalation, live throttling."""

from __future__ import annotations

from freqtrade_exec_ext.execution.timeouts import (
    TimeoutAction,
    entry_timeout_action,
    exit_timed_out,
)


def _act(filled: float, elapsed: float) -> TimeoutAction:
    action, _ = entry_timeout_action(
        filled=filled, amount=2.0, elapsed_s=elapsed, timeout_s=600, min_fill_ratio=0.5
    )
    return action


def test_entry_waits_until_the_timeout():
    assert _act(0.0, 599) is TimeoutAction.WAIT
    assert _act(1.9, 599) is TimeoutAction.WAIT


def test_partial_fill_kept_at_or_above_min_ratio_else_cancelled():
    assert _act(1.0, 600) is TimeoutAction.KEEP_PARTIAL  # 50% = min_fill_ratio
    assert _act(1.2, 600) is TimeoutAction.KEEP_PARTIAL
    assert _act(0.6, 600) is TimeoutAction.CANCEL  # 30%
    assert _act(0.0, 900) is TimeoutAction.CANCEL
    _, ratio = entry_timeout_action(
        filled=0.6, amount=2.0, elapsed_s=600, timeout_s=600, min_fill_ratio=0.5
    )
    assert ratio == 0.3


def test_exit_times_out_at_its_timeout():
    assert not exit_timed_out(elapsed_s=299, timeout_s=300)
    assert exit_timed_out(elapsed_s=300, timeout_s=300)
