"""The price path inside a replayed candle (pure).

A candle only says open, high, low, close; the venue needs a path through it (the served
partial candle, the ticker, the book's mid and the matching all follow it).  Two models:

* ``linear``: open -> low -> high -> close for a rising candle (open -> high -> low -> close
  for a falling one), straight lines over thirds of the candle.  No oscillation inside a
  third: on 1-minute candles a resting order at the touch waits for the next third to be
  filled, so the venue is pessimistic for maker orders (fewer and slower fills than the
  real tape, ``docs/local-exchange.md``, "Fill model").
* ``bridge`` (the default): the same turning points, at seeded times, joined by Brownian
  bridges sampled every ``step_ms``, clipped to the candle's range and rounded to the tick.
  Their volatility is ``k x (high - low) / sqrt(candle seconds)``: ``k`` is calibrated on the
  real tape (``calibrate.py``: the median over one-minute candles of
  ``sqrt(realised variance of the 1 s mid) / range``), so quiet candles wiggle little and
  wild ones a lot.  The path still opens at the open, closes at the close and touches the
  high and the low exactly.

Deterministic: a candle's path depends only on the model, the symbol, the candle's open
time and its OHLC (``numpy`` generator seeded from them), so every run, client and test
sees the same path.
"""

from __future__ import annotations

import itertools
import json
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CALIBRATION_FILE = Path(__file__).resolve().parent / "data" / "path-calibration.json"
LINEAR_T = np.array([0.0, 1 / 3, 2 / 3, 1.0])


@dataclass(frozen=True)
class PathModel:
    kind: str = "bridge"  # bridge | linear
    k: float = 0.0  # oscillation per candle: sigma = k * (high - low) / sqrt(candle s)
    step_ms: int = 1_000  # path resolution (coarser for long candles: see max_points)
    max_points: int = 300  # points per candle at most (a 5m candle: one a second)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("bridge", "linear"):
            raise ValueError(f"path model {self.kind!r}: bridge or linear")
        if not (math.isfinite(self.k) and self.k >= 0):
            raise ValueError(f"path model k {self.k!r}: a number >= 0")
        if self.step_ms < 1 or self.max_points < 3:
            raise ValueError("path model: step_ms >= 1 and max_points >= 3")


LINEAR = PathModel(kind="linear")


def default_model(path: Path = CALIBRATION_FILE) -> PathModel:
    """The shipped, tape-calibrated bridge (``data/path-calibration.json``)."""
    data = json.loads(path.read_text())
    return PathModel(kind="bridge", k=float(data["k"]), step_ms=int(data["step_ms"]))


def round_tick(price: float, tick: float) -> float:
    if tick <= 0:
        return price
    decimals = max(0, -math.floor(math.log10(tick)) + 2)
    return round(round(price / tick) * tick, decimals)


def linear_points(o: float, h: float, low: float, c: float) -> np.ndarray:
    return np.array([o, low, h, c]) if c >= o else np.array([o, h, low, c])


def candle_path(
    model: PathModel,
    key: str,
    open_ms: int,
    base_ms: int,
    ohlc: tuple[float, float, float, float],
    tick: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(fractions of the candle, prices)`` of the path; linear between two points."""
    o, h, low, c = ohlc
    if model.kind == "linear" or model.k <= 0 or h <= low:
        return LINEAR_T, linear_points(o, h, low, c)
    n = int(min(model.max_points, max(3, base_ms // model.step_ms)))
    salt = zlib.crc32(key.encode()) ^ zlib.crc32(np.array(ohlc, dtype=float).tobytes())
    rng = np.random.default_rng([model.seed, salt, open_ms // 1000 % (1 << 40)])
    t1 = round(float(rng.uniform(0.1, 0.45)) * n)
    t2 = round(float(rng.uniform(0.55, 0.9)) * n)
    t1, t2 = min(max(t1, 1), n - 2), min(max(t2, t1 + 1), n - 1)
    anchors = linear_points(o, h, low, c)
    idx = [0, t1, t2, n]
    sigma = model.k * (h - low) / math.sqrt(base_ms / 1000) * math.sqrt(base_ms / 1000 / n)
    prices = np.empty(n + 1)
    for (a, b), (pa, pb) in zip(
        itertools.pairwise(idx), itertools.pairwise(anchors.tolist()), strict=True
    ):
        prices[a : b + 1] = _bridge(rng, pa, pb, b - a, sigma)
    prices = np.clip(prices, low, h)
    if tick > 0:  # on the tick grid, written as round_tick writes prices
        decimals = max(0, -math.floor(math.log10(tick)) + 2)
        prices = np.clip(np.round(np.round(prices / tick) * tick, decimals), low, h)
    prices[0], prices[-1] = o, c
    prices[t1], prices[t2] = anchors[1], anchors[2]
    return np.linspace(0.0, 1.0, n + 1), prices


def _bridge(rng: np.random.Generator, pa: float, pb: float, steps: int, sigma: float) -> np.ndarray:
    """``steps + 1`` points from ``pa`` to ``pb``: a line plus a Brownian bridge."""
    walk = np.concatenate([[0.0], np.cumsum(rng.normal(0.0, sigma, steps))])
    frac = np.linspace(0.0, 1.0, steps + 1)
    path: np.ndarray = pa + (pb - pa) * frac + walk - frac * walk[-1]
    return path


def partial(
    fracs: np.ndarray,
    prices: np.ndarray,
    o: float,
    v: float,
    frac: float,
    tick: float = 0.0,
) -> tuple[float, float, float, float, float]:
    """OHLCV of a candle seen ``frac`` (0..1) of the way along its path."""
    frac = min(max(frac, 0.0), 1.0)
    price = round_tick(float(np.interp(frac, fracs, prices)), tick)
    seen = prices[fracs <= frac]
    high = max(float(seen.max()), price) if len(seen) else price
    low = min(float(seen.min()), price) if len(seen) else price
    return o, high, low, price, v * frac
