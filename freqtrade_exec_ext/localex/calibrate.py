"""Derive the order-book model's parameters from real Binance L2 books.

Run as ``python -m freqtrade_exec_ext.localex.calibrate [--l2-dir DIR] [--out FILE]``.

Input: the 1-second top-20 books in ``binance-l2-trades-2024-08-08/derived/l2/`` (ccxt
``fetch_order_book`` shape, one JSON object a line) and the trades of the same window in
``derived/freqtrade-datadir/`` (for the traded notional the depth is measured against).

Output (``localex/data/book-calibration.json``), per market (``spot``, ``usdm``), taken from
the BTC/USDT books:

* ``spread_bps``: quantiles (p05/p50/p95) of the quoted spread in bps of the mid;
* ``offset_bps``: median distance of level k (k = 0..19) from the mid, in bps (both sides);
* ``notional_share``: median notional of level k divided by the 5-minute traded notional
  of the window (``ref_quote_volume_5m``): this is how the model scales depth by candle volume;
* ``noise_sigma``: spread of log(level notional / median notional of that level);
* ``top20_notional``: quantiles of one side's top-20 notional (the range tests check against);
* ``volume_exponent``: how depth grows with traded volume, estimated from the USDT-M BTC and
  ETH books (log depth ratio / log volume ratio), clamped to [0.3, 1.0].

It also writes ``localex/data/path-calibration.json``: the volatility ``k`` of the
intra-candle bridge (``intracandle.py``), the median over the complete one-minute candles of
the three captures of ``sqrt(sum of squared 1 s changes of the book mid) / (high - low)``
(the high and low of the candle built from the trades), so that the bridge wiggles inside
a candle as much as the real price did.

Pure standard library + numpy/pandas; nothing here talks to an exchange.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_L2_ROOT = Path("/work/shared/data/binance-l2-trades-2024-08-08")
DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "book-calibration.json"
DEFAULT_PATH_OUT = Path(__file__).resolve().parent / "data" / "path-calibration.json"
PATH_STEP_MS = 1_000  # the bridge's resolution: the books' (one a second)
LEVELS = 20
FILES = {
    "spot": ("spot_BTC_USDT-l2top20-1s.jsonl.gz", "BTC_USDT-trades.feather"),
    "usdm": ("usdm_BTC_USDT_USDT-l2top20-1s.jsonl.gz", "futures/BTC_USDT_USDT-trades.feather"),
}
ETH_USDM = ("usdm_ETH_USDT_USDT-l2top20-1s.jsonl.gz", "futures/ETH_USDT_USDT-trades.feather")


def _read_books(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt") as fh:
        books = [json.loads(line) for line in fh if line.strip()]
    return [b for b in books if len(b["bids"]) >= LEVELS and len(b["asks"]) >= LEVELS]


def _ref_volume_5m(trades_path: Path) -> float:
    import pandas as pd

    trades = pd.read_feather(trades_path)
    span_s = max((trades["timestamp"].max() - trades["timestamp"].min()) / 1000.0, 1.0)
    return float(trades["cost"].sum() / span_s * 300.0)


def _q(values: np.ndarray) -> dict[str, float]:
    return {
        "p05": float(np.quantile(values, 0.05)),
        "p50": float(np.quantile(values, 0.50)),
        "p95": float(np.quantile(values, 0.95)),
    }


def book_stats(books: list[dict[str, Any]], ref_quote_volume_5m: float) -> dict[str, Any]:
    """Statistics of a list of ccxt-shaped books (each with >= 20 levels a side)."""
    bids = np.array([[lvl[:2] for lvl in b["bids"][:LEVELS]] for b in books], dtype=float)
    asks = np.array([[lvl[:2] for lvl in b["asks"][:LEVELS]] for b in books], dtype=float)
    mid = (bids[:, 0, 0] + asks[:, 0, 0]) / 2.0
    spread_bps = (asks[:, 0, 0] - bids[:, 0, 0]) / mid * 1e4
    off_bid = (mid[:, None] - bids[:, :, 0]) / mid[:, None] * 1e4
    off_ask = (asks[:, :, 0] - mid[:, None]) / mid[:, None] * 1e4
    offsets = np.concatenate([off_bid, off_ask])  # (2n, 20)
    notional = np.concatenate([bids[:, :, 0] * bids[:, :, 1], asks[:, :, 0] * asks[:, :, 1]])
    med_notional = np.median(notional, axis=0)
    log_dev = np.log(np.maximum(notional, 1e-9) / med_notional[None, :])
    top20 = notional.sum(axis=1)
    return {
        "books": len(books),
        "mid_p50": float(np.median(mid)),
        "ref_quote_volume_5m": ref_quote_volume_5m,
        "spread_bps": _q(spread_bps),
        "offset_bps": [round(float(x), 6) for x in np.median(offsets, axis=0)],
        "notional_share": [float(x) for x in med_notional / ref_quote_volume_5m],
        "noise_sigma": round(float(np.median(np.abs(log_dev)) * 1.4826), 4),
        "top20_notional": _q(top20),
    }


def calibrate(l2_root: Path) -> dict[str, Any]:
    l2 = l2_root / "derived" / "l2"
    trades = l2_root / "derived" / "freqtrade-datadir"
    out: dict[str, Any] = {
        "source": "binance-l2-trades-2024-08-08 (BTC/USDT spot and USDT-M, 1 s top-20 books)",
        "levels": LEVELS,
        "markets": {},
    }
    for market, (book_file, trades_file) in FILES.items():
        out["markets"][market] = book_stats(
            _read_books(l2 / book_file), _ref_volume_5m(trades / trades_file)
        )
    eth = book_stats(_read_books(l2 / ETH_USDM[0]), _ref_volume_5m(trades / ETH_USDM[1]))
    btc = out["markets"]["usdm"]
    vol_ratio = eth["ref_quote_volume_5m"] / btc["ref_quote_volume_5m"]
    depth_ratio = eth["top20_notional"]["p50"] / btc["top20_notional"]["p50"]
    raw = math.log(depth_ratio) / math.log(vol_ratio) if vol_ratio != 1 else 0.5
    out["volume_exponent_raw"] = round(raw, 4)
    out["volume_exponent"] = round(min(max(raw, 0.3), 1.0), 4)
    out["check_usdm_eth"] = {
        "ref_quote_volume_5m": eth["ref_quote_volume_5m"],
        "spread_bps": eth["spread_bps"],
        "top20_notional": eth["top20_notional"],
    }
    return out


def candle_k(mid_ms: np.ndarray, mid: np.ndarray, candles: Any) -> list[float]:
    """``sqrt(realised variance of the 1 s mid) / range`` of each complete 1m candle."""
    sec = mid_ms // 1000
    out = []
    for date, high, low in zip(candles["date"], candles["high"], candles["low"], strict=True):
        m0 = int(date.timestamp())
        inside = (sec >= m0) & (sec <= m0 + 60)
        if inside.sum() < 55 or high <= low:  # incomplete minute, or a flat one
            continue
        out.append(float(np.sqrt(np.sum(np.diff(mid[inside]) ** 2)) / (high - low)))
    return out


def path_calibration(l2_root: Path) -> dict[str, Any]:
    from freqtrade_exec_ext.localex import tape

    by_market: dict[str, list[float]] = {}
    for capture in tape.CAPTURES:
        data = tape.load(l2_root, capture)
        mid = np.array([(b[0][0] + a[0][0]) / 2 for b, a in zip(data.bids, data.asks, strict=True)])
        by_market[capture.name] = candle_k(data.book_ms, mid, tape.candles_1m(data))
    pooled = [k for ks in by_market.values() for k in ks]
    return {
        "source": "binance-l2-trades-2024-08-08 (spot BTC, USD-M BTC and ETH: 1 s books, trades)",
        "method": "median over complete 1m candles of sqrt(sum of squared 1 s mid changes) / "
        "(high - low)",
        "k": round(float(np.median(pooled)), 4),
        "step_ms": PATH_STEP_MS,
        "candles": len(pooled),
        "k_by_market": {m: round(float(np.median(ks)), 4) for m, ks in by_market.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--l2-dir", type=Path, default=DEFAULT_L2_ROOT)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--path-out", type=Path, default=DEFAULT_PATH_OUT)
    args = parser.parse_args(argv)
    if not (args.l2_dir / "derived" / "l2").is_dir():
        print(f"--l2-dir {args.l2_dir}: no derived/l2 folder with L2 books", flush=True)
        return 2
    result = calibrate(args.l2_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    args.path_out.write_text(json.dumps(path_calibration(args.l2_dir), indent=1) + "\n")
    print(f"wrote {args.path_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
