"""The contract's protections for a strategy: the list the mixin exposes as ``protections``.

Every limit is read from the contract; the durations below are this package's
documented defaults (the contract has no field for them):

============================  =======================================  =========  ========
protection                    limit (from the contract)                lookback   lock
============================  =======================================  =========  ========
MaxDrawdown (built-in)        ``limits.max_drawdown`` (equity mode)    30 days    24 h
StoplossGuard (built-in)      ``limits.max_consecutive_stoplosses``    24 h       4 h
SlippageGuard (ours)          ``slippage.max_entry_bps/max_exit_bps``  6 h        2 h
                              (3 over-budget fills, pair or global)
DailyLossGuard (ours)         ``limits.daily_loss_limit`` of capital   UTC day    to 00:00
============================  =======================================  =========  ========

StoplossGuard counts stop-losses *within its lookback*, not strictly consecutive ones:
N stop-losses in 24 h lock all pairs, the closest built-in to "N in a row".

``build_protections`` also installs the plugin registry (``compat.install()``):
Freqtrade resolves these names right after asking the strategy for them, and in hyperopt
that happens inside worker processes that unpickled the strategy without running its
``__init__``.
"""

from __future__ import annotations

from typing import Any

from freqtrade_exec_ext.contract import RiskContract

MINUTES_PER_DAY = 24 * 60

MAX_DRAWDOWN_LOOKBACK_MIN = 30 * MINUTES_PER_DAY
MAX_DRAWDOWN_STOP_MIN = MINUTES_PER_DAY
STOPLOSS_GUARD_LOOKBACK_MIN = MINUTES_PER_DAY
STOPLOSS_GUARD_STOP_MIN = 4 * 60
SLIPPAGE_GUARD_TRADE_LIMIT = 3
SLIPPAGE_GUARD_LOOKBACK_MIN = 6 * 60
SLIPPAGE_GUARD_STOP_MIN = 2 * 60


def build_protections(
    contract: RiskContract, *, ensure_registry: bool = True
) -> list[dict[str, Any]]:
    """Freqtrade protection dicts enforcing ``contract``'s limits."""
    if ensure_registry:
        from freqtrade_exec_ext.compat import install

        install()  # resolvable by name, also in hyperopt worker processes
    limits = contract.limits
    return [
        {
            "method": "MaxDrawdown",
            "max_allowed_drawdown": limits.max_drawdown,
            "calculation_mode": "equity",
            "trade_limit": 1,
            "lookback_period": MAX_DRAWDOWN_LOOKBACK_MIN,
            "stop_duration": MAX_DRAWDOWN_STOP_MIN,
        },
        {
            "method": "StoplossGuard",
            "trade_limit": limits.max_consecutive_stoplosses,
            "lookback_period": STOPLOSS_GUARD_LOOKBACK_MIN,
            "stop_duration": STOPLOSS_GUARD_STOP_MIN,
            "only_per_pair": False,
        },
        {
            "method": "SlippageGuard",
            "strategy_id": contract.strategy_id,
            "trade_limit": SLIPPAGE_GUARD_TRADE_LIMIT,
            "lookback_period": SLIPPAGE_GUARD_LOOKBACK_MIN,
            "stop_duration": SLIPPAGE_GUARD_STOP_MIN,
            "only_per_pair": False,
        },
        {
            "method": "DailyLossGuard",
            "strategy_id": contract.strategy_id,
        },
    ]
