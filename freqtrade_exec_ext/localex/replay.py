"""Market-data replay: historical candles mapped onto the present (pure apart from loading).

Clock.  The server starts at wall time ``S``.  Virtual ("served") time runs
``v(now) = S + (now - S) * speed`` (equal to the wall clock at speed 1).  The data is shifted
by a constant ``offset`` (a multiple of the largest base timeframe, so candle boundaries stay
aligned): a data candle opening at ``t`` is served as opening at ``t + offset``, and the data
time being replayed is ``d(now) = v(now) - offset``.  ``offset`` is chosen so that ``d(S)`` is
the replay start: ``start_at`` when given, otherwise the first common candle plus a warm-up
(30 days, at most half the common data span), so that strategies find history behind "now".
When the data is exhausted the replay stays on the last candle.

Inside the current base candle the price follows the series' intra-candle path
(``intracandle.py``: a seeded bridge through open, low/high, close calibrated on the real
tape by default, or the straight open -> low -> high -> close over thirds), rounded to the
tick; the served partial candle, the ticker and the matching use that path.  Timeframes
above the base one are aggregated from base candles in served time, like Binance
(``startTime``/``endTime``/``limit`` select on open time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from freqtrade_exec_ext.localex import intracandle
from freqtrade_exec_ext.localex.intracandle import LINEAR, PathModel
from freqtrade_exec_ext.localex.replay_clock import ReplayClock, ReplayError

MINUTE_MS = 60_000
DAY_MS = 1440 * MINUTE_MS
WEEK_ALIGN_MS = 4 * DAY_MS  # the epoch is a Thursday; Binance weeks start on Monday
INTERVALS_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "2h": 120 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "6h": 360 * MINUTE_MS,
    "8h": 480 * MINUTE_MS,
    "12h": 720 * MINUTE_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": 7 * DAY_MS,
}
_SPOT_FILE = re.compile(r"^([A-Z0-9]+)_([A-Z0-9]+)-(\d+[mhdw])\.feather$")
_FUT_FILE = re.compile(r"^([A-Z0-9]+)_([A-Z0-9]+)_([A-Z0-9]+)-(\d+[mhdw])-futures\.feather$")


@dataclass(frozen=True)
class CandleSeries:
    """Base-timeframe candles of one symbol, in data time (ms)."""

    symbol: str  # exchange id, e.g. BTCUSDT
    base_ms: int
    open_time: np.ndarray  # int64, ascending, regular
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    tick: float = 0.0  # price tick for the intra-candle path (0: no rounding)
    source: str = ""  # file it came from
    derived_from_spot: bool = False
    path_model: PathModel = LINEAR
    paths: dict[int, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.open_time) == 0:
            raise ReplayError(f"{self.source or self.symbol}: no candles")

    @property
    def first_ms(self) -> int:
        return int(self.open_time[0])

    @property
    def last_ms(self) -> int:
        return int(self.open_time[-1])


# ---------------------------------------------------------------- loading


def _read_feather(
    path: Path, symbol: str, tick: float, derived: bool = False, path_model: PathModel = LINEAR
) -> CandleSeries:
    import pandas as pd

    df = pd.read_feather(path, columns=["date", "open", "high", "low", "close", "volume"])
    df = df.dropna().sort_values("date").drop_duplicates("date")
    ms = (df["date"].astype("int64") // 1_000_000).to_numpy(dtype=np.int64)
    m = _tf_from_name(path.name)
    base = INTERVALS_MS[m]
    return CandleSeries(
        symbol=symbol,
        base_ms=base,
        open_time=ms,
        open=df["open"].to_numpy(float),
        high=df["high"].to_numpy(float),
        low=df["low"].to_numpy(float),
        close=df["close"].to_numpy(float),
        volume=df["volume"].to_numpy(float),
        tick=tick,
        source=str(path),
        derived_from_spot=derived,
        path_model=path_model,
    )


def _tf_from_name(name: str) -> str:
    m = _FUT_FILE.match(name)
    if m:
        return m.group(4)
    m = _SPOT_FILE.match(name)
    if m:
        return m.group(3)
    raise ReplayError(f"{name}: not a freqtrade candle file name")


def find_candle_files(datadir: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """``({BTCUSDT: path}, {BTCUSDT: path})`` for spot and USDT-M futures, smallest timeframe."""
    spot: dict[str, tuple[int, Path]] = {}
    fut: dict[str, tuple[int, Path]] = {}
    if datadir.is_dir():
        for p in sorted(datadir.glob("*.feather")):
            m = _SPOT_FILE.match(p.name)
            if m and m.group(3) in INTERVALS_MS:
                _keep(spot, m.group(1) + m.group(2), INTERVALS_MS[m.group(3)], p)
        for p in sorted((datadir / "futures").glob("*-futures.feather")):
            m = _FUT_FILE.match(p.name)
            if m and m.group(4) in INTERVALS_MS and m.group(2) == m.group(3):
                _keep(fut, m.group(1) + m.group(2), INTERVALS_MS[m.group(4)], p)
    return {k: v[1] for k, v in spot.items()}, {k: v[1] for k, v in fut.items()}


def _keep(into: dict[str, tuple[int, Path]], symbol: str, ms: int, path: Path) -> None:
    if symbol not in into or ms < into[symbol][0]:
        into[symbol] = (ms, path)


def load_series(
    path: Path, symbol: str, tick: float, derived: bool = False, path_model: PathModel = LINEAR
) -> CandleSeries:
    return _read_feather(path, symbol, tick, derived, path_model)


# ---------------------------------------------------------------- price path

MAX_CACHED_PATHS = 4096


def candle_path(series: CandleSeries, i: int) -> tuple[np.ndarray, np.ndarray]:
    """The intra-candle path of base candle ``i`` (fractions, prices), cached."""
    got = series.paths.get(i)
    if got is None:
        if len(series.paths) >= MAX_CACHED_PATHS:
            series.paths.clear()
        ohlc = (
            float(series.open[i]),
            float(series.high[i]),
            float(series.low[i]),
            float(series.close[i]),
        )
        got = intracandle.candle_path(
            series.path_model, series.symbol, int(series.open_time[i]), series.base_ms, ohlc,
            series.tick,
        )  # fmt: skip
        series.paths[i] = got
    return got


def partial_candle(
    o: float, h: float, low: float, c: float, v: float, frac: float, tick: float = 0.0
) -> tuple[float, float, float, float, float]:
    """OHLCV of a candle seen ``frac`` (0..1) of the way through, on the linear path."""
    pts = intracandle.linear_points(o, h, low, c)
    return intracandle.partial(intracandle.LINEAR_T, pts, o, v, frac, tick)


def _partial(series: CandleSeries, i: int, frac: float) -> tuple[float, float, float, float, float]:
    fracs, prices = candle_path(series, i)
    return intracandle.partial(
        fracs, prices, float(series.open[i]), float(series.volume[i]), frac, series.tick
    )


@dataclass(frozen=True)
class Kline:
    open_time: int  # served time, ms
    close_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    quote_volume: float

    def binance_row(self) -> list[Any]:
        half = self.volume / 2.0
        return [
            self.open_time,
            _fmt(self.open),
            _fmt(self.high),
            _fmt(self.low),
            _fmt(self.close),
            _fmt(self.volume),
            self.close_time,
            _fmt(self.quote_volume),
            0,
            _fmt(half),
            _fmt(self.quote_volume / 2.0),
            "0",
        ]


def _fmt(x: float) -> str:
    return f"{x:.8f}"


def _current(series: CandleSeries, data_now: int) -> tuple[int, float]:
    """Index of the base candle containing ``data_now`` (clamped to the data) and its fraction."""
    i = int(np.searchsorted(series.open_time, data_now, side="right")) - 1
    if i < 0:
        raise ReplayError(f"{series.symbol}: replay time is before the first candle")
    if i >= len(series.open_time) - 1 and data_now >= series.last_ms + series.base_ms:
        return len(series.open_time) - 1, 1.0
    frac = (data_now - int(series.open_time[i])) / series.base_ms
    return i, min(max(frac, 0.0), 1.0)


def current_price(series: CandleSeries, data_now: int) -> float:
    i, frac = _current(series, data_now)
    return _partial(series, i, frac)[3]


def _arrays_upto(
    series: CandleSeries, lo: int, hi: int, cur: int, frac: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Copies of the base arrays [lo, hi) with the current candle made partial."""
    o, h, low, c, v = (
        a[lo:hi].copy() for a in (series.open, series.high, series.low, series.close, series.volume)
    )
    if lo <= cur < hi:
        po, ph, pl, pc, pv = _partial(series, cur, frac)
        j = cur - lo
        o[j], h[j], low[j], c[j], v[j] = po, ph, pl, pc, pv
    return o, h, low, c, v


def bucket_start(ms: int, interval_ms: int) -> int:
    shift = WEEK_ALIGN_MS if interval_ms == INTERVALS_MS["1w"] else 0
    return (ms - shift) // interval_ms * interval_ms + shift


def klines(
    series: CandleSeries,
    interval: str,
    clock: ReplayClock,
    wall_ms: int,
    start_time: int | None = None,
    end_time: int | None = None,
    limit: int = 500,
) -> list[Kline]:
    """Candles as Binance's ``/klines`` would serve them at ``wall_ms`` (served time)."""
    if interval not in INTERVALS_MS:
        raise ReplayError(f"Invalid interval {interval!r}.")
    iv = INTERVALS_MS[interval]
    if iv < series.base_ms or iv % series.base_ms:
        raise ReplayError(
            f"Invalid interval {interval!r}: the replayed data of {series.symbol} has "
            f"{series.base_ms // MINUTE_MS}m candles; use a multiple of that."
        )
    limit = max(1, limit)
    off = clock.offset_ms
    cur, frac = _current(series, clock.data_now(wall_ms))
    last_served = int(series.open_time[cur]) + off  # open of the newest served base candle
    first_served = series.first_ms + off
    last_bucket = bucket_start(last_served, iv)
    if start_time is not None:
        b0 = bucket_start(start_time, iv)
        if b0 < start_time:
            b0 += iv
        b0 = max(b0, bucket_start(first_served, iv))
        b_end = last_bucket if end_time is None else min(last_bucket, bucket_start(end_time, iv))
        b_end = min(b_end, b0 + (limit - 1) * iv)
    else:
        b_end = last_bucket if end_time is None else min(last_bucket, bucket_start(end_time, iv))
        b0 = max(b_end - (limit - 1) * iv, bucket_start(first_served, iv))
    if b_end < b0:
        return []
    ot = series.open_time + off
    lo = int(np.searchsorted(ot, b0, side="left"))
    hi = min(int(np.searchsorted(ot, b_end + iv, side="left")), cur + 1)
    if hi <= lo:
        return []
    o, h, low, c, v = _arrays_upto(series, lo, hi, cur, frac)
    buckets = np.array([bucket_start(int(t), iv) for t in ot[lo:hi]], dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    ends = np.r_[starts[1:], len(buckets)] - 1
    highs = np.maximum.reduceat(h, starts)
    lows = np.minimum.reduceat(low, starts)
    vols = np.add.reduceat(v, starts)
    typical = (h + low + c) / 3.0
    qvols = np.add.reduceat(v * typical, starts)
    return [
        Kline(
            open_time=int(buckets[s]),
            close_time=int(buckets[s]) + iv - 1,
            open=float(o[s]),
            high=float(highs[k]),
            low=float(lows[k]),
            close=float(c[e]),
            volume=float(vols[k]),
            quote_volume=float(qvols[k]),
        )
        for k, (s, e) in enumerate(zip(starts, ends, strict=True))
    ]


@dataclass(frozen=True)
class Stats24h:
    open_time: int
    close_time: int
    open: float
    high: float
    low: float
    last: float
    volume: float
    quote_volume: float


def stats_24h(series: CandleSeries, clock: ReplayClock, wall_ms: int) -> Stats24h:
    """Rolling 24 h statistics ending at the replayed now (served time)."""
    cur, frac = _current(series, clock.data_now(wall_ms))
    now_served = int(series.open_time[cur] + clock.offset_ms + frac * series.base_ms)
    lo = max(0, cur - DAY_MS // series.base_ms + 1)
    o, h, low, c, v = _arrays_upto(series, lo, cur + 1, cur, frac)
    typical = (h + low + c) / 3.0
    return Stats24h(
        open_time=now_served - DAY_MS,
        close_time=now_served,
        open=float(o[0]),
        high=float(h.max()),
        low=float(low.min()),
        last=float(c[-1]),
        volume=float(v.sum()),
        quote_volume=float((v * typical).sum()),
    )


def recent_quote_volume_5m(
    series: CandleSeries, clock: ReplayClock, wall_ms: int, lookback_ms: int = 3_600_000
) -> float:
    """Mean traded notional per 5 minutes over the last complete hour (book-depth scale)."""
    cur, _ = _current(series, clock.data_now(wall_ms))
    n = max(1, lookback_ms // series.base_ms)
    lo = max(0, cur - n)
    hi = max(cur, lo + 1)
    typical = (series.high[lo:hi] + series.low[lo:hi] + series.close[lo:hi]) / 3.0
    per_candle = float(np.mean(series.volume[lo:hi] * typical))
    return per_candle * (5 * MINUTE_MS) / series.base_ms


# ---------------------------------------------------------------- matching helpers

MAX_PATH_SPAN_MS = 7 * DAY_MS


def path_points(series: CandleSeries, d0: int, d1: int) -> list[tuple[int, float]]:
    """The replayed price path between data times ``d0`` and ``d1`` (inclusive).

    Returned as ``(data_ms, price)`` at ``d0``, at every point of the intra-candle paths
    (``candle_path``) in between, and at ``d1``: the path is linear between two
    consecutive points, so matching can walk it segment by segment.  Spans longer than
    7 days are cut to their last 7 days.
    """
    if d1 <= d0:
        return [(d1, current_price(series, d1))]
    d0 = max(d0, d1 - MAX_PATH_SPAN_MS)
    i0 = max(0, int(np.searchsorted(series.open_time, d0, side="right")) - 1)
    i1 = int(np.searchsorted(series.open_time, d1, side="right"))
    inner: dict[int, None] = {}
    for i in range(i0, min(i1, len(series.open_time))):
        start = int(series.open_time[i])
        fracs, _ = candle_path(series, i)
        times = (start + fracs * series.base_ms).astype(np.int64)
        keep = (times > d0) & (times < d1)
        inner.update(dict.fromkeys(times[keep].tolist()))
    pts = [(d0, current_price(series, d0))]
    pts += [(t, current_price(series, t)) for t in sorted(inner)]
    pts.append((d1, current_price(series, d1)))
    return pts


def volume_between(series: CandleSeries, d0: int, d1: int) -> float:
    """Base volume traded between data times ``d0`` and ``d1`` (pro rata inside candles)."""
    if d1 <= d0:
        return 0.0
    total = 0.0
    i0 = max(0, int(np.searchsorted(series.open_time, d0, side="right")) - 1)
    i1 = int(np.searchsorted(series.open_time, d1, side="right"))
    for i in range(i0, min(i1, len(series.open_time))):
        start = int(series.open_time[i])
        end = start + series.base_ms
        overlap = min(end, d1) - max(start, d0)
        if overlap > 0:
            total += float(series.volume[i]) * overlap / series.base_ms
    return total
