"""Stake sizing from the risk contract (pure).

``stake = equity x risk_per_trade / stop distance`` loses ``risk_per_trade`` of equity
when the stop-loss is hit (Freqtrade's stop-loss ratio is relative to the stake, also
with leverage, so the distance is ``abs(stoploss)``).  Every method is clamped to
``[min_stake, max_stake]`` of the contract and to Freqtrade's own limits, and never
exceeds the available balance; when no stake satisfies every bound the answer is 0
(Freqtrade then skips the entry).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from freqtrade_exec_ext.contract import RiskContract


@dataclass(frozen=True)
class StakeDecision:
    stake: float  # 0 means: do not enter
    raw: float  # before clamping
    low: float  # effective lower bound
    high: float  # effective upper bound
    reason: str

    @property
    def skip(self) -> bool:
        return self.stake <= 0


def raw_stake(contract: RiskContract, equity: float) -> tuple[float, str]:
    s = contract.sizing
    if s.method == "fixed_stake":
        return s.fixed_stake, f"fixed_stake {s.fixed_stake:g}"
    if s.method == "fraction_of_equity":
        return equity * s.fraction_of_equity, (
            f"fraction_of_equity: equity {equity:.2f} x {s.fraction_of_equity:g}"
        )
    distance = abs(contract.stop_loss.stoploss)
    return equity * s.risk_per_trade / distance, (
        f"risk_per_trade: equity {equity:.2f} x {s.risk_per_trade:g} / stop {distance:g}"
    )


def _finite_pos(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) and x > 0 else None


def compute_stake(
    contract: RiskContract,
    *,
    equity: float,
    available: float | None,
    ft_min_stake: float | None = None,
    ft_max_stake: float | None = None,
) -> StakeDecision:
    """The stake of a new trade, or 0 (skip) when the bounds cannot all be met."""
    if not math.isfinite(equity) or equity <= 0:
        return StakeDecision(0.0, 0.0, 0.0, 0.0, f"no equity ({equity!r})")
    raw, why = raw_stake(contract, equity)
    low = max(contract.sizing.min_stake, _finite_pos(ft_min_stake) or 0.0)
    high = contract.sizing.max_stake
    for bound in (_finite_pos(ft_max_stake), available):
        if bound is not None:
            high = min(high, max(float(bound), 0.0))
    if not math.isfinite(raw) or high < low or high <= 0:
        return StakeDecision(0.0, raw, low, high, f"{why}: no stake within [{low:g}, {high:g}]")
    stake = min(max(raw, low), high)
    return StakeDecision(stake, raw, low, high, f"{why} = {raw:.2f} -> {stake:.2f}")


def cap_leverage(contract: RiskContract, proposed: float, exchange_max: float) -> float:
    """Leverage never above the contract's ``leverage.max`` nor the exchange's maximum."""
    lev = min(float(proposed), contract.leverage.max, float(exchange_max))
    return max(1.0, lev) if math.isfinite(lev) else 1.0
