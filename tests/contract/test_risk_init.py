"""``freqtrade-exec risk init``: a contract for a new or ported strategy, never guessed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from freqtrade_exec_ext.contract import load_contract

SPOT = '''
from freqtrade.strategy.interface import IStrategy

class Ported005(IStrategy):
    minimal_roi = {"1440": 0.01, "0": 0.05}
    stoploss = -0.10
    ticker_interval = "5m"
    trailing_stop = False
    order_types = {"buy": "limit", "sell": "limit", "stoploss": "market",
                   "stoploss_on_exchange": False}
'''

FUTURES = '''
from freqtrade.strategy import IStrategy

class PortedVol(IStrategy):
    can_short: bool = True
    minimal_roi = {"0": 100}
    stoploss = -0.10
    timeframe = "1h"
    trailing_stop = True
    trailing_stop_positive = 0.02
    trailing_stop_positive_offset = 0.04
    position_adjustment_enable = True

    def leverage(self, pair, current_time, current_rate, proposed_leverage, max_leverage,
                 entry_tag, side, **kwargs):
        return 3.0

    def custom_stake_amount(self, pair, current_time, current_rate, proposed_stake, min_stake,
                            max_stake, leverage, entry_tag, side, **kwargs):
        return proposed_stake / 2

    def adjust_trade_position(self, trade, current_time, current_rate, current_profit,
                              min_stake, max_stake, **kwargs):
        return None
'''


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "freqtrade_exec_ext.cli.main", "risk", "init", *args],
        check=False, cwd=cwd, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.slow
def test_a_spot_strategy_maps_its_stop_and_order_types(tmp_path: Path, repo_root: Path) -> None:
    (tmp_path / "s.py").write_text(SPOT)
    out = run("STR-005", "--from-strategy", "s.py", "--config",
              str(repo_root / "user_data/config.json"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    c = load_contract(tmp_path / ".crypto/knowledge/strategies/STR-005/risk-assessment.yaml")
    assert c.stop_loss.stoploss == -0.10 and c.stop_loss.on_exchange is False
    assert c.stop_loss.order_type == "stop_market" and c.orders.entry_type == "limit"
    # the shipped config's "unlimited" stake splits the wallet: a fraction per trade
    assert c.sizing.method == "fraction_of_equity"
    assert c.market.trading_mode == "spot"
    assert "not mapped: ticker_interval 5m: stays in the strategy" in out.stdout
    assert "deploy expects the class to be named STR005" in out.stdout


@pytest.mark.slow
def test_a_futures_strategy_maps_shorts_leverage_and_trailing(tmp_path: Path) -> None:
    (tmp_path / "v.py").write_text(FUTURES)
    out = run("STR-006", "--from-strategy", "v.py", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    c = load_contract(tmp_path / ".crypto/knowledge/strategies/STR-006/risk-assessment.yaml")
    assert c.market.trading_mode == "futures" and c.leverage.max == 3
    assert c.stop_loss.trailing.enabled and c.stop_loss.trailing.positive == 0.02
    assert c.stop_loss.trailing.offset == 0.04
    assert "custom_stake_amount: kept" in out.stdout
    assert "adjust_trade_position: kept" in out.stdout


@pytest.mark.slow
def test_no_stop_is_asked_for_not_guessed(tmp_path: Path) -> None:
    (tmp_path / "n.py").write_text(SPOT.replace("stoploss = -0.10", "stoploss = -1"))
    out = run("STR-007", "--from-strategy", "n.py", cwd=tmp_path)
    assert out.returncode == 2
    (line,) = out.stderr.strip().splitlines()
    assert "stoploss = -1 means no stop-loss" in line and "--stoploss" in line
    assert not (tmp_path / ".crypto").exists()  # nothing half-written
    out = run("STR-007", "--from-strategy", "n.py", "--stoploss", "-0.08", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    path = tmp_path / ".crypto/knowledge/strategies/STR-007/risk-assessment.yaml"
    assert load_contract(path).stop_loss.stoploss == -0.08
    again = run("STR-007", "--stoploss", "-0.08", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr


@pytest.mark.slow
def test_bad_inputs_get_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("class X(:\n")
    (tmp_path / "cfg.json").write_text(json.dumps([1, 2]))
    for args in (["STR-1"], ["STR-008", "--from-strategy", "bad.py"],
                 ["STR-008", "--from-strategy", "missing.py"],
                 ["STR-008", "--config", "cfg.json"]):
        out = run(*args, cwd=tmp_path)
        assert out.returncode == 2, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
