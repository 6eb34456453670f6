"""Stake sizing from the risk contract (pure).

``stake = equity x risk_per_trade / (stop distance x leverage)`` loses ``risk_per_trade``
of equity when the stop-loss is hit: the contract's stop is a price move from the entry,
and the stake is the margin, so the position (stake x leverage) loses
``stake x leverage x stop distance`` at the stop.  Every method is clamped to
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


def raw_stake(contract: RiskContract, equity: float, leverage: float = 1.0) -> tuple[float, str]:
    s = contract.sizing
    if s.method == "fixed_stake":
        return s.fixed_stake, f"fixed_stake {s.fixed_stake:g}"
    if s.method == "fraction_of_equity":
        return equity * s.fraction_of_equity, (
            f"fraction_of_equity: equity {equity:.2f} x {s.fraction_of_equity:g}"
        )
    distance = abs(contract.stop_loss.stoploss)
    lev = max(float(leverage), 1.0) if math.isfinite(leverage) else 1.0
    at = f" x leverage {lev:g}" if lev != 1.0 else ""
    return equity * s.risk_per_trade / (distance * lev), (
        f"risk_per_trade: equity {equity:.2f} x {s.risk_per_trade:g} / (stop {distance:g}{at})"
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
    leverage: float = 1.0,
) -> StakeDecision:
    """The stake of a new trade, or 0 (skip) when the bounds cannot all be met."""
    if not math.isfinite(equity) or equity <= 0:
        return StakeDecision(0.0, 0.0, 0.0, 0.0, f"no equity ({equity!r})")
    raw, why = raw_stake(contract, equity, leverage)
    low = max(contract.sizing.min_stake, _finite_pos(ft_min_stake) or 0.0)
    high = contract.sizing.max_stake
    for bound in (_finite_pos(ft_max_stake), available):
        if bound is not None:
            high = min(high, max(float(bound), 0.0))
    if not math.isfinite(raw) or high < low or high <= 0:
        return StakeDecision(0.0, raw, low, high, f"{why}: no stake within [{low:g}, {high:g}]")
    stake = min(max(raw, low), high)
    return StakeDecision(stake, raw, low, high, f"{why} = {raw:.2f} -> {stake:.2f}")


def add_room(
    contract: RiskContract,
    *,
    equity: float,
    current_stake: float,
    leverage: float = 1.0,
) -> tuple[float, str]:
    """How much stake a position adjustment may still add to a trade: the contract sizes
    one trade (risk per trade, ``max_stake``) whatever number of entries it is built from."""
    cap, why = raw_stake(contract, equity, leverage)
    cap = min(cap, contract.sizing.max_stake)
    room = cap - max(current_stake, 0.0)
    return (max(room, 0.0) if math.isfinite(room) else 0.0), (
        f"trade stake {current_stake:.2f} of {cap:.2f} allowed ({why}, max_stake "
        f"{contract.sizing.max_stake:g})"
    )


def cap_leverage(contract: RiskContract, proposed: float, exchange_max: float) -> float:
    """Leverage never above the contract's ``leverage.max`` nor the exchange's maximum."""
    lev = min(float(proposed), contract.leverage.max, float(exchange_max))
    return max(1.0, lev) if math.isfinite(lev) else 1.0
