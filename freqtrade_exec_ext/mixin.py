"""The strategy mixin's earlier import path; it lives in :mod:`freqtrade_exec_ext.strategy`.

``from freqtrade_exec_ext import ExecutionMixin`` is the documented import.
"""

from freqtrade_exec_ext.strategy.mixin import (
    DISCARD_KEY,
    EXIT_PARTIAL_BELOW_MIN,
    ExecutionMixin,
)

__all__ = ["DISCARD_KEY", "EXIT_PARTIAL_BELOW_MIN", "ExecutionMixin"]
