"""Regenerate ``data/venue-run-spot.sqlite``: a real bot's database from the local venue.

``python tests/calibration/make_fixture.py [HOURS]`` runs the benchmark's schedule
strategy (``benchmarks/execution_venue.py``: 4 spot pairs, ExecutionMixin, LIVE mode with
the order guard, virtual clock) from 2025-10-16 00:00 UTC for HOURS hours (default 6) on
``user_data/data/binance`` and copies the bot's SQLite database here, with the venue's own
fills as JSON (``venue-run-spot.fills.json``) so tests can check the ledger against them.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
START = datetime(2025, 10, 16, tzinfo=UTC)
PAIRS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT")


def generate(dest: Path, hours: float) -> int:
    sys.path.insert(0, str(REPO))
    from benchmarks import execution_venue as ev

    end = START + timedelta(hours=hours)
    sched = ev.Schedule(pairs=PAIRS)
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="cal-fixture-", dir=ev.scratch_dir()) as td:
        tmp = Path(td)
        sdir = tmp / "strategies"
        sdir.mkdir()
        (sdir / "XCalMixin.py").write_text(
            sched.strategy_source("XCalMixin", mixin=True, strategy_id="STR-901"))
        contract = ev.write_contract(tmp, ev.contract_data(
            "STR-901", futures=False, stop_loss={"stoploss": -0.01}))
        run = ev.run_bot(
            tmp,
            lambda url: ev.bot_config(tmp, url, pairs=list(PAIRS), strategy="XCalMixin",
                                      strategy_path=sdir, futures=False,
                                      extra={"exec_ext": {"risk_contract": str(contract)}}),
            start=START, end=end, next_signal=ev.next_after(sched.act_times(START, end)),
        )
        dest.unlink(missing_ok=True)
        src, out = sqlite3.connect(run.db_path), sqlite3.connect(dest)
        src.backup(out)  # a consistent copy, the WAL folded in
        out.execute("PRAGMA journal_mode=DELETE")
        out.execute("VACUUM")
        src.close()
        out.close()
        fills = [{"order_id": str(f.order_id), "symbol": f.symbol, "price": f.price,
                  "qty": f.qty, "is_maker": bool(f.is_maker)} for f in run.fills]
        dest.with_suffix(".fills.json").write_text(json.dumps(fills, indent=0))
    return len(fills)


if __name__ == "__main__":
    hours = float(sys.argv[1]) if len(sys.argv) > 1 else 6.0
    n = generate(HERE / "data" / "venue-run-spot.sqlite", hours)
    print(f"wrote {HERE / 'data' / 'venue-run-spot.sqlite'} ({n} venue fills, {hours:g} h)")
