"""Read a Freqtrade backtest result (zip) and the execution ledger written beside it.

``--backtest`` accepts the result zip (``backtest-result-<ts>.zip``), its ``.json``, the
``.last_result.json`` file, or the results directory (the latest result is used).  The
ledger is ``<results dir>/<StrategyName>-exec-ledger.jsonl`` unless ``--ledger`` names it.
With a ledger, each record is one filled order; without one, the orders exported in the
result give requested vs fill price only (a backtest fills exactly at the requested price,
so that slippage is 0 by construction).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_exec_ext.execution.ledger import FillRecord, backtest_ledger_path
from freqtrade_exec_ext.report.errors import ReportInputError
from freqtrade_exec_ext.report.metrics import coerce_orders, empty_orders

LAST_RESULT = ".last_result.json"


@dataclass
class BacktestRead:
    orders: pd.DataFrame
    source: str
    result_file: Path
    ledgers: dict[str, Path | None]
    notes: list[str] = field(default_factory=list)


def resolve_result(path: Path) -> Path:
    """The result file ``--backtest`` points at (zip or json)."""
    if not path.exists():
        raise ReportInputError(f"--backtest {path}: no such file or directory")
    if path.is_dir() or path.name == LAST_RESULT:
        folder = path if path.is_dir() else path.parent
        last = folder / LAST_RESULT
        if not last.is_file():
            raise ReportInputError(f"--backtest {path}: no {LAST_RESULT} in {folder}; "
                                   "name the backtest-result-*.zip file instead")
        try:
            name = json.loads(last.read_text(encoding="utf-8"))["latest_backtest"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ReportInputError(f"--backtest {last}: unreadable ({exc}); expected "
                                   '{"latest_backtest": "<file>"}') from exc
        result = folder / name
        if not result.is_file():
            raise ReportInputError(f"--backtest {last}: names {name}, which does not exist")
        return result
    if path.suffix not in (".zip", ".json"):
        raise ReportInputError(f"--backtest {path}: expected a backtest-result-*.zip (or "
                               f".json), {LAST_RESULT} or the backtest_results directory")
    return path


def _load_stats(result: Path) -> dict[str, Any]:
    import logging

    from freqtrade.data.btanalysis import load_backtest_stats

    logging.getLogger("freqtrade").setLevel(logging.CRITICAL)
    try:
        data = load_backtest_stats(result)
    except Exception as exc:  # freqtrade raises ValueError/OperationalException/JSON errors
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReportInputError(f"--backtest {result}: not a readable Freqtrade backtest "
                               f"result ({msg})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("strategy"), dict):
        raise ReportInputError(f"--backtest {result}: not a Freqtrade backtest result "
                               "(no 'strategy' section)")
    return data


def _ts(value: Any) -> float:
    if value is None or value == "":
        return math.nan
    if isinstance(value, int | float):
        v = float(value)
        return v / 1000.0 if v > 1e11 else v
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return math.nan


def read_backtest(path: Path, *, ledger: Path | None = None, pairs: tuple[str, ...] = (),
                  strategies: tuple[str, ...] = ()) -> BacktestRead:
    result = resolve_result(path)
    data = _load_stats(result)
    if ledger is not None and not ledger.is_file():
        raise ReportInputError(f"--ledger {ledger}: no such file")
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    ledgers: dict[str, Path | None] = {}
    for name, strat in data["strategy"].items():
        if strategies and name not in strategies:
            continue
        trades = strat.get("trades") or []
        stake_ccy = str(strat.get("stake_currency") or "")
        lpath = ledger if ledger is not None else backtest_ledger_path(result.parent, name)
        records: list[FillRecord] = []
        if lpath.is_file():
            records = _read_ledger(lpath)
            ledgers[name] = lpath
        else:
            ledgers[name] = None
        funding_by_trade = {int(t.get("trade_id", i)): float(t.get("funding_fees") or 0.0)
                            for i, t in enumerate(trades)}
        if records:
            covered = {r.trade_id for r in records}
            missing = [t for t in trades if t.get("trade_id") not in covered]
            if missing:
                notes.append(f"{name}: {len(missing)} of {len(trades)} exported trades have "
                             f"no ledger record in {lpath.name}; they are reported from "
                             "Freqtrade's own columns")
            rows += _rows_from_ledger(name, records, stake_ccy, funding_by_trade)
            rows += _rows_from_export(name, missing, stake_ccy)
        else:
            rows += _rows_from_export(name, trades, stake_ccy)
    df = pd.DataFrame(rows) if rows else empty_orders()
    if pairs and len(df):
        df = df[df["pair"].isin(pairs)]
    return BacktestRead(orders=coerce_orders(df.reset_index(drop=True)), source=str(result),
                        result_file=result, ledgers=ledgers, notes=notes)


def _read_ledger(path: Path) -> list[FillRecord]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(FillRecord.from_dict(json.loads(line)))
            except (ValueError, TypeError) as exc:
                raise ReportInputError(f"--ledger {path}: line {n} is not a ledger record "
                                       f"({exc})") from exc
    return out


def _fee_stake(rec: FillRecord, stake_ccy: str) -> tuple[float, bool]:
    base = rec.pair.split("/", 1)[0]
    if rec.fee_cost is not None and math.isfinite(rec.fee_cost):
        if not rec.fee_currency or rec.fee_currency == stake_ccy or (
                stake_ccy == "" and rec.fee_currency != base):
            return float(rec.fee_cost), bool(rec.fee_inferred)
        if rec.fee_currency == base:
            return float(rec.fee_cost) * rec.fill_price, bool(rec.fee_inferred)
    if rec.fee_rate is not None:
        return float(rec.fee_rate) * rec.filled_amount * rec.fill_price, True
    return math.nan, False


def _rows_from_ledger(name: str, records: list[FillRecord], stake_ccy: str,
                      funding_by_trade: dict[int, float]) -> list[dict[str, Any]]:
    rows = []
    last_of_trade: dict[int, int] = {}
    for i, r in enumerate(records):
        if r.trade_id is not None:
            prev = last_of_trade.get(r.trade_id)
            if prev is None or _ts(records[prev].filled_time) <= _ts(r.filled_time):
                last_of_trade[r.trade_id] = i
    for i, r in enumerate(records):
        fee, est = _fee_stake(r, stake_ccy)
        funding = funding_by_trade.get(r.trade_id or -1, 0.0) \
            if last_of_trade.get(r.trade_id or -1) == i else 0.0
        partial = r.filled_amount < r.ordered_amount * (1 - 1e-9)
        rows.append({
            "strategy": name, "pair": r.pair, "side": r.side, "intent": r.intent,
            "order_type": r.order_type, "stage": "backtest",
            "trade_id": r.trade_id or 0, "row_id": 0, "order_id": r.order_id,
            "status": "partial" if partial else "filled",
            "amount": r.ordered_amount, "filled": r.filled_amount,
            "requested_price": r.requested_price, "fill_price": r.fill_price,
            "decision_price": r.decision_price, "arrival_mid": r.arrival_mid,
            "spread_cost_bps": r.spread_cost_bps, "fee": fee, "fee_estimated": est,
            "liquidity": r.liquidity or "", "funding": funding,
            "budget_bps": r.slippage_budget_bps,
            "over_budget": 1.0 if r.over_budget else 0.0,
            "placed_ts": _ts(r.placed_time), "filled_ts": _ts(r.filled_time),
            "later_price": np.nan, "opp_covered": False, "has_ledger": True,
        })
    return rows


def _rows_from_export(name: str, trades: list[dict[str, Any]], stake_ccy: str
                      ) -> list[dict[str, Any]]:
    """Fallback rows from the exported trades and their (minified) orders."""
    rows = []
    for t in trades:
        is_short = bool(t.get("is_short"))
        orders = t.get("orders") or []
        filled_orders = [o for o in orders if (o.get("amount") or 0) > 0]
        for k, o in enumerate(filled_orders):
            entry = bool(o.get("ft_is_entry"))
            side = ("sell" if is_short else "buy") if entry else ("buy" if is_short else "sell")
            price = float(o.get("safe_price") or math.nan)
            requested = t.get("open_rate_requested") if entry and k == 0 else None
            requested = float(requested) if requested else price
            amount = float(o.get("amount") or 0.0)
            rate = float((t.get("fee_open") if entry else t.get("fee_close")) or 0.0)
            last = k == len(filled_orders) - 1
            rows.append({
                "strategy": name, "pair": t.get("pair", ""), "side": side,
                "intent": "entry" if entry else "exit", "order_type": "n/a",
                "stage": "backtest", "trade_id": int(t.get("trade_id") or 0), "row_id": 0,
                "order_id": "", "status": "filled", "amount": amount, "filled": amount,
                "requested_price": requested, "fill_price": price,
                "decision_price": np.nan, "arrival_mid": np.nan, "spread_cost_bps": np.nan,
                "fee": rate * amount * price, "fee_estimated": True, "liquidity": "",
                "funding": float(t.get("funding_fees") or 0.0) if last else 0.0,
                "budget_bps": np.nan, "over_budget": np.nan,
                "placed_ts": _ts(o.get("order_filled_timestamp")),
                "filled_ts": _ts(o.get("order_filled_timestamp")),
                "later_price": np.nan, "opp_covered": False, "has_ledger": False,
            })
    return rows
