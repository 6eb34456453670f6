"""Expected execution cost of an entry at a given stake: pure functions, no Freqtrade.

Two estimators, both in bps of the mid and positive when they cost money:

* :func:`estimate_entry_cost`: walks a real order book (live / dry-run, ``test-pairlist``).
  ``slippage_bps`` is what a marketable order of ``stake`` pays against the mid
  (half-spread plus impact); ``depth_within_budget`` is the notional resting within
  ``budget_bps`` of the mid.  A book too thin for the stake gives ``complete=False``,
  ``slippage_bps=None`` and the shortfall: the cost is unknown, callers deny (fail closed).
* :func:`candle_proxy`: for backtests, where no past order book exists.  It is a model,
  labelled as such everywhere it is shown:

  - spread: Abdi & Ranaldo (2017) estimator from close/high/low,
    ``s^2 = 4 * mean((c_t - m_t) * (c_t - m_{t+1}))`` with ``c`` the log close and ``m``
    the log mid-range ``(ln h + ln l) / 2`` (0 when the mean is negative);
  - impact: the square-root law with coefficient 1,
    ``impact = sigma * sqrt(stake / V)`` with ``sigma`` the stdev of log close-to-close
    returns per candle and ``V`` the median quote volume per candle (the law is the same
    at any horizon because sigma grows with sqrt(T) and V with T);
  - slippage = spread / 2 + impact; depth within a budget ``b`` = the stake whose proxy
    slippage equals ``b``: ``V * ((b - spread/2) / sigma)^2``.

The filter feeds the proxy only candles that closed before the backtest starts, so it
knows nothing a trader at that moment could not have known.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from freqtrade_exec_ext.contract import RiskContract
from freqtrade_exec_ext.execution.checks import (
    BOOK_TOO_THIN,
    DEPTH_TOO_LOW,
    SLIPPAGE_TOO_HIGH,
    SPREAD_TOO_WIDE,
    Verdict,
)
from freqtrade_exec_ext.execution.orderbook import (
    BookError,
    Side,
    depth_within_bps,
    top_of_book,
    walk_book,
)

__all__ = [
    "BookError",
    "CostEstimate",
    "CostLimits",
    "ProxyEstimate",
    "candle_proxy",
    "estimate_entry_cost",
    "filter_stake",
    "judge",
    "tighten",
]


@dataclass(frozen=True)
class CostLimits:
    """What a pair must satisfy to stay in the whitelist."""

    max_spread_bps: float
    max_entry_bps: float
    min_depth_multiple: float = 1.0  # depth within max_entry_bps must cover stake x this

    def __post_init__(self) -> None:
        for name in ("max_spread_bps", "max_entry_bps", "min_depth_multiple"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name}: must be a number > 0, was {value!r}")


@dataclass(frozen=True)
class CostEstimate:
    """Expected cost of entering with ``stake`` (stake currency)."""

    source: str  # "order_book" or "candle_proxy"
    side: Side
    stake: float
    spread_bps: float
    slippage_bps: float | None  # vs mid; None when the book is too thin for the stake
    depth_within_budget: float  # stake currency within the slippage budget of the mid
    complete: bool = True  # False: the visible book does not hold the whole stake
    filled_quote: float = 0.0  # what the visible book could fill
    levels_used: int = 0
    detail: dict[str, float] = field(default_factory=dict)

    @property
    def shortfall_quote(self) -> float:
        return max(self.stake - self.filled_quote, 0.0) if not self.complete else 0.0


def estimate_entry_cost(
    book: dict[str, Any], stake: float, *, budget_bps: float, side: Side = "buy"
) -> CostEstimate:
    """Walk ``book`` for ``stake`` of quote currency; raises BookError on a bad book."""
    if not (math.isfinite(stake) and stake > 0):
        raise ValueError(f"stake must be a finite number > 0, was {stake!r}")
    quote = top_of_book(book)
    walk = walk_book(book, side, quote_amount=stake)
    depth = depth_within_bps(book, side, budget_bps)
    return CostEstimate(
        source="order_book",
        side=side,
        stake=stake,
        spread_bps=quote.spread_bps,
        slippage_bps=walk.slippage_vs_mid_bps if walk.complete else None,
        depth_within_budget=depth,
        complete=walk.complete,
        filled_quote=walk.filled_quote,
        levels_used=walk.levels_used,
        detail={"mid": quote.mid, "worst_price": walk.worst_price or float("nan")},
    )


@dataclass(frozen=True)
class ProxyEstimate:
    candles: int
    spread_bps: float
    volatility_bps: float
    median_quote_volume: float


def candle_proxy(
    high: Sequence[float],
    low: Sequence[float],
    close: Sequence[float],
    volume: Sequence[float],
) -> ProxyEstimate:
    """Spread, per-candle volatility and median quote volume from OHLCV candles."""
    n = len(close)
    if not (len(high) == len(low) == len(volume) == n):
        raise ValueError("high, low, close and volume must have the same length")
    rows = [
        (float(h), float(lo), float(c), float(v))
        for h, lo, c, v in zip(high, low, close, volume, strict=True)
        if all(math.isfinite(x) for x in (h, lo, c, v)) and h > 0 and lo > 0 and c > 0
    ]
    if len(rows) < 3:
        raise ValueError(f"need at least 3 valid candles for the proxy, got {len(rows)}")
    log_c = [math.log(r[2]) for r in rows]
    mid_range = [(math.log(r[0]) + math.log(r[1])) / 2 for r in rows]
    products = [
        (log_c[t] - mid_range[t]) * (log_c[t] - mid_range[t + 1]) for t in range(len(rows) - 1)
    ]
    s2 = 4.0 * statistics.fmean(products)
    spread = math.sqrt(s2) if s2 > 0 else 0.0
    returns = [log_c[t + 1] - log_c[t] for t in range(len(rows) - 1)]
    sigma = statistics.pstdev(returns)
    quote_volume = statistics.median(r[2] * r[3] for r in rows)
    return ProxyEstimate(len(rows), spread * 1e4, sigma * 1e4, quote_volume)


def proxy_cost(proxy: ProxyEstimate, stake: float, *, budget_bps: float) -> CostEstimate:
    """Square-root-law cost of ``stake`` and the depth within ``budget_bps`` (a model)."""
    if not (math.isfinite(stake) and stake > 0):
        raise ValueError(f"stake must be a finite number > 0, was {stake!r}")
    half_spread = proxy.spread_bps / 2
    if proxy.median_quote_volume <= 0:
        impact = math.inf
        depth = 0.0
    else:
        impact = proxy.volatility_bps * math.sqrt(stake / proxy.median_quote_volume)
        room = budget_bps - half_spread
        if room <= 0:
            depth = 0.0
        elif proxy.volatility_bps <= 0:
            depth = math.inf
        else:
            depth = proxy.median_quote_volume * (room / proxy.volatility_bps) ** 2
    slippage = half_spread + impact
    return CostEstimate(
        source="candle_proxy",
        side="buy",
        stake=stake,
        spread_bps=proxy.spread_bps,
        slippage_bps=slippage if math.isfinite(slippage) else None,
        depth_within_budget=depth,
        complete=math.isfinite(slippage),
        filled_quote=stake if math.isfinite(slippage) else 0.0,
        detail={
            "candles": float(proxy.candles),
            "volatility_bps": proxy.volatility_bps,
            "median_quote_volume": proxy.median_quote_volume,
            "impact_bps": impact,
        },
    )


def judge(estimate: CostEstimate, limits: CostLimits) -> list[Verdict]:
    """Every limit the estimate breaks, as the mixin's reason codes (empty: the pair stays)."""
    failed = []
    if estimate.spread_bps > limits.max_spread_bps:
        failed.append(
            Verdict(
                False,
                SPREAD_TOO_WIDE,
                {"spread_bps": estimate.spread_bps, "max": limits.max_spread_bps},
            )
        )
    if not estimate.complete:
        failed.append(
            Verdict(
                False,
                BOOK_TOO_THIN,
                {
                    "stake": estimate.stake,
                    "visible": estimate.filled_quote,
                    "levels": estimate.levels_used,
                },
            )
        )
    elif estimate.slippage_bps is not None and estimate.slippage_bps > limits.max_entry_bps:
        failed.append(
            Verdict(
                False,
                SLIPPAGE_TOO_HIGH,
                {
                    "est_slippage_bps": estimate.slippage_bps,
                    "max": limits.max_entry_bps,
                    "stake": estimate.stake,
                },
            )
        )
    need = estimate.stake * limits.min_depth_multiple
    if estimate.depth_within_budget < need:
        failed.append(
            Verdict(
                False,
                DEPTH_TOO_LOW,
                {
                    "depth_within_bps": limits.max_entry_bps,
                    "depth": estimate.depth_within_budget,
                    "need": need,
                    "min_depth_multiple": limits.min_depth_multiple,
                },
            )
        )
    return failed


def tighten(
    name: str, contract_value: float, param: float | None, *, higher_is_tighter: bool = False
) -> float:
    """Apply an explicit plugin parameter that may only tighten the contract's value."""
    if param is None:
        return contract_value
    if not (
        isinstance(param, int | float)
        and not isinstance(param, bool)
        and math.isfinite(param)
        and param > 0
    ):
        raise ValueError(f"{name}: must be a number > 0, was {param!r}")
    looser = param < contract_value if higher_is_tighter else param > contract_value
    if looser:
        bound = "at least" if higher_is_tighter else "at most"
        raise ValueError(
            f"{name}: {param:g} would loosen the risk contract ({contract_value:g}); "
            f"a plugin parameter may only tighten it (use {bound} {contract_value:g})"
        )
    return float(param)


def filter_stake(contract: RiskContract) -> float:
    """The stake the filter checks: the worst case the contract's sizing allows.

    ``fixed_stake`` (clamped to [min_stake, max_stake]) for method fixed_stake, otherwise
    ``max_stake`` (the most any single trade may stake).
    """
    s = contract.sizing
    if s.method == "fixed_stake":
        return min(max(s.fixed_stake, s.min_stake), s.max_stake)
    return s.max_stake
