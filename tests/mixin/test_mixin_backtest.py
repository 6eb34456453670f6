"""``freqtrade backtesting`` of STR001 with the mixin, against the local exchange's markets."""

from __future__ import annotations

from typing import Any

import pytest
from mixin_helpers import base_config, run_backtest, write_contract

from freqtrade_exec_ext.contract import load_contract
from freqtrade_exec_ext.store.ledger_files import read_jsonl

pytestmark = pytest.mark.slow

TIMERANGE = "20251001-20251201"


@pytest.fixture(scope="module")
def runs(localex, tmp_path_factory, str001_contract_path) -> dict[int, dict[str, Any]]:
    """The same backtest with backtest_bps 0 and 10 (no wallet in the config: the contract's)."""
    out = {}
    for bps in (0, 10):
        root = tmp_path_factory.mktemp(f"bt{bps}")
        contract = write_contract(root, str001_contract_path, slippage={"backtest_bps": bps})
        user_dir = root / "user_data"
        cfg = base_config(localex.base_url, user_dir, exec_ext={"risk_contract": str(contract)})
        results, _ = run_backtest(cfg, root, timerange=TIMERANGE)
        ledger = read_jsonl(user_dir / "backtest_results" / "STR001-exec-ledger.jsonl")
        out[bps] = {"results": results, "ledger": ledger, "contract": load_contract(contract)}
    return out


def test_every_stake_inside_the_contract_bounds(runs):
    for run in runs.values():
        c = run["contract"]
        trades = run["results"]["trades"]
        assert len(trades) > 20
        stakes = [t["stake_amount"] for t in trades]
        assert all(c.sizing.min_stake <= s <= c.sizing.max_stake for s in stakes), stakes
        # risk_per_trade: about 1000 x 1% / 5% = 200 while equity stays near 1000
        assert 150 < sum(stakes) / len(stakes) < 250


def test_stoploss_and_wallet_come_from_the_contract(runs):
    for run in runs.values():
        c = run["contract"]
        res = run["results"]
        assert res["stoploss"] == c.stop_loss.stoploss
        assert all(t["initial_stop_loss_ratio"] == c.stop_loss.stoploss for t in res["trades"])
        # no dry_run_wallet in the config: the contract's initial_capital is the wallet
        assert res["starting_balance"] == pytest.approx(c.capital.initial_capital, rel=0.02)


def test_ledger_holds_one_record_per_filled_order(runs):
    for run in runs.values():
        trades = run["results"]["trades"]
        filled = {
            (t["pair"], o["order_filled_timestamp"], o["ft_is_entry"])
            for t in trades
            for o in t["orders"]
        }
        n_orders = sum(len(t["orders"]) for t in trades)
        ledger = run["ledger"]
        assert len(ledger) == n_orders == len(filled)
        assert len({r.order_id for r in ledger}) == len(ledger)
        entries = [r for r in ledger if r.intent == "entry"]
        assert len(entries) == len(trades)
        assert all(r.runmode == "backtest" and r.fee_inferred for r in ledger)
        assert all(r.arrival_mid is None for r in ledger)  # no historical book in backtests


def test_backtest_slippage_costs_profit(runs):
    p0 = runs[0]["results"]["profit_total_abs"]
    p10 = runs[10]["results"]["profit_total_abs"]
    assert p10 < p0
    charged = [r.backtest_slippage_bps for r in runs[10]["ledger"] if r.intent == "entry"]
    # about 10 bps each; less when the candle's high caps the fill, and up to one price
    # tick more after Freqtrade rounds the price to the market's precision
    assert max(charged) <= 10.5 and sum(charged) / len(charged) > 5
    assert all(r.backtest_slippage_bps == 0 for r in runs[0]["ledger"])
    # ROI and stop-loss exits cannot be moved by callbacks: charged nothing
    assert all(
        r.backtest_slippage_bps == 0
        for r in runs[10]["ledger"]
        if r.exit_reason in ("roi", "stop_loss")
    )


def test_backtest_entries_never_exceed_the_entry_budget(runs):
    for run in runs.values():
        budget = run["contract"].slippage.max_entry_bps
        for r in run["ledger"]:
            if r.intent == "entry" and r.decision_price:
                assert r.slippage_decision_bps <= budget + 1e-6




def test_limits_act_without_enable_protections(localex, tmp_path, str001_contract_path):
    """No --enable-protections: the contract's limits still lock, as they would live."""
    contract = write_contract(tmp_path, str001_contract_path, limits={"daily_loss_limit": 0.001})
    cfg = base_config(
        localex.base_url, tmp_path / "user_data", exec_ext={"risk_contract": str(contract)}
    )
    assert "enable_protections" not in cfg
    results, bt = run_backtest(cfg, tmp_path, timerange="20251001-20251101")
    assert bt.config["enable_protections"] is True
    daily = [lock for lock in results["locks"] if "realized loss today" in lock["reason"]]
    assert daily, results["locks"]
    assert all(lock["pair"] == "*" for lock in daily)
