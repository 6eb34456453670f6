"""Execution-quality metrics over a frame of orders (pure: numpy/pandas, no Freqtrade).

Every reader (database, backtest) produces one row per order with the columns of
:data:`ORDER_COLUMNS`; everything the report shows is computed here from those columns.

Conventions (the same as the execution ledger):

* bps are **positive when they cost money**: a buy filled above its reference, a sell
  filled below it.  ``sign`` is +1 for a buy and -1 for a sell.
* Money is in the stake (quote) currency.  Implementation-shortfall parts are costs:
  positive = money lost, negative = money gained (price improvement, funding received).
* Percentiles use linear interpolation between order statistics (numpy's default): the
  median of (1, 2, 3, 10) is 2.5 and its p90 is 7.9.
* A metric that cannot be computed from the input is ``None`` (never 0), and the report
  lists why in its notes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

GROUP_KEYS: tuple[str, ...] = ("bot", "strategy", "pair", "side", "order_type", "stage")

# name -> (dtype, meaning).  Readers must fill every column; unknown numbers are NaN.
# Markouts are extra columns ``mk_<horizon>`` (bps, positive = adverse), kept as they come.
ORDER_COLUMNS: dict[str, tuple[str, str]] = {
    "bot": ("category", "the database (bot) the order comes from; '' for one source"),
    "strategy": ("category", "Freqtrade strategy class name"),
    "pair": ("category", "pair, e.g. BTC/USDT"),
    "side": ("category", "order side on the exchange: buy | sell"),
    "intent": ("category", "entry | exit of the trade"),
    "order_type": ("category", "limit | market | stop_loss_limit | ..."),
    "stage": ("category", "backtest | dry_run | live"),
    "reason": ("category", "orders.ft_order_tag: the enter tag or exit reason"),
    "trade_id": ("int64", "Freqtrade trade id"),
    "row_id": ("int64", "orders.id in the database (0 for backtests)"),
    "order_id": ("object", "exchange order id ('' when not read yet; see row_id)"),
    "status": ("category", "filled | partial | cancelled | open"),
    "is_stop": ("bool", "a stop-loss order (orders.ft_order_side = stoploss)"),
    "is_short": ("bool", "the trade is a short"),
    "amount": ("float64", "ordered quantity (base currency)"),
    "filled": ("float64", "filled quantity (base currency)"),
    "requested_price": ("float64", "price Freqtrade requested (orders.ft_price)"),
    "fill_price": ("float64", "average fill price"),
    "decision_price": ("float64", "the decision price recorded with the fill (ledger)"),
    "arrival_mid": ("float64", "order-book mid at decision time (ledger, live/dry-run)"),
    "spread_cost_bps": ("float64", "half the quoted spread paid when crossing (ledger)"),
    "fee": ("float64", "fee in stake currency"),
    "fee_estimated": ("bool", "fee computed from the trade's fee rate, not from the fill"),
    "liquidity": ("category", "maker | taker | '' when unknown"),
    "funding": ("float64", "funding of this order's period; + received, - paid"),
    "budget_bps": ("float64", "slippage budget of the contract (ledger or --contract)"),
    "over_budget": ("float64", "1.0 over budget, 0.0 within, NaN unknown"),
    "placed_ts": ("float64", "placement time, seconds since the epoch (UTC)"),
    "filled_ts": ("float64", "fill time, seconds since the epoch (UTC)"),
    "has_ledger": ("bool", "an execution-ledger record exists for the order"),
}

BPS = 10_000.0


def empty_orders() -> pd.DataFrame:
    return coerce_orders(pd.DataFrame({c: [] for c in ORDER_COLUMNS}))


def _missing(dtype: str, n: int, index: pd.Index) -> pd.Series:
    if dtype == "float64":
        return pd.Series(np.full(n, np.nan), index=index)
    if dtype == "bool":
        return pd.Series(np.zeros(n, dtype=bool), index=index)
    if dtype == "int64":
        return pd.Series(np.zeros(n, dtype=np.int64), index=index)
    return pd.Series([""] * n, index=index, dtype=object)


def _as_category(s: pd.Series) -> pd.Series:
    if not isinstance(s.dtype, pd.CategoricalDtype):
        return s.fillna("").astype(str).astype("category")
    if s.isna().any():
        if "" not in s.cat.categories:
            s = s.cat.add_categories([""])
        s = s.fillna("")
    return s


def coerce_orders(df: pd.DataFrame) -> pd.DataFrame:
    """Give every column of :data:`ORDER_COLUMNS` its dtype (missing columns -> NaN/'');
    markout columns (``mk_*``) are kept as floats."""
    out = {}
    n = len(df)
    for col, (dtype, _) in ORDER_COLUMNS.items():
        s = df[col] if col in df.columns else _missing(dtype, n, df.index)
        if dtype == "category":
            s = _as_category(s)
        elif dtype == "object":
            s = s.fillna("").astype(str)
        elif dtype == "bool":
            s = s.fillna(False).astype(bool)
        elif dtype == "int64":
            s = pd.to_numeric(s, errors="coerce").fillna(0).astype(np.int64)
        else:
            s = pd.to_numeric(s, errors="coerce").astype(np.float64)
        out[col] = s
    for col in df.columns:
        if col.startswith("mk_"):
            out[col] = pd.to_numeric(df[col], errors="coerce").astype(np.float64)
    return pd.DataFrame(out, index=df.index)


# ---------------------------------------------------------------------------- scalars


def side_sign(side: str) -> int:
    return 1 if side == "buy" else -1


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolation percentile (q in 0..100) of the finite values, None if none."""
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if arr.size == 0:
        return None
    return float(np.percentile(arr, q))


def weighted_mean(values: Sequence[float], weights: Sequence[float]) -> float | None:
    """Sum(v*w)/Sum(w) over pairs where both are finite and w > 0; None if no weight."""
    num = den = 0.0
    for v, w in zip(values, weights, strict=True):
        if v is None or w is None or not (math.isfinite(v) and math.isfinite(w)) or w <= 0:
            continue
        num += v * w
        den += w
    return num / den if den > 0 else None


def cat_in(s: pd.Series, values: Sequence[str]) -> np.ndarray:
    """``s.isin(values)`` as a bool array, fast for categoricals (compares codes)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        idx = [i for i, c in enumerate(s.cat.categories) if str(c) in values]
        return np.isin(s.cat.codes.to_numpy(), idx)
    out: np.ndarray = s.astype(str).isin(list(values)).to_numpy()
    return out


# ------------------------------------------------------------------- per-order columns


def add_costs(df: pd.DataFrame) -> pd.DataFrame:
    """Add per-fill notional and slippage (bps) to an order frame (in place; returned).

    * ``notional`` = filled * fill_price.
    * ``slip_decision_bps`` / ``slip_arrival_bps`` / ``slip_requested_bps``: fill price
      against the decision price recorded with the fill, the arrival mid, the requested
      price.
    * ``over_budget``: where the readers left it unknown and a budget is known, whether
      the decision-price slippage is above it (the mixin's own rule).

    The implementation shortfall is per execution (a decision and all its child orders),
    not per order: see :mod:`.executions`.
    """
    out = df  # columns are added in place: the order frame is large
    sign = np.where(cat_in(out["side"], ("buy",)), 1.0, -1.0)
    filled = out["filled"].to_numpy(dtype=float)
    fill = out["fill_price"].to_numpy(dtype=float)
    fill_ok = (filled > 0) & np.isfinite(fill) & (fill > 0)
    out["notional"] = np.where(fill_ok, filled * np.where(fill_ok, fill, 0.0), 0.0)

    def bps(ref: np.ndarray) -> np.ndarray:
        ok = fill_ok & np.isfinite(ref) & (ref > 0)
        safe = np.where(ok, ref, 1.0)
        return np.where(ok, sign * (fill - safe) / safe * BPS, np.nan)

    out["slip_decision_bps"] = bps(out["decision_price"].to_numpy(dtype=float))
    out["slip_arrival_bps"] = bps(out["arrival_mid"].to_numpy(dtype=float))
    out["slip_requested_bps"] = bps(out["requested_price"].to_numpy(dtype=float))
    ob = out["over_budget"].to_numpy(dtype=float)
    budget = out["budget_bps"].to_numpy(dtype=float)
    slip = out["slip_decision_bps"].to_numpy(dtype=float)
    known = np.isfinite(budget) & np.isfinite(slip)
    out["over_budget"] = np.where(
        np.isfinite(ob), ob, np.where(known, (slip > budget + 1e-9).astype(float), np.nan)
    )
    return out


# ------------------------------------------------------------------------- aggregation

SLIP_MEASURES = ("decision", "arrival", "requested")


@dataclass(frozen=True)
class Availability:
    """Which inputs the orders carried: decides what the report can compute."""

    orders: int
    filled: int
    with_decision: int
    with_arrival: int
    with_liquidity: int
    with_spread: int
    fees_estimated: int
    with_budget: int


def availability(df: pd.DataFrame) -> Availability:
    filled = df["notional"] > 0
    return Availability(
        orders=len(df),
        filled=int(filled.sum()),
        with_decision=int(df["slip_decision_bps"].notna().sum()),
        with_arrival=int(df["slip_arrival_bps"].notna().sum()),
        with_liquidity=int((filled & cat_in(df["liquidity"], ("maker", "taker"))).sum()),
        with_spread=int((filled & df["spread_cost_bps"].notna()).sum()),
        fees_estimated=int((filled & df["fee_estimated"]).sum()),
        with_budget=int((filled & df["budget_bps"].notna()).sum()),
    )


def _none(x: Any) -> float | None:
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f + 0.0 if math.isfinite(f) else None


def _groups(df: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Group number per row (in the keys' category order) and each group's key values."""
    n = len(df)
    if not keys:
        return np.zeros(n, dtype=np.int64), [()]
    gid = np.zeros(n, dtype=np.int64)
    cats = []
    for k in keys:
        s = df[k] if isinstance(df[k].dtype, pd.CategoricalDtype) else df[k].astype("category")
        c = s.cat.codes.to_numpy().astype(np.int64)
        labels = [str(x) for x in s.cat.categories] + [""]
        gid = gid * len(labels) + np.where(c < 0, len(labels) - 1, c)
        cats.append(labels)
    uniq, inv = np.unique(gid, return_inverse=True)
    names = []
    for u in uniq:
        parts = []
        for labels in reversed(cats):
            parts.append(labels[u % len(labels)])
            u //= len(labels)
        names.append(tuple(reversed(parts)))
    return inv.reshape(-1), names


def _small_ints(a: np.ndarray) -> np.ndarray:
    """``a`` (non-negative) in the smallest integer type that holds it."""
    top = int(a.max()) if len(a) else 0
    for t in (np.int16, np.int32):
        if top <= np.iinfo(t).max:
            return a.astype(t, copy=False)
    return a


def _quantiles(v: np.ndarray, gid: np.ndarray, ng: int) -> dict[str, np.ndarray]:
    """Per group: count, mean, median, p90, max of the finite values (linear interpolation)."""
    ok = np.isfinite(v)
    g, x = gid[ok], v[ok]
    if ng == 1:  # one group (the totals): selection instead of a sort
        n = len(x)
        q = np.percentile(x, [50, 90]) if n else np.zeros(2)
        return {
            "count": np.array([n]),
            "mean": np.array([x.mean() if n else 0.0]),
            "median": q[:1],
            "p90": q[1:],
            "max": np.array([x.max() if n else 0.0]),
        }
    # values sorted within groups: a sort of the values, then a stable sort by group
    # (radix for small group numbers); three times faster than np.lexsort((x, g))
    order = np.argsort(x)
    order = order[np.argsort(_small_ints(g[order]), kind="stable")]
    g, x = g[order], x[order]
    count = np.bincount(g, minlength=ng)
    start = np.concatenate(([0], np.cumsum(count)[:-1]))
    out = {"count": count, "mean": np.bincount(g, x, minlength=ng) / np.where(count, count, 1)}
    for name, q in (("median", 0.5), ("p90", 0.9)):
        pos = q * np.maximum(count - 1, 0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
        a = x[np.minimum(start + lo, len(x) - 1)] if len(x) else np.zeros(ng)
        b = x[np.minimum(start + hi, len(x) - 1)] if len(x) else np.zeros(ng)
        out[name] = a + (pos - lo) * (b - a)
    out["max"] = x[np.maximum(start + count - 1, 0)] if len(x) else np.zeros(ng)
    return out


def _slip_dict(st: dict[str, np.ndarray], i: int, wmean: float) -> dict[str, Any] | None:
    if st["count"][i] <= 0:
        return None
    return {
        "n": int(st["count"][i]),
        "mean": _none(st["mean"][i]),
        "median": _none(st["median"][i]),
        "p90": _none(st["p90"][i]),
        "worst": _none(st["max"][i]),
        "weighted": _none(wmean),
    }


def summarize(df: pd.DataFrame, keys: Sequence[str] = GROUP_KEYS) -> list[dict[str, Any]]:
    """One summary dict per group of ``keys`` (in the keys' category order), from a frame
    after :func:`add_costs`; an empty ``keys`` gives the single all-orders total.  Sums by
    ``bincount`` and order statistics by one sort per measure (no grouped copies)."""
    if df.empty:
        return []
    keys = list(keys)
    gid, names = _groups(df, keys)
    ng = len(names)

    def total(w: np.ndarray) -> np.ndarray:
        return np.bincount(gid, w.astype(float), minlength=ng)

    notional = df["notional"].to_numpy(dtype=float)
    has = notional > 0
    fee = df["fee"].to_numpy(dtype=float)
    fee_ok = has & np.isfinite(fee)
    liq = df["liquidity"]
    maker = cat_in(liq, ("maker",))
    known = maker | cat_in(liq, ("taker",))
    funding = np.nan_to_num(df["funding"].to_numpy(dtype=float))
    sp = df["spread_cost_bps"].to_numpy(dtype=float)
    sp_ok = has & np.isfinite(sp)
    sums = {
        "orders": np.bincount(gid, minlength=ng),
        "filled": total(has),
        "cancelled": total(cat_in(df["status"], ("cancelled", "partial"))),
        "open": total(cat_in(df["status"], ("open",))),
        "notional": total(notional),
        "fees": total(np.where(fee_ok, fee, 0.0)),
        "fees_n": total(fee_ok),
        "fees_estimated": total(has & df["fee_estimated"].to_numpy(dtype=bool)),
        "maker": total(np.where(maker, notional, 0.0)),
        "known": total(np.where(known, notional, 0.0)),
        "paid": total(np.clip(-funding, 0.0, None)),
        "received": total(np.clip(funding, 0.0, None)),
        "breaches": total(df["over_budget"].to_numpy(dtype=float) == 1.0),
        "spread_w": total(np.where(sp_ok, sp * notional, 0.0)),
        "spread_n": total(np.where(sp_ok, notional, 0.0)),
    }
    stats, wmean = {}, {}
    for m in SLIP_MEASURES:
        v = df[f"slip_{m}_bps"].to_numpy(dtype=float)
        ok = np.isfinite(v)
        stats[m] = _quantiles(v, gid, ng)
        nsum = total(np.where(ok, notional, 0.0))
        wmean[m] = np.where(
            nsum > 0, total(np.where(ok, v * notional, 0.0)) / np.where(nsum > 0, nsum, 1.0), np.nan
        )
    rows = []
    for i, key in enumerate(names):
        n_ = float(sums["notional"][i])
        row: dict[str, Any] = dict(zip(keys, key, strict=True))
        row.update(
            {
                "orders": int(sums["orders"][i]),
                "filled": int(sums["filled"][i]),
                "cancelled": int(sums["cancelled"][i]),
                "open": int(sums["open"][i]),
                "filled_notional": n_,
            }
        )
        for m in SLIP_MEASURES:
            row[f"slip_{m}"] = _slip_dict(stats[m], i, float(wmean[m][i]))
        row["spread_cost_bps"] = (
            _none(sums["spread_w"][i] / sums["spread_n"][i]) if sums["spread_n"][i] > 0 else None
        )
        fees = float(sums["fees"][i]) if sums["fees_n"][i] else None
        row["fees"] = fees
        row["fees_bps"] = fees / n_ * BPS if fees is not None and n_ > 0 else None
        row["fees_estimated"] = int(sums["fees_estimated"][i])
        kln = float(sums["known"][i])
        row["maker_share"] = float(sums["maker"][i]) / kln if kln > 0 else None
        row["funding_paid"] = float(sums["paid"][i])
        row["funding_received"] = float(sums["received"][i])
        row["breaches"] = int(sums["breaches"][i])
        rows.append(row)
    return rows


def breaches(df: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    """Filled orders over their slippage budget, worst first (after :func:`add_costs`)."""
    sel = df.loc[df["over_budget"] == 1.0]
    measured = sel["slip_decision_bps"].where(
        sel["slip_decision_bps"].notna(), sel["slip_requested_bps"]
    )
    sel = sel.assign(slippage_bps=measured, excess_bps=measured - sel["budget_bps"])
    sel = sel.sort_values("excess_bps", ascending=False, kind="stable")
    return sel.head(limit) if limit is not None else sel


def recheck_budget(df: pd.DataFrame, entry_bps: float, exit_bps: float) -> pd.DataFrame:
    """Budget from a contract: entry/exit budget by intent; over = slippage > budget.

    Slippage is measured against the decision price; orders without one (no ledger) are
    measured against the requested price.
    """
    out = df  # in place, like add_costs
    out["budget_bps"] = np.where(cat_in(out["intent"], ("entry",)), entry_bps, exit_bps)
    slip = out["slip_decision_bps"].where(
        out["slip_decision_bps"].notna(), out["slip_requested_bps"]
    )
    out["over_budget"] = np.where(slip.notna(), (slip > out["budget_bps"]).astype(float), np.nan)
    return out
