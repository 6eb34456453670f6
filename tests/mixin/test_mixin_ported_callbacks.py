"""A ported strategy's own callbacks keep the contract: custom_stoploss, position adds.

Real backtests on the shipped Binance candles, judged from Freqtrade's own export.
"""

from __future__ import annotations

import pytest
from mixin_helpers import base_config, run_backtest, write_contract

from freqtrade_exec_ext.store.ledger_files import read_jsonl

pytestmark = pytest.mark.slow

TIMERANGE = "20251001-20251201"


def _run(localex, root, test_strategies, str001_contract_path, strategy, **contract):
    path = write_contract(root, str001_contract_path, **contract)
    cfg = base_config(
        localex.base_url, root / "user_data", strategy_path=str(test_strategies),
        exec_ext={"risk_contract": str(path)},
    )
    return run_backtest(cfg, root, strategy=strategy, timerange=TIMERANGE)


def test_custom_stoploss_can_tighten_but_never_loosen_the_contract_stop(
    localex, tmp_path, test_strategies, str001_contract_path
):
    results, _ = _run(
        localex, tmp_path, test_strategies, str001_contract_path, "XMLooseStop",
        stop_loss={"stoploss": -0.10}, sizing={"method": "risk_per_trade", "risk_per_trade": 0.01},
    )
    trades = results["trades"]
    assert results["stoploss"] == -0.10  # the class said -0.30
    stopped = [t for t in trades if t["exit_reason"] in ("stop_loss", "trailing_stop_loss")]
    assert len(stopped) >= 3, [t["exit_reason"] for t in trades]
    for t in trades:
        floor = t["open_rate"] * 0.90
        assert t["stop_loss_abs"] >= floor * (1 - 2e-4), t  # never below the contract's
    for t in stopped:
        # about -10 % of the price (fees and gaps aside), never the strategy's -30 %
        assert t["profit_ratio"] > -0.125, t
        # 1 % risk per trade: a stop-out costs about 1 % of equity, not 3 %
        assert abs(t["profit_abs"]) < 0.0125 * 1000 * 1.3, t


def test_position_adds_stay_within_the_contract_sizing_and_are_priced_on_their_own(
    localex, tmp_path, test_strategies, str001_contract_path
):
    results, _ = _run(
        localex, tmp_path, test_strategies, str001_contract_path, "XMScaleIn",
        sizing={"method": "risk_per_trade", "risk_per_trade": 0.01, "max_stake": 200},
        stop_loss={"stoploss": -0.10},
    )
    trades = results["trades"]
    assert len(trades) >= 15
    for t in trades:
        entries = [o["cost"] for o in t["orders"] if o["ft_is_entry"]]
        # backtest order cost includes the fee: allow it
        assert sum(entries) <= 200 * 1.0011, (t["pair"], entries)
    added = [t for t in trades if sum(o["ft_is_entry"] for o in t["orders"]) > 1]
    assert len(added) >= 3, "adds must fill: priced from their own decision"
    ledger = read_jsonl(tmp_path / "user_data/backtest_results/XMScaleIn-exec-ledger.jsonl")
    adds = [r for r in ledger if r.intent == "entry"]
    assert len(adds) == sum(sum(o["ft_is_entry"] for o in t["orders"]) for t in trades)
    for r in adds:  # each entry, adds included, inside the entry budget of its own decision
        assert r.slippage_decision_bps <= 15 + 1e-6, r
