"""The report's tables, declared once for the terminal and the HTML page (one vocabulary).

Each table is a list of :class:`Col` (header, how a row becomes a cell, alignment, and a
drop rank: when a terminal is too narrow, columns with the lowest rank go first and are
named under the table) plus the rows.  Key columns whose value is the same on every row
are shown once in the title instead of in every row.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_exec_ext.report.metrics import GROUP_KEYS

Row = dict[str, Any]


def num(v: Any, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    out = f"{float(v) + 0.0:,.{digits}f}"
    return out[1:] if out.startswith("-") and float(out.replace(",", "")) == 0 else out


def money(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    v = float(v) + 0.0  # no "-0"
    if abs(v) < 5e-5:
        v = 0.0
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 1 or v == 0:
        return f"{v:,.2f}"
    return f"{v:,.4f}"


def price(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{float(v):,.8g}" if abs(float(v)) < 1000 else f"{float(v):,.2f}"


def pct(v: Any) -> str:
    return "n/a" if v is None else f"{100 * v:.0f}%"


def utc(ts: Any) -> str:
    if ts is None or (isinstance(ts, float) and not math.isfinite(ts)):
        return ""
    return str(pd.Timestamp(ts, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M:%S"))


@dataclass(frozen=True)
class Col:
    header: str
    cell: Callable[[Row], str]
    key: bool = False  # a grouping key: left-aligned, folded into the title when constant
    rank: int = 9  # drop order on narrow terminals: lowest first (keys are never dropped)


@dataclass
class Table:
    name: str
    title: str
    cols: list[Col]
    rows: list[Row]
    note: str = ""
    total: Row | None = None
    groups: list[tuple[str, list[Row]]] = field(default_factory=list)  # sectioned rows


def _key(name: str, header: str) -> Col:
    return Col(header, lambda r: str(r.get(name, "")), key=True)


GROUP_HEADERS = {
    "bot": "Bot",
    "strategy": "Strategy",
    "pair": "Pair",
    "side": "Side",
    "order_type": "Type",
    "stage": "Stage",
}
KEY_COLS = [_key(k, GROUP_HEADERS[k]) for k in GROUP_KEYS]


def _slip(r: Row) -> tuple[str, dict[str, Any]]:
    for m in ("decision", "requested"):
        if r.get(f"slip_{m}"):
            return m, r[f"slip_{m}"]
    return "decision", {}


def _s(stat: str) -> Callable[[Row], str]:
    return lambda r: num(_slip(r)[1].get(stat))


def _a(stat: str) -> Callable[[Row], str]:
    return lambda r: num((r.get("slip_arrival") or {}).get(stat))


SLIPPAGE = [
    *KEY_COLS,
    Col("Orders", lambda r: f"{r['orders']:,}", rank=3),
    Col("Filled", lambda r: f"{r['filled']:,}", rank=8),
    Col("Cancelled", lambda r: f"{r['cancelled']:,}", rank=2),
    Col("Notional", lambda r: money(r["filled_notional"]), rank=8),
    Col("vs", lambda r: _slip(r)[0], rank=9),
    Col("Mean", _s("mean"), rank=7),
    Col("Median", _s("median"), rank=5),
    Col("P90", _s("p90"), rank=6),
    Col("Worst", _s("worst"), rank=6),
    Col("Wtd", _s("weighted"), rank=9),
    Col("Arr mean", _a("mean"), rank=1),
    Col("Arr p90", _a("p90"), rank=2),
    Col("Arr wtd", _a("weighted"), rank=4),
]
COSTS = [
    *KEY_COLS,
    Col("Spread bps", lambda r: num(r.get("spread_cost_bps"), 2), rank=6),
    Col("Fees", lambda r: money(r.get("fees")), rank=7),
    Col("Fee bps", lambda r: num(r.get("fees_bps")), rank=8),
    Col("Maker", lambda r: pct(r.get("maker_share")), rank=8),
    Col("Fund paid", lambda r: money(r.get("funding_paid")), rank=5),
    Col("Fund recv", lambda r: money(r.get("funding_received")), rank=4),
    Col("Breaches", lambda r: f"{r.get('breaches', 0):,}", rank=9),
]


def _bps(part: str) -> Callable[[Row], str]:
    return lambda r: num(r.get(f"{part}_bps"), 2)


EXEC_AGG = [
    Col("Group", lambda r: str(r.get("key", "")), key=True),
    Col("Execs", lambda r: f"{r['executions']:,}", rank=8),
    Col("Complete", lambda r: f"{r['complete']:,}", rank=2),
    Col("Notional", lambda r: money(r["decision_notional"]), rank=7),
    Col("Delay", _bps("delay"), rank=5),
    Col("Spread", _bps("spread"), rank=4),
    Col("Impact", _bps("impact"), rank=6),
    Col("Fees", _bps("fees"), rank=6),
    Col("Funding", _bps("funding"), rank=3),
    Col("Opport.", _bps("opportunity"), rank=6),
    Col("Total bps", _bps("total"), rank=9),
    Col("Total", lambda r: money(r.get("total")), rank=8),
]


def _orders_cell(r: Row) -> str:
    return f"{int(r['n_orders'])} {r['order_types']}"


EXEC_ROWS = [
    Col("Trade", lambda r: str(int(r["trade_id"])) if r["trade_id"] else "-", rank=7),
    Col("Bot", lambda r: str(r["bot"]), key=True),
    Col("Pair", lambda r: str(r["pair"]), key=True),
    Col("Side", lambda r: str(r["side"]), key=True),
    Col(
        "Reason",
        lambda r: (
            str(r["class"])
            if r["class"] == "kill-switch flatten"
            else str(r["reason"] or r["class"])
        ),
        rank=8,
    ),
    Col("Orders", _orders_cell, rank=8),
    Col("Decided (UTC)", lambda r: utc(r["decided_ts"]), rank=4),
    Col("Decision", lambda r: price(r["decision_price"]), rank=7),
    Col("Avg fill", lambda r: price(r["vwap"]), rank=7),
    Col("Filled", lambda r: pct(r["filled"] / r["target"]) if r["target"] else "n/a", rank=5),
    Col("Delay", _bps("delay"), rank=3),
    Col("Impact", _bps("impact"), rank=6),
    Col("Opport.", _bps("opportunity"), rank=6),
    Col("Total bps", _bps("total"), rank=9),
]


def _mk(side: str, stat: str) -> Callable[[Row], str]:
    return lambda r: num(r[side][stat], 2) if stat != "n" else f"{r[side]['n']:,}"


MARKOUTS = [
    Col("Horizon", lambda r: str(r["horizon"]), key=True),
    Col("Fills", _mk("all", "n"), rank=6),
    Col("Mean", _mk("all", "mean"), rank=9),
    Col("Median", _mk("all", "median"), rank=4),
    Col("Wtd", _mk("all", "weighted"), rank=5),
    Col("Maker n", _mk("maker", "n"), rank=3),
    Col("Maker mean", _mk("maker", "mean"), rank=8),
    Col("Taker n", _mk("taker", "n"), rank=3),
    Col("Taker mean", _mk("taker", "mean"), rank=8),
    Col("Maker-taker", lambda r: num(r["maker_minus_taker"], 2), rank=7),
]

BREACHES = [
    Col("Trade", lambda r: str(r["trade_id"]), rank=9),
    Col("Bot", lambda r: str(r["bot"]), key=True),
    Col("Pair", lambda r: str(r["pair"]), key=True),
    Col("Side", lambda r: str(r["side"]), rank=6),
    Col("Intent", lambda r: str(r["intent"]), rank=6),
    Col("Order id", lambda r: str(r["order_id"]), rank=3),
    Col("Filled (UTC)", lambda r: (r["filled_time"] or "")[:19].replace("T", " "), rank=4),
    Col("Slip bps", lambda r: num(r["slippage_bps"]), rank=9),
    Col("Budget", lambda r: num(r["budget_bps"]), rank=8),
    Col("Excess", lambda r: num(r["excess_bps"]), rank=7),
    Col("Notional", lambda r: money(r["notional"]), rank=5),
]

STOP_BREACHES = [
    Col("Trade", lambda r: str(r["trade_id"]), rank=9),
    Col("Bot", lambda r: str(r["bot"]), key=True),
    Col("Strategy", lambda r: str(r["strategy"]), key=True),
    Col("Pair", lambda r: str(r["pair"]), key=True),
    Col("Side", lambda r: f"{r['side']} {num(r['leverage'], 0)}x", rank=5),
    Col("Kind", lambda r: str(r["kind"]), rank=9),
    Col("Entry", lambda r: price(r["entry"]), rank=8),
    Col("Price", lambda r: f"{r['which']} {price(r['price'])}", rank=8),
    Col("Move %", lambda r: num(r["move_pct"], 2), rank=9),
    Col("Contract %", lambda r: num(r["contract_pct"], 2), rank=9),
    Col("Exit reason", lambda r: str(r["exit_reason"] or ""), rank=4),
]


def exec_rows(ex: pd.DataFrame) -> list[Row]:
    out: list[Row] = ex.to_dict("records")
    for r in out:
        for k, v in r.items():
            if isinstance(v, np.generic):
                r[k] = v.item()
    return out
