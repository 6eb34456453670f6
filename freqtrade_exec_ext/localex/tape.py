"""Maker fills on the real tape against the venue's model of the same minutes.

Input: ``binance-l2-trades-2024-08-08`` (real Binance captures): 1-second top-20 books
(``derived/l2``) and every trade (``derived/freqtrade-datadir``) of spot BTC/USDT (about
10 minutes) and USDT-M BTC and ETH (about 5 minutes).

Hypothetical post-only orders are placed every ``every_s`` seconds, a buy at the best bid
and a sell at the best ask, for each notional in ``sizes``, and followed for ``horizon_s``:

* **tape** (ground truth): the order joins the back of its level in the book of that
  second (the displayed size is the queue ahead of it).  A trade at its price by a taker on
  the other side consumes the queue ahead first, then fills it; a trade strictly through
  its price fills what is left.  Cancellations seen between two books (the level shrank by
  more than its trades) take from the queue ahead in proportion to its share of the level
  (``cancels``: ``prorata``; ``none`` and ``all`` bound the effect).
* **venue**: the same placement times on the local exchange replaying 1-minute candles
  built from the same trades, each order at the venue's own best bid/ask (what a bot there
  sees), matched by :class:`~freqtrade_exec_ext.localex.trading.TradingEngine` stepped
  every second.

Compared per market: the share of orders fully filled within 10/30/60/120 s and the median
time to fill of those filled within the horizon.  The bias (venue minus tape, pooled over
the markets) gets a 95 % interval from a block bootstrap over one-minute blocks of
placement times (fills of orders placed in the same minute are not independent), seeded.
"""

from __future__ import annotations

import gzip
import json
import math
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

HORIZONS_S = (10, 30, 60, 120)
SIZES_USD = (100.0, 1_000.0, 10_000.0)
SEED = 20240808


@dataclass(frozen=True)
class Capture:
    """One market of the capture: where its books and trades are."""

    name: str  # shown in tables
    market: str  # spot | usdm
    symbol: str  # BTCUSDT
    books: str  # derived/l2/...
    trades: str  # derived/freqtrade-datadir/...
    candle_file: str  # where the venue's datadir gets its 1m candles


CAPTURES = (
    Capture(
        "spot BTC", "spot", "BTCUSDT", "spot_BTC_USDT-l2top20-1s.jsonl.gz",
        "BTC_USDT-trades.feather", "BTC_USDT-1m.feather",
    ),
    Capture(
        "USD-M BTC", "usdm", "BTCUSDT", "usdm_BTC_USDT_USDT-l2top20-1s.jsonl.gz",
        "futures/BTC_USDT_USDT-trades.feather", "futures/BTC_USDT_USDT-1m-futures.feather",
    ),
    Capture(
        "USD-M ETH", "usdm", "ETHUSDT", "usdm_ETH_USDT_USDT-l2top20-1s.jsonl.gz",
        "futures/ETH_USDT_USDT-trades.feather", "futures/ETH_USDT_USDT-1m-futures.feather",
    ),
)  # fmt: skip


@dataclass
class Data:
    """A capture loaded: books (ms, bids, asks) and trades (ms, taker side, price, qty)."""

    capture: Capture
    book_ms: np.ndarray
    bids: list[list[list[float]]]
    asks: list[list[list[float]]]
    trade_ms: np.ndarray
    trade_buy: np.ndarray  # taker bought (lifted an ask)
    trade_px: np.ndarray
    trade_qty: np.ndarray


def capture_root(shared_data: Path) -> Path:
    return shared_data / "binance-l2-trades-2024-08-08"


def available(root: Path) -> bool:
    return all(
        (root / "derived" / "l2" / c.books).is_file()
        and (root / "derived" / "freqtrade-datadir" / c.trades).is_file()
        for c in CAPTURES
    )


def load(root: Path, capture: Capture) -> Data:
    import pandas as pd

    with gzip.open(root / "derived" / "l2" / capture.books, "rt") as fh:
        books = [json.loads(line) for line in fh if line.strip()]
    trades = pd.read_feather(root / "derived" / "freqtrade-datadir" / capture.trades)
    trades = trades.sort_values(["timestamp"], kind="stable")
    return Data(
        capture,
        np.array([b["timestamp"] for b in books], dtype=np.int64),
        [b["bids"] for b in books],
        [b["asks"] for b in books],
        trades["timestamp"].to_numpy(np.int64),
        (trades["side"] == "buy").to_numpy(),
        trades["price"].to_numpy(float),
        trades["amount"].to_numpy(float),
    )


def placements(data: Data, every_s: float, horizon_s: float) -> list[int]:
    """Placement times (ms): every ``every_s`` from the first book on, while the whole
    horizon is still inside the capture."""
    first = int(data.book_ms[0])
    last = int(min(data.trade_ms[-1], data.book_ms[-1])) - int(horizon_s * 1000)
    step = int(every_s * 1000)
    return list(range(first, last + 1, step))


# ------------------------------------------------------------------ the tape


@dataclass
class Outcome:
    """One hypothetical order: when it was placed and when it was filled (None: not)."""

    placed_ms: int
    side: str
    size_usd: float
    fill_s: float | None


def _level(levels: list[list[float]], price: float) -> float | None:
    """Size displayed at ``price`` (0 when inside the best and absent; None: beyond top-20)."""
    for px, qty in levels:
        if px == price:
            return qty
    if not levels:
        return 0.0
    best, worst = levels[0][0], levels[-1][0]
    beyond = price < worst if best >= worst else price > worst  # bids fall, asks rise
    return None if beyond else 0.0


def tape_fill(
    data: Data, t_ms: int, side: str, size_usd: float, horizon_s: float, cancels: str
) -> Outcome:
    """Follow one post-only order at the touch through the real trades and books."""
    k = int(np.searchsorted(data.book_ms, t_ms, side="right")) - 1
    own = data.bids[k] if side == "BUY" else data.asks[k]
    price, ahead = float(own[0][0]), float(own[0][1])
    left = size_usd / price
    end = t_ms + int(horizon_s * 1000)
    i = int(np.searchsorted(data.trade_ms, t_ms, side="right"))
    j = int(np.searchsorted(data.trade_ms, end, side="right"))
    level_prev, traded = ahead, 0.0
    b = k + 1
    for n in range(i, j):
        ts = int(data.trade_ms[n])
        while b < len(data.book_ms) and data.book_ms[b] <= ts:
            ahead, level_prev, traded = _cancel(
                data, b, side, price, ahead, level_prev, traded, cancels
            )
            b += 1
        if bool(data.trade_buy[n]) == (side == "BUY"):
            continue  # same side as us: does not trade with us
        px, qty = float(data.trade_px[n]), float(data.trade_qty[n])
        through = px < price if side == "BUY" else px > price
        if through:
            return Outcome(t_ms, side, size_usd, (ts - t_ms) / 1000)
        if px != price:
            continue
        traded += qty
        take = min(ahead, qty)
        ahead -= take
        left -= qty - take
        if left <= 1e-12:
            return Outcome(t_ms, side, size_usd, (ts - t_ms) / 1000)
    return Outcome(t_ms, side, size_usd, None)


def _cancel(
    data: Data, b: int, side: str, price: float, ahead: float, level_prev: float,
    traded: float, cancels: str,
) -> tuple[float, float, float]:  # fmt: skip
    """Apply the book at index ``b``: (queue ahead, level size, trades since) after it."""
    level = _level(data.bids[b] if side == "BUY" else data.asks[b], price)
    if level is None:  # our price left the top 20: nothing seen, nothing changed
        return ahead, level_prev, traded
    cancelled = max(0.0, level_prev - traded - level)
    remaining = max(level_prev - traded, 1e-12)
    if cancels == "all":
        ahead = max(0.0, ahead - cancelled)
    elif cancels == "prorata":
        ahead = max(0.0, ahead - cancelled * min(ahead / remaining, 1.0))
    return ahead, level, 0.0


def tape_outcomes(
    data: Data,
    every_s: float = 5.0,
    horizon_s: float = 120.0,
    sizes: Iterable[float] = SIZES_USD,
    cancels: str = "prorata",
) -> list[Outcome]:
    return [
        tape_fill(data, t, side, size, horizon_s, cancels)
        for t in placements(data, every_s, horizon_s)
        for side in ("BUY", "SELL")
        for size in sizes
    ]


# ------------------------------------------------------------------ the venue


def candles_1m(data: Data) -> Any:
    """1-minute OHLCV of the capture's trades, as Freqtrade stores candles."""
    import pandas as pd

    df = pd.DataFrame(
        {
            "date": pd.to_datetime(data.trade_ms, unit="ms", utc=True),
            "price": data.trade_px,
            "amount": data.trade_qty,
        }
    ).set_index("date")
    ohlc = df["price"].resample("1min").ohlc()
    ohlc["volume"] = df["amount"].resample("1min").sum()
    out = ohlc.dropna().reset_index()
    out["date"] = out["date"].astype("datetime64[ns, UTC]")  # as Freqtrade stores them
    return out


class _Clock:
    def __init__(self, t: int) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t


def venue_outcomes(
    data: Data,
    every_s: float = 5.0,
    horizon_s: float = 120.0,
    sizes: Iterable[float] = SIZES_USD,
    path_model: Any = None,
) -> list[Outcome]:
    """The same placements on the local exchange replaying the capture's 1m candles."""
    with tempfile.TemporaryDirectory() as tmp:
        datadir = Path(tmp)
        target = datadir / data.capture.candle_file
        target.parent.mkdir(parents=True, exist_ok=True)
        candles = candles_1m(data)
        candles.to_feather(target)
        first_ms = int(candles["date"].iloc[0].timestamp() * 1000)
        return _run_venue(data, datadir, first_ms, every_s, horizon_s, tuple(sizes), path_model)


def _run_venue(
    data: Data, datadir: Path, first_ms: int, every_s: float, horizon_s: float,
    sizes: tuple[float, ...], path_model: Any,
) -> list[Outcome]:  # fmt: skip
    from freqtrade_exec_ext.localex.trading import TradingEngine
    from freqtrade_exec_ext.localex.venue import MarketVenue

    times = placements(data, every_s, horizon_s)
    clock = _Clock(first_ms)  # served time = data time
    start = datetime.fromtimestamp(first_ms / 1000, tz=UTC)
    kwargs = {} if path_model is None else {"path_model": path_model}
    venue = MarketVenue(datadir, start_at=start, now_ms=clock, **kwargs)
    assert venue.clock.offset_ms == 0
    base = "ETH" if data.capture.symbol.startswith("ETH") else "BTC"
    eng = TradingEngine(venue, spot_balances={"USDT": 1e12, base: 1e9}, futures_balance=1e12)
    market, symbol = data.capture.market, data.capture.symbol
    placed: list[tuple[Any, int, str, float]] = []
    end = times[-1] + int(horizon_s * 1000)
    pending = list(times)
    for t in range(times[0], end + 1, 1000):
        clock.t = t
        eng.step()
        while pending and pending[0] <= t:
            pending.pop(0)
            for side in ("BUY", "SELL"):
                for size in sizes:
                    placed.append(
                        (_place(eng, venue, market, symbol, side, size, t), t, side, size)
                    )
    out = []
    for o, t, side, size in placed:
        done = o is not None and o.status == "FILLED" and o.update_time <= t + horizon_s * 1000
        out.append(Outcome(t, side, size, (o.update_time - t) / 1000 if done else None))
    return out


def _place(eng: Any, venue: Any, market: str, symbol: str, side: str, size: float, t: int) -> Any:
    from freqtrade_exec_ext.localex.errors import VenueError
    from freqtrade_exec_ext.localex.model import steps

    book = venue.book_at(market, symbol, 1, t)
    price = book.bids[0][0] if side == "BUY" else book.asks[0][0]
    rules = venue.rules[market][symbol]
    min_notional = _min_notional(venue.filters(market, symbol))
    qty = steps(size / price, rules.step)
    while qty * price < min_notional:
        qty = round(qty + rules.step, 10)
    kind = (
        {"type_": "LIMIT_MAKER"} if market == "spot" else {"type_": "LIMIT", "time_in_force": "GTX"}
    )
    try:
        return eng.new_order(
            market, symbol, side, kind["type_"], qty, price,
            time_in_force=kind.get("time_in_force"),
        )  # fmt: skip
    except VenueError:
        return None


def _min_notional(filters: dict[str, dict[str, Any]]) -> float:
    f = filters.get("MIN_NOTIONAL") or filters.get("NOTIONAL") or {}
    return float(f.get("minNotional", f.get("notional", 0)) or 0)


# ------------------------------------------------------------------ statistics


@dataclass
class Row:
    name: str
    source: str
    n: int
    fill: dict[int, float]  # horizon -> share filled (0..1)
    median_ttf_s: float


def summarize(name: str, source: str, outcomes: list[Outcome]) -> Row:
    ttf = np.array([o.fill_s if o.fill_s is not None else np.inf for o in outcomes])
    fill = {h: float(np.mean(ttf <= h)) for h in HORIZONS_S}
    done = ttf[np.isfinite(ttf)]
    return Row(name, source, len(outcomes), fill, float(np.median(done)) if len(done) else math.nan)


@dataclass
class Bias:
    """Venue minus tape, pooled over the markets: points of fill probability per horizon,
    with a 95 % block-bootstrap interval, and the median time to fill (venue - tape, s)."""

    points: dict[int, float]
    low: dict[int, float]
    high: dict[int, float]
    ttf_s: float
    ttf_low: float
    ttf_high: float
    resamples: int = 0
    blocks: int = 0
    detail: dict[str, Any] = field(default_factory=dict)

    def beyond_noise(self) -> list[int]:
        """Horizons whose interval excludes 0."""
        return [h for h in HORIZONS_S if self.low[h] > 0 or self.high[h] < 0]


def _blocks(outcomes: list[Outcome], block_ms: int) -> dict[int, list[Outcome]]:
    out: dict[int, list[Outcome]] = {}
    for o in outcomes:
        out.setdefault(o.placed_ms // block_ms, []).append(o)
    return out


def _stats(tape: list[Outcome], venue: list[Outcome]) -> tuple[np.ndarray, float]:
    def arr(xs: list[Outcome]) -> np.ndarray:
        return np.array([o.fill_s if o.fill_s is not None else np.inf for o in xs])

    a, b = arr(tape), arr(venue)
    diff = np.array([np.mean(b <= h) - np.mean(a <= h) for h in HORIZONS_S]) * 100
    fa, fb = a[np.isfinite(a)], b[np.isfinite(b)]
    dttf = (np.median(fb) if len(fb) else np.nan) - (np.median(fa) if len(fa) else np.nan)
    return diff, float(dttf)


def bias(
    pairs: list[tuple[list[Outcome], list[Outcome]]],
    resamples: int = 1000,
    block_s: int = 60,
    seed: int = SEED,
) -> Bias:
    """Pooled venue-minus-tape bias with a block bootstrap (blocks resampled per market)."""
    rng = np.random.default_rng(seed)
    tape_all = [o for t, _ in pairs for o in t]
    venue_all = [o for _, v in pairs for o in v]
    point, dttf = _stats(tape_all, venue_all)
    per_market = [(_blocks(t, block_s * 1000), _blocks(v, block_s * 1000)) for t, v in pairs]
    draws, ttfs = [], []
    for _ in range(resamples):
        tape_s: list[Outcome] = []
        venue_s: list[Outcome] = []
        for bt, bv in per_market:
            keys = sorted(set(bt) & set(bv))
            for key in rng.choice(keys, size=len(keys), replace=True):
                tape_s += bt[int(key)]
                venue_s += bv[int(key)]
        d, tt = _stats(tape_s, venue_s)
        draws.append(d)
        ttfs.append(tt)
    lo, hi = np.nanpercentile(np.array(draws), [2.5, 97.5], axis=0)
    tlo, thi = np.nanpercentile(np.array(ttfs), [2.5, 97.5])
    n_blocks = sum(len(set(bt) & set(bv)) for bt, bv in per_market)
    return Bias(
        dict(zip(HORIZONS_S, point.tolist(), strict=True)),
        dict(zip(HORIZONS_S, lo.tolist(), strict=True)),
        dict(zip(HORIZONS_S, hi.tolist(), strict=True)),
        dttf, float(tlo), float(thi), resamples, n_blocks,
    )  # fmt: skip
