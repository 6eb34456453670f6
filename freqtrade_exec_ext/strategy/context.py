"""The decision behind an order: typed, immutable, and kept where it survives a restart.

A :class:`Decision` is taken when the strategy decides an entry or exit (the signal
candle's close, the book seen then, the first price) and lives as long as its orders work:
repriced, cancelled and placed again, until a fill completes the position change.
:class:`DecisionBook` keeps it:

* a new entry's decision, per pair, until Freqtrade has made the trade;
* then with the trade: in trade custom data in live and dry-run (keys
  ``exec_ext.ctx.entry`` / ``exec_ext.ctx.exit``, plain JSON, readable by the report), and
  in memory in backtests (Freqtrade hands callbacks a deep copy of the trade, so the key is
  the trade's identity; custom data there is in memory anyway and reset per run).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

CTX_ENTRY_KEY = "exec_ext.ctx.entry"
CTX_EXIT_KEY = "exec_ext.ctx.exit"
Intent = Literal["entry", "exit"]
_KEYS = {"entry": CTX_ENTRY_KEY, "exit": CTX_EXIT_KEY}


@dataclass(frozen=True)
class Decision:
    side: str  # the order side: buy | sell
    decision_price: float | None = None
    decision_time: str | None = None  # ISO-8601 UTC (live and dry-run)
    proposed: float | None = None  # Freqtrade's proposed rate at the decision
    price: float | None = None  # the decision's first order price: the ladder starts here
    arrival_mid: float | None = None
    arrival_spread_bps: float | None = None
    best_bid: float | None = None  # the book at the decision
    best_ask: float | None = None
    placed_bid: float | None = None  # the book when the latest order was placed
    placed_ask: float | None = None
    manual: bool = False  # decided by a person (forceenter/forceexit, the kill switch)
    bt_bps: float = 0.0  # adverse slippage charged in a backtest
    reason: str | None = None  # exit reason
    pending_step: int | None = None  # an exit cancelled at a ladder step, to be placed again
    last_order_price: float | None = None  # the latest order's price (a ladder never steps back)
    refused: str | None = None  # why no order may go out for this entry (a reason code)
    model: dict[str, Any] | None = None  # backtests: the execution model's plan [calib]

    def with_(self, **changes: Any) -> Decision:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Decision | None:
        if not isinstance(data, dict) or not data:
            return None
        known = {f.name for f in fields(cls)}
        kept = {k: v for k, v in data.items() if k in known}
        kept.setdefault("side", "buy")
        return cls(**kept)

    @classmethod
    def refusal(cls, side: str, reason: str) -> Decision:
        return cls(side=side, refused=reason)


def _trade_key(trade: Any, key: str) -> tuple[Any, ...]:
    return (trade.id, trade.pair, trade.open_date, key)


class DecisionBook:
    """Where decisions live (see the module docstring)."""

    def __init__(self, live: Any) -> None:
        self._live = live  # () -> bool: trade custom data (live/dry-run) or memory
        self.pending: dict[str, Decision] = {}  # pair -> a new entry's decision
        self._memory: dict[tuple[Any, ...], Decision] = {}

    def clear(self) -> None:
        self.pending.clear()
        self._memory.clear()

    def get(self, trade: Any, intent: Intent) -> Decision | None:
        key = _KEYS[intent]
        if self._live():
            return Decision.from_dict(trade.get_custom_data(key))
        return self._memory.get(_trade_key(trade, key))

    def save(self, trade: Any, intent: Intent, decision: Decision | None) -> None:
        key = _KEYS[intent]
        if self._live():
            trade.set_custom_data(key, decision.to_dict() if decision else {})
        elif decision is None:
            self._memory.pop(_trade_key(trade, key), None)
        else:
            self._memory[_trade_key(trade, key)] = decision

    def entry(self, trade: Any) -> Decision | None:
        """The entry decision, moved from the pair's pending one to the trade on first
        sight of the trade."""
        found = self.get(trade, "entry")
        if found is None:
            found = self.pending.pop(trade.pair, None)
            if found is not None:
                self.save(trade, "entry", found)
        return found

    def forget(self, trade: Any, exit_done: bool) -> None:
        """Backtests: drop a trade's decisions once its exit has filled."""
        self._memory.pop(_trade_key(trade, CTX_EXIT_KEY), None)
        if exit_done:
            self._memory.pop(_trade_key(trade, CTX_ENTRY_KEY), None)
