"""A real ``freqtrade backtesting`` of STR001 on the repo's candles (markets from the local
exchange), with its result zip and the execution ledger the mixin writes beside it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dryrun_str001 import CONTRACT, DATADIR, PAIRS, REPO

TIMERANGE = "20251001-20251101"


def run(tmp: Path) -> Path:
    """Run the backtest; returns the backtest_results directory."""
    from freqtrade_exec_ext.localex import freqtrade_exchange_config
    from freqtrade_exec_ext.localex.server import LocalExchange

    results = tmp / "user_data" / "backtest_results"
    results.mkdir(parents=True)
    with LocalExchange(DATADIR) as ex:
        exchange = freqtrade_exchange_config(ex.base_url)
        exchange["pair_whitelist"] = PAIRS
        cfg = {
            "strategy_path": str(REPO / "user_data" / "strategies"),
            "user_data_dir": str(tmp / "user_data"), "stake_currency": "USDT",
            "stake_amount": "unlimited", "dry_run": True, "timeframe": "5m",
            "exchange": exchange, "pairlists": [{"method": "StaticPairList"}],
            "entry_pricing": {"price_side": "same"}, "exit_pricing": {"price_side": "same"},
            "dataformat_ohlcv": "feather", "fee": 0.001,
            "exec_ext": {"risk_contract": str(CONTRACT)},
        }
        (tmp / "config.json").write_text(json.dumps(cfg, indent=1))
        proc = subprocess.run(
            [sys.executable, "-m", "freqtrade", "backtesting", "-c", str(tmp / "config.json"),
             "--strategy", "STR001", "--timerange", TIMERANGE, "--datadir", str(DATADIR),
             "--export", "trades", "--cache", "none"],
            capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0 or not (results / ".last_result.json").is_file():
        raise AssertionError(f"freqtrade backtesting failed:\n{proc.stdout[-3000:]}"
                             f"\n{proc.stderr[-3000:]}")
    return results
