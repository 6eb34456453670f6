"""The real ``freqtrade`` CLI, offline against the local exchange, with our plugins.

One test contract (STR-001's with a 60,000 USDT fixed stake, a 3 bps slippage budget and
a 0.1 % daily loss limit) drives everything: the filter drops the pairs too thin for the
stake, the DailyLossGuard locks all pairs after a losing day.  Which pairs fail and which
days lock is decided by the data, not here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"]
CONTRACT_CHANGES = {
    "capital": {"initial_capital": 200_000},
    "sizing": {"method": "fixed_stake", "fixed_stake": 60_000, "max_stake": 60_000},
    "slippage": {"max_entry_bps": 3, "max_exit_bps": 3},
    "limits": {"daily_loss_limit": 0.001},
}
REMOVED = re.compile(r"Removed (\S+/USDT) from whitelist: (.*)")


@pytest.fixture(scope="module")
def exchange_url(repo_root: Path) -> Iterator[str]:
    from freqtrade_exec_ext.localex.server import LocalExchange

    with LocalExchange(repo_root / "user_data/data/binance", port=0) as ex:
        yield ex.base_url


@pytest.fixture
def project(make_project, exchange_url: str, repo_root: Path) -> Path:
    from freqtrade_exec_ext.localex import freqtrade_exchange_config

    user_data = make_project(CONTRACT_CHANGES)
    exchange = freqtrade_exchange_config(exchange_url)
    exchange["pair_whitelist"] = PAIRS
    config: dict[str, Any] = {
        "strategy": "STR001",
        "strategy_path": str(repo_root / "user_data/strategies"),
        "user_data_dir": str(user_data),
        "dry_run": True,
        "max_open_trades": 3,
        "stake_currency": "USDT",
        "stake_amount": "unlimited",
        "timeframe": "5m",
        "exchange": exchange,
        "entry_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
        "exit_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
        "pairlists": [{"method": "StaticPairList"}],  # built-ins only: the schema stays happy
        "exec_ext": {"pairlists": [{"method": "ExecutionCostFilter"}]},
        "db_url": "sqlite://",
    }
    (user_data.parent / "config.json").write_text(json.dumps(config, indent=1))
    return user_data.parent


def _run(cmd: list[str], cwd: Path, timeout: int = 180) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FREQTRADE__")}
    env["COLUMNS"] = "1000"  # Freqtrade's rich log handler wraps at the terminal width
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "Traceback" not in out, out[-4000:]
    return out


def _data_args(repo_root: Path) -> list[str]:
    return ["-c", "config.json", "--datadir", str(repo_root / "user_data/data/binance")]


def test_backtesting_filter_removes_a_pair_and_a_protection_locks(
    project: Path, repo_root: Path
) -> None:
    out = _run(
        [
            str(BIN / "freqtrade"),
            "backtesting",
            *_data_args(repo_root),
            "--timerange",
            "20251001-20251101",
            "--enable-protections",
            "--export",
            "trades",
            "--cache",
            "none",
        ],
        project,
    )
    assert "Using resolved pairlist ExecutionCostFilter from package module" in out
    assert "using a CANDLE PROXY" in out
    removed = dict(REMOVED.findall(out))
    assert removed, "the filter removed no pair"
    assert all(reason.startswith("[candle proxy]") for reason in removed.values())
    for name in ("MaxDrawdown", "StoplossGuard", "SlippageGuard", "DailyLossGuard"):
        assert f"Using resolved protection {name}" in out
    announced = re.findall(r"DailyLossGuard at (\S+ \S+): realized loss today", out)
    assert announced, "no protection lock"

    # Freqtrade's own results: removed pairs were never traded, the locks are recorded
    results = project / "user_data/backtest_results"
    archive = next(results.glob("backtest-result-*.zip"))
    with zipfile.ZipFile(archive) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".json") and "_config" not in n)
        strat = json.loads(zf.read(name))["strategy"]["STR001"]
    traded = {row["key"] for row in strat["results_per_pair"] if row["key"] != "TOTAL"}
    assert traded and traded.isdisjoint(removed)
    daily = [lock for lock in strat["locks"] if "realized loss today" in lock["reason"]]
    assert len(daily) == len(announced)
    assert all(lock["pair"] == "*" and lock["lock_end_time"].endswith("00:00:00") for lock in daily)


def test_test_pairlist_through_the_passthrough(project: Path) -> None:
    cmd = [str(BIN / "freqtrade-exec"), "ft", "test-pairlist", "-c", "config.json"]
    out = _run(cmd, project)
    assert "Using resolved pairlist ExecutionCostFilter" in out
    printed = re.search(r"Pairs for USDT: \n(\[.*\])", out)
    assert printed
    whitelist = json.loads(printed.group(1).replace("'", '"'))
    removed = dict(REMOVED.findall(out))
    assert removed and whitelist
    assert set(whitelist) | set(removed) == set(PAIRS)
    assert set(whitelist).isdisjoint(removed)
    # live order books: the reasons name the book walk, not the candle proxy
    assert all("[candle proxy]" not in r for r in removed.values())


def test_hyperopt_workers_resolve_the_plugins(project: Path, repo_root: Path) -> None:
    out = _run(
        [
            str(BIN / "freqtrade"),
            "hyperopt",
            *_data_args(repo_root),
            "--timerange",
            "20251001-20251010",
            "--hyperopt-loss",
            "SharpeHyperOptLoss",
            "--spaces",
            "roi",
            "-e",
            "4",
            "-j",
            "2",
            "--enable-protections",
            "--disable-param-export",
        ],
        project,
    )
    main_pid = re.search(r"Using resolved pairlist ExecutionCostFilter .*\(pid (\d+)\)", out)
    assert main_pid
    worker_pids = set(
        re.findall(
            r"Using resolved protection SlippageGuard from package module .*\(pid (\d+)\)", out
        )
    )
    worker_pids.discard(main_pid.group(1))
    assert len(worker_pids) >= 1, "protections were not resolved in a worker process"
    assert "Impossible to load" not in out
