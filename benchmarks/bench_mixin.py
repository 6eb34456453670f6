"""Backtest time of STR001 with the ExecutionMixin vs the same logic on plain IStrategy.

Same data (4 pairs x 90 days of 5m candles, user_data/data/binance), same process, same
run; the order alternates and each side keeps its best of ``REPEATS``.  Markets come from
the local exchange.  Target: ratio <= 1.10.  Two ratios are printed: the whole
``freqtrade backtesting`` run (``Backtesting.start``: data load, indicators, the loop,
the results; what a user waits for, and what the target applies to) and the backtest
loop alone (``Backtesting.backtest``, where the callbacks run).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATADIR = REPO / "user_data" / "data" / "binance"
PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"]
TIMERANGE = "20251001-20251230"  # 90 days
TARGET = 1.05
REPEATS = 3

# The same strategy without the mixin: STR001's own methods and attributes, plus the
# contract's Freqtrade settings (stoploss, order types, timeouts) as plain attributes.
PLAIN_STRATEGY = '''
import importlib.util
from freqtrade.strategy import IStrategy
from freqtrade_exec_ext.contract import load_contract
from freqtrade_exec_ext.strategy.settings import strategy_settings
from freqtrade_exec_ext.plugins.protection_config import build_protections

_spec = importlib.util.spec_from_file_location("_str001_source", {source!r})
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
_S = _mod.STR001
_CONTRACT = load_contract({contract!r})
_SETTINGS = strategy_settings(_CONTRACT)


class STR001Plain(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = _S.timeframe
    can_short = _S.can_short
    startup_candle_count = _S.startup_candle_count
    process_only_new_candles = _S.process_only_new_candles
    use_exit_signal = _S.use_exit_signal
    exit_profit_only = _S.exit_profit_only
    minimal_roi = dict(_S.minimal_roi)
    buy_rsi = _S.buy_rsi
    populate_indicators = _S.populate_indicators
    populate_entry_trend = _S.populate_entry_trend
    populate_exit_trend = _S.populate_exit_trend
    locals().update({{k: (dict(v) if isinstance(v, dict) else v) for k, v in _SETTINGS.items()}})
    protections = build_protections(_CONTRACT)  # the same limits the mixin applies
'''


def _config(base_url: str, tmp: Path, strategy_path: Path) -> Path:
    from freqtrade_exec_ext.localex import freqtrade_exchange_config

    exchange = freqtrade_exchange_config(base_url)
    exchange["pair_whitelist"] = PAIRS
    user_dir = tmp / "user_data"
    (user_dir / "backtest_results").mkdir(parents=True, exist_ok=True)
    cfg = {
        "strategy_path": str(strategy_path),
        "user_data_dir": str(user_dir),
        "stake_currency": "USDT",
        "stake_amount": "unlimited",
        "dry_run": True,
        "dry_run_wallet": 1000,
        "timeframe": "5m",
        "exchange": exchange,
        "pairlists": [{"method": "StaticPairList"}],
        "entry_pricing": {"price_side": "same"},
        "exit_pricing": {"price_side": "same"},
        "dataformat_ohlcv": "feather",
        "fee": 0.001,
        "enable_protections": True,  # both run the contract's limits
    }
    path = tmp / "config.json"
    path.write_text(json.dumps(cfg))
    return path


def _run(config_path: Path, strategy: str) -> dict[str, Any]:
    from freqtrade.configuration import Configuration
    from freqtrade.enums import RunMode
    from freqtrade.optimize.backtesting import Backtesting

    args = {
        "config": [str(config_path)],
        "strategy": strategy,
        "timerange": TIMERANGE,
        "export": "none",
        "datadir": str(DATADIR),
    }
    cfg = Configuration(args, RunMode.BACKTEST).get_config()
    loop = {"s": 0.0}
    bt = Backtesting(cfg)
    original = bt.backtest

    def timed_backtest(*a: Any, **k: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            loop["s"] += time.perf_counter() - t0

    bt.backtest = timed_backtest  # type: ignore[method-assign]
    t0 = time.perf_counter()
    sink = io.StringIO()  # Freqtrade's result tables and progress bars
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        bt.start()
    total = time.perf_counter() - t0
    res = bt.results["strategy"][strategy]
    return {"total": total, "loop": loop["s"], "trades": len(res["trades"])}


def main() -> int:
    from freqtrade_exec_ext.localex.server import LocalExchange

    logging.disable(logging.WARNING)  # keep the benchmark output to its numbers
    with tempfile.TemporaryDirectory() as td, LocalExchange(DATADIR) as ex:
        tmp = Path(td)
        strategies = tmp / "strategies"
        strategies.mkdir()
        (strategies / "STR001.py").write_text((REPO / "user_data/strategies/STR001.py").read_text())
        contract = REPO / ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml"
        (strategies / "STR001Plain.py").write_text(
            PLAIN_STRATEGY.format(source=str(strategies / "STR001.py"), contract=str(contract))
        )
        config_path = _config(ex.base_url, tmp, strategies)
        best: dict[str, dict[str, Any]] = {}
        for _ in range(REPEATS):
            for name in ("STR001Plain", "STR001"):
                r = _run(config_path, name)
                prev = best.get(name)
                if prev is None or r["total"] < prev["total"]:
                    best[name] = {**r, "loop": min(r["loop"], (prev or r)["loop"])}
                elif r["loop"] < prev["loop"]:
                    prev["loop"] = r["loop"]
    logging.disable(logging.NOTSET)
    plain, mixin = best["STR001Plain"], best["STR001"]
    ratio = mixin["total"] / plain["total"]
    loop_ratio = mixin["loop"] / plain["loop"]
    print(f"data: {len(PAIRS)} pairs x 90 days of 5m candles ({TIMERANGE}), best of {REPEATS}")
    print(f"  plain IStrategy : {plain['total']:6.2f} s total, {plain['loop']:6.2f} s loop, "
          f"{plain['trades']} trades")
    print(f"  ExecutionMixin  : {mixin['total']:6.2f} s total, {mixin['loop']:6.2f} s loop, "
          f"{mixin['trades']} trades")
    print(f"  ratio (whole backtest run): {ratio:.3f}  (target <= {TARGET:.2f})")
    print(f"  ratio (backtest loop only): {loop_ratio:.3f}")
    return 1 if ratio > TARGET else 0


if __name__ == "__main__":
    raise SystemExit(main())
