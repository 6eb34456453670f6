"""The mixin loads its contract at start: fail closed, config cannot contradict it."""

from __future__ import annotations

from pathlib import Path

import pytest
from freqtrade.enums import RunMode
from freqtrade.exceptions import OperationalException
from freqtrade.resolvers import StrategyResolver
from mixin_helpers import STRATEGIES, write_contract

from freqtrade_exec_ext.strategy.settings import strategy_settings


def load(tmp_path: Path, **config):
    cfg = {
        "strategy": "STR001",
        "strategy_path": str(STRATEGIES),
        "user_data_dir": tmp_path / "user_data",
        "stake_currency": "USDT",
        "stake_amount": "unlimited",
        "runmode": RunMode.BACKTEST,
        "candle_type_def": "spot",
        "pairlists": [{"method": "StaticPairList"}],
        **config,
    }
    return StrategyResolver.load_strategy(cfg), cfg


def test_contract_settings_become_strategy_and_config_values(tmp_path, str001_contract_path):
    strategy, cfg = load(tmp_path, exec_ext={"risk_contract": str(str001_contract_path)})
    want = strategy_settings(strategy.risk_contract)
    assert strategy.stoploss == want["stoploss"] == -0.05
    for key, value in want.items():
        assert cfg[key] == value, key
    assert cfg["dry_run_wallet"] == strategy.risk_contract.capital.initial_capital


def test_missing_contract_stops_with_one_line(tmp_path):
    missing = tmp_path / ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml"
    with pytest.raises(OperationalException) as err:
        load(tmp_path, exec_ext={"risk_contract": str(missing)})
    msg = str(err.value)
    assert "\n" not in msg and "risk-assessment.yaml" in msg and "not found" in msg


def test_invalid_contract_stops_with_one_line(tmp_path, str001_contract_path):
    bad = write_contract(tmp_path, str001_contract_path, stop_loss={"stoploss": 0.5})
    with pytest.raises(OperationalException) as err:
        load(tmp_path, exec_ext={"risk_contract": str(bad)})
    msg = str(err.value)
    assert "\n" not in msg and "stop_loss.stoploss" in msg


def test_contract_found_above_user_data(tmp_path, str001_contract_path):
    write_contract(tmp_path, str001_contract_path, stop_loss={"stoploss": -0.07})
    strategy, _ = load(tmp_path)  # user_data_dir = tmp_path/user_data -> tmp_path/.crypto/...
    assert strategy.stoploss == -0.07


@pytest.mark.parametrize(
    ("key", "value"),
    [("stoploss", -0.10), ("max_open_trades", 7), ("stake_currency", "BTC"),
     ("unfilledtimeout", {"entry": 10, "exit": 10, "unit": "minutes"}), ("dry_run_wallet", 77),
     ("stake_amount", 500.0)],
)
def test_config_contradicting_the_contract_fails_loudly(tmp_path, str001_contract_path, key, value):
    with pytest.raises(OperationalException, match=f"{key}=.* from the configuration"):
        load(tmp_path, exec_ext={"risk_contract": str(str001_contract_path)}, **{key: value})


def test_config_agreeing_with_the_contract_is_accepted(tmp_path, str001_contract_path):
    strategy, _ = load(
        tmp_path, exec_ext={"risk_contract": str(str001_contract_path)}, stoploss=-0.05,
        max_open_trades=3,
    )
    assert strategy.max_open_trades == 3
