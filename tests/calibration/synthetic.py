"""Attempts with known properties, for checks a real ledger cannot pin down exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from freqtrade_exec_ext.calibration.attempts import Attempt

T0 = datetime(2025, 10, 16, tzinfo=UTC)


def attempt(pair: str, *, intent: str = "entry", side: str = "buy", filled: bool = True,
            cost: float = 10.0, through: float | None = 5.0, up: bool = True,
            i: int = 0, fee: float = 0.001, ratio: float = 1.0) -> Attempt:
    return Attempt(
        pair=pair, intent=intent, side=side, order_type="limit",
        placed_at=T0 + timedelta(minutes=5 * i), decision_price=100.0, filled=filled,
        fill_price=100.0 if filled else None, filled_ratio=ratio if filled else 0.0,
        notional=200.0, cost_bps=cost if filled else None,
        slippage_bps=cost - fee * 1e4 if filled else None, fee_rate=fee if filled else None,
        liquidity="maker" if filled else None, half_spread_bps=0.1 if filled else None,
        time_to_fill_s=5.0 if filled else None, through_bps=through, candle_up=up,
        participation_pct=0.001,
    )


def market(n: int = 400, seed: int = 0) -> list[Attempt]:
    """Entries whose fill depends on the candle: through < 0 fills 40 %, else always;
    costs ~ 10 + exponential(2) bps (XRP 3 bps dearer)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        pair = ("BTC/USDT", "ETH/USDT", "XRP/USDT")[i % 3]
        through = float(rng.uniform(-10, 30))
        up = bool(rng.random() < 0.5)
        filled = through >= 0 or rng.random() < 0.4
        cost = 10.0 + float(rng.exponential(2.0)) + (3.0 if pair == "XRP/USDT" else 0.0)
        out.append(attempt(pair, filled=filled, cost=cost, through=through, up=up, i=i))
    return out
