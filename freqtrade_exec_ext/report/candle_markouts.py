"""Backtest markouts from candles: the horizons the candle grid allows.

A backtest has no order book, so a fill's markout is read from the candles of its pair:
with timeframe ``tf`` and fill time ``t`` (Freqtrade stamps backtest fills with the
candle's open time), the markout at ``h`` (``tf``, ``3 tf``, ``12 tf``: ``5m``, ``15m``,
``1h`` for 5-minute candles) is ``-s * (open(t + h) - P) / P * 1e4`` for a fill at ``P``
(positive = adverse).  Candles come from ``--datadir``, else the datadir of the config
exported with the result, else ``user_data/data/<exchange>``, through
:func:`freqtrade_exec_ext.compat.load_candles_before`.
"""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_exec_ext.report.metrics import cat_in

MULTIPLES = (1, 3, 12)
_TF = {"m": 60, "h": 3600, "d": 86400}


def timeframe_seconds(tf: str) -> int | None:
    try:
        return int(tf[:-1]) * _TF[tf[-1]]
    except (KeyError, ValueError, IndexError):
        return None


def label(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _exported_config(result: Path) -> dict[str, Any]:
    """The config Freqtrade exports beside (or inside) the result, if any."""
    name = result.with_suffix("").name + "_config.json"
    try:
        if result.suffix == ".zip":
            with zipfile.ZipFile(result) as zf:
                return dict(json.loads(zf.read(name)))
        side = result.parent / name
        return dict(json.loads(side.read_text())) if side.is_file() else {}
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, TypeError):
        return {}


def _datadir(cfg: dict[str, Any], datadir: Path | None) -> Path:
    if datadir is not None:
        return datadir
    if cfg.get("datadir"):
        return Path(cfg["datadir"])
    exchange = (cfg.get("exchange") or {}).get("name") or "binance"
    return Path("user_data") / "data" / str(exchange)


def _opens(cfg: dict[str, Any], pair: str, tf: str, start: float, end: float) -> pd.Series:
    from freqtrade_exec_ext.compat import load_candles_before

    step = timeframe_seconds(tf) or 300
    count = int((end - start) // step) + 2
    df = load_candles_before(cfg, pair, tf, datetime.fromtimestamp(end + step, tz=UTC), count)
    if df is None or not len(df):
        return pd.Series(dtype=float)
    secs = (
        pd.to_datetime(df["date"], utc=True) - pd.Timestamp("1970-01-01", tz="UTC")
    ) // pd.Timedelta(seconds=1)
    return pd.Series(df["open"].to_numpy(float), index=secs.to_numpy(np.int64))


def add_candle_markouts(
    orders: pd.DataFrame, data: dict[str, Any], result: Path, datadir: Path | None
) -> list[str]:
    """Add ``mk_<horizon>`` columns (in place); returns notes on what was not found."""
    strategies = data.get("strategy") or {}
    tf = next((str(s.get("timeframe")) for s in strategies.values() if s.get("timeframe")), "")
    step = timeframe_seconds(tf)
    filled = (
        orders["notional"].to_numpy(float) > 0
        if "notional" in orders
        else (orders["filled"].to_numpy(float) > 0)
    )
    if not step or not filled.any():
        return []
    cfg = _exported_config(result)
    cfg = {
        "datadir": str(_datadir(cfg, datadir)),
        "dataformat_ohlcv": cfg.get("dataformat_ohlcv", "feather"),
        "candle_type_def": "futures" if cfg.get("trading_mode") == "futures" else "spot",
    }
    horizons = [step * k for k in MULTIPLES]
    t = orders["filled_ts"].to_numpy(float)
    base = np.floor(t / step) * step
    price = orders["fill_price"].to_numpy(float)
    sign = np.where(cat_in(orders["side"], ("buy",)), 1.0, -1.0)
    cols = {h: np.full(len(orders), np.nan) for h in horizons}
    missing: list[str] = []
    for pair in sorted(orders.loc[filled, "pair"].astype(str).unique()):
        rows = np.flatnonzero(
            filled & (orders["pair"].astype(str).to_numpy() == pair) & np.isfinite(t)
        )
        if not len(rows):
            continue
        try:
            opens = _opens(
                cfg, pair, tf, float(base[rows].min()), float(base[rows].max()) + max(horizons)
            )
        except Exception:  # noqa: BLE001 - no or unreadable candle file: say so, go on
            opens = pd.Series(dtype=float)
        if opens.empty:
            missing.append(pair)
            continue
        for h in horizons:
            future = opens.reindex((base[rows] + h).astype(np.int64)).to_numpy(float)
            cols[h][rows] = -sign[rows] * (future - price[rows]) / price[rows] * 1e4
    for h in horizons:
        orders[f"mk_{label(h)}"] = cols[h]
    if missing:
        return [
            (f"markouts: no {tf} candles for {', '.join(missing)} in {cfg['datadir']} (--datadir)")
        ]
    return []
