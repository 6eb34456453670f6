"""Limit prices: maker-first, budget bound, reprice ladder, backtest slippage."""

from __future__ import annotations

import pytest

from freqtrade_exec_ext.execution import pricing


def test_budget_bound_both_sides():
    assert pricing.budget_bound("buy", 100.0, 15) == pytest.approx(100.15)
    assert pricing.budget_bound("sell", 100.0, 30) == pytest.approx(99.70)


def test_maker_first_joins_own_side_of_the_book():
    assert pricing.limit_price(
        "buy", 100.02, decision_price=100.0, budget_bps=15, best_bid=99.99, best_ask=100.01
    ) == pytest.approx(99.99)
    assert pricing.limit_price(
        "sell", 99.98, decision_price=100.0, budget_bps=15, best_bid=99.99, best_ask=100.01
    ) == pytest.approx(100.01)


def test_never_beyond_the_budget_from_the_decision_price():
    # the bid ran 40 bps above the decision price: the buy stays at the 15 bps bound
    price = pricing.limit_price(
        "buy", 100.45, decision_price=100.0, budget_bps=15, best_bid=100.40, best_ask=100.41
    )
    assert price == pytest.approx(100.15)
    price = pricing.limit_price("sell", 99.5, decision_price=100.0, budget_bps=30)
    assert price == pytest.approx(99.70)


def test_backtest_slippage_moves_the_price_against_us():
    # 10 bps on a 200.0 open: buy 200.2, sell 199.8
    assert pricing.limit_price(
        "buy", 200.0, decision_price=200.0, budget_bps=15, backtest_bps=10
    ) == pytest.approx(200.2)
    assert pricing.limit_price(
        "sell", 200.0, decision_price=200.0, budget_bps=30, backtest_bps=10
    ) == pytest.approx(199.8)
    # still bounded: 20 bps charged but the budget is 15
    assert pricing.limit_price(
        "buy", 200.0, decision_price=200.0, budget_bps=15, backtest_bps=20
    ) == pytest.approx(200.3)


def test_reprice_steps_are_spread_over_the_timeout():
    # 600 s, 3 reprices: steps at 150, 300, 450 s
    assert [pricing.reprice_step_due(t, 600, 3) for t in (0, 149, 150, 299, 300, 450, 900)] == [
        0, 0, 1, 1, 2, 3, 3,
    ]
    assert pricing.reprice_step_due(500, 600, 0) == 0


def test_ladder_reaches_the_budget_and_stops():
    # start 99.99, market 100.50 beyond the bound 100.15: thirds of (100.15 - 99.99)
    steps = [pricing.ladder_price("buy", 99.99, 100.50, 100.15, k, 3) for k in (1, 2, 3, 4)]
    assert steps == pytest.approx([100.04333, 100.09667, 100.15, 100.15], abs=1e-4)
    # a sell ladders down toward the bid, never below its bound
    assert pricing.ladder_price("sell", 100.01, 99.0, 99.70, 3, 3) == pytest.approx(99.70)
    # a market that moved our way: nothing to chase
    assert pricing.ladder_price("buy", 99.99, 99.90, 100.15, 1, 3) == 99.99


def test_round_inside_keeps_a_bound_after_tick_rounding():
    # 196.84 x 1.0015 = 197.13526: nearest-tick rounding would give 197.14 (15.2 bps)
    bound = pricing.budget_bound("buy", 196.84, 15)
    assert pricing.round_inside("buy", bound, 0.01) == 197.13
    assert pricing.round_inside("sell", pricing.budget_bound("sell", 196.84, 15), 0.01) == 196.55
    assert pricing.round_inside("buy", 100.15, 0.01) == 100.15  # already on the grid
    assert pricing.round_inside("buy", 2.12345, None) == 2.12345
