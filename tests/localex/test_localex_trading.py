"""The matching engine and accounts (pure, no HTTP), on the repo's BTC/USDT candles.

The venue's clock starts 1 s into the rising 09:40 candle of 2025-10-16 (see conftest):
its replayed price falls from the open (109800.10) to the low (109635.15) over 100 s,
then rises to the high (111427.48) by 200 s.
"""

from __future__ import annotations

import pytest

from freqtrade_exec_ext.localex.errors import VenueError
from freqtrade_exec_ext.localex.faults import OrderFaults
from freqtrade_exec_ext.localex.trading import (
    HOUR_MS,
    TradingEngine,
    apply_position_fill,
)

LOW, HIGH = 109635.15, 111427.48


def test_market_buy_walks_the_book_as_taker_and_pays_fee_in_base(engine, market) -> None:
    engine.spot["USDT"][0] = 1_000_000.0
    book = market.book("spot", "BTCUSDT", 50)
    top = book.asks[0]
    qty = round(top[1] + 0.5, 5)  # more than the best level holds
    o = engine.new_order("spot", "BTCUSDT", "BUY", "MARKET", qty, None)
    fills = [f for f in engine.fills if f.order_id == o.order_id]
    assert o.status == "FILLED" and o.executed_qty == pytest.approx(qty)
    assert len(fills) >= 2  # it had to go past the best level
    assert fills[0].price == top[0] and all(not f.is_maker for f in fills)
    assert [f.price for f in fills] == sorted(f.price for f in fills)
    assert o.avg_price > top[0]
    cost = sum(f.quote_qty for f in fills)
    assert engine.spot["USDT"][0] == pytest.approx(1_000_000 - cost, abs=1e-6)
    # Binance (no BNB): commission in the asset received, at the taker rate
    assert engine.spot["BTC"][0] == pytest.approx(1 + qty * (1 - 0.001), abs=1e-8)
    assert all(f.commission_asset == "BTC" for f in fills)


def test_resting_limit_buy_locks_quote_and_fills_as_maker_when_price_trades_through(
    engine, fake_clock
) -> None:
    o = engine.new_order("spot", "BTCUSDT", "BUY", "LIMIT", 0.01, 109700.0, time_in_force="GTC")
    assert o.status == "NEW"
    assert engine.spot["USDT"] == [pytest.approx(100_000 - 1097.0), pytest.approx(1097.0)]
    fake_clock.advance(20)  # still above 109700 on the way down
    engine.step()
    assert o.status == "NEW"
    fake_clock.advance(80)  # the low (109635.15) is below the limit
    engine.step()
    assert o.status == "FILLED"
    (fill,) = [f for f in engine.fills if f.order_id == o.order_id]
    assert fill.is_maker and fill.price == 109700.0  # at its own price, never better
    assert engine.spot["USDT"] == [pytest.approx(100_000 - 1097.0), 0.0]
    assert engine.spot["BTC"][0] == pytest.approx(1 + 0.01 * 0.999)


def test_touching_the_limit_is_not_enough(engine, fake_clock) -> None:
    o = engine.new_order("spot", "BTCUSDT", "BUY", "LIMIT", 0.01, LOW, time_in_force="GTC")
    fake_clock.advance(299)
    engine.step()
    assert o.status == "NEW"  # the price reached the low but never traded below it


def test_big_resting_order_fills_partially_with_the_volume_traded_through_it(
    engine, fake_clock
) -> None:
    engine.spot["USDT"][0] = 10_000_000.0
    o = engine.new_order("spot", "BTCUSDT", "BUY", "LIMIT", 60.0, 109700.0, time_in_force="GTC")
    fake_clock.advance(100)
    engine.step()
    assert o.status == "PARTIALLY_FILLED"
    assert 0 < o.executed_qty < 60.0
    # at most the participation share of the candle's volume (446.85 BTC) went to us
    assert o.executed_qty <= 446.85 * 0.2
    # the rest stays locked; cancelling gives it back
    engine.cancel("spot", "BTCUSDT", o.order_id, None)
    assert engine.spot["USDT"][1] == 0.0


def test_limit_that_crosses_takes_the_book_then_rests(engine, market) -> None:
    book = market.book("spot", "BTCUSDT", 5)
    o = engine.new_order(
        "spot", "BTCUSDT", "BUY", "LIMIT", 0.05, book.asks[0][0], time_in_force="GTC"
    )
    fills = [f for f in engine.fills if f.order_id == o.order_id]
    assert fills and all(not f.is_maker and f.price == book.asks[0][0] for f in fills)
    if book.asks[0][1] < 0.05:
        assert o.status == "PARTIALLY_FILLED"  # the rest rests at its limit
    else:
        assert o.status == "FILLED"


def test_ioc_expires_and_fok_is_all_or_nothing(engine, market) -> None:
    engine.spot["USDT"][0] = 1_000_000.0
    book = market.book("spot", "BTCUSDT", 5)
    ask, size = book.asks[0]
    ioc = engine.new_order(
        "spot", "BTCUSDT", "BUY", "LIMIT", round(size + 1, 5), ask, time_in_force="IOC"
    )
    assert ioc.status == "EXPIRED" and ioc.executed_qty == pytest.approx(size)
    fok = engine.new_order(
        "spot", "BTCUSDT", "BUY", "LIMIT", round(size + 1, 5), ask, time_in_force="FOK"
    )
    assert fok.status == "EXPIRED" and fok.executed_qty == 0
    assert engine.spot["USDT"][1] == 0.0  # nothing left locked


def test_post_only_that_would_cross_is_rejected_with_binance_codes(engine, market) -> None:
    ask = market.book("spot", "BTCUSDT", 1).asks[0][0]
    with pytest.raises(VenueError) as err:
        engine.new_order("spot", "BTCUSDT", "BUY", "LIMIT_MAKER", 0.01, ask)
    assert (err.value.code, err.value.msg) == (-2010, "Order would immediately match and take.")
    assert engine.spot["USDT"] == [100_000.0, 0.0] and not engine.orders
    fut_ask = market.book("usdm", "BTCUSDT", 1).asks[0][0]
    with pytest.raises(VenueError) as err:
        engine.new_order("usdm", "BTCUSDT", "BUY", "LIMIT", 0.01, fut_ask, time_in_force="GTX")
    assert err.value.code == -5022
    maker = engine.new_order("spot", "BTCUSDT", "BUY", "LIMIT_MAKER", 0.01, 109000.0)
    assert maker.status == "NEW"


@pytest.mark.parametrize(
    ("args", "code", "msg"),
    [
        (("BUY", "LIMIT", 10.0, 109000.0), -2010, "insufficient balance"),
        (("SELL", "MARKET", 2.0, None), -2010, "insufficient balance"),
        (("BUY", "LIMIT", 0.00001, 109000.0), -1013, "MIN_NOTIONAL"),
        (("BUY", "LIMIT", 0.000015, 109000.0), -1013, "LOT_SIZE"),
        (("BUY", "LIMIT", 0.01, 109000.005), -1013, "PRICE_FILTER"),
        (("BUY", "LIMIT", None, 109000.0), -1102, "'quantity'"),
        (("BUY", "STOP_LOSS_LIMIT", 0.01, 109000.0), -1102, "'timeInForce'"),
        (("BUY", "OCO", 0.01, 109000.0), -1116, "Invalid orderType"),
    ],
)
def test_spot_rejects_like_binance(engine, args, code, msg) -> None:
    side, type_, qty, price = args
    tif = "GTC" if type_ == "LIMIT" else None
    with pytest.raises(VenueError) as err:
        engine.new_order("spot", "BTCUSDT", side, type_, qty, price, time_in_force=tif)
    assert err.value.code == code and msg in err.value.msg


def test_stop_loss_limit_locks_base_triggers_on_the_way_down_and_fills(engine, fake_clock):
    stop, limit = 109700.0, 109650.0
    o = engine.new_order(
        "spot",
        "BTCUSDT",
        "SELL",
        "STOP_LOSS_LIMIT",
        0.5,
        limit,
        time_in_force="GTC",
        stop_price=stop,
    )
    assert o.status == "NEW" and not o.triggered
    assert engine.spot["BTC"] == [0.5, 0.5]
    fake_clock.advance(100)  # the path falls through 109700 (trigger) to 109635.15
    engine.step()
    assert o.triggered and o.working_time > o.time
    # once triggered it is a sell limit at 109650: the path rises back above it -> maker
    fake_clock.advance(100)
    engine.step()
    assert o.status == "FILLED"
    assert all(f.price >= limit for f in engine.fills if f.order_id == o.order_id)
    assert engine.spot["BTC"] == [0.5, 0.0]


def test_stop_that_would_trigger_at_once_is_refused(engine) -> None:
    with pytest.raises(VenueError) as err:
        engine.new_order(
            "spot",
            "BTCUSDT",
            "SELL",
            "STOP_LOSS_LIMIT",
            0.5,
            110500.0,
            time_in_force="GTC",
            stop_price=110600.0,
        )
    assert err.value.msg == "Stop price would trigger immediately."
    assert engine.spot["BTC"] == [1.0, 0.0]


def test_cancel_and_lookups(engine) -> None:
    o = engine.new_order(
        "spot",
        "BTCUSDT",
        "BUY",
        "LIMIT",
        0.01,
        100_000.0,
        time_in_force="GTC",
        client_order_id="my-id",
    )
    assert engine.get_order("spot", "BTCUSDT", None, "my-id") is o
    with pytest.raises(VenueError) as dup:
        engine.new_order(
            "spot",
            "BTCUSDT",
            "BUY",
            "LIMIT",
            0.01,
            100_000.0,
            time_in_force="GTC",
            client_order_id="my-id",
        )
    assert dup.value.msg == "Duplicate order sent."
    assert engine.cancel("spot", "BTCUSDT", o.order_id, None).status == "CANCELED"
    with pytest.raises(VenueError) as again:
        engine.cancel("spot", "BTCUSDT", o.order_id, None)
    assert again.value.code == -2011
    with pytest.raises(VenueError) as unknown:
        engine.get_order("spot", "BTCUSDT", 1, None)
    assert unknown.value.code == -2013
    with pytest.raises(VenueError) as other_symbol:
        engine.get_order("spot", "ETHUSDT", o.order_id, None)
    assert other_symbol.value.code == -2013


def test_order_faults_cap_fills_and_cancel_from_the_venue(engine, market, fake_clock) -> None:
    ask = market.book("spot", "BTCUSDT", 1).asks[0][0]
    capped = engine.new_order(
        "spot",
        "BTCUSDT",
        "BUY",
        "LIMIT",
        0.01,
        ask,
        time_in_force="GTC",
        faults=OrderFaults(fill_cap_ratio=0.4),
    )
    assert capped.status == "PARTIALLY_FILLED" and capped.executed_qty == pytest.approx(0.004)
    fake_clock.advance(120)
    engine.step()
    assert capped.executed_qty == pytest.approx(0.004)  # never more than the cap
    doomed = engine.new_order(
        "spot",
        "BTCUSDT",
        "BUY",
        "LIMIT",
        0.01,
        100_000.0,
        time_in_force="GTC",
        faults=OrderFaults(cancel_after_ms=5_000, cancel_status="EXPIRED"),
    )
    fake_clock.advance(4)
    engine.step()
    assert doomed.status == "NEW"
    fake_clock.advance(2)
    engine.step()
    assert doomed.status == "EXPIRED"
    assert engine.spot["USDT"][1] == pytest.approx(capped.remaining * capped.price)


def test_quote_order_qty_market_buy_spends_the_quote(engine) -> None:
    o = engine.new_order("spot", "BTCUSDT", "BUY", "MARKET", None, None, quote_order_qty=500.0)
    assert o.status == "FILLED"
    assert 0 < o.cum_quote <= 500.0 and o.orig_qty == o.executed_qty


# ---------------------------------------------------------------- USDT-M


def test_position_arithmetic() -> None:
    assert apply_position_fill(0, 0, 1.0, 100) == (1.0, 100, 0.0)
    assert apply_position_fill(1.0, 100, 1.0, 110) == (2.0, 105, 0.0)
    amt, entry, pnl = apply_position_fill(2.0, 105, -0.5, 115)
    assert (amt, entry, pnl) == (1.5, 105, pytest.approx(5.0))
    amt, entry, pnl = apply_position_fill(1.5, 105, -2.0, 95)  # flips short
    assert amt == -0.5 and entry == 95 and pnl == pytest.approx(-15.0)
    assert apply_position_fill(-0.5, 95, 0.5, 90)[2] == pytest.approx(2.5)


def test_futures_long_round_trip_realises_pnl_minus_commissions(engine, fake_clock) -> None:
    engine.set_leverage("BTCUSDT", 5)
    o = engine.new_order("usdm", "BTCUSDT", "BUY", "MARKET", 0.05, None)
    pos = engine.positions["BTCUSDT"]
    assert pos.amount == 0.05 and pos.entry_price == pytest.approx(o.avg_price)
    assert engine.available_balance() < 10_000 - 0.05 * o.avg_price / 5 + 1
    fake_clock.advance(200)  # near the high
    c = engine.new_order("usdm", "BTCUSDT", "SELL", "MARKET", 0.05, None, reduce_only=True)
    assert pos.amount == 0
    fills = [f for f in engine.fills if f.order_id in (o.order_id, c.order_id)]
    realized = sum(f.realized_pnl for f in fills)
    assert realized == pytest.approx(0.05 * (c.avg_price - o.avg_price), abs=1e-6)
    fees = sum(f.commission for f in fills)
    assert fees == pytest.approx(0.0005 * (o.cum_quote + c.cum_quote), abs=1e-6)
    assert engine.wallet == pytest.approx(10_000 + realized - fees, abs=1e-6)
    kinds = {i.income_type for i in engine.income}
    assert kinds == {"REALIZED_PNL", "COMMISSION"}


def test_funding_is_paid_by_longs_at_each_funding_time(market, fake_clock) -> None:
    eng = TradingEngine(market, futures_balance=10_000.0, default_funding_rate=0.0001)
    eng.new_order("usdm", "BTCUSDT", "BUY", "MARKET", 0.1, None)
    wallet = eng.wallet
    nxt = eng.next_funding_time()
    assert nxt % (8 * HOUR_MS) == 0
    fake_clock.advance((nxt - eng.now()) / 1000 + 1)
    eng.step()
    (fee,) = [i for i in eng.income if i.income_type == "FUNDING_FEE"]
    mark = eng._price("usdm", "BTCUSDT", nxt)
    assert fee.time == nxt and fee.income == pytest.approx(-0.1 * mark * 0.0001, abs=1e-8)
    assert eng.wallet == pytest.approx(wallet + fee.income)


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (
            lambda e: e.new_order(
                "usdm", "BTCUSDT", "SELL", "MARKET", 0.01, None, reduce_only=True
            ),
            -2022,
        ),
        (lambda e: e.new_order("usdm", "BTCUSDT", "BUY", "MARKET", 5.0, None), -2019),
        (
            lambda e: e.new_order(
                "usdm", "BTCUSDT", "BUY", "LIMIT", 0.00001, 100_000.0, time_in_force="GTC"
            ),
            -1013,
        ),
        (lambda e: e.set_leverage("BTCUSDT", 200), -4028),
        (lambda e: e.set_margin_type("BTCUSDT", "CROSSED"), -4046),
        (
            lambda e: e.new_algo_order("BTCUSDT", "SELL", "STOP_MARKET", 0.01, 120_000.0, None),
            -2021,
        ),
    ],
)
def test_futures_rejects_like_binance(engine, call, code) -> None:
    with pytest.raises(VenueError) as err:
        call(engine)
    assert err.value.code == code


def test_algo_stop_market_triggers_into_a_real_order(engine, fake_clock) -> None:
    engine.new_order("usdm", "BTCUSDT", "BUY", "MARKET", 0.02, None)
    algo = engine.new_algo_order(
        "BTCUSDT", "SELL", "STOP_MARKET", 0.02, 109700.0, None, reduce_only=True
    )
    assert algo.is_open
    fake_clock.advance(100)
    engine.step()
    assert algo.status == "FINISHED" and algo.actual_order_id is not None
    actual = engine.orders[algo.actual_order_id]
    assert actual.type == "MARKET" and actual.status == "FILLED" and actual.reduce_only
    assert engine.positions["BTCUSDT"].amount == 0
