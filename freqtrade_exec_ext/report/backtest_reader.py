"""Read a Freqtrade backtest result (zip) and the execution ledger written beside it.

``--backtest`` accepts the result zip (``backtest-result-<ts>.zip``), its ``.json``, the
``.last_result.json`` file, or the results directory (the latest result is used;
``.last_result.json`` may only name a file inside that directory).  A result is read only
when it inflates to at most ``max_mb`` (zip members and plain files alike) with at most
:data:`MAX_MEMBERS` zip members.  The ledger is
``<results dir>/<StrategyName>-exec-ledger.jsonl`` unless ``--ledger`` names it; a line
that is not a ledger record is skipped and counted.  Decisions recorded by the mixin are
read from ``<StrategyName>-exec-decisions.jsonl`` beside it.
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

from freqtrade_exec_ext.execution.ledger import FillRecord
from freqtrade_exec_ext.report.errors import ReportInputError
from freqtrade_exec_ext.report.metrics import coerce_orders, empty_orders
from freqtrade_exec_ext.report.stop_breaches import empty_trades, from_backtest
from freqtrade_exec_ext.store.ledger_files import backtest_ledger_path

LAST_RESULT = ".last_result.json"
MAX_MEMBERS = 100
MB = 1 << 20


@dataclass
class BacktestRead:
    orders: pd.DataFrame
    source: str
    result_file: Path
    ledgers: dict[str, Path | None]
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    decisions: pd.DataFrame | None = None
    links: pd.DataFrame | None = None
    trades: pd.DataFrame | None = None  # stop prices per trade (stop_breaches.TRADE_COLUMNS)


def resolve_result(path: Path) -> Path:
    """The result file ``--backtest`` points at (zip or json)."""
    if not path.exists():
        raise ReportInputError(f"--backtest {path}: no such file or directory")
    if path.is_dir() or path.name == LAST_RESULT:
        folder = path if path.is_dir() else path.parent
        last = folder / LAST_RESULT
        if not last.is_file():
            raise ReportInputError(
                f"--backtest {path}: no {LAST_RESULT} in {folder}; "
                "name the backtest-result-*.zip file instead"
            )
        if last.stat().st_size > MB:
            raise ReportInputError(
                f"--backtest {last}: {last.stat().st_size // MB} MB is not "
                f"a {LAST_RESULT} (expected a few bytes)"
            )
        try:
            name = json.loads(last.read_text(encoding="utf-8"))["latest_backtest"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ReportInputError(
                f'--backtest {last}: unreadable ({exc}); expected {{"latest_backtest": "<file>"}}'
            ) from exc
        result = folder / str(name)
        if (
            not isinstance(name, str)
            or Path(name).name != name
            or name in ("", ".", "..")
            or result.resolve().parent != folder.resolve()
        ):
            raise ReportInputError(
                f"--backtest {last}: names {name!r}; it may only name a file inside {folder}"
            )
        if not result.is_file():
            raise ReportInputError(f"--backtest {last}: names {name}, which does not exist")
        return result
    if path.suffix not in (".zip", ".json"):
        raise ReportInputError(
            f"--backtest {path}: expected a backtest-result-*.zip (or "
            f".json), {LAST_RESULT} or the backtest_results directory"
        )
    return path


def check_size(result: Path, max_mb: int) -> None:
    """Refuse a result that would inflate beyond ``max_mb`` or has too many members."""
    import zipfile

    cap = max_mb * MB
    hint = "raise --max-backtest-mb to read it"
    meta = result.with_suffix(".meta.json")
    sizes = [meta.stat().st_size] if meta.is_file() else []
    if result.suffix == ".zip":
        try:
            with zipfile.ZipFile(result) as zf:
                infos = zf.infolist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise ReportInputError(
                f"--backtest {result}: not a readable Freqtrade backtest "
                f"result (bad zip file: {exc})"
            ) from exc
        if len(infos) > MAX_MEMBERS:
            raise ReportInputError(
                f"--backtest {result}: {len(infos)} members; a backtest "
                f"result has at most {MAX_MEMBERS}"
            )
        sizes += [i.file_size for i in infos]
    else:
        sizes.append(result.stat().st_size)
    if sum(sizes) > cap:
        raise ReportInputError(
            f"--backtest {result}: {sum(sizes) // MB} MB uncompressed, over "
            f"the cap {max_mb} MB; {hint}"
        )
    if result.suffix == ".zip":
        _check_members_inflate_as_declared(result)


def _check_members_inflate_as_declared(result: Path) -> None:
    """Inflate every member in 1 MB steps: a member whose headers understate its size
    stops at the declared size with a CRC error, so memory and time stay within the cap
    (Freqtrade's loader reads a member in one call, which inflates all of it)."""
    import zipfile

    try:
        with zipfile.ZipFile(result) as zf:
            for info in zf.infolist():
                with zf.open(info) as member:
                    while member.read(MB):
                        pass
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ReportInputError(
            f"--backtest {result}: not a readable Freqtrade backtest result (bad zip file: "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        ) from None


def _load_stats(result: Path) -> dict[str, Any]:
    from freqtrade_exec_ext.compat.data import BacktestUnreadable, load_backtest_stats

    try:
        return load_backtest_stats(result)
    except BacktestUnreadable as exc:
        raise ReportInputError(f"--backtest {result}: {exc}") from None


def _ts(value: Any) -> float:
    if value is None or value == "":
        return math.nan
    if isinstance(value, int | float):
        v = float(value)
        return v / 1000.0 if v > 1e11 else v
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return math.nan


def read_backtest(
    path: Path,
    *,
    ledger: Path | None = None,
    pairs: tuple[str, ...] = (),
    strategies: tuple[str, ...] = (),
    max_mb: int = 256,
    datadir: Path | None = None,
) -> BacktestRead:
    result = resolve_result(path)
    check_size(result, max_mb)
    data = _load_stats(result)
    if ledger is not None and not ledger.is_file():
        raise ReportInputError(f"--ledger {ledger}: no such file")
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    skipped: list[str] = []
    ledgers: dict[str, Path | None] = {}
    dec_frames: list[pd.DataFrame] = []
    stop_frames: list[pd.DataFrame] = []
    for name, strat in data["strategy"].items():
        if strategies and name not in strategies:
            continue
        trades = strat.get("trades") or []
        stop_frames.append(from_backtest(name, trades))
        stake_ccy = str(strat.get("stake_currency") or "")
        lpath = ledger if ledger is not None else backtest_ledger_path(result.parent, name)
        records: list[FillRecord] = []
        if lpath.is_file():
            records = _read_ledger(lpath, skipped)
            ledgers[name] = lpath
        else:
            ledgers[name] = None
        if records:
            matched, unmatched_trades, funding = _match(trades, records)
            if unmatched_trades:
                notes.append(
                    f"{name}: {len(unmatched_trades)} of {len(trades)} exported trades "
                    f"have orders without a ledger record in {lpath.name}; those "
                    "orders are reported from Freqtrade's own columns"
                )
            rows += _rows_from_ledger(name, records, stake_ccy, funding)
            rows += _rows_from_export(name, unmatched_trades, stake_ccy, skip=matched)
            extra = len(records) - len(matched)  # one matched export order per record
            if extra:
                notes.append(
                    f"{name}: {extra} ledger record(s) match no exported order "
                    "(reported as recorded)"
                )
        else:
            rows += _rows_from_export(name, trades, stake_ccy)
        dec_frames += _decisions(result.parent, name, skipped)
    df = pd.DataFrame(rows) if rows else empty_orders()
    if pairs and len(df):
        df = df[df["pair"].isin(pairs)]
    df = df.reset_index(drop=True)
    df["row_id"] = np.arange(1, len(df) + 1)
    df["bot"] = ""
    orders = coerce_orders(df)
    from freqtrade_exec_ext.report.candle_markouts import add_candle_markouts

    notes += add_candle_markouts(orders, data, result, datadir)
    decisions, links = _link_decisions(dec_frames, orders)
    stops = pd.concat(stop_frames, ignore_index=True) if stop_frames else empty_trades()
    return BacktestRead(
        orders=orders,
        source=str(result),
        result_file=result,
        ledgers=ledgers,
        notes=notes,
        skipped=skipped,
        decisions=decisions,
        links=links,
        trades=stops.loc[stops["pair"].isin(pairs)] if pairs else stops,
    )


def _decisions(folder: Path, name: str, skipped: list[str]) -> list[pd.DataFrame]:
    from freqtrade_exec_ext.store.decisions import decision_log_path, read_decision_log

    path = decision_log_path(folder, name)
    if not path.is_file():
        return []
    records, problems = read_decision_log(path)
    if problems:
        skipped.append(
            f"{len(problems)} decision record line(s) skipped: " + "; ".join(problems[:3])
        )
    if not records:
        return []
    frame = pd.DataFrame([r.to_dict() for r in records])
    frame["id"] = np.arange(1, len(frame) + 1)
    frame["bot"] = ""
    return [frame]


def _link_decisions(
    frames: list[pd.DataFrame], orders: pd.DataFrame
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    if not frames:
        return None, None
    dec = pd.concat(frames, ignore_index=True)
    dec["id"] = np.arange(1, len(dec) + 1)
    by_oid = dict(zip(orders["order_id"].astype(str), orders["row_id"], strict=True))
    links = [
        (by_oid[o], did, k)
        for did, oids in zip(dec["id"], dec["order_ids"], strict=True)
        for k, o in enumerate(oids)
        if o in by_oid
    ]
    return dec, pd.DataFrame(links, columns=["row_id", "decision", "position"]).assign(bot="")


def _read_ledger(path: Path, skipped: list[str]) -> list[FillRecord]:
    """The records of a ledger file; a line that is not one is skipped and counted."""
    out = []
    bad: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = FillRecord.from_dict(json.loads(line))
                if not isinstance(rec.fill_price, int | float) or not isinstance(
                    rec.filled_amount, int | float
                ):
                    raise TypeError("fill_price/filled_amount must be numbers")
                out.append(rec)
            except (ValueError, TypeError, AttributeError) as exc:
                reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
                bad.append(f"{path.name} line {n}: {reason}")
    if bad:
        skipped.append(f"{len(bad)} ledger record(s) skipped: " + "; ".join(bad[:3]))
    return out


def _order_key(pair: str, entry: bool, ts: float) -> tuple[str, str, int]:
    return (pair, "entry" if entry else "exit", round(ts))


def _match(
    trades: list[dict[str, Any]], records: list[FillRecord]
) -> tuple[set[int], list[dict[str, Any]], dict[int, float]]:
    """Pair exported orders with ledger records by (pair, intent, fill time).

    The export carries no trade or order id, so this is the only join.  Returns the ids of
    matched export orders (id() of the dict), the trades with unmatched orders, and the
    trade funding to book on the ledger record of each trade's last order.
    """
    index: dict[tuple[str, str, int], list[int]] = {}
    for i, r in enumerate(records):
        index.setdefault((r.pair, r.intent, round(_ts(r.filled_time))), []).append(i)
    matched: set[int] = set()
    used: set[int] = set()
    funding: dict[int, float] = {}
    partial: list[dict[str, Any]] = []
    for t in trades:
        last_rec = None
        all_ok = True
        for o in t.get("orders") or []:
            key = _order_key(
                str(t.get("pair")), bool(o.get("ft_is_entry")), _ts(o.get("order_filled_timestamp"))
            )
            cands = [i for i in index.get(key, []) if i not in used]
            if cands:
                used.add(cands[0])
                matched.add(id(o))
                last_rec = cands[0]
            else:
                all_ok = False
        if last_rec is not None:
            funding[last_rec] = funding.get(last_rec, 0.0) + float(t.get("funding_fees") or 0.0)
        if not all_ok:
            partial.append(t)
    return matched, partial, funding


def _fee_stake(rec: FillRecord, stake_ccy: str) -> tuple[float, bool]:
    base = rec.pair.split("/", 1)[0]
    if rec.fee_cost is not None and math.isfinite(rec.fee_cost):
        if (
            not rec.fee_currency
            or rec.fee_currency == stake_ccy
            or (stake_ccy == "" and rec.fee_currency != base)
        ):
            return float(rec.fee_cost), bool(rec.fee_inferred)
        if rec.fee_currency == base:
            return float(rec.fee_cost) * rec.fill_price, bool(rec.fee_inferred)
    if rec.fee_rate is not None:
        return float(rec.fee_rate) * rec.filled_amount * rec.fill_price, True
    return math.nan, False


def _rows_from_ledger(
    name: str, records: list[FillRecord], stake_ccy: str, funding_by_record: dict[int, float]
) -> list[dict[str, Any]]:
    """One row per record; the trade's exported funding sits on its last matched record."""
    rows = []
    for i, r in enumerate(records):
        fee, est = _fee_stake(r, stake_ccy)
        funding = funding_by_record.get(i, 0.0)
        partial = r.filled_amount < r.ordered_amount * (1 - 1e-9)
        rows.append(
            {
                "strategy": name,
                "pair": r.pair,
                "side": r.side,
                "intent": r.intent,
                "order_type": r.order_type,
                "stage": "backtest",
                "trade_id": r.trade_id or 0,
                "row_id": 0,
                "order_id": r.order_id,
                "status": "partial" if partial else "filled",
                "amount": r.ordered_amount,
                "filled": r.filled_amount,
                "requested_price": r.requested_price,
                "fill_price": r.fill_price,
                "decision_price": r.decision_price,
                "arrival_mid": r.arrival_mid,
                "spread_cost_bps": r.spread_cost_bps,
                "fee": fee,
                "fee_estimated": est,
                "liquidity": r.liquidity or "",
                "funding": funding,
                "budget_bps": r.slippage_budget_bps,
                "over_budget": 1.0 if r.over_budget else 0.0,
                "placed_ts": _ts(r.placed_time),
                "filled_ts": _ts(r.filled_time),
                "has_ledger": True,
                "reason": r.exit_reason or "",
                "is_short": r.is_short,
            }
        )
    return rows


def _rows_from_export(
    name: str, trades: list[dict[str, Any]], stake_ccy: str, skip: set[int] | None = None
) -> list[dict[str, Any]]:
    """Fallback rows from the exported trades and their (minified) orders.

    The export has no trade id: rows get the trade's position (1-based) in the result.
    """
    rows = []
    skip = skip or set()
    for n, t in enumerate(trades, 1):
        is_short = bool(t.get("is_short"))
        orders = t.get("orders") or []
        filled_orders = [o for o in orders if (o.get("amount") or 0) > 0]
        for k, o in enumerate(filled_orders):
            if id(o) in skip:
                continue
            entry = bool(o.get("ft_is_entry"))
            side = ("sell" if is_short else "buy") if entry else ("buy" if is_short else "sell")
            price = float(o.get("safe_price") or math.nan)
            requested = t.get("open_rate_requested") if entry and k == 0 else None
            requested = float(requested) if requested else price
            amount = float(o.get("amount") or 0.0)
            rate = float((t.get("fee_open") if entry else t.get("fee_close")) or 0.0)
            last = k == len(filled_orders) - 1
            rows.append(
                {
                    "strategy": name,
                    "pair": t.get("pair", ""),
                    "side": side,
                    "intent": "entry" if entry else "exit",
                    "order_type": "n/a",
                    "stage": "backtest",
                    "trade_id": int(t.get("trade_id") or n),
                    "row_id": 0,
                    "order_id": "",
                    "status": "filled",
                    "amount": amount,
                    "filled": amount,
                    "requested_price": requested,
                    "fill_price": price,
                    "decision_price": np.nan,
                    "arrival_mid": np.nan,
                    "spread_cost_bps": np.nan,
                    "fee": rate * amount * price,
                    "fee_estimated": True,
                    "liquidity": "",
                    "funding": float(t.get("funding_fees") or 0.0) if last else 0.0,
                    "budget_bps": np.nan,
                    "over_budget": np.nan,
                    "placed_ts": _ts(o.get("order_filled_timestamp")),
                    "filled_ts": _ts(o.get("order_filled_timestamp")),
                    "has_ledger": False,
                    "is_short": is_short,
                    "reason": str((t.get("enter_tag") if entry else t.get("exit_reason")) or ""),
                }
            )
    return rows
