"""Helpers for the mixin tests: real Freqtrade against the local exchange's markets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import support

REPO = Path(__file__).resolve().parents[2]
DATADIR = REPO / "user_data" / "data" / "binance"
STRATEGIES = REPO / "user_data" / "strategies"
TEST_STRATEGIES = Path(__file__).resolve().parent / "strategies"
PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"]


def write_contract(root: Path, str001_contract_path: Path, **sections: dict[str, Any]) -> Path:
    """STR-001's contract with some sections changed, under ``root/.crypto/...``."""
    return support.write_contract(root, sections, base=str001_contract_path)


def base_config(
    base_url: str, user_dir: Path, *, pairs: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    from freqtrade_exec_ext.localex import freqtrade_exchange_config

    exchange = freqtrade_exchange_config(base_url)
    exchange["pair_whitelist"] = list(pairs or PAIRS)
    (user_dir / "backtest_results").mkdir(parents=True, exist_ok=True)
    cfg: dict[str, Any] = {
        "strategy_path": str(STRATEGIES),
        "user_data_dir": str(user_dir),
        "stake_currency": "USDT",
        "stake_amount": "unlimited",
        "dry_run": True,
        "timeframe": "5m",
        "exchange": exchange,
        "pairlists": [{"method": "StaticPairList"}],
        "entry_pricing": {"price_side": "same"},
        "exit_pricing": {"price_side": "same"},
        "dataformat_ohlcv": "feather",
        "fee": 0.001,
        "internals": {"process_throttle_secs": 1},
    }
    cfg.update(extra)
    return cfg


def run_backtest(
    config: dict[str, Any],
    tmp: Path,
    *,
    strategy: str = "STR001",
    timerange: str,
    datadir: Path = DATADIR,
) -> tuple[dict[str, Any], Any]:
    """In-process ``freqtrade backtesting``; returns (strategy results, Backtesting)."""
    from freqtrade.configuration import Configuration
    from freqtrade.enums import RunMode
    from freqtrade.optimize.backtesting import Backtesting

    path = tmp / "config.json"
    path.write_text(json.dumps({**config, "strategy": strategy}))
    args = {
        "config": [str(path)],
        "timerange": timerange,
        "export": "trades",
        "datadir": str(datadir),
    }
    from freqtrade.persistence.usedb_context import enable_database_use

    cfg = Configuration(args, RunMode.BACKTEST).get_config()
    try:
        bt = Backtesting(cfg)
        bt.start()
    finally:
        enable_database_use()  # backtesting switches the database off process-wide
    return bt.results["strategy"][strategy], bt
