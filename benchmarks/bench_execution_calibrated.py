"""The calibration loop on the local venue: a calibrated backtest against the venue it models.

1. A LIVE-mode bot with the ExecutionMixin trades a signal schedule (4 spot pairs, an entry
   every 30 min per pair, exit 15 min later; see ``execution_venue.Schedule``) against the
   local venue on a virtual clock for ``HOURS`` hours of 5m candles (>= 300 fills).
2. ``freqtrade-exec calibrate`` fits an execution model from that run's database.
3. The same strategy, period and signals are backtested twice: with the model
   (``slippage.backtest_model``), and with the flat ``slippage.backtest_bps``; the
   model's backtest is then rescored (stop-loss fills).
4. Per round trip (entry + exit): cost = slippage against each decision price + fees, in
   bps; the median of the backtest's round trips minus the median of the venue's.  Profit:
   the closed trades' total, the backtest's against the venue's.

Prints ``calibrated backtest vs venue: <g> bps per round trip (median), profit <p>% apart``
and the same for the flat ``backtest_bps``.  Target: |g| <= 1 bps and profit within 10 %
(model); the flat line is the baseline.
"""

from __future__ import annotations

import contextlib
import io
import logging
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import execution_venue as ev
from benchmarks.execution_backtest import run_backtest

START = datetime(2025, 10, 16, tzinfo=UTC)
HOURS = 24.0
SETTLE = timedelta(hours=1)  # round trips opened this close to the end are not compared
PAIRS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT")
STRATEGY = "XCalMixin"
STRATEGY_ID = "STR-901"
SPOT_FEE = 0.001
TARGET_BPS = 1.0
TARGET_PROFIT = 0.10


def round_trips(
    records: Iterable[Any], stop_prices: dict[str, float | None], before: datetime
) -> dict[Any, float]:
    """trade id -> cost of its round trip in bps (slippage vs each decision + fees), for
    trades that entered before ``before`` and exited."""
    from freqtrade_exec_ext.execution.ledger import signed_bps

    legs: dict[Any, dict[str, list[tuple[float, float]]]] = defaultdict(
        lambda: {"entry": [], "exit": []}
    )
    opened: dict[Any, datetime] = {}
    for r in records:
        ref = stop_prices.get(r.order_id) if r.order_id in stop_prices else r.decision_price
        slip = signed_bps(r.side, ref, r.fill_price)
        if slip is None:
            continue
        legs[r.trade_id][r.intent].append((slip + (r.fee_rate or 0.0) * 1e4, r.notional))
        if r.intent == "entry" and r.placed_time:
            t = datetime.fromisoformat(r.placed_time)
            opened[r.trade_id] = min(t, opened.get(r.trade_id, t))
    out = {}
    for tid, leg in legs.items():
        if not leg["entry"] or not leg["exit"] or opened.get(tid, before) >= before:
            continue
        out[tid] = sum(_vwavg(leg[k]) for k in ("entry", "exit"))
    return out


def _vwavg(pairs: list[tuple[float, float]]) -> float:
    total = sum(n for _, n in pairs)
    return sum(c * n for c, n in pairs) / total if total else 0.0


def venue_profit(db: Path, before: datetime) -> float:
    import sqlite3

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT close_profit_abs FROM trades WHERE is_open = 0 AND open_date < ?",
            (before.replace(tzinfo=None).isoformat(sep=" "),),
        ).fetchall()
    finally:
        con.close()
    return float(sum(r[0] or 0.0 for r in rows))


def backtest_profit(trades: list[dict[str, Any]], before: datetime) -> float:
    return float(sum(
        t["profit_abs"] for t in trades
        if datetime.fromisoformat(str(t["open_date"])) < before
        and t.get("exit_reason") != "force_exit"
    ))


def _line(name: str, g: float, p: float) -> str:
    return f"{name} vs venue: {g:+.2f} bps per round trip (median), profit {p:.1f}% apart"


def compare(label: str, venue_costs: dict[Any, float], venue_pnl: float,
            bt_costs: dict[Any, float], bt_pnl: float) -> tuple[str, float, float]:
    g = statistics.median(bt_costs.values()) - statistics.median(venue_costs.values())
    p = abs(bt_pnl - venue_pnl) / abs(venue_pnl) * 100 if venue_pnl else float("inf")
    return _line(label, g, p), g, p


def _setup(tmp: Path, model: Path | None) -> tuple[Path, dict[str, Any]]:
    sched = ev.Schedule(pairs=PAIRS)
    sdir = tmp / "strategies"
    sdir.mkdir(exist_ok=True)
    (sdir / f"{STRATEGY}.py").write_text(
        sched.strategy_source(STRATEGY, mixin=True, strategy_id=STRATEGY_ID)
    )
    slippage = {"backtest_model": str(model)} if model else {}
    contract = ev.write_contract(tmp, ev.contract_data(
        STRATEGY_ID, futures=False, stop_loss={"stoploss": -0.01}, slippage=slippage,
    ))
    return sdir, {"exec_ext": {"risk_contract": str(contract)}}


def main() -> int:
    from freqtrade_exec_ext.calibration.apply import load_for_backtest
    from freqtrade_exec_ext.calibration.build import CalibrationInput, calibrate
    from freqtrade_exec_ext.calibration.model import save
    from freqtrade_exec_ext.calibration.rescore import rescore, summary_lines
    from freqtrade_exec_ext.calibration.sources import OrderCandles, read_database
    from freqtrade_exec_ext.store.ledger_files import backtest_ledger_path, read_jsonl

    t0 = time.perf_counter()
    end = START + timedelta(hours=HOURS)
    before = end - SETTLE
    sched = ev.Schedule(pairs=PAIRS)
    acts = sched.act_times(START, end + SETTLE)
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-cal-", dir=ev.scratch_dir()) as td:
        tmp = Path(td)
        venue_dir = tmp / "venue"
        venue_dir.mkdir()
        sdir, extra = _setup(venue_dir, None)
        run = ev.run_bot(
            venue_dir,
            lambda url: ev.bot_config(venue_dir, url, pairs=list(PAIRS), strategy=STRATEGY,
                                      strategy_path=sdir, futures=False, extra=extra),
            start=START, end=end, next_signal=ev.next_after(acts),
        )
        t_venue = time.perf_counter() - t0
        model_path = tmp / "execution-model.json"
        model = calibrate(CalibrationInput(urls=[run.db_url], datadir=ev.DATADIR))
        save(model, model_path)
        db = read_database(run.db_url)
        venue_costs = round_trips(db.records, db.stop_orders, before)
        venue_pnl = venue_profit(run.db_path, before)
        results = {}
        for label, mpath in (("calibrated backtest", model_path), ("flat backtest_bps", None)):
            bdir = tmp / label.replace(" ", "-")
            bdir.mkdir()
            sdir_b, extra_b = _setup(bdir, mpath)
            cfg = ev.bot_config(bdir, "http://127.0.0.1:1", pairs=list(PAIRS),
                                strategy=STRATEGY, strategy_path=sdir_b, futures=False,
                                extra=extra_b)
            with contextlib.redirect_stdout(io.StringIO()):
                trades, rdir = run_backtest(bdir, cfg, strategy=STRATEGY, start=START,
                                               end=end, fee=SPOT_FEE)
            records = read_jsonl(backtest_ledger_path(rdir, STRATEGY))
            note = []
            if mpath is not None:
                costs = load_for_backtest(mpath, backtest_fee=SPOT_FEE)
                candles = OrderCandles({"datadir": str(ev.DATADIR), "candle_type_def": "spot",
                                        "dataformat_ohlcv": "feather"}, "5m")
                r = rescore(costs, trades, candles=candles)
                note = summary_lines(r, len(trades))
                trades = r.trades
            results[label] = (round_trips(records, {}, before),
                              backtest_profit(trades, before), len(trades), note)
    logging.disable(logging.NOTSET)
    wall = time.perf_counter() - t0
    print(f"venue: {len(run.fills)} venue fills, {len(venue_costs)} round trips, "
          f"profit {venue_pnl:.4f} USDT, median cost "
          f"{statistics.median(venue_costs.values()):.2f} bps; {run.loops} bot loops "
          f"({run.process_s:.0f} s in the bot), venue run {t_venue:.0f} s")
    for line in model_lines_short(model):
        print(line)
    ok = True
    for label, (costs_, pnl, n, note) in results.items():
        line, g, p = compare(label, venue_costs, venue_pnl, costs_, pnl)
        print(f"  {label}: {len(costs_)} round trips of {n} trades, profit {pnl:.4f} USDT, "
              f"median cost {statistics.median(costs_.values()):.2f} bps")
        for n_line in note:
            print(f"  {n_line}")
        print(line)
        if label.startswith("calibrated"):
            ok = abs(g) <= TARGET_BPS and p <= TARGET_PROFIT * 100
    print(f"targets (calibrated): |g| <= {TARGET_BPS:g} bps, profit within "
          f"{TARGET_PROFIT:.0%}: {'met' if ok else 'MISSED'}; wall {wall:.0f} s")
    return 0 if ok else 1


def model_lines_short(model: Any) -> list[str]:
    out = []
    for c in model.cells:
        out.append(f"  model {c.key}: {c.fills}/{c.attempts} filled "
                   f"(p={c.fill_probability.value:.2f}), maker share "
                   f"{c.maker_share.value:.0%}, {len(c.bins)} candle bins")
    return out


if __name__ == "__main__":
    raise SystemExit(main())
