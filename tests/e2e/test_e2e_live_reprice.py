"""The contract's reprice ladder happens at its scheduled times in live trading.

Freqtrade replaces an order only once a new candle has closed after it was placed; the
contract's steps (``max_reprices`` within ``entry_timeout_s`` / ``exit_timeout_s``) fall
much sooner.  STR001 in LIVE mode against the venue, every order left unfilled by a venue
fault: the venue's own order list records when each step went out and at what price.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from freqtrade_exec_ext.execution import ladder, pricing

pytestmark = pytest.mark.slow

ENTRY = "POST /api/v3/order"
LOOP_S = 5  # Freqtrade's process_throttle_secs in the shipped config
TEST_STRATEGIES = Path(__file__).resolve().parents[1] / "mixin" / "strategies"
# BTC/USDT 5m, 2025-10-03 15:15: the price never trades below the open and rises 42 bps;
# a bid placed at its start is never reached and the market runs away from it
RISING_CANDLE = datetime(2025, 10, 3, 15, 15, tzinfo=UTC)


def _buys(lb: Any) -> list[Any]:
    return sorted((o for o in lb.venue_orders() if o.side == "BUY"), key=lambda o: o.order_id)


def test_entry_steps_go_out_at_the_scheduled_times(live) -> None:
    lb = live(start_at=RISING_CANDLE, strategy="XMAlwaysEnter", strategy_path=TEST_STRATEGIES)
    c = lb.contract.orders
    lb.ex.faults.add(endpoint=ENTRY, kind="partial_fill", ratio=0.0, count=None)  # all rest
    lb.start_bot()
    lb.step()
    (first,) = _buys(lb)
    lb.run_until(lambda: False, step_s=LOOP_S, max_s=c.entry_timeout_s + 3 * LOOP_S)
    buys = _buys(lb)
    after = [(o.time - first.time) / 1000 for o in buys]
    planned = ladder.step_times(c.entry_timeout_s, c.max_reprices)
    print("\nentry orders (s after the first, price):",
          [(round(t, 1), o.price) for t, o in zip(after, buys, strict=True)])
    print("planned steps (s):", planned)
    # every order after the first went out within one bot loop of a planned step (a step
    # at which the market had not moved away, here the first, places nothing)
    assert 2 <= len(buys) <= c.max_reprices + 1, after
    for when in after[1:]:
        assert any(step <= when <= step + LOOP_S + 1 for step in planned), (when, planned)
    assert after[-1] >= planned[-1]  # the last step happened
    prices = [o.price for o in buys]
    assert prices == sorted(prices) and prices[-1] > prices[0]  # toward the market
    decision = lb.bot.strategy.exec_ext_repricer.ladders["BTC/USDT"].decision.decision_price
    bound = pricing.budget_bound("buy", decision, lb.contract.slippage.max_entry_bps)
    assert max(prices) <= bound + 1e-9
    assert prices[-1] == pytest.approx(bound, abs=0.011)  # the last step reaches the bound
    # at the timeout the last one is cancelled and the decision ends: nothing more goes out
    assert all(o.status == "CANCELED" for o in buys)
    lb.step(3, advance_s=LOOP_S)
    assert len(_buys(lb)) == len(buys)
    assert all(not t.is_open for t in lb.trades()) or not lb.trades()
    assert not lb.loop_errors


@pytest.mark.parametrize("side", ["exit"])
def test_exit_steps_go_out_at_the_scheduled_times(live, side: str) -> None:
    lb = live()
    c = lb.contract.orders
    lb.start_bot()
    lb.step()
    assert lb.run_until(lambda: any(t.is_open and t.amount > 0 for t in lb.trades()),
                        step_s=LOOP_S, max_s=120)
    # from now on every sell rests unfilled: STR001's exit signal comes on the next candle
    lb.ex.faults.add(endpoint=ENTRY, kind="partial_fill", ratio=0.0, count=None)
    lb.clock.align(5)
    assert lb.run_until(lambda: any(o.side == "SELL" and o.type == "LIMIT"
                                    for o in lb.venue_orders()), step_s=LOOP_S, max_s=300)
    lb.run_until(lambda: False, step_s=LOOP_S, max_s=c.exit_timeout_s - 2 * LOOP_S)
    lb.ex.faults.clear()  # the escalation's market order may fill
    lb.run_until(lambda: all(not t.is_open for t in lb.trades()), step_s=LOOP_S,
                 max_s=6 * LOOP_S)
    sells = sorted((o for o in lb.venue_orders() if o.side == "SELL" and o.type == "LIMIT"),
                   key=lambda o: o.order_id)
    after = [(o.time - sells[0].time) / 1000 for o in sells]
    planned = ladder.step_times(c.exit_timeout_s, c.max_reprices)
    print("\nexit orders (s after the first, price):",
          [(round(t, 1), o.price) for t, o in zip(after, sells, strict=True)])
    print("planned steps (s):", planned)
    # exits are cancelled and placed again at every step, on time
    assert len(sells) >= c.max_reprices + 1, after
    for k, when in enumerate(planned, start=1):
        assert when <= after[k] <= when + LOOP_S + 1, (k, after)
    prices = [o.price for o in sells[: c.max_reprices + 1]]
    assert prices == sorted(prices, reverse=True)  # a sell moves down, never back up
    # after the ladder: escalated to a market exit, and the trade is closed
    assert any(o.side == "SELL" and o.type == "MARKET" for o in lb.venue_orders())
    assert all(not t.is_open for t in lb.trades())
