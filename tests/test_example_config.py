"""The shipped user_data/config.json: valid for Freqtrade, offline, and true to the contract."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

from freqtrade.configuration.config_validation import validate_config_consistency
from freqtrade.enums import RunMode

from freqtrade_exec_ext.contract import load_contract
from freqtrade_exec_ext.localex import freqtrade_exchange_config
from freqtrade_exec_ext.strategy.settings import strategy_settings, wallet_settings


def example_config(repo_root: Path) -> dict:
    return json.loads((repo_root / "user_data" / "config.json").read_text())


def test_example_config_passes_freqtrades_validation(repo_root: Path, caplog) -> None:
    config = copy.deepcopy(example_config(repo_root))
    config["runmode"] = RunMode.BACKTEST
    with caplog.at_level(logging.CRITICAL + 1, logger="freqtrade"):
        validate_config_consistency(config, preliminary=True)


def test_example_config_leaves_the_limits_to_the_contract(
    repo_root: Path, str001_contract_path: Path
) -> None:
    config = example_config(repo_root)
    contract = load_contract(str001_contract_path)
    # the strategy-level limits come from the contract through the mixin, never from here
    assert not set(strategy_settings(contract)) & set(config)
    wallet = wallet_settings(contract)
    for key in ("stake_currency", "stake_amount", "dry_run_wallet", "trading_mode"):
        assert config[key] == wallet[key], key


def test_example_config_talks_only_to_the_local_exchange(repo_root: Path) -> None:
    exchange = example_config(repo_root)["exchange"]
    expected = freqtrade_exchange_config("http://127.0.0.1:8765")
    assert exchange["ccxt_config"] == expected["ccxt_config"]
    assert exchange["enable_ws"] is False
    assert "key" not in exchange and "secret" not in exchange
