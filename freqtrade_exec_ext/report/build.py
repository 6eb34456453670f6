"""Assemble the report from an order frame: groups, executions, markouts, breaches, gaps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_exec_ext.report import executions as X
from freqtrade_exec_ext.report import markouts as MK
from freqtrade_exec_ext.report import metrics as M
from freqtrade_exec_ext.report import stop_breaches as SB

PLOT_POINTS = 5000  # points per scatter/box plot; larger inputs are thinned evenly
WORST_EXECUTIONS = 200  # listed in JSON/HTML (all of them with --executions FILE)


@dataclass
class Report:
    meta: dict[str, Any]
    groups: list[dict[str, Any]]
    totals: dict[str, Any]
    breaches: pd.DataFrame
    unavailable: list[str]
    notes: list[str] = field(default_factory=list)
    frame: pd.DataFrame | None = None  # per-order frame after add_costs (for plots)
    executions: pd.DataFrame = field(default_factory=pd.DataFrame)
    exec_tables: dict[str, Any] = field(default_factory=dict)
    markouts: list[dict[str, Any]] = field(default_factory=list)
    # trades whose stop breaches the contract's (None: not checked, no --contract)
    stop_breaches: pd.DataFrame | None = None

    def to_dict(self, breach_limit: int | None = None) -> dict[str, Any]:
        b = self.breaches if breach_limit is None else self.breaches.head(breach_limit)
        return {
            "meta": self.meta,
            "totals": self.totals,
            "groups": self.groups,
            "executions": {
                "by": {k: v for k, v in self.exec_tables.items() if k != "total"},
                "total": self.exec_tables.get("total"),
                "worst": X.records(X.worst(self.executions, WORST_EXECUTIONS)),
            },
            "markouts": self.markouts,
            "breaches": breach_records(b),
            "stop_breaches": None if self.stop_breaches is None else SB.records(self.stop_breaches),
            "unavailable": self.unavailable,
            "notes": self.notes,
        }


BREACH_FIELDS = (
    "bot",
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
                "bot": str(d["bot"]),
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
    skipped: list[str] | None = None,
    decisions: pd.DataFrame | None = None,
    links: pd.DataFrame | None = None,
    contexts: pd.DataFrame | None = None,
    order_id_lookup: Callable[[pd.DataFrame], dict[tuple[str, int], str]] | None = None,
    stops: SB.StopLimits | None = None,
    trades: pd.DataFrame | None = None,
) -> Report:
    """``budget`` = (entry_bps, exit_bps) from ``--contract`` rechecks every fill;
    ``stops`` (the contract's stop) checks every trade of ``trades`` (see
    :mod:`.stop_breaches`)."""
    df = M.add_costs(orders)
    if budget is not None:
        df = M.recheck_budget(df, *budget)
    groups = M.summarize(df)
    totals_list = M.summarize(df, [])
    totals = totals_list[0] if totals_list else {"orders": 0, "filled": 0}
    br = M.breaches(df)
    if order_id_lookup is not None and len(br):
        missing = br.loc[br["order_id"].astype(str) == "", ["bot", "row_id"]]
        if len(missing):
            ids = order_id_lookup(missing)
            br = br.assign(
                order_id=[
                    ids.get((str(b), int(rid)), oid) if str(oid) == "" else oid
                    for b, rid, oid in zip(br["bot"], br["row_id"], br["order_id"], strict=True)
                ]
            )
    ex = X.build(df, decisions, links, contexts)
    kind = str(meta.get("kind", ""))
    meta = {
        **meta,
        "budget_source": "contract (--contract)"
        if budget is not None
        else "ledger records (the contract when each fill was recorded)",
    }
    gaps = [
        *(skipped or []),
        *unavailable(M.availability(df), budget is not None, kind),
        *X.gaps(ex, has_decisions_table=decisions is not None, kind=kind),
        *MK.gaps(df, kind),
    ]
    stop_br = None
    if stops is not None:
        stop_br, stop_gaps = check_stops(df, trades, stops, groups, totals)
        gaps += stop_gaps
        meta["stop_contract"] = {"stoploss": stops.stoploss, "max_exit_bps": stops.exit_bps}
    return Report(
        meta=meta,
        groups=groups,
        totals=totals,
        breaches=br,
        unavailable=gaps,
        notes=list(notes or []),
        frame=df,
        executions=ex,
        exec_tables=X.tables(ex),
        markouts=MK.summarize(df),
        stop_breaches=stop_br,
    )


def check_stops(
    df: pd.DataFrame,
    trades: pd.DataFrame | None,
    stops: SB.StopLimits,
    groups: list[dict[str, Any]],
    totals: dict[str, Any],
) -> tuple[pd.DataFrame, list[str]]:
    """The stop breaches; counts them on the totals and on each group (in place)."""
    t = trades if trades is not None else SB.empty_trades()
    if len(t) and t["first_requested"].isna().all():  # databases: from the order frame
        first = SB.first_entries(df)
        t = t.drop(columns=["first_requested", "first_fill"]).merge(
            first, on=["bot", "trade_id"], how="left"
        )
    found = SB.find(t, stops)
    totals["stop_breaches"] = len(found)
    counts = SB.group_counts(found, df, M.GROUP_KEYS)
    for g in groups:
        g["stop_breaches"] = counts.get(tuple(str(g[k]) for k in M.GROUP_KEYS), 0)
    gaps = []
    n = SB.unjudged(t)
    if n:
        gaps.append(f"stop check: {n} of {len(t)} trades record no stop price or entry")
    return found, gaps


def unavailable(av: M.Availability, contract: bool, kind: str) -> list[str]:
    """Plain-language list of what could not be computed per fill, and why."""
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
        out.append(f"slippage vs arrival mid: {why}")
    elif av.with_arrival < av.filled:
        out.append(
            f"slippage vs arrival mid for {av.filled - av.with_arrival} of "
            f"{av.filled} fills: no order-book mid was recorded"
        )
    if av.with_spread == 0:
        out.append("spread cost: no quoted spread was recorded")
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
    return out


def sample(df: pd.DataFrame, n: int = PLOT_POINTS) -> pd.DataFrame:
    """Evenly thinned rows (deterministic) so that plots stay light at any size."""
    if len(df) <= n:
        return df
    idx = np.linspace(0, len(df) - 1, n).astype(np.int64)
    return df.iloc[idx]
