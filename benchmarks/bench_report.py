"""``freqtrade-exec report`` on a Freqtrade database of 1,000,000 orders.

Target (issue 15.5): the report (terminal tables + JSON) in at most 5 s with under 1 GB
peak memory (the whole process tree, sampled every 20 ms: the report reads big SQLite
files with 2 workers), and at most 2x the baseline measured in the same run: a raw
single-threaded stdlib ``sqlite3`` cursor scan (``fetchmany``) of exactly the columns the
report needs (the orders' projected columns, the trades' columns, the ledger rows'
key and JSON text), the least any Python reader of those columns pays.  It prints::

    report 1M orders: <s> s, <MB> MB peak, <r>x raw scan

The database is written with Freqtrade's own table definitions (``init_db`` creates the
schema; rows go in through SQLAlchemy Core bulk inserts on ``Trade.__table__``,
``Order.__table__`` and ``_CustomData.__table__``), with one execution-ledger record per
filled order, as the mixin writes them in dry-run.  Each measurement runs in a fresh
subprocess that reports its own wall time and peak RSS (``ru_maxrss``); the raw scan, the
report and the report on the exact stdlib path alone take turns for ``REPEAT`` rounds
(``BENCH_REPORT_REPEAT``, 3), and each prints its fastest time and its highest peak.

``python -m benchmarks report`` runs it; ``BENCH_REPORT_ORDERS`` changes the size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

N_ORDERS = int(os.environ.get("BENCH_REPORT_ORDERS", "1000000"))
REPEAT = int(os.environ.get("BENCH_REPORT_REPEAT", "3"))
TARGET_S = 5.0
TARGET_RSS_MB = 1024.0
TARGET_RATIO = 2.0

PAIRS = [f"{b}/USDT" for b in ("BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "BNB", "LTC")]
BASE_PRICE = {"BTC": 60000.0, "ETH": 3000.0, "SOL": 150.0, "XRP": 0.6, "ADA": 0.45,
              "DOGE": 0.15, "BNB": 550.0, "LTC": 80.0}


def build_db(path: Path, n_orders: int, seed: int = 7) -> dict[str, int]:
    """Write a dry-run-like Freqtrade database with about ``n_orders`` orders."""
    import numpy as np
    import orjson
    from freqtrade.enums import TradingMode
    from freqtrade.persistence import Order, Trade, init_db
    from freqtrade.persistence.custom_data import _CustomData

    url = f"sqlite:///{path}"
    init_db(url)
    engine = Trade.session.get_bind()
    rng = np.random.default_rng(seed)
    # about 3 orders per trade: entry, exit, and on average one cancelled (repriced) entry
    n_trades = n_orders // 3 + 1000  # the loop stops at n_orders
    t0 = datetime(2025, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    counts = {"trades": 0, "orders": 0, "ledger": 0}
    chunk = 20000
    oid = 0
    for start in range(0, n_trades, chunk):
        k = min(chunk, n_trades - start)
        pair_ix = rng.integers(0, len(PAIRS), k).tolist()
        drift = rng.normal(0.0, 0.01, k).tolist()
        slip_in = rng.normal(2.0, 4.0, k).tolist()
        slip_out = rng.normal(3.0, 6.0, k).tolist()
        delay_in = rng.normal(0.5, 2.0, k).tolist()
        delay_out = rng.normal(0.5, 2.0, k).tolist()
        maker = (rng.random(k) < 0.6).tolist()
        n_cancel = rng.integers(0, 3, k).tolist()  # cancelled (repriced) entries before the fill
        stake = rng.uniform(20.0, 300.0, k).tolist()
        trades, orders, cds = [], [], []
        for i in range(k):
            if oid >= n_orders:
                break
            tid = start + i + 1
            pair = PAIRS[pair_ix[i]]
            base = BASE_PRICE[pair.split("/")[0]] * (1 + 0.0001 * (tid % 997))
            opened = t0 + timedelta(minutes=5 * (tid // 4))
            closed = opened + timedelta(minutes=45)
            entry_dec = base
            entry_arr = base * (1 + delay_in[i] / 1e4)
            entry_fill = entry_arr * (1 + slip_in[i] / 1e4)
            amount = stake[i] / entry_fill
            exit_dec = base * (1 + drift[i])
            exit_arr = exit_dec * (1 - delay_out[i] / 1e4)
            exit_fill = exit_arr * (1 - slip_out[i] / 1e4)
            fee = 0.001
            trades.append({
                "id": tid, "exchange": "binance", "pair": pair, "base_currency": pair[:-5],
                "stake_currency": "USDT", "is_open": False, "fee_open": fee,
                "fee_open_cost": fee * stake[i], "fee_open_currency": "USDT",
                "fee_close": fee, "fee_close_cost": fee * amount * exit_fill,
                "fee_close_currency": "USDT", "open_rate": entry_fill,
                "open_rate_requested": entry_dec, "close_rate": exit_fill,
                "close_rate_requested": exit_dec, "stake_amount": stake[i],
                "max_stake_amount": stake[i], "amount": amount, "amount_requested": amount,
                "open_date": opened, "close_date": closed, "strategy": "STR001",
                "timeframe": 5, "trading_mode": TradingMode.SPOT, "leverage": 1.0,
                "is_short": False,
                "exit_reason": "exit_signal", "enter_tag": "trend_pullback",
                "record_version": 2,
            })
            legs = (("buy", "entry", entry_dec, entry_arr, entry_fill, opened, delay_in[i]),
                    ("sell", "exit", exit_dec, exit_arr, exit_fill, closed, delay_out[i]))
            for leg, (side, intent, dec, arr, fill, when, _) in enumerate(legs):
                cancels = int(n_cancel[i]) if leg == 0 else 0
                for c in range(cancels):
                    oid += 1
                    orders.append(_order(oid, tid, pair, side, "limit", "canceled", dec,
                                         amount, 0.0, None, when + timedelta(seconds=60 * c),
                                         None))
                oid += 1
                filled_at = when + timedelta(seconds=60 * cancels + 20)
                liq = "maker" if maker[i] else "taker"
                orders.append(_order(oid, tid, pair, side, "limit", "closed", fill, amount,
                                     amount, fill, when + timedelta(seconds=60 * cancels),
                                     filled_at))
                order_id = f"dry_run_{side}_{pair}_{oid:012d}"
                sb = (fill - dec) / dec * 1e4 * (1 if side == "buy" else -1)
                sa = (fill - arr) / arr * 1e4 * (1 if side == "buy" else -1)
                budget = 15.0 if intent == "entry" else 30.0
                rec = {
                    "strategy_id": "STR-001", "pair": pair, "side": side, "intent": intent,
                    "is_short": False, "order_type": "limit", "order_id": order_id,
                    "trade_id": tid, "runmode": "dry_run", "decision_price": dec,
                    "decision_time": when.isoformat() + "+00:00", "arrival_mid": arr,
                    "arrival_spread_bps": 1.5, "requested_price": fill, "fill_price": fill,
                    "filled_amount": amount, "ordered_amount": amount,
                    "notional": amount * fill, "slippage_decision_bps": sb,
                    "slippage_arrival_bps": sa,
                    "spread_cost_bps": 0.0 if liq == "maker" else 0.75,
                    "fee_cost": amount * fill * fee, "fee_currency": "USDT", "fee_rate": fee,
                    "liquidity": liq, "fee_inferred": False, "funding_fees": 0.0,
                    "reprice_count": cancels, "placed_time": when.isoformat() + "+00:00",
                    "filled_time": filled_at.isoformat() + "+00:00",
                    "time_to_fill_s": 60.0 * cancels + 20, "slippage_budget_bps": budget,
                    "over_budget": sb > budget, "exit_reason": None,
                    "backtest_slippage_bps": 0.0, "schema_version": 1,
                }
                cds.append({"ft_trade_id": tid, "cd_key": f"exec_ext.fill.{order_id}",
                            "cd_type": "dict", "cd_value": orjson.dumps(rec).decode(),
                            "created_at": filled_at})
        with engine.begin() as conn:
            conn.execute(Trade.__table__.insert(), trades)
            conn.execute(Order.__table__.insert(), orders)
            conn.execute(_CustomData.__table__.insert(), cds)
        counts["trades"] += len(trades)
        counts["orders"] += len(orders)
        counts["ledger"] += len(cds)
        if counts["orders"] >= n_orders:
            break
    engine.dispose()
    return counts


def _order(oid: int, tid: int, pair: str, side: str, otype: str, status: str, price: float,
           amount: float, filled: float, average: float | None, placed: datetime,
           filled_at: datetime | None) -> dict[str, Any]:
    return {
        "id": oid, "ft_trade_id": tid, "ft_order_side": side, "ft_pair": pair,
        "ft_is_open": False, "ft_amount": amount, "ft_price": price,
        "order_id": f"dry_run_{side}_{pair}_{oid:012d}", "status": status, "symbol": pair,
        "order_type": otype, "side": side, "price": price, "average": average,
        "amount": amount, "filled": filled, "remaining": amount - filled,
        "cost": filled * (average or 0.0), "order_date": placed,
        "order_filled_date": filled_at, "order_update_date": filled_at or placed,
        "funding_fee": 0.0, "ft_fee_base": None,
        "ft_order_tag": "trend_pullback" if side == "buy" else "exit_signal",
    }


_RUNNER = """
import json, resource, sys, threading, time
import psutil

peak = [0]
def sample():  # the whole process tree: the report reads big SQLite files with 2 workers
    me = psutil.Process()
    while True:
        try:
            rss = me.memory_info().rss + sum(c.memory_info().rss
                                             for c in me.children(recursive=True))
        except psutil.Error:
            continue
        peak[0] = max(peak[0], rss)
        time.sleep(0.02)
threading.Thread(target=sample, daemon=True).start()
t = time.perf_counter()
mode, arg = sys.argv[1], sys.argv[2]
if mode == "scan":
    import sqlite3
    con = sqlite3.connect(f"file:{arg}?mode=ro", uri=True)
    n = 0
    for sql in json.loads(sys.argv[3]):
        cur = con.execute(sql)
        while True:
            rows = cur.fetchmany(10_000)
            if not rows:
                break
            n += len(rows)
    con.close()
    rc = 0
else:
    if mode == "report-exact":  # the exact (stdlib) SQLite path alone, for comparison
        from freqtrade_exec_ext.report.readers import sqlite_arrow
        sqlite_arrow.available = lambda: False
    from freqtrade_exec_ext.cli.main import main
    rc = main(json.loads(arg))
    n = None
elapsed = time.perf_counter() - t
print(json.dumps({"s": elapsed, "rc": rc, "rows": n,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "child_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                  "tree_mb": peak[0] / 1e6}))
"""


# the columns the report reads, table by table (names from compat.schema's declarations)
RAW_SCAN = [
    ("SELECT id, ft_trade_id, ft_price, average, amount, ft_amount, filled, funding_fee, side, "
     "ft_order_side, status, order_type, ft_order_tag, order_date, order_filled_date, order_id "
     "FROM orders"),
    "SELECT id, strategy, pair, stake_currency, is_short, fee_open, fee_close FROM trades",
    ("SELECT ft_trade_id, cd_key, cd_value FROM trade_custom_data "
     "WHERE cd_key LIKE 'exec\\_ext.fill.%' ESCAPE '\\'"),
]


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest run's time, and the highest peak memory of all runs."""
    best = dict(min(runs, key=lambda r: float(r["s"])))
    best["tree_mb"] = max(float(r["tree_mb"]) for r in runs)
    best["rss_mb"] = max(float(r["rss_mb"]) for r in runs)
    return best


def _measure_once(mode: str, *args: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", _RUNNER, mode, *args], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        db = Path(tmp) / "tradesv3.dryrun.sqlite"
        t = time.perf_counter()
        counts = build_db(db, N_ORDERS)
        print(f"built {counts['orders']:,} orders, {counts['trades']:,} trades, "
              f"{counts['ledger']:,} ledger records in {time.perf_counter() - t:.1f} s "
              f"({db.stat().st_size / 1e6:.0f} MB)", flush=True)
        return _compare(db)


def _compare(db: Path) -> int:
    import sqlite3

    from freqtrade_exec_ext.compat import schema

    con = sqlite3.connect(db)
    n_orders = con.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    con.close()
    assert schema.TABLES.custom_data == "trade_custom_data"  # the names RAW_SCAN spells
    out = {m: db.parent / f"{m}.json" for m in ("report", "report-exact")}
    runs: dict[str, list[dict[str, Any]]] = {"scan": [], "report": [], "report-exact": []}
    for _ in range(REPEAT):  # rounds: the three take turns, so a busy moment hits all alike
        runs["scan"].append(_measure_once("scan", str(db), json.dumps(RAW_SCAN)))
        for mode in ("report", "report-exact"):
            args = ["report", "--db", f"sqlite:///{db}", "--json", str(out[mode]), "--width", "120"]
            runs[mode].append(_measure_once(mode, json.dumps(args)))
            if runs[mode][-1]["rc"] != 0:
                print(f"{mode} exited {runs[mode][-1]['rc']}")
                return 1
    scan, rep, exact = (_best(runs[m]) for m in ("scan", "report", "report-exact"))
    n_rep = json.loads(out["report"].read_text())["totals"]["orders"]
    if json.loads(out["report-exact"].read_text())["totals"] != json.loads(
        out["report"].read_text()
    )["totals"]:
        print("the fast and the exact path disagree on the totals")
        return 1
    peak = max(rep["tree_mb"], rep["rss_mb"])
    ratio = rep["s"] / scan["s"]
    con = sqlite3.connect(db)
    json_mb = con.execute("SELECT SUM(LENGTH(cd_value)) FROM trade_custom_data").fetchone()[0]
    con.close()
    print(f"raw sqlite3 scan of the columns the report needs: {scan['s']:.2f} s "
          f"({scan['rows']:,} rows, {scan['rss_mb']:.0f} MB; of it {json_mb / 1e6:.0f} MB of "
          "ledger JSON)")
    print(f"report with the exact stdlib path only: {exact['s']:.2f} s, "
          f"{max(exact['tree_mb'], exact['rss_mb']):.0f} MB peak "
          f"(the fast path: {exact['s'] / rep['s']:.2f}x faster)")
    print(f"report 1M orders: {rep['s']:.2f} s, {peak:.0f} MB peak, {ratio:.2f}x raw scan")
    ok = (rep["s"] <= TARGET_S and peak < TARGET_RSS_MB and ratio <= TARGET_RATIO
          and n_rep == n_orders)
    print(f"target: <= {TARGET_S:.0f} s, < {TARGET_RSS_MB:.0f} MB, <= {TARGET_RATIO:.0f}x raw "
          f"scan ({n_rep:,} orders reported) -> {'OK' if ok else 'OVER TARGET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1:  # an existing database: python -m benchmarks.bench_report FILE
        sys.exit(_compare(Path(sys.argv[1])))
    sys.exit(main())
