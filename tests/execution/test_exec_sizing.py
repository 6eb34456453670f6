"""Stake sizing: hand-computed numbers for every method and every clamp."""

from __future__ import annotations

import pytest

from freqtrade_exec_ext.execution.sizing import cap_leverage, compute_stake


def test_risk_per_trade_loses_the_risk_fraction_at_the_stop(str001):
    # STR-001: risk 1%, stop -5%: 1000 x 0.01 / 0.05 = 200
    d = compute_stake(str001, equity=1000.0, available=1000.0)
    assert d.stake == pytest.approx(200.0)
    assert d.stake * abs(str001.stop_loss.stoploss) == pytest.approx(1000.0 * 0.01)


def test_stake_is_clamped_to_the_contract_bounds(str001):
    # 5000 x 0.01 / 0.05 = 1000 -> max_stake 300; 200 x 0.01 / 0.05 = 40 (inside)
    assert compute_stake(str001, equity=5000.0, available=5000.0).stake == 300.0
    # 100 x 0.01 / 0.05 = 20 (inside); 20 x 0.01 / 0.05 = 4 -> min_stake 10
    assert compute_stake(str001, equity=100.0, available=100.0).stake == pytest.approx(20.0)
    assert compute_stake(str001, equity=20.0, available=20.0).stake == 10.0


def test_never_above_the_available_balance_nor_freqtrades_max(str001):
    assert compute_stake(str001, equity=1000.0, available=150.0).stake == 150.0
    assert compute_stake(str001, equity=1000.0, available=1000.0, ft_max_stake=120.0).stake == 120.0


def test_no_stake_when_bounds_cannot_all_hold(str001):
    # available 8 < min_stake 10: skip rather than trade below the contract's minimum
    d = compute_stake(str001, equity=1000.0, available=8.0)
    assert d.stake == 0.0 and d.skip
    # Freqtrade's exchange minimum above the contract's maximum: skip
    assert compute_stake(str001, equity=1000.0, available=1000.0, ft_min_stake=400.0).skip
    assert compute_stake(str001, equity=0.0, available=1000.0).skip


def test_exchange_minimum_raises_the_floor(str001):
    d = compute_stake(str001, equity=20.0, available=100.0, ft_min_stake=15.0)
    assert d.stake == 15.0


def test_fixed_stake_and_fraction_of_equity(make_contract):
    fixed = make_contract(sizing={"method": "fixed_stake", "fixed_stake": 50})
    assert compute_stake(fixed, equity=10_000.0, available=10_000.0).stake == 50.0
    frac = make_contract(sizing={"method": "fraction_of_equity", "fraction_of_equity": 0.1})
    assert compute_stake(frac, equity=1500.0, available=1500.0).stake == pytest.approx(150.0)
    assert compute_stake(frac, equity=9000.0, available=9000.0).stake == 300.0


def test_leverage_capped_at_the_contract(make_contract, str001):
    assert cap_leverage(str001, 5.0, 20.0) == 1.0  # spot contract: leverage.max 1
    fut = make_contract(market={"trading_mode": "futures"}, leverage={"max": 3})
    assert cap_leverage(fut, 10.0, 20.0) == 3.0
    assert cap_leverage(fut, 2.0, 20.0) == 2.0
    assert cap_leverage(fut, 10.0, 2.5) == 2.5
