"""A strategy's own callbacks keep running; the contract's limits still hold."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from freqtrade.enums import RunMode
from freqtrade.resolvers import StrategyResolver
from mixin_helpers import base_config, run_backtest

from freqtrade_exec_ext.store.ledger_files import read_jsonl

pytestmark = pytest.mark.slow


def test_user_overrides_run_inside_the_limits_in_a_backtest(
    localex, tmp_path, test_strategies, str001_contract_path
):
    cfg = base_config(
        localex.base_url, tmp_path / "user_data", strategy_path=str(test_strategies),
        exec_ext={"risk_contract": str(str001_contract_path)},
    )
    results, bt = run_backtest(cfg, tmp_path, strategy="XMUserCallbacks",
                               timerange="20251001-20251016")
    strategy = bt.strategylist[0]
    assert strategy.calls["confirm"] > 0 and strategy.calls["stake"] > 0
    assert strategy.calls["price"] > 0
    trades = results["trades"]
    assert trades and all(t["pair"] != "XRP/USDT" for t in trades)  # the user's veto held
    c = strategy.risk_contract
    # the user asked for 10 000 per trade: capped at the contract's risk-based stake,
    # equity x 1% / 5% = about 200 while equity stays near 1000
    stakes = [t["stake_amount"] for t in trades]
    assert all(c.sizing.min_stake <= s <= 0.2 * results["csum_max"] + 1e-6 for s in stakes)
    assert max(stakes) < c.sizing.max_stake
    ledger = read_jsonl(tmp_path / "user_data/backtest_results/XMUserCallbacks-exec-ledger.jsonl")
    entries = [r for r in ledger if r.intent == "entry"]
    assert len(entries) == len(trades)
    # the user priced 100 bps above the open: kept inside the 15 bps entry budget
    assert all(r.slippage_decision_bps <= c.slippage.max_entry_bps + 1e-6 for r in entries)


def test_super_contract_user_scales_the_contract_stake(tmp_path, test_strategies,
                                                       str001_contract_path):
    cfg = {
        "strategy": "XMSuperCalls",
        "strategy_path": str(test_strategies),
        "user_data_dir": tmp_path / "user_data",
        "stake_currency": "USDT",
        "stake_amount": "unlimited",
        "runmode": RunMode.BACKTEST,
        "candle_type_def": "spot",
        "pairlists": [{"method": "StaticPairList"}],
        "exec_ext": {"risk_contract": str(str001_contract_path)},
    }
    strategy = StrategyResolver.load_strategy(cfg)
    strategy.wallets = SimpleNamespace(
        get_total_stake_amount=lambda: 1000.0, get_available_stake_amount=lambda: 1000.0
    )
    kw = {
        "pair": "BTC/USDT", "current_time": datetime.now(UTC), "current_rate": 100.0,
        "proposed_stake": 50.0, "min_stake": 5.0, "max_stake": 1000.0, "leverage": 1.0,
        "entry_tag": None, "side": "long",
    }
    # contract: 1000 x 1% / 5% = 200; the user's super() call halves it
    assert strategy.custom_stake_amount(**kw) == pytest.approx(100.0)
    # but never below the contract's min_stake, nor above the available balance
    strategy.wallets = SimpleNamespace(
        get_total_stake_amount=lambda: 60.0, get_available_stake_amount=lambda: 60.0
    )
    assert strategy.custom_stake_amount(**kw) == pytest.approx(10.0)  # 6 -> min_stake 10
    lev = strategy.leverage(
        pair="BTC/USDT", current_time=datetime.now(UTC), current_rate=100.0,
        proposed_leverage=1.0, max_leverage=20.0, entry_tag=None, side="long",
    )
    assert lev == 1.0  # spot contract: leverage.max 1
