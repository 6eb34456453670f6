"""Backtests of the execution benchmarks: in-process ``freqtrade backtesting`` of a venue
run's period, on the candles the venue replayed (markets from a local exchange that does
not trade)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.execution_venue import DATADIR


def run_backtest(
    tmp: Path, cfg: dict[str, Any], *, strategy: str, start: datetime, end: datetime,
    datadir: Path = DATADIR, fee: float,
) -> tuple[list[dict[str, Any]], Path]:
    """In-process ``freqtrade backtesting`` of ``[start, end)`` on the venue's candles
    (markets from a local exchange without trading); (trades, results folder)."""
    from freqtrade.configuration import Configuration
    from freqtrade.enums import RunMode
    from freqtrade.optimize.backtesting import Backtesting
    from freqtrade.persistence.usedb_context import enable_database_use

    from freqtrade_exec_ext.localex.server import LocalExchange

    results = tmp / "user_data" / "backtest_results"
    results.mkdir(parents=True, exist_ok=True)
    with LocalExchange(datadir) as ex:
        conf = {**cfg, "strategy": strategy, "dry_run": True, "fee": fee,
                "exchange": {**cfg["exchange"], **_markets_only(ex.base_url)}}
        conf.pop("db_url", None)
        path = tmp / f"backtest-{strategy}.json"
        path.write_text(json.dumps(conf, indent=1))
        timerange = f"{int(start.timestamp())}-{int(end.timestamp())}"
        args = {"config": [str(path)], "timerange": timerange, "export": "trades",
                "datadir": str(datadir), "exportdirectory": str(results)}
        config = Configuration(args, RunMode.BACKTEST).get_config()
        bt = None
        try:
            bt = Backtesting(config)
            bt.start()
        finally:
            enable_database_use()  # backtesting switches the database off process-wide
            if bt is not None:
                bt.exchange.close()
    return list(bt.results["strategy"][strategy]["trades"]), results


def _markets_only(base_url: str) -> dict[str, Any]:
    from freqtrade_exec_ext.localex import freqtrade_exchange_config

    ex = freqtrade_exchange_config(base_url)
    return {"ccxt_config": ex["ccxt_config"], "ccxt_async_config": {}}
