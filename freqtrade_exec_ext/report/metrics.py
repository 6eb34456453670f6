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

GROUP_KEYS: tuple[str, ...] = ("strategy", "pair", "side", "order_type", "stage")

# name -> (dtype, meaning).  Readers must fill every column; unknown numbers are NaN.
ORDER_COLUMNS: dict[str, tuple[str, str]] = {
    "strategy": ("category", "Freqtrade strategy class name"),
    "pair": ("category", "pair, e.g. BTC/USDT"),
    "side": ("category", "order side on the exchange: buy | sell"),
    "intent": ("category", "entry | exit of the trade"),
    "order_type": ("category", "limit | market | stop_loss_limit | ..."),
    "stage": ("category", "backtest | dry_run | live"),
    "trade_id": ("int64", "Freqtrade trade id"),
    "row_id": ("int64", "orders.id in the database (0 for backtests)"),
    "order_id": ("object", "exchange order id ('' when not read yet; see row_id)"),
    "status": ("category", "filled | partial | cancelled | open"),
    "amount": ("float64", "ordered quantity (base currency)"),
    "filled": ("float64", "filled quantity (base currency)"),
    "requested_price": ("float64", "price Freqtrade requested (orders.ft_price)"),
    "fill_price": ("float64", "average fill price"),
    "decision_price": ("float64", "close of the signal candle (ledger only)"),
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
    "later_price": ("float64", "next fill price on the same trade and side (cancelled)"),
    "opp_covered": (
        "bool",
        (
            "no opportunity cost: a later fill's decision-price slippage "
            "counts the quantity, or the order was a protective stop-loss"
        ),
    ),
    "has_ledger": ("bool", "an execution-ledger record exists for the order"),
}

BPS = 10_000.0


def empty_orders() -> pd.DataFrame:
    return coerce_orders(pd.DataFrame({c: [] for c in ORDER_COLUMNS}))


def coerce_orders(df: pd.DataFrame) -> pd.DataFrame:
    """Give every column of :data:`ORDER_COLUMNS` its dtype (missing columns -> NaN/'')."""
    out = {}
    n = len(df)
    for col, (dtype, _) in ORDER_COLUMNS.items():
        if col in df.columns:
            s = df[col]
        elif dtype in ("float64",):
            s = pd.Series(np.full(n, np.nan), index=df.index)
        elif dtype == "bool":
            s = pd.Series(np.zeros(n, dtype=bool), index=df.index)
        elif dtype == "int64":
            s = pd.Series(np.zeros(n, dtype=np.int64), index=df.index)
        else:
            s = pd.Series([""] * n, index=df.index, dtype=object)
        if dtype == "category":
            if isinstance(s.dtype, pd.CategoricalDtype):
                if s.isna().any():
                    if "" not in s.cat.categories:
                        s = s.cat.add_categories([""])
                    s = s.fillna("")
            else:
                s = s.fillna("").astype(str).astype("category")
        elif dtype == "object":
            s = s.fillna("").astype(str)
        elif dtype == "bool":
            s = s.fillna(False).astype(bool)
        elif dtype == "int64":
            s = pd.to_numeric(s, errors="coerce").fillna(0).astype(np.int64)
        else:
            s = pd.to_numeric(s, errors="coerce").astype(np.float64)
        out[col] = s
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
    return s.astype(str).isin(list(values)).to_numpy()


# ------------------------------------------------------------------- per-order columns


def add_costs(df: pd.DataFrame) -> pd.DataFrame:
    """Add per-order slippage (bps) and shortfall parts (stake currency) to an order frame
    (in place; the frame is returned).

    Columns added:

    * ``notional`` = filled * fill_price.
    * ``slip_decision_bps`` / ``slip_arrival_bps`` / ``slip_requested_bps``: fill price
      against the decision price, the arrival mid, the requested price.
    * ``is_delay`` = sign * (arrival_mid - decision_price) * filled: the market moved
      between the signal and the moment the order could be placed.
    * ``is_execution`` = sign * (fill - arrival_mid) * filled, split into ``is_spread``
      (spread_cost_bps of the arrival notional) and ``is_impact`` (the rest).  Without an
      arrival mid (backtests) the whole decision-to-fill move is execution and delay is
      unknown; without a decision price either (no ledger) execution is measured against
      the requested price.
    * ``is_fees`` = fee; ``is_funding`` = -funding (paid funding is a cost).
    * ``is_opportunity`` = sign * (later_price - reference) * (amount - filled) for
      cancelled orders whose quantity traded later on the same trade and side; the
      reference is the decision price when known, else the requested price.  It is 0 when
      the later fill carries a decision price (``opp_covered``): that fill's slippage
      against the decision price already contains the chase; and 0 for cancelled
      protective stop-loss orders.  Unknown (NaN) when nothing
      filled later: the unfilled notional is reported instead.
    * ``is_total``: the sum of the known parts.
    """
    out = df  # columns are added in place: the order frame is large
    sign = np.where(cat_in(out["side"], ("buy",)), 1.0, -1.0)
    filled = out["filled"].to_numpy(dtype=float)
    fill = out["fill_price"].to_numpy(dtype=float)
    dec = out["decision_price"].to_numpy(dtype=float)
    arr = out["arrival_mid"].to_numpy(dtype=float)
    req = out["requested_price"].to_numpy(dtype=float)
    is_fill = filled > 0
    fill_ok = is_fill & np.isfinite(fill) & (fill > 0)
    notional = np.where(fill_ok, filled * np.where(fill_ok, fill, 0.0), 0.0)
    out["notional"] = notional

    def bps(ref: np.ndarray) -> np.ndarray:
        ok = fill_ok & np.isfinite(ref) & (ref > 0)
        safe = np.where(ok, ref, 1.0)
        return np.where(ok, sign * (fill - safe) / safe * BPS, np.nan)

    out["slip_decision_bps"] = bps(dec)
    out["slip_arrival_bps"] = bps(arr)
    out["slip_requested_bps"] = bps(req)

    has_dec = fill_ok & np.isfinite(dec) & (dec > 0)
    has_arr = fill_ok & np.isfinite(arr) & (arr > 0)
    has_req = fill_ok & np.isfinite(req) & (req > 0)
    delay = np.where(has_dec & has_arr, sign * (arr - dec) * filled, np.nan)
    ref_exec = np.where(has_arr, arr, np.where(has_dec, dec, np.where(has_req, req, np.nan)))
    execution = np.where(fill_ok & np.isfinite(ref_exec), sign * (fill - ref_exec) * filled, np.nan)
    spread_bps = out["spread_cost_bps"].to_numpy(dtype=float)
    spread = np.where(has_arr & np.isfinite(spread_bps), spread_bps / BPS * arr * filled, np.nan)
    impact = np.where(np.isfinite(spread), execution - spread, np.nan)
    out["is_delay"] = delay
    out["is_execution"] = execution
    out["is_spread"] = spread
    out["is_impact"] = impact
    out["is_fees"] = out["fee"].to_numpy(dtype=float)
    out["is_funding"] = -out["funding"].to_numpy(dtype=float)

    amount = out["amount"].to_numpy(dtype=float)
    unfilled = np.clip(np.nan_to_num(amount) - np.nan_to_num(filled), 0.0, None)
    later = out["later_price"].to_numpy(dtype=float)
    opp_ref = np.where(np.isfinite(dec) & (dec > 0), dec, req)
    cancelled = cat_in(out["status"], ("cancelled", "partial"))
    opp_known = cancelled & (unfilled > 0) & np.isfinite(later) & np.isfinite(opp_ref)
    covered = out["opp_covered"].to_numpy(dtype=bool)
    out["unfilled_notional"] = np.where(
        cancelled & ~covered, unfilled * np.nan_to_num(opp_ref), 0.0
    )
    out["is_opportunity"] = np.where(
        covered,
        0.0,
        np.where(
            opp_known,
            sign * (later - opp_ref) * unfilled,
            np.where(cancelled & (unfilled > 0), np.nan, 0.0),
        ),
    )
    parts = out[["is_delay", "is_execution", "is_fees", "is_funding", "is_opportunity"]]
    out["is_total"] = parts.sum(axis=1, skipna=True, min_count=1)
    return out


# ------------------------------------------------------------------------- aggregation

SLIP_MEASURES = ("decision", "arrival", "requested")
IS_PARTS = ("delay", "execution", "spread", "impact", "fees", "funding", "opportunity", "total")


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
    cancelled_unpriced: int  # cancelled quantity with no later fill to price it


def availability(df: pd.DataFrame) -> Availability:
    filled = df["notional"] > 0
    return Availability(
        orders=len(df),
        filled=int(filled.sum()),
        with_decision=int(df["slip_decision_bps"].notna().sum()),
        with_arrival=int(df["slip_arrival_bps"].notna().sum()),
        with_liquidity=int((filled & cat_in(df["liquidity"], ("maker", "taker"))).sum()),
        with_spread=int(df["is_spread"].notna().sum()),
        fees_estimated=int((filled & df["fee_estimated"]).sum()),
        with_budget=int((filled & df["budget_bps"].notna()).sum()),
        cancelled_unpriced=int(df["is_opportunity"].isna().sum()),
    )


def _none(x: Any) -> float | None:
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f + 0.0 if math.isfinite(f) else None


def summarize(df: pd.DataFrame, keys: Sequence[str] = GROUP_KEYS) -> list[dict[str, Any]]:
    """One summary dict per group of ``keys`` (sorted), from a frame after :func:`add_costs`.

    An empty ``keys`` gives the single all-orders total.
    """
    if df.empty:
        return []
    keys = list(keys)
    notional = df["notional"].to_numpy(dtype=float)
    has = notional > 0
    status = df["status"]
    liq = df["liquidity"]
    funding = df["funding"].fillna(0.0).to_numpy(dtype=float)
    cols: dict[str, Any] = (
        {k: df[k] for k in keys} if keys else {"_all": np.zeros(len(df), dtype=np.int8)}
    )
    cols.update(
        {
            "notional": notional,
            "_filled": has.astype(np.int64),
            "_cancelled": cat_in(status, ("cancelled", "partial")).astype(np.int64),
            "_open": cat_in(status, ("open",)).astype(np.int64),
            "unfilled_notional": df["unfilled_notional"].to_numpy(dtype=float),
            "_fees_known": np.where(has, df["fee"].to_numpy(dtype=float), np.nan),
            "fee_estimated": df["fee_estimated"].to_numpy(dtype=np.int64),
            "_maker_notional": np.where(cat_in(liq, ("maker",)), notional, 0.0),
            "_known_liq_notional": np.where(cat_in(liq, ("maker", "taker")), notional, 0.0),
            "_paid": np.clip(-funding, 0.0, None),
            "_received": np.clip(funding, 0.0, None),
            "_breach": (df["over_budget"].to_numpy(dtype=float) == 1.0).astype(np.int64),
        }
    )
    for m in SLIP_MEASURES:  # NaN where a fill has no such reference: groupby skips them
        v = df[f"slip_{m}_bps"].to_numpy(dtype=float)
        cols[f"slip_{m}_bps"] = v
        cols[f"_w_{m}"] = v * notional
        cols[f"_n_{m}"] = np.where(np.isfinite(v), notional, np.nan)
    sp = df["spread_cost_bps"].to_numpy(dtype=float)
    sp_known = df["is_spread"].notna().to_numpy()
    cols["_w_spread"] = np.where(sp_known, sp * notional, np.nan)
    cols["_n_spread"] = np.where(sp_known, notional, np.nan)
    for part in IS_PARTS:
        cols[f"is_{part}"] = df[f"is_{part}"].to_numpy(dtype=float)
    work = pd.DataFrame(cols, copy=False)
    gkeys = keys or ["_all"]
    g = work.groupby(gkeys, observed=True, sort=True)
    base = g.agg(
        orders=("notional", "size"),
        filled=("_filled", "sum"),
        cancelled=("_cancelled", "sum"),
        open=("_open", "sum"),
        filled_notional=("notional", "sum"),
        unfilled_notional=("unfilled_notional", "sum"),
        fees=("_fees_known", "sum"),
        fees_n=("_fees_known", "count"),
        fees_estimated=("fee_estimated", "sum"),
        maker_notional=("_maker_notional", "sum"),
        known_liq_notional=("_known_liq_notional", "sum"),
        funding_paid=("_paid", "sum"),
        funding_received=("_received", "sum"),
        breaches=("_breach", "sum"),
    )
    stats: dict[str, pd.DataFrame] = {}
    for m in SLIP_MEASURES:
        col = f"slip_{m}_bps"
        s = g[col].agg(["count", "mean", "median", "max"])
        s["p90"] = g[col].quantile(0.9)
        nsum = g[f"_n_{m}"].sum()
        s["wmean"] = (g[f"_w_{m}"].sum() / nsum.where(nsum > 0)).astype(float)
        stats[m] = s
    is_sums = {part: g[f"is_{part}"].agg(["sum", "count"]) for part in IS_PARTS}
    spread = (
        g[["_w_spread", "_n_spread"]]
        .sum()
        .rename(columns={"_w_spread": "_w", "_n_spread": "notional"})
    )
    sp = spread

    rows = []
    for key, b in base.iterrows():
        key_t = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = {}
        if keys:
            row.update({k: str(v) for k, v in zip(keys, key_t, strict=True)})
        notional = float(b["filled_notional"])
        row.update(
            {
                "orders": int(b["orders"]),
                "filled": int(b["filled"]),
                "cancelled": int(b["cancelled"]),
                "open": int(b["open"]),
                "filled_notional": notional,
                "unfilled_notional": float(b["unfilled_notional"]),
            }
        )
        for m in SLIP_MEASURES:
            s = stats[m]
            if key in s.index and s.loc[key, "count"] > 0:
                r = s.loc[key]
                row[f"slip_{m}"] = {
                    "n": int(r["count"]),
                    "mean": _none(r["mean"]),
                    "median": _none(r["median"]),
                    "p90": _none(r["p90"]),
                    "worst": _none(r["max"]),
                    "weighted": _none(r["wmean"]),
                }
            else:
                row[f"slip_{m}"] = None
        if key in sp.index and sp.loc[key, "notional"] > 0:
            row["spread_cost_bps"] = _none(sp.loc[key, "_w"] / sp.loc[key, "notional"])
        else:
            row["spread_cost_bps"] = None
        fees_n = int(b["fees_n"])
        fees = float(b["fees"]) if fees_n else None
        row["fees"] = fees
        row["fees_bps"] = (fees / notional * BPS) if fees is not None and notional > 0 else None
        row["fees_estimated"] = int(b["fees_estimated"])
        kln = float(b["known_liq_notional"])
        row["maker_share"] = float(b["maker_notional"]) / kln if kln > 0 else None
        row["funding_paid"] = float(b["funding_paid"])
        row["funding_received"] = float(b["funding_received"])
        shortfall: dict[str, Any] = {}
        for part in IS_PARTS:
            ps = is_sums[part].loc[key]
            val = float(ps["sum"]) if ps["count"] > 0 else None
            shortfall[part] = val
            shortfall[f"{part}_bps"] = (
                (val / notional * BPS) if val is not None and notional > 0 else None
            )
        row["shortfall"] = shortfall
        row["breaches"] = int(b["breaches"])
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


def cost_over_time(df: pd.DataFrame, freq: str = "D") -> pd.DataFrame:
    """Shortfall per period of fill time: notional, total cost and its bps."""
    filled = df.loc[(df["notional"] > 0) & df["filled_ts"].notna()]
    if filled.empty:
        return pd.DataFrame(columns=["period", "notional", "cost", "cost_bps", "fills"])
    period = pd.to_datetime(filled["filled_ts"], unit="s", utc=True).dt.floor(freq)
    g = filled.assign(period=period).groupby("period", sort=True)
    out = g.agg(
        notional=("notional", "sum"), cost=("is_total", "sum"), fills=("notional", "size")
    ).reset_index()
    out["cost_bps"] = out["cost"] / out["notional"].where(out["notional"] > 0) * BPS
    return out
