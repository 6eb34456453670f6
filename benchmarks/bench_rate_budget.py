"""6 bots on one IP against the local exchange: plain Freqtrade vs the shared request budget.

Six real ``freqtrade trade`` processes (dry-run) share the loopback IP of the local
exchange.  Each runs the same workload strategy: every bot loop (1 s throttle) it reads the
order book of 4 pairs (``depth?limit=100``: weight 5 each), 20 weight per loop, as a bot
pricing entries and exits from the book does.  Phase 1: plain Freqtrade (ccxt's own
limiter per bot).  Phase 2: the same, with every bot drawing on one shared budget
(``exec_ext.budget``: a SQLite file in WAL mode, as ``deploy`` wires it).

The venue keeps Binance's rules with the windows shrunk (``rate_limit_scale`` 6: the
one-minute window lasts 10 s) and the IP's weight limit at 600 per window, so the run takes
a few minutes: six bots ask for about twice that.  A 429 answers an over-limit request;
requests sent while its Retry-After runs are violations, and 10 of them get the IP banned
(418).  Target: 0 bans with the budget.  Prints exactly
``6 bots on one IP: plain <n> bans, shared budget <m> bans, <k> 429s``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATADIR = REPO / "user_data" / "data" / "binance"
PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"]
BOTS = 6
SCALE = 6.0  # a one-minute window lasts 10 s
WEIGHT_LIMIT = 600  # per (scaled) window, per IP
PHASE_S = 90.0  # each phase, from the first bot's start
STAGGER_S = 2.0  # between bot starts (the same in both phases)
TARGET_BANS = 0

STRATEGY = '''
from freqtrade.strategy import IStrategy
from pandas import DataFrame


class BenchLoad(IStrategy):
    """Reads 4 order books per bot loop; never trades."""

    INTERFACE_VERSION = 3
    timeframe = "5m"
    minimal_roi = {"0": 10}
    stoploss = -0.99
    startup_candle_count = 1

    def bot_start(self, **kwargs):
        raw = (self.config.get("exec_ext") or {}).get("budget")
        if raw:
            from freqtrade_exec_ext.compat import exchange_of
            from freqtrade_exec_ext.compat.ccxt_budget import default_config, install_budget
            from freqtrade_exec_ext.store.budget import BudgetStore, budget_engine

            store = BudgetStore(budget_engine(raw["db_url"]),
                                default_config("binance", 50, raw))
            install_budget(exchange_of(self.dp), store, self.config["bot_name"])

    def bot_loop_start(self, current_time, **kwargs):
        for pair in self.dp.current_whitelist():
            self.dp.orderbook(pair, 100)

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["enter_long"] = 0
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe
'''


def _config(base_url: str, tmp: Path, i: int, budget_url: str | None) -> Path:
    from freqtrade_exec_ext.localex import freqtrade_exchange_config

    exchange = freqtrade_exchange_config(base_url)
    exchange["pair_whitelist"] = PAIRS
    user = tmp / f"bot{i}"
    user.mkdir(parents=True, exist_ok=True)
    cfg: dict[str, Any] = {
        "bot_name": f"bench-{i}",
        "strategy": "BenchLoad",
        "strategy_path": str(tmp),
        "user_data_dir": str(user),
        "stake_currency": "USDT",
        "stake_amount": 10,
        "max_open_trades": 1,
        "dry_run": True,
        "dry_run_wallet": 1000,
        "timeframe": "5m",
        "exchange": exchange,
        "pairlists": [{"method": "StaticPairList"}],
        "entry_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
        "exit_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
        "db_url": f"sqlite:///{user / 'bot.sqlite'}",
        "initial_state": "running",
        "internals": {"process_throttle_secs": 1},
    }
    if budget_url:
        cfg["exec_ext"] = {"budget": {
            "db_url": budget_url,
            "limits": {"spot": {"limit": WEIGHT_LIMIT, "window_s": 60 / SCALE}},
        }}
    path = tmp / f"config-{i}-{'budget' if budget_url else 'plain'}.json"
    path.write_text(json.dumps(cfg))
    return path


def _phase(ex: Any, tmp: Path, budget_url: str | None) -> tuple[int, int, int]:
    """Run the six bots for PHASE_S; (bans, 429s, bots that were still running)."""
    ex.limiter.reset()
    procs = []
    start = time.monotonic()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        for i in range(BOTS):
            cfg = _config(ex.base_url, tmp, i, budget_url)
            log = tmp / f"bot{i}-{'budget' if budget_url else 'plain'}.log"
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "freqtrade", "trade", "-c", str(cfg), "--logfile",
                 str(log)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
            ))
            time.sleep(STAGGER_S)
        while time.monotonic() - start < PHASE_S:
            time.sleep(1.0)
        alive = sum(p.poll() is None for p in procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
    counts = ex.limiter.status_counts()
    return ex.limiter.bans(), counts.get(429, 0), alive


def main() -> int:
    from freqtrade_exec_ext.localex.ratelimit import RateLimitConfig
    from freqtrade_exec_ext.localex.server import LocalExchange

    with tempfile.TemporaryDirectory(prefix="bench-budget-") as td:
        tmp = Path(td)
        (tmp / "BenchLoad.py").write_text(STRATEGY)
        limits = RateLimitConfig(scale=SCALE, weight_limit=WEIGHT_LIMIT)
        with LocalExchange(DATADIR, rate_limits=limits) as ex:
            plain_bans, plain_429, alive_plain = _phase(ex, tmp, None)
            budget_url = f"sqlite:///{tmp / 'shared' / 'rate-budget.sqlite'}"
            (tmp / "shared").mkdir()
            bans, n429, alive_budget = _phase(ex, tmp, budget_url)
    print(f"(venue: {WEIGHT_LIMIT} weight per {60 / SCALE:g} s window per IP; each bot asks "
          f"about 20 per s; {PHASE_S:g} s per phase; bots running at the end: plain "
          f"{alive_plain}/{BOTS}, budget {alive_budget}/{BOTS}; plain Freqtrade saw "
          f"{plain_429} 429s)")
    print(f"6 bots on one IP: plain {plain_bans} bans, shared budget {bans} bans, {n429} 429s")
    return 0 if bans <= TARGET_BANS and alive_budget == BOTS else 1


if __name__ == "__main__":
    sys.exit(main())
