"""STR001 trades in LIVE mode (dry_run false) through real ccxt against the local exchange.

STR001 runs with its own signals (no forced entry): the replay starts right after a
candle it enters on, and the next candle gives its exit signal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

pytestmark = pytest.mark.slow

SYMBOL = "BTCUSDT"


def wait_for(done: Callable[[], bool], timeout: float) -> bool:
    """Poll ``done`` until it holds or ``timeout`` real seconds pass (threads at work)."""
    end = time.monotonic() + timeout
    while not done():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def assert_ledger_matches_venue(lb: Any) -> list[Any]:
    """Every filled order has one ledger record equal to the venue's own fills."""
    ledger = {r.order_id: r for r in lb.ledger()}
    venue = lb.venue_fills()
    assert set(ledger) == set(venue), "an order filled on the venue has no ledger record"
    for oid, rec in ledger.items():
        v = venue[oid]
        assert rec.runmode == "live"
        assert rec.filled_amount == pytest.approx(v["qty"], rel=1e-9)
        assert rec.fill_price == pytest.approx(v["price"], rel=1e-9)
        assert rec.fee_cost == pytest.approx(v["fee"], rel=1e-6)
        assert rec.fee_currency == v["fee_asset"]
        assert rec.liquidity == v["liquidity"]
        assert rec.fee_inferred is False  # read from the venue's fills (myTrades)
    return list(ledger.values())


def test_full_trade_lifecycle_live_and_the_ledger_matches_the_venue(live) -> None:
    lb = live()
    lb.start_bot()
    lb.step()
    (trade,) = lb.trades()
    entry = lb.venue_orders()[0]
    assert (entry.side, entry.type, entry.status) == ("BUY", "LIMIT", "FILLED")
    # sized by the contract: risk_per_trade / |stoploss| of the account's 1000 USDT
    c = lb.contract
    stake = entry.cum_quote
    assert stake == pytest.approx(
        float(c.capital.initial_capital) * c.sizing.risk_per_trade / abs(c.stop_loss.stoploss),
        rel=0.02,
    )
    lb.step(advance_s=2)
    stops = [o for o in lb.venue_orders() if o.type == "STOP_LOSS_LIMIT"]
    assert len(stops) == 1 and stops[0].is_open  # stop-loss on exchange, as contracted
    assert stops[0].stop_price == pytest.approx(
        entry.avg_price * (1 + c.stop_loss.stoploss), rel=1e-3
    )
    assert stops[0].orig_qty == pytest.approx(trade.amount, abs=1e-5)

    lb.clock.align(5)  # the next candle: STR001's exit signal
    assert lb.run_until(lambda: not lb.trades()[0].is_open, step_s=10, max_s=300)
    (trade,) = lb.trades()
    assert trade.exit_reason == "back_to_middle_band"
    assert stops[0].status == "CANCELED"  # Freqtrade cancelled its stop before exiting
    sells = [o for o in lb.venue_orders() if o.side == "SELL" and o.type == "LIMIT"]
    # the contract's exit ladder may have repriced the first sell; one limit sell filled
    (exit_order,) = [o for o in sells if o.status == "FILLED"]
    assert all(o.status == "CANCELED" for o in sells if o is not exit_order)
    assert trade.close_rate == pytest.approx(exit_order.avg_price)
    assert not [o for o in lb.venue_orders() if o.is_open]

    records = assert_ledger_matches_venue(lb)
    by_intent = {r.intent: r for r in records}
    assert set(by_intent) == {"entry", "exit"}
    assert by_intent["exit"].exit_reason == "back_to_middle_band"
    # Binance without BNB: the buy paid its commission in BTC, the sell in USDT
    venue = lb.venue_fills()
    assert venue[by_intent["entry"].order_id]["commission_assets"] == {"BTC"}
    assert venue[by_intent["exit"].order_id]["commission_assets"] == {"USDT"}
    # Freqtrade's realised profit equals what the venue's balances say
    bal = lb.ex.engine.spot
    usdt_change = bal["USDT"][0] - float(c.capital.initial_capital)
    dust_btc = bal["BTC"][0] * exit_order.avg_price
    assert trade.realized_profit == pytest.approx(usdt_change + dust_btc, abs=0.02)
    # markouts: the mid 1 s, 10 s, 60 s and 5 min after each fill, read by the sampler
    # thread at each due time (the clock here is virtual: move it to each one and wait)
    sampler = lb.bot.strategy.exec_ext_live_services.markouts
    filled = datetime.fromisoformat(by_intent["exit"].filled_time).timestamp()
    for horizon in (1, 10, 60, 300):
        due = filled + horizon + 0.05
        lb.clock.advance(max(0.0, due - lb.clock.now().timestamp()))
        lb.step()  # the loop wakes the sampler
        assert wait_for(lambda t=due: sampler.pending(until=t) == 0, timeout=180), horizon
    lb.step()  # the loop writes what was measured into the ledger
    marked = {r.intent: r.markouts_bps for r in lb.ledger()}
    assert set(marked["exit"] or {}) == {"1s", "10s", "60s", "300s"}, marked
    assert all(abs(v) < 500 for v in marked["exit"].values()), marked
    print(
        f"\nlifecycle: entry {entry.avg_price} ({by_intent['entry'].liquidity}), "
        f"exit {exit_order.avg_price} ({by_intent['exit'].liquidity}), "
        f"profit {trade.realized_profit:.4f} USDT, ledger == venue for "
        f"{len(records)} fills; markouts (bps, + adverse): {marked}"
    )


def test_manual_orders_are_measured_from_the_moment_they_were_asked_for(live) -> None:
    """forceenter / forceexit (and the kill switch) are decided by a person at the request:
    their decision price is the market then, not the last signal candle's close.  Measured
    against that close, a market order late in a moving candle would be flagged over the
    slippage budget for a move that happened before anyone decided."""
    from freqtrade.enums import SignalDirection
    from freqtrade.rpc import RPC

    lb = live(pairs=["SOL/USDT"])
    lb.start_bot()
    lb.bot.config["force_entry_enable"] = True
    rpc = RPC(lb.bot)
    lb.clock.advance(200)  # late in the candle: the price has left the last close behind
    rpc._rpc_force_entry("SOL/USDT", None, order_type="market", order_side=SignalDirection.LONG)
    lb.step(advance_s=2)  # (STR001's own signal finds the pair taken)
    (trade,) = lb.trades()
    assert trade.enter_tag == "force_entry"
    rpc._rpc_force_exit(str(trade.id), "market")
    assert lb.run_until(lambda: not lb.trades()[0].is_open, step_s=5, max_s=60)
    df, _ = lb.bot.dataprovider.get_analyzed_dataframe("SOL/USDT", "5m")
    candle_close = float(df["close"].iat[-1])
    records = {r.intent: r for r in assert_ledger_matches_venue(lb)}
    entry, exit_ = records["entry"], records["exit"]
    assert entry.order_type == exit_.order_type == "market"
    assert exit_.exit_reason == "force_exit"
    # the entry's reference is the book mid at the request, the exit's Freqtrade's rate then
    assert entry.decision_price == pytest.approx(entry.arrival_mid)
    assert entry.decision_price != pytest.approx(candle_close, abs=1e-9)
    assert abs(entry.slippage_decision_bps) < entry.slippage_budget_bps
    assert abs(exit_.slippage_decision_bps) < exit_.slippage_budget_bps
    assert not entry.over_budget and not exit_.over_budget
    print(
        f"\nmanual: candle close {candle_close}, entry decided at {entry.decision_price} "
        f"filled {entry.fill_price} ({entry.slippage_decision_bps:.2f} bps); exit decided at "
        f"{exit_.decision_price} filled {exit_.fill_price} ({exit_.slippage_decision_bps:.2f} bps)"
    )
