"""Sizing, leverage, the stop-loss and position adds: the contract's risk per trade.

Stake sizing (``execution.sizing``), leverage capped by the contract, the contract's stop
in price terms for any leverage (``execution.stops``), and extra entries of a position
adjustment clamped to one trade's sizing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from freqtrade_exec_ext.execution import checks, sizing, stops
from freqtrade_exec_ext.execution.numbers import finite
from freqtrade_exec_ext.strategy.market import BoundUnknown

logger = logging.getLogger(__name__)


class RiskAdapter:
    def __init__(self, strategy: Any) -> None:
        self._s = strategy
        self.adds: dict[Any, datetime] = {}  # trade id -> time of an accepted add
        self.leverage_of: dict[str, float] = {}  # pair -> leverage of its latest entry
        self._said: set[str] = set()

    def _equity(self) -> tuple[float, float | None]:
        w = self._s.wallets
        if not w:
            return 0.0, None
        return float(w.get_total_stake_amount()), float(w.get_available_stake_amount())

    def stake(self, pair: str, min_stake: float | None, max_stake: float, leverage: float) -> float:
        equity, available = self._equity()
        d = sizing.compute_stake(
            self._s.risk_contract,
            equity=equity,
            available=available,
            ft_min_stake=min_stake,
            ft_max_stake=max_stake,
            leverage=finite(leverage) or 1.0,
        )
        if d.skip:
            logger.info("exec_ext: %s entry skipped: %s", pair, d.reason)
        return d.stake

    def leverage(self, pair: str, proposed: float, exchange_max: float) -> float:
        try:
            lev = sizing.cap_leverage(self._s.risk_contract, proposed, exchange_max)
        except Exception:  # noqa: BLE001 - fail closed: no leverage
            lev = 1.0
        self.leverage_of[pair] = lev
        return lev

    # ---------------------------------------------------------------- stop-loss
    def contract_stop(self, trade: Any, current_rate: float) -> float:
        """The contract's stop price for ``trade``: a price move of ``stoploss`` from its
        (average) entry, tightened by the contract's trailing stop on futures (spot trails
        with Freqtrade's own trailing stop, which means the same there)."""
        c = self._s.risk_contract
        is_short = bool(trade.is_short)
        entry = float(trade.open_rate)
        price = stops.stop_price(entry, c.stop_loss.stoploss, is_short)
        t = c.stop_loss.trailing
        if t.enabled and c.is_futures:
            seen = finite(trade.min_rate if is_short else trade.max_rate) or entry
            best = min(seen, current_rate) if is_short else max(seen, current_rate)
            trail = stops.trailing_stop_price(
                entry=entry,
                best=best,
                stoploss=c.stop_loss.stoploss,
                positive=t.positive,
                offset=t.offset,
                only_offset_is_reached=t.only_offset_is_reached,
                is_short=is_short,
            )
            price = stops.tighter(price, trail, is_short) or price
        return price

    def stop_ratio(self, trade: Any, current_rate: float) -> float:
        price = self.contract_stop(trade, current_rate)
        return stops.ft_stop_ratio(
            price, current_rate, bool(trade.is_short), float(trade.leverage or 1.0)
        )

    def _say_once(self, key: str) -> bool:
        if key in self._said:
            return False
        self._said.add(key)
        return True

    def note_stop_clamp(self, pair: str, ratio: float, theirs: float, ours: float) -> None:
        if self._say_once(f"stop:{pair}"):
            logger.warning(
                "exec_ext: %s: the strategy's custom_stoploss %.4g (stop %.8g) is looser than "
                "the contract's stop %.8g (stop_loss.stoploss %s); the contract's applies",
                pair,
                ratio,
                theirs,
                ours,
                self._s.risk_contract.stop_loss.stoploss,
            )

    # ---------------------------------------------------------------- position adds
    def position_add(self, trade: Any, add: float, tag: Any, min_stake: Any, now: datetime) -> Any:
        """An add clamped so the trade's total stake stays within one trade's sizing; None
        (skipped, with a reason code) when it cannot fit or its bound cannot be computed."""
        s = self._s
        equity, _ = self._equity()
        room, why = sizing.add_room(
            s.risk_contract,
            equity=equity,
            current_stake=float(trade.stake_amount or 0.0),
            leverage=float(trade.leverage or 1.0),
        )
        low = max(finite(min_stake) or 0.0, 0.0)
        if room <= 0 or room < low:
            # the strategy may ask on every candle: said once per trade
            if self._say_once(f"add-skip:{trade.id}"):
                logger.info(
                    "exec_ext: %s position add of %.2f skipped: %s: %s (said once per trade)",
                    trade.pair,
                    add,
                    checks.POSITION_ADD_OVER_SIZING,
                    why,
                )
            return None
        if add > room:
            if self._say_once(f"add-cut:{trade.id}"):
                logger.info(
                    "exec_ext: %s position add cut from %.2f to %.2f: %s",
                    trade.pair,
                    add,
                    room,
                    why,
                )
            add = room
        try:  # no order without its bound
            s.exec_ext_market.decision_price(trade.pair)
            s.exec_ext_market.tick(trade.pair)
        except BoundUnknown as exc:
            logger.info("exec_ext: %s position add skipped: %s", trade.pair, exc)
            return None
        self.adds[trade.id] = now
        return (add, tag) if tag is not None else add

    def take_add(self, trade: Any) -> bool:
        """Whether the entry being priced for ``trade`` is an add just accepted (its own
        decision) rather than a replacement of the same order (the same decision)."""
        return self.adds.pop(trade.id, None) is not None
