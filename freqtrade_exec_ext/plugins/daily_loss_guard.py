"""DailyLossGuard: stop all trading for the rest of the UTC day after too big a loss.

Today's realized result is the sum of ``close_profit_abs`` of the trades closed between
00:00 UTC of ``date_now`` and ``date_now``.  When it is a loss larger than
``limits.daily_loss_limit x capital.initial_capital`` (the contract's capital, not the
wallet), every pair is locked until the next 00:00 UTC.  ``daily_loss_limit`` may be
given explicitly to tighten (lower) the contract's value.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from freqtrade_exec_ext import compat
from freqtrade_exec_ext.execution.cost_model import tighten
from freqtrade_exec_ext.plugins.contract_source import announce_lock, load_plugin_contract
from freqtrade_exec_ext.timeutil import as_utc

logger = logging.getLogger(__name__)

_IPairList, _SB, IProtection, ProtectionReturn = compat.plugin_bases()


def day_bounds(date_now: datetime) -> tuple[datetime, datetime]:
    """00:00 UTC of ``date_now``'s day and of the next day."""
    start = as_utc(date_now).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def realized_today(closes: list[tuple[datetime, float]], date_now: datetime) -> float:
    """Sum of realized profit (stake currency) closed today up to ``date_now``."""
    start, _ = day_bounds(date_now)
    now = as_utc(date_now)
    return sum(p for when, p in closes if start <= when <= now)


class DailyLossGuard(IProtection):  # type: ignore[misc, valid-type]
    has_global_stop: bool = True
    has_local_stop: bool = False

    def __init__(self, config: dict[str, Any], protection_config: dict[str, Any]) -> None:
        super().__init__(config, protection_config)
        try:
            contract = load_plugin_contract(config, protection_config, self.name)
            self._limit = tighten(
                "daily_loss_limit",
                contract.limits.daily_loss_limit,
                protection_config.get("daily_loss_limit"),
            )
        except ValueError as exc:
            raise compat.operational_exception()(f"{self.name}: {exc}") from None
        self._capital = contract.capital.initial_capital
        self._currency = contract.market.stake_currency

    @property
    def max_loss(self) -> float:
        return self._limit * self._capital

    def short_desc(self) -> str:
        return (
            f"{self.name} - locks all pairs until 00:00 UTC once today's realized loss "
            f"exceeds {self._limit:.2%} of {self._capital:,.2f} {self._currency} "
            f"({self.max_loss:,.2f})."
        )

    def global_stop(self, date_now: datetime, side: str, starting_balance: float) -> Any:
        start, next_day = day_bounds(date_now)
        closes = []
        for trade in compat.closed_trades_since(start - timedelta(seconds=1)):
            when = trade.close_date_utc
            if when is not None:
                closes.append((when, float(trade.close_profit_abs or 0.0)))
        result = realized_today(closes, date_now)
        if -result <= self.max_loss:
            return None
        reason = (
            f"realized loss today {-result:,.2f} {self._currency} > daily_loss_limit "
            f"{self._limit:.2%} of {self._capital:,.2f}, locking all pairs until "
            f"{next_day:%Y-%m-%d %H:%M} UTC."
        )
        announce_lock(
            self, logger, ("*", start), f"{self.name} at {date_now:%Y-%m-%d %H:%M}: {reason}"
        )
        # Freqtrade rounds a lock's end up to the next candle boundary (even an exact one),
        # so end it just before midnight to unlock at 00:00 UTC.
        return ProtectionReturn(lock=True, until=next_day - timedelta(seconds=1), reason=reason)

    def stop_per_pair(
        self, pair: str, date_now: datetime, side: str, starting_balance: float
    ) -> Any:
        return None
