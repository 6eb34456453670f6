"""Executions: each decision and every child order placed for it, and their shortfall.

Two sources, combined:

* **Decisions** (``exec_ext_decisions``, written by the strategy adapter): an execution
  per decision, owning the orders it names; its decision price, arrival mid and the
  market mid when it ended are recorded.
* **Derived** from Freqtrade's orders where no decision names them: the orders of one
  side (entry or exit) of a trade between completed position changes form one execution
  (an order that fills completely ends it; cancelled, repriced and escalated orders before
  it belong to it).  Its decision price is the one recorded with its first order (ledger)
  or with a later order of the same reason; else the first order's requested price.  A
  filled stop-loss order is an execution of its own; an unfilled protective stop is not an
  execution.

The shortfall maths is :func:`freqtrade_exec_ext.execution.decisions.shortfall_arrays`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from freqtrade_exec_ext.execution.decisions import shortfall_arrays
from freqtrade_exec_ext.report import exec_sources as src
from freqtrade_exec_ext.report.metrics import BPS, _none, cat_in

PARTS = ("delay", "spread", "impact", "fees", "funding", "opportunity", "total")
DIMENSIONS = (
    ("strategy", "strategy"),
    ("pair", "pair"),
    ("side", "side"),
    ("class", "exit reason"),
    ("order_types", "order type"),
)
KILL_CLASS = "kill-switch flatten"


def build(
    orders: pd.DataFrame,
    decisions: pd.DataFrame | None = None,
    links: pd.DataFrame | None = None,
    contexts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per execution with its shortfall parts (stake currency) and their bps."""
    linked = src.link(orders, links)
    parts = [
        src.from_decisions(orders, linked, decisions)
        if decisions is not None and len(decisions)
        else None,
        src.derived(orders.loc[linked < 0] if (linked >= 0).any() else orders, contexts),
    ]
    execs = (
        pd.concat([p for p in parts if p is not None and len(p)], ignore_index=True)
        if any(p is not None and len(p) for p in parts)
        else src.empty()
    )
    return add_shortfall(execs)


def add_shortfall(ex: pd.DataFrame) -> pd.DataFrame:
    if ex.empty:
        for p in PARTS:
            ex[p] = pd.Series(dtype=float)
            ex[f"{p}_bps"] = pd.Series(dtype=float)
        ex["decision_notional"] = pd.Series(dtype=float)
        ex["unfilled"] = pd.Series(dtype=float)
        return ex
    sign = np.where(cat_in(ex["side"], ("buy",)), 1.0, -1.0)
    out = shortfall_arrays(
        sign,
        ex["decision_price"].to_numpy(float),
        ex["target"].to_numpy(float),
        ex["filled"].to_numpy(float),
        ex["vwap"].to_numpy(float),
        ex["spread_money"].to_numpy(float),
        ex["fees"].to_numpy(float),
        ex["funding"].to_numpy(float),
        ex["arrival_mid"].to_numpy(float),
        ex["end_mid"].to_numpy(float),
    )
    # a decision whose fills are unknown (orders missing) cannot be priced
    unknown = ex["filled"].to_numpy(float) > 0
    unknown &= ~np.isfinite(ex["vwap"].to_numpy(float))
    dn = out["decision_notional"]
    for p in PARTS:
        v = np.where(unknown, np.nan, out[p])
        ex[p] = v
        ex[f"{p}_bps"] = np.where(dn > 0, v / np.where(dn > 0, dn, 1.0) * BPS, np.nan)
    ex["decision_notional"] = dn
    ex["unfilled"] = out["unfilled"]
    return ex


def _sums(g: Any) -> pd.DataFrame:
    return g.agg(
        executions=("total", "size"),
        complete=("_complete", "sum"),
        decision_notional=("decision_notional", "sum"),
        filled_notional=("filled_notional", "sum"),
        **{p: (p, "sum") for p in PARTS},
        **{f"{p}_n": (p, "count") for p in PARTS},
    )


def aggregate(ex: pd.DataFrame, key: str | None) -> list[dict[str, Any]]:
    """Sums of the parts per value of ``key`` (None: the total), bps of decision notional."""
    if ex.empty:
        return []
    work = ex.assign(_complete=cat_in(ex["status"], ("complete",)).astype(np.int64), _all="")
    g = work.groupby(key or "_all", observed=True, sort=True)
    rows = []
    for value, r in _sums(g).iterrows():
        dn = float(r["decision_notional"])
        row: dict[str, Any] = {"key": str(value)} if key else {}
        row.update(
            {
                "executions": int(r["executions"]),
                "complete": int(r["complete"]),
                "decision_notional": dn,
                "filled_notional": float(r["filled_notional"]),
            }
        )
        for p in PARTS:
            val = float(r[p]) if r[f"{p}_n"] > 0 else None
            row[p] = val
            row[f"{p}_bps"] = val / dn * BPS if val is not None and dn > 0 else None
        rows.append(row)
    return rows


def tables(ex: pd.DataFrame) -> dict[str, Any]:
    """The aggregates the report shows: per dimension, and the total."""
    key_for = (
        {"strategy": "strategy_bot" if ex["bot"].nunique() > 1 else "strategy"} if len(ex) else {}
    )
    out: dict[str, Any] = {}
    for col, label in DIMENSIONS:
        out[label] = aggregate(ex, key_for.get(col, col))
    total = aggregate(ex, None)
    out["total"] = total[0] if total else None
    return out


#: an execution's fields in JSON/CSV: the source columns up to ``filled`` (less the
#: ``strategy_bot`` label rows are grouped by), then what is derived from them
RECORD_FIELDS = (
    *(c for c in src.COLUMNS[: src.COLUMNS.index("filled") + 1] if c != "strategy_bot"),
    "unfilled",
    "decision_notional",
)


def records(ex: pd.DataFrame) -> list[dict[str, Any]]:
    """Executions as plain dicts (JSON), times as ISO-8601 UTC."""
    out = []
    for r in ex.to_dict("records"):
        d: dict[str, Any] = {}
        for f in RECORD_FIELDS:
            v = r.get(f)
            if f.endswith("_ts"):
                d[f[:-3] + "_time"] = (
                    pd.Timestamp(v, unit="s", tz="UTC").isoformat()
                    if v is not None and np.isfinite(v)
                    else None
                )
            elif isinstance(v, float | np.floating):
                d[f] = _none(v)
            elif isinstance(v, np.integer):
                d[f] = int(v)
            else:
                d[f] = None if v is None else (v if isinstance(v, int | bool) else str(v))
        for p in PARTS:
            d[p] = _none(r.get(p))
            d[f"{p}_bps"] = _none(r.get(f"{p}_bps"))
        out.append(d)
    return out


def worst(ex: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` executions with the highest shortfall in bps (unknown last)."""
    if ex.empty:
        return ex
    bps = ex["total_bps"].to_numpy(float)
    money = ex["total"].to_numpy(float)
    # highest first, unknown last, ties in order (a partial sort: never copies the frame)
    key = np.where(np.isfinite(bps), -bps, np.inf)
    pick = np.argpartition(key, min(n, len(key) - 1))[:n] if len(key) > n else np.arange(len(key))
    pick = pick[np.lexsort((pick, -np.nan_to_num(money[pick], nan=-np.inf), key[pick]))]
    return ex.iloc[pick]


def gaps(ex: pd.DataFrame, *, has_decisions_table: bool, kind: str) -> list[str]:
    """What the execution tables could not compute, in plain words."""
    if ex.empty:
        return []
    out: list[str] = []
    n = len(ex)
    derived = cat_in(ex["source"], ("derived",))
    req = int(cat_in(ex["decision_source"], ("requested price",)).sum())
    if req:
        out.append(
            f"decision price of {req} of {n} executions: no decision record (no "
            "ledger record for their first order and no decisions table); their "
            "first order's requested price is used"
        )
    no_arr = int(ex["delay"].isna().sum())
    if no_arr:
        why = "backtests have no order book" if kind == "backtest" else "no arrival mid recorded"
        out.append(
            f"delay and spread of {no_arr} of {n} executions: {why}; their whole move "
            "from the decision price is counted as impact"
        )
    opp = ex["opportunity"].isna() & (ex["unfilled"] > 0)
    working = cat_in(ex["status"], ("working",))
    if int((opp & ~working).sum()):
        money = float(
            (ex.loc[opp & ~working, "unfilled"] * ex.loc[opp & ~working, "decision_price"]).sum()
        )
        out.append(
            f"opportunity cost of {int((opp & ~working).sum())} executions that ended "
            f"with unfilled quantity ({money:,.2f} of decision notional): no market "
            "mid at their end (the decisions table records one)"
        )
    if int(working.sum()):
        out.append(
            f"{int(working.sum())} executions are still working: their unfilled "
            "part is not priced yet"
        )
    fills_unknown = int((~np.isfinite(ex["vwap"].to_numpy(float)) & (ex["filled"] > 0)).sum())
    if fills_unknown:
        out.append(
            f"{fills_unknown} decisions name filled orders that are not in the orders "
            "table: their shortfall cannot be computed"
        )
    if derived.any() and not has_decisions_table and kind != "backtest":
        out.append(
            "entries that never filled: Freqtrade deletes such a trade with its "
            "orders, so without the decisions table (exec_ext_decisions) they are "
            "not counted"
        )
    return out
