"""Markouts: the mid-price move after each fill, per horizon (bps, positive = adverse).

A fill's markout at horizon ``h`` is ``-s * (mid(t + h) - mid(t)) / mid(t) * 1e4``
(``s`` = +1 buy, -1 sell): a buy followed by a falling mid was adversely selected.  Live
and dry-run fills carry them in their ledger record (``markouts_bps``: ``1s``, ``10s``,
``60s``, ``300s``); backtest fills get them from candles (:mod:`.candle_markouts`).  The
order frame holds them as columns ``mk_<horizon>``.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_exec_ext.report.metrics import _none, cat_in

_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def horizon_seconds(label: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", label)
    return float(m.group(1)) * _UNIT[m.group(2)] if m else float("inf")


def columns(df: pd.DataFrame) -> list[str]:
    """The markout columns of a frame, shortest horizon first."""
    return sorted(
        (c for c in df.columns if c.startswith("mk_")), key=lambda c: horizon_seconds(c[3:])
    )


def _stats(v: np.ndarray, w: np.ndarray) -> dict[str, Any]:
    ok = np.isfinite(v)
    if not ok.any():
        return {"n": 0, "mean": None, "median": None, "weighted": None}
    ws = w[ok].sum()
    return {
        "n": int(ok.sum()),
        "mean": _none(v[ok].mean()),
        "median": _none(np.median(v[ok])),
        "weighted": _none((v[ok] * w[ok]).sum() / ws) if ws > 0 else None,
    }


def summarize(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Per horizon: all fills, maker fills and taker fills (n, mean, median, weighted)."""
    filled = df.loc[df["notional"] > 0]
    out = []
    maker = cat_in(filled["liquidity"], ("maker",))
    taker = cat_in(filled["liquidity"], ("taker",))
    w = filled["notional"].to_numpy(float)
    for col in columns(filled):
        v = filled[col].to_numpy(float)
        every, makers, takers = _stats(v, w), _stats(v[maker], w[maker]), _stats(v[taker], w[taker])
        mk, tk = makers["mean"], takers["mean"]
        if every["n"]:
            out.append(
                {
                    "horizon": col[3:],
                    "all": every,
                    "maker": makers,
                    "taker": takers,
                    "maker_minus_taker": mk - tk if mk is not None and tk is not None else None,
                }
            )
    return out


def gaps(df: pd.DataFrame, kind: str) -> list[str]:
    filled = int((df["notional"] > 0).sum())
    cols = columns(df)
    if not filled:
        return []
    values = df.loc[df["notional"] > 0, cols].to_numpy(float) if cols else np.zeros((0, 0))
    if not cols or not np.isfinite(values).any():
        if kind == "backtest":
            return ["markouts: no candles found for the backtest's pairs (--datadir)"]
        return ["markouts: no fill has a markouts_bps record in its ledger entry"]
    have = int(np.isfinite(values).any(axis=1).sum())
    if have < filled:
        return [f"markouts of {filled - have} of {filled} fills: not captured"]
    return []
