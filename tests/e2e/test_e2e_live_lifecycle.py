"""STR001 trades in LIVE mode (dry_run false) through real ccxt against the local exchange.

STR001 runs with its own signals (no forced entry): the replay starts right after a
candle it enters on, and the next candle gives its exit signal.
"""

from __future__ import annotations

from typing import Any

import pytest

SYMBOL = "BTCUSDT"


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
    exit_order = next(o for o in lb.venue_orders() if o.side == "SELL" and o.type == "LIMIT")
    assert exit_order.status == "FILLED"
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
    print(
        f"\nlifecycle: entry {entry.avg_price} ({by_intent['entry'].liquidity}), "
        f"exit {exit_order.avg_price} ({by_intent['exit'].liquidity}), "
        f"profit {trade.realized_profit:.4f} USDT, ledger == venue for "
        f"{len(records)} fills"
    )
