"""Fixtures for the plugin tests: a contract tree in a temp dir, a minimal Freqtrade config."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import write_contract


@pytest.fixture
def make_project(tmp_path: Path, str001_contract_path: Path) -> Callable[..., Path]:
    """Write ``<tmp>/.crypto/.../STR-001/risk-assessment.yaml`` (STR-001's contract with
    ``changes`` applied) and ``<tmp>/user_data``; return the user_data dir."""

    def make(changes: dict[str, Any] | None = None, strategy_id: str = "STR-001") -> Path:
        write_contract(tmp_path, changes, strategy_id=strategy_id, base=str001_contract_path)
        user_data = tmp_path / "user_data"
        user_data.mkdir(exist_ok=True)
        return user_data

    return make


def _ft_config(user_data: Path, runmode: str = "dry_run", **extra: Any) -> dict[str, Any]:
    from freqtrade.enums import RunMode

    config: dict[str, Any] = {
        "runmode": RunMode(runmode),
        "user_data_dir": user_data,
        "datadir": user_data / "data" / "binance",
        "timeframe": "5m",
        "stake_currency": "USDT",
        "strategy": "STR001",
        "candle_type_def": "spot",
        "dataformat_ohlcv": "feather",
        "exchange": {"name": "binance", "pair_whitelist": [], "pair_blacklist": []},
        "pairlists": [{"method": "StaticPairList"}],
    }
    config.update(extra)
    return config


@pytest.fixture
def ft_config() -> Callable[..., dict[str, Any]]:
    """``ft_config(user_data, runmode="dry_run", **extra)``: a minimal Freqtrade config."""
    return _ft_config
