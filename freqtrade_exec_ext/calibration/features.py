"""What the candle an order worked in did, as numbers the model bins on (pure).

For an order placed at time ``t`` the **order candle** is the candle containing ``t``; the
decision price ``D`` is the close of the candle before it (the signal candle), unless the
ledger recorded one.

* ``through_bps``: how far the order candle traded through ``D`` in the order's favour, in
  bps of ``D``: ``(D - low) / D`` for a buy, ``(high - D) / D`` for a sell.  Negative: the
  market never came to the order's side of ``D``.
* ``candle_up``: the order candle closed at or above its open.
* ``participation_pct``: the order's notional as a % of the order candle's quote volume.

A backtest knows the same three numbers for the candle its order is placed in (Freqtrade
itself fills backtest orders from that candle's low and high), so the model can draw a
fill conditioned on them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from freqtrade_exec_ext.calibration.attempts import Attempt


@dataclass(frozen=True)
class Candle:
    open: float
    high: float
    low: float
    close: float
    volume: float  # base currency


@dataclass(frozen=True)
class CandleSeries:
    """One pair's candles as arrays (open times in epoch seconds, ascending)."""

    start_s: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    timeframe_s: int

    def index_at(self, when: datetime) -> int | None:
        """Index of the candle containing ``when``; None outside the series."""
        ts = when.timestamp()
        i = int(np.searchsorted(self.start_s, ts, side="right")) - 1
        if i < 0 or ts >= self.start_s[i] + self.timeframe_s:
            return None
        return i

    def candle(self, i: int) -> Candle:
        return Candle(
            float(self.open[i]),
            float(self.high[i]),
            float(self.low[i]),
            float(self.close[i]),
            float(self.volume[i]),
        )


def through_bps(side: str, decision: float, candle: Candle) -> float:
    if decision <= 0:
        return 0.0
    if side == "buy":
        return (decision - candle.low) / decision * 10_000.0
    return (candle.high - decision) / decision * 10_000.0


def participation_pct(notional: float | None, candle: Candle) -> float | None:
    quote = candle.volume * candle.close
    if notional is None or quote <= 0:
        return None
    return notional / quote * 100.0


def with_candles(
    attempts: Sequence[Attempt], series: Mapping[str, CandleSeries]
) -> tuple[list[Attempt], int]:
    """The attempts with their candle numbers (decision price filled in from the signal
    candle when the ledger has none); and how many found no candle."""
    out: list[Attempt] = []
    missing = 0
    for a in attempts:
        s = series.get(a.pair)
        i = s.index_at(a.placed_at) if s is not None and a.placed_at is not None else None
        if s is None or i is None or i == 0:
            missing += 1
            out.append(a)
            continue
        decision = a.decision_price or float(s.close[i - 1])
        candle = s.candle(i)
        a2 = a if a.decision_price else _with_decision(a, decision)
        out.append(
            a2.with_candle(
                through_bps(a.side, decision, candle),
                candle.close >= candle.open,
                participation_pct(a.notional, candle),
            )
        )
    return out, missing


def _with_decision(a: Attempt, decision: float) -> Attempt:
    from dataclasses import replace

    return replace(a, decision_price=decision)
