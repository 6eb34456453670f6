"""``rescore``: correct a finished backtest for the fills no callback could reach.

Freqtrade fills a backtest stop-loss exactly at its stop price, an ROI exit exactly at its
ROI price, forced/emergency exits and market orders at the candle's price, all at one fee
rate, and calls no strategy callback on the way, so the mixin cannot charge them.  This
module moves each such fill by the model (the stop-loss trigger-to-fill gap; the exit
cell's cost for ROI/forced/emergency exits), corrects its fee to the realised rate, and
recomputes the trade's profit with Freqtrade's formulas (the amount kept).  Limit entries
and signal exits were already modelled by the mixin during the backtest and are left
alone, unless ``all_fills`` (a backtest run without the model, e.g. plain Freqtrade).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from freqtrade_exec_ext.calibration import stats
from freqtrade_exec_ext.calibration.apply import BacktestCosts

STOP_REASONS = frozenset({"stop_loss", "stoploss_on_exchange", "trailing_stop_loss", "liquidation"})
UNREACHABLE_EXITS = STOP_REASONS | {"roi", "force_exit", "emergency_exit"}


@dataclass
class Change:
    kind: str  # "stop-loss exit", "roi exit", "entry", ...
    moved_bps: list[float] = field(default_factory=list)  # price moves (positive = cost)
    fee_bps: list[float] = field(default_factory=list)  # fee corrections
    profit_delta: float = 0.0


@dataclass
class Rescored:
    trades: list[dict[str, Any]]
    changes: dict[str, Change]
    notes: list[str]
    profit_before: float
    profit_after: float


def _sign(side_is_buy: bool) -> float:
    return 1.0 if side_is_buy else -1.0


def _draw(qs: Sequence[float], u: float) -> float:
    return stats.slice_at(qs, u) if qs else 0.0


def _exit_move(
    costs: BacktestCosts, trade: dict[str, Any], reason: str
) -> tuple[float, float, str]:
    """(price move bps, realised fee rate, kind) for an exit the callbacks missed."""
    model = costs.model
    side = "buy" if trade.get("is_short") else "sell"
    u = costs.draws.next("rescore", "exit", reason)
    if reason in STOP_REASONS:
        gap = model.stop(side)
        if gap is not None:
            shift = gap.pairs[trade["pair"]].shift_bps if trade["pair"] in gap.pairs else 0.0
            fee = gap.fee_rate.value if gap.fee_rate else float(trade.get("fee_close") or 0.0)
            return _draw(gap.gap_slices_bps, u) + shift, fee, "stop-loss exit"
        # no stop fills in the data: the exit cell's costs, the nearest evidence
    cell = model.cell("exit", side, "market") or model.cell("exit", side, "limit")
    if cell is None:
        return 0.0, float(trade.get("fee_close") or 0.0), f"{reason} exit (no model cell)"
    shift = cell.pairs[trade["pair"]].shift_bps if trade["pair"] in cell.pairs else 0.0
    cost = _draw(cell.cost_slices_bps, u) + shift
    fee = cell.fee_rate.value
    kind = "stop-loss exit (exit cell)" if reason in STOP_REASONS else f"{reason} exit"
    return cost - fee * 10_000.0, fee, kind


def _entry_move(costs: BacktestCosts, trade: dict[str, Any]) -> tuple[float, float]:
    model = costs.model
    side = "sell" if trade.get("is_short") else "buy"
    cell = model.cell("entry", side, "limit") or model.cell("entry", side, "market")
    if cell is None:
        return 0.0, float(trade.get("fee_open") or 0.0)
    u = costs.draws.next("rescore", "entry")
    shift = cell.pairs[trade["pair"]].shift_bps if trade["pair"] in cell.pairs else 0.0
    cost = _draw(cell.cost_slices_bps, u) + shift
    return cost - cell.fee_rate.value * 10_000.0, cell.fee_rate.value


def _beyond(costs: BacktestCosts, candles: Any, trade: dict[str, Any], intent: str) -> float:
    """Expected modelled cost the backtest could not charge inside the order's candle."""
    from datetime import datetime, timedelta

    from freqtrade_exec_ext.calibration.apply import beyond_candle_bps

    when = datetime.fromisoformat(str(trade["open_date" if intent == "entry" else "close_date"]))
    candle = candles.at(trade["pair"], when)
    signal = candles.at(trade["pair"], when - timedelta(seconds=1))
    if candle is None or signal is None:
        return 0.0
    short = bool(trade.get("is_short"))
    side = ("sell" if short else "buy") if intent == "entry" else ("buy" if short else "sell")
    return beyond_candle_bps(
        costs,
        pair=trade["pair"],
        intent=intent,
        side=side,
        decision_price=signal.close,
        candle=candle,
    )


def _legs(
    costs: BacktestCosts, trade: dict[str, Any], *, all_fills: bool, candles: Any
) -> list[tuple[str, str, float, float]]:
    """[(leg entry|exit, kind, price move bps (positive = cost), new fee rate)]."""
    legs = []
    reason = str(trade.get("exit_reason") or "")
    fee_open, fee_close = float(trade.get("fee_open") or 0.0), float(trade.get("fee_close") or 0)
    if all_fills:
        move, fee = _entry_move(costs, trade)
        legs.append(("entry", "entry", move, fee))
    elif candles is not None:
        rem = _beyond(costs, candles, trade, "entry")
        if rem:
            legs.append(("entry", "entry beyond its candle", rem, fee_open))
    if trade.get("close_rate") is None:
        return legs
    if reason in UNREACHABLE_EXITS:
        move, fee, kind = _exit_move(costs, trade, reason)
        legs.append(("exit", kind, move, fee))
    elif all_fills:
        move, fee, kind = _exit_signal_move(costs, trade)
        legs.append(("exit", kind, move, fee))
    elif candles is not None:
        rem = _beyond(costs, candles, trade, "exit")
        if rem:
            legs.append(("exit", "signal exit beyond its candle", rem, fee_close))
    return legs


def rescore_trade(
    costs: BacktestCosts, trade: dict[str, Any], *, all_fills: bool, candles: Any = None
) -> tuple[dict[str, Any], list[tuple[str, float, float, float]]]:
    """The trade with its fills moved; [(kind, move bps, fee bps, profit delta)]."""
    t = dict(trade)
    done: list[tuple[str, float, float, float]] = []
    short = bool(t.get("is_short"))
    amount = float(t["amount"])
    profit = float(t.get("profit_abs") or 0.0)
    for leg, kind, move, fee in _legs(costs, trade, all_fills=all_fills, candles=candles):
        if leg == "entry":
            o, f0 = float(t["open_rate"]), float(t.get("fee_open") or 0.0)
            o2 = o * (1.0 + _sign(not short) * move / 10_000.0)
            # long: pays amount*o*(1+fee); short: receives amount*o*(1-fee)
            delta = (
                -amount * (o2 * (1 + fee) - o * (1 + f0))
                if not short
                else amount * (o2 * (1 - fee) - o * (1 - f0))
            )
            t["open_rate"], t["fee_open"] = o2, fee
        else:
            c, f0 = float(t["close_rate"]), float(t.get("fee_close") or 0.0)
            c2 = c * (1.0 - _sign(not short) * move / 10_000.0)
            delta = (
                amount * (c2 * (1 - fee) - c * (1 - f0))
                if not short
                else -amount * (c2 * (1 + fee) - c * (1 + f0))
            )
            t["close_rate"], t["fee_close"] = c2, fee
        profit += delta
        done.append((kind, move, (fee - f0) * 10_000.0, delta))
    if done:
        lev = float(t.get("leverage") or 1.0)
        open_value = (
            amount * float(t["open_rate"]) * (1 + float(t["fee_open"]) * (-1 if short else 1))
        )
        t["profit_ratio"] = (
            float(trade.get("profit_ratio") or 0.0)
            + (profit - float(trade.get("profit_abs") or 0.0)) * lev / open_value
        )
        t["profit_abs"] = profit
        t["rescore"] = [
            {"fill": k, "moved_bps": round(m, 4), "fee_bps": round(f, 4), "profit_delta": d}
            for k, m, f, d in done
        ]
    return t, done


def _exit_signal_move(costs: BacktestCosts, trade: dict[str, Any]) -> tuple[float, float, str]:
    move, fee, _ = _exit_move(costs, trade, "exit_signal")
    return move, fee, "signal exit"


def rescore(
    costs: BacktestCosts,
    trades: Sequence[dict[str, Any]],
    *,
    all_fills: bool = False,
    candles: Any = None,
) -> Rescored:
    """``candles`` (sources.OrderCandles): also add what the backtest could not charge
    inside each modelled order's candle (without: a note says it was not done)."""
    out: list[dict[str, Any]] = []
    changes: dict[str, Change] = defaultdict(lambda: Change(kind=""))
    for trade in trades:
        new, done = rescore_trade(costs, trade, all_fills=all_fills, candles=candles)
        out.append(new)
        for kind, move, fee, delta in done:
            ch = changes[kind]
            ch.kind = kind
            ch.moved_bps.append(move)
            ch.fee_bps.append(fee)
            ch.profit_delta += delta
    notes = []
    if candles is None and not all_fills:
        notes.append(
            "no candles (--datadir): the modelled cost beyond each order's candle "
            "(which Freqtrade cannot fill) was not added"
        )
    if costs.model.stops == [] and any(str(t.get("exit_reason")) in STOP_REASONS for t in trades):
        notes.append(
            "the model holds no stop-loss fills: stop exits moved by the exit cell's "
            "costs instead of a measured trigger-to-fill gap"
        )
    before = float(sum(float(t.get("profit_abs") or 0.0) for t in trades))
    after = float(sum(float(t.get("profit_abs") or 0.0) for t in out))
    return Rescored(
        trades=out, changes=dict(changes), notes=notes, profit_before=before, profit_after=after
    )


def summary_lines(r: Rescored, n_trades: int) -> list[str]:
    lines = []
    for ch in sorted(r.changes.values(), key=lambda c: c.kind):
        lines.append(
            f"rescore: {len(ch.moved_bps)} {ch.kind} fill(s) moved by a median "
            f"{float(np.median(ch.moved_bps)):.2f} bps (mean {float(np.mean(ch.moved_bps)):.2f}),"
            f" fee corrected by a median {float(np.median(ch.fee_bps)):+.2f} bps: "
            f"profit {ch.profit_delta:+.4f}"
        )
    if not r.changes:
        lines.append(
            f"rescore: none of the {n_trades} trades has a fill the model corrects "
            "(no stop-loss, ROI, forced or emergency exit)"
        )
    change = r.profit_after - r.profit_before
    rel = f" ({change / abs(r.profit_before):+.1%})" if r.profit_before else ""
    lines.append(
        f"rescore: total profit {r.profit_before:.4f} -> {r.profit_after:.4f}{rel} "
        f"over {n_trades} trades"
    )
    return lines + [f"rescore: note: {n}" for n in r.notes]


def profit_table(
    before: Sequence[dict[str, Any]], after: Sequence[dict[str, Any]], currency: str
) -> str:
    """Per pair: trades, profit before and after, as a text table."""
    import io

    from rich.console import Console
    from rich.table import Table

    rows: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for b, a in zip(before, after, strict=True):
        r = rows[str(b["pair"])]
        r[0] += 1
        r[1] += float(b.get("profit_abs") or 0.0)
        r[2] += float(a.get("profit_abs") or 0.0)
    table = Table(title="profit per pair, backtest vs rescored")
    for col in ("pair", "trades", f"profit {currency}", f"rescored {currency}", "change"):
        table.add_column(col, justify="left" if col == "pair" else "right")
    total = [0.0, 0.0, 0.0]
    for pair, (n, p0, p1) in sorted(rows.items()):
        table.add_row(pair, f"{n:.0f}", f"{p0:.4f}", f"{p1:.4f}", f"{p1 - p0:+.4f}")
        total = [total[0] + n, total[1] + p0, total[2] + p1]
    table.add_row(
        "TOTAL",
        f"{total[0]:.0f}",
        f"{total[1]:.4f}",
        f"{total[2]:.4f}",
        f"{total[2] - total[1]:+.4f}",
    )
    buf = io.StringIO()
    Console(file=buf, width=100, color_system=None).print(table)
    return buf.getvalue()


def write_outputs(
    result_file: Path, strategy: str, r: Rescored, table: str, lines: list[str], source: str
) -> tuple[Path, Path]:
    """``<result>-<strategy>-rescored.json`` (the adjusted trades) and ``...-profit.txt``
    beside the backtest result."""
    stem = result_file.name.rsplit(".", 1)[0]
    trades_path = result_file.parent / f"{stem}-{strategy}-rescored.json"
    table_path = result_file.parent / f"{stem}-{strategy}-rescored-profit.txt"
    payload = {
        "backtest": result_file.name,
        "strategy": strategy,
        "model": source,
        "summary": lines,
        "profit_before": r.profit_before,
        "profit_after": r.profit_after,
        "trades": r.trades,
    }
    trades_path.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")
    table_path.write_text(table + "\n".join(lines) + "\n", encoding="utf-8")
    return trades_path, table_path
