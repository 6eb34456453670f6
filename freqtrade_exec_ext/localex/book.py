"""Synthetic order books calibrated on real Binance books (pure, deterministic).

The model, per side, for a replayed price ``mid``, tick size ``tick`` and lot step ``step``:

* **Spread**: ``max(1, floor(spread_bps_p50 * mid / 1e4 / tick))`` ticks; best bid is the
  tick at or just below the mid (minus half the extra ticks), best ask = best bid + spread.
  On BTC/USDT spot this is one tick, as on Binance.
* **Level prices**: level k sits ``offset_bps[k] - offset_bps[0]`` bps beyond the best price,
  rounded to the tick and at least one tick beyond level k-1 (coarse-tick pairs such as
  XRP/USDT therefore get one level per tick). Levels past the calibrated 20 continue with
  the last calibrated gap.
* **Level sizes**: notional of level k = ``notional_share[k] * V`` times a lognormal noise
  ``exp(sigma * z)`` (median 1, ``sigma = min(noise_sigma, 1)``), where
  ``V = ref_volume * (quote_volume_5m / ref_volume) ** volume_exponent`` scales the
  calibration window's depth by the pair's recent traded notional (sub-linearly: books are
  not proportionally deeper on busier pairs). Sizes are rounded to the lot step, at least
  one step.
* **Determinism**: the noise comes from ``numpy.random.default_rng(seed)``; the caller derives
  the seed from (market, symbol, second), so two requests in the same second see one book.

Parameters come from ``data/book-calibration.json`` (written by ``calibrate.py``).
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

CALIBRATION_FILE = Path(__file__).resolve().parent / "data" / "book-calibration.json"
MAX_NOISE_SIGMA = 1.0


@dataclass(frozen=True)
class BookParams:
    spread_bps: float
    offset_bps: tuple[float, ...]
    notional_share: tuple[float, ...]
    noise_sigma: float
    ref_quote_volume_5m: float
    volume_exponent: float


@dataclass(frozen=True)
class Book:
    bids: list[list[float]]  # descending prices
    asks: list[list[float]]  # ascending prices

    @property
    def best_bid(self) -> list[float]:
        return self.bids[0]

    @property
    def best_ask(self) -> list[float]:
        return self.asks[0]


@cache
def load_params(market: str, path: Path = CALIBRATION_FILE) -> BookParams:
    """``market``: ``spot`` or ``usdm`` (USDT-M futures)."""
    data = json.loads(path.read_text())
    try:
        m = data["markets"][market]
    except KeyError:
        raise ValueError(
            f"{path}: no calibration for market {market!r} (have {sorted(data['markets'])})"
        ) from None
    return BookParams(
        spread_bps=float(m["spread_bps"]["p50"]),
        offset_bps=tuple(float(x) for x in m["offset_bps"]),
        notional_share=tuple(float(x) for x in m["notional_share"]),
        noise_sigma=min(float(m["noise_sigma"]), MAX_NOISE_SIGMA),
        ref_quote_volume_5m=float(m["ref_quote_volume_5m"]),
        volume_exponent=float(data["volume_exponent"]),
    )


def book_seed(market: str, symbol: str, second: int) -> int:
    return zlib.crc32(f"{market}:{symbol}:{second}".encode())


def depth_scale(params: BookParams, quote_volume_5m: float) -> float:
    """Notional (quote currency) the calibrated shares are multiplied by."""
    ref = params.ref_quote_volume_5m
    vol = max(quote_volume_5m, ref * 1e-6)
    return float(ref * (vol / ref) ** params.volume_exponent)


def _round_step(value: float, step: float) -> float:
    if step <= 0:
        return value
    decimals = max(0, -math.floor(math.log10(step)) + 1)
    return round(max(round(value / step), 1) * step, decimals)


def _tick_offsets(params: BookParams, mid: float, tick: float, depth: int) -> list[int]:
    """Distance of each level from the best price, in ticks, strictly increasing."""
    offs = list(params.offset_bps)
    gap = offs[-1] - offs[-2] if len(offs) > 1 else 1.0
    while len(offs) < depth:
        offs.append(offs[-1] + gap)
    out: list[int] = []
    for k in range(depth):
        ticks = round((offs[k] - offs[0]) * mid / 1e4 / tick)
        out.append(max(ticks, out[-1] + 1) if out else 0)
    return out


def build_book(
    *,
    mid: float,
    tick: float,
    step: float,
    quote_volume_5m: float,
    params: BookParams,
    depth: int = 20,
    seed: int = 0,
) -> Book:
    """A top-``depth`` book around ``mid``; best bid <= mid < best ask."""
    if not (math.isfinite(mid) and mid > 0 and tick > 0):
        raise ValueError(f"cannot build a book for mid={mid!r}, tick={tick!r}")
    depth = max(1, depth)
    spread_ticks = max(1, math.floor(params.spread_bps * mid / 1e4 / tick + 1e-9))
    bid0_ticks = math.floor(mid / tick + 1e-9) - (spread_ticks - 1) // 2
    ask0_ticks = bid0_ticks + spread_ticks
    if bid0_ticks < 1:
        bid0_ticks, ask0_ticks = 1, 1 + spread_ticks
    offsets = _tick_offsets(params, mid, tick, depth)
    shares = list(params.notional_share)
    shares += [shares[-1]] * (depth - len(shares))
    scale = depth_scale(params, quote_volume_5m)
    # one stream per side, so a deeper book extends a shallower one (same top levels)
    noise = np.array(
        [
            np.exp(params.noise_sigma * np.random.default_rng([seed, side]).standard_normal(depth))
            for side in (0, 1)
        ]
    )
    decimals = max(0, -math.floor(math.log10(tick)) + 2)
    bids: list[list[float]] = []
    asks: list[list[float]] = []
    for k in range(depth):
        bid_t = bid0_ticks - offsets[k]
        if bid_t >= 1:
            bid_px = round(bid_t * tick, decimals)
            bids.append([bid_px, _round_step(shares[k] * scale * noise[0, k] / bid_px, step)])
        ask_px = round((ask0_ticks + offsets[k]) * tick, decimals)
        asks.append([ask_px, _round_step(shares[k] * scale * noise[1, k] / ask_px, step)])
    return Book(bids=bids, asks=asks)
