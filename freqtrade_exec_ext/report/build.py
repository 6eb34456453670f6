"""Assemble the report from an order frame: groups, totals, breaches, plots, gaps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_exec_ext.report import metrics as M

PLOT_POINTS = 5000  # points per scatter/box plot; larger inputs are thinned evenly


@dataclass
class Report:
    meta: dict[str, Any]
    groups: list[dict[str, Any]]
    totals: dict[str, Any]
    breaches: pd.DataFrame
    unavailable: list[str]
    notes: list[str] = field(default_factory=list)
    frame: pd.DataFrame | None = None  # per-order frame after add_costs (for plots)

    def to_dict(self, breach_limit: int | None = None) -> dict[str, Any]:
        b = self.breaches if breach_limit is None else self.breaches.head(breach_limit)
        return {
            "meta": self.meta,
            "totals": self.totals,
            "groups": self.groups,
            "breaches": breach_records(b),
            "unavailable": self.unavailable,
            "notes": self.notes,
        }


BREACH_FIELDS = (
    "strategy",
    "pair",
    "side",
    "intent",
    "order_type",
    "stage",
    "trade_id",
    "order_id",
    "filled_time",
    "fill_price",
    "decision_price",
    "slippage_bps",
    "budget_bps",
    "excess_bps",
    "notional",
)


def breach_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for r in df.itertuples(index=False):
        d = r._asdict()
        ts = d.get("filled_ts")
        out.append(
            {
                "strategy": str(d["strategy"]),
                "pair": str(d["pair"]),
                "side": str(d["side"]),
                "intent": str(d["intent"]),
                "order_type": str(d["order_type"]),
                "stage": str(d["stage"]),
                "trade_id": int(d["trade_id"]),
                "order_id": str(d["order_id"]),
                "filled_time": pd.Timestamp(ts, unit="s", tz="UTC").isoformat()
                if ts is not None and np.isfinite(ts)
                else None,
                "fill_price": M._none(d["fill_price"]),
                "decision_price": M._none(d["decision_price"]),
                "slippage_bps": M._none(d["slippage_bps"]),
                "budget_bps": M._none(d["budget_bps"]),
                "excess_bps": M._none(d["excess_bps"]),
                "notional": M._none(d["notional"]),
            }
        )
    return out


def build_report(
    orders: pd.DataFrame,
    meta: dict[str, Any],
    *,
    budget: tuple[float, float] | None = None,
    notes: list[str] | None = None,
    order_id_lookup: Callable[[list[int]], dict[int, str]] | None = None,
) -> Report:
    """``budget`` = (entry_bps, exit_bps) from ``--contract`` rechecks every fill."""
    df = M.add_costs(orders)
    if budget is not None:
        df = M.recheck_budget(df, *budget)
    groups = M.summarize(df)
    totals_list = M.summarize(df, [])
    totals = totals_list[0] if totals_list else {"orders": 0, "filled": 0}
    br = M.breaches(df)
    if order_id_lookup is not None and len(br):
        missing = br.loc[br["order_id"].astype(str) == "", "row_id"].astype(int).tolist()
        if missing:
            ids = order_id_lookup(missing)
            br = br.assign(
                order_id=[
                    ids.get(int(rid), oid) if str(oid) == "" else oid
                    for rid, oid in zip(br["row_id"], br["order_id"], strict=True)
                ]
            )
    av = M.availability(df)
    meta = {
        **meta,
        "budget_source": "contract (--contract)"
        if budget is not None
        else "ledger records (the contract when each fill was recorded)",
    }
    return Report(
        meta=meta,
        groups=groups,
        totals=totals,
        breaches=br,
        unavailable=unavailable(av, budget is not None, meta.get("kind", "")),
        notes=list(notes or []),
        frame=df,
    )


def unavailable(av: M.Availability, contract: bool, kind: str) -> list[str]:
    """Plain-language list of what could not be computed, and why."""
    out: list[str] = []
    if av.filled == 0:
        return ["everything: no filled order in the input"]
    no_ledger = "no execution-ledger record (Freqtrade itself stores no decision price)"
    if av.with_decision == 0:
        out.append(
            f"slippage vs decision price: {no_ledger}; slippage is measured against "
            "the requested price instead"
        )
    elif av.with_decision < av.filled:
        out.append(
            f"slippage vs decision price for {av.filled - av.with_decision} of "
            f"{av.filled} fills: {no_ledger}"
        )
    if av.with_arrival == 0:
        why = "backtests have no order book" if kind == "backtest" else no_ledger
        out.append(
            f"slippage vs arrival mid, and the delay part of the shortfall: {why}; "
            "the decision-to-fill move is reported as execution"
        )
    elif av.with_arrival < av.filled:
        out.append(
            f"slippage vs arrival mid for {av.filled - av.with_arrival} of "
            f"{av.filled} fills: no order-book mid was recorded"
        )
    if av.with_spread == 0:
        out.append(
            "spread cost (and the spread/impact split of execution): no quoted spread was recorded"
        )
    if av.with_liquidity == 0:
        out.append(
            "maker share: Freqtrade does not store whether a fill was maker or taker "
            "and no ledger record says so"
        )
    elif av.with_liquidity < av.filled:
        out.append(
            f"maker share covers {av.with_liquidity} of {av.filled} fills (the others "
            "have no maker/taker record)"
        )
    if av.fees_estimated:
        out.append(
            f"fees of {av.fees_estimated} of {av.filled} fills are estimates: the "
            "trade's fee rate times the fill notional (Freqtrade keeps no per-order fee)"
        )
    if not contract and av.with_budget == 0:
        out.append(
            "budget breaches: no slippage budget (no ledger record; pass --contract "
            "to check fills against the contract)"
        )
    if av.cancelled_unpriced:
        out.append(
            f"opportunity cost of {av.cancelled_unpriced} cancelled order(s): nothing "
            "filled later on the same trade and side; their unfilled notional is "
            "shown instead"
        )
    return out


def sample(df: pd.DataFrame, n: int = PLOT_POINTS) -> pd.DataFrame:
    """Evenly thinned rows (deterministic) so that plots stay light at any size."""
    if len(df) <= n:
        return df
    idx = np.linspace(0, len(df) - 1, n).astype(np.int64)
    return df.iloc[idx]
