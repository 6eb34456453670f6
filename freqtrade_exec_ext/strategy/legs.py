"""An entry or an exit of a trade: its order side, budget and bound, decided in one place.

Every price the mixin sends, or accepts from a strategy's own callback, goes through
:meth:`Leg.clamp`: never past the budget bound of its decision (a stop-loss exit has none),
then onto the tick grid toward the safe side.
"""

from __future__ import annotations

from dataclasses import dataclass

from freqtrade_exec_ext.contract import RiskContract
from freqtrade_exec_ext.execution import pricing

# exits that are stop-losses: never held back by the slippage budget
STOP_REASONS = frozenset({"stop_loss", "trailing_stop_loss", "stoploss_on_exchange", "liquidation"})
NO_BOUND_BPS = 10_000.0


@dataclass(frozen=True)
class Leg:
    entry: bool
    side: pricing.Side  # the order side
    budget_bps: float
    is_stop: bool

    @classmethod
    def of(
        cls, contract: RiskContract, *, entry: bool, is_short: bool, reason: str | None = None
    ) -> Leg:
        if entry:
            return cls(True, pricing.entry_side(is_short), contract.slippage.max_entry_bps, False)
        stop = reason in STOP_REASONS
        budget = NO_BOUND_BPS if stop else contract.slippage.max_exit_bps
        return cls(False, pricing.exit_side(is_short), budget, stop)

    @property
    def intent(self) -> str:
        return "entry" if self.entry else "exit"

    def bound(self, decision_price: float) -> float:
        return pricing.budget_bound(self.side, decision_price, self.budget_bps)

    def clamp(self, price: float, decision_price: float | None, tick: float | None) -> float:
        """``price`` inside the budget bound of ``decision_price`` (when known, and not for a
        stop-loss), on the tick grid toward the safe side (when the tick is known)."""
        if decision_price and not self.is_stop:
            price = pricing.within_bound(self.side, price, self.bound(decision_price))
        return pricing.round_inside(self.side, price, tick)
