"""A real FreqtradeBot in dry-run: pre-trade checks, repricing, partial fills, the ledger."""

from __future__ import annotations

import pytest
from dryrun_harness import PAIR, Harness, book
from mixin_helpers import base_config, write_contract

from freqtrade_exec_ext.execution.ledger import LEDGER_KEY_PREFIX, FillRecord

pytestmark = pytest.mark.slow


@pytest.fixture
def harness(localex, mocker, tmp_path, test_strategies):
    cfg = base_config(
        localex.base_url, tmp_path / "user_data", pairs=[PAIR], initial_state="running",
        bot_name="xm-test",
    )
    h = Harness(mocker, tmp_path, cfg, test_strategies)
    yield h
    h.close_bot()


def open_trades():
    from freqtrade.persistence import Trade

    return Trade.get_open_trades()


def all_trades():
    from freqtrade.persistence import Trade

    return Trade.get_trades([]).all()


def test_entry_rejected_for_wide_spread(harness):
    harness.book = book(99.85, 100.15)  # 30 bps > max_spread_bps 10
    harness.step()
    assert all_trades() == []
    msgs = harness.strategy_messages()
    assert msgs and "SPREAD_TOO_WIDE" in msgs[0] and "spread_bps=30.0" in msgs[0]


def test_entry_rejected_for_book_walk_slippage(harness):
    # 2 bps spread, but ~2 BTC-equivalent units walk five levels: ~24 bps > max_entry_bps 15
    harness.book = {
        "bids": [[99.99, 50.0], [99.98, 50.0]],
        "asks": [[100.01, 0.3], [100.10, 0.3], [100.20, 0.3], [100.30, 0.5], [100.40, 5.0]],
    }
    harness.step()
    assert all_trades() == []
    msgs = harness.strategy_messages()
    assert msgs and "SLIPPAGE_TOO_HIGH" in msgs[0] and "max=15" in msgs[0]


def entry_orders(trade):
    return [o for o in trade.orders if o.ft_order_side == trade.entry_side]


def test_repriced_entry_stops_at_the_budget_then_times_out(harness):
    base = harness.align(5)  # 5 s into a 5-minute candle: the ladder fits in the candle
    harness.step()  # maker-first: joins the bid at 99.99
    (trade,) = open_trades()
    assert [o.ft_price for o in entry_orders(trade)] == [pytest.approx(99.99)]
    harness.book = book(100.50, 100.52)  # the market runs away, 50 bps above the decision
    for t in (70, 130, 190, 230):  # reprice steps fall at 60, 120, 180 s of 240
        harness.advance(base + t)
        harness.step()
    # every order of the decision, placed or replaced, in the order they went out
    placed = [o["price"] for o in harness.dry_orders().values() if o["side"] == "buy"]
    # decision 100.0, budget 15 bps -> bound 100.15, reached in max_reprices = 3 steps
    # thirds of the way from 99.99 to the bound, on the 0.01 tick (a buy rounds down)
    assert placed == pytest.approx([99.99, 100.04, 100.09, 100.15])
    assert max(placed) <= 100.15
    harness.advance(base + 250)  # the entry timeout (240 s): nothing filled -> cancel
    harness.step(2)
    # the decision timed out: nothing filled, nothing held, and no new entry on the same
    # signal candle
    assert open_trades() == []
    assert len([o for o in harness.dry_orders().values() if o["side"] == "buy"]) == 4


def _partial_fill(harness, ratio):
    harness.step()
    (trade,) = open_trades()
    (order,) = entry_orders(trade)
    dry = harness.dry_orders()[order.order_id]
    filled = round(dry["amount"] * ratio, 5)
    dry.update({"filled": filled, "remaining": dry["amount"] - filled})
    harness.advance(250)  # past entry_timeout_s (240), before Freqtrade's backstop (300)
    harness.step()
    return order.order_id, dry["amount"], filled


def test_partial_fill_above_min_ratio_is_kept(harness):
    order_id, amount, filled = _partial_fill(harness, 0.6)  # min_fill_ratio 0.5
    (trade,) = open_trades()
    assert trade.amount == pytest.approx(filled)
    assert not trade.has_open_orders or all(
        o.ft_order_side == "stoploss" for o in trade.open_orders
    )
    rec = FillRecord.from_dict(trade.get_custom_data(LEDGER_KEY_PREFIX + order_id))
    assert rec.filled_amount == pytest.approx(filled) and rec.ordered_amount == amount
    assert trade.get_custom_data("exec_ext.discard_partial") is None


def test_partial_fill_below_min_ratio_is_cancelled_and_exited(harness):
    _, _, filled = _partial_fill(harness, 0.3)
    harness.step()  # the next loop exits the small remainder
    (trade,) = all_trades()
    exits = [o for o in trade.orders if o.ft_order_side == trade.exit_side]
    assert exits and exits[0].ft_order_tag == "exec_partial_fill_below_min"
    assert exits[0].amount == pytest.approx(filled)


def ledger_of(trade) -> list[FillRecord]:
    return [
        FillRecord.from_dict(cd.value)
        for cd in trade.get_all_custom_data()
        if cd.cd_key.startswith(LEDGER_KEY_PREFIX)
    ]


def test_ledger_records_persist_in_sqlite_across_restart(harness):
    harness.step()  # entry rests at 99.99
    harness.book = book(99.97, 99.99)  # the ask comes down to our bid: filled as maker
    harness.step()
    (trade,) = open_trades()
    assert trade.nr_of_successful_entries == 1
    (rec,) = ledger_of(trade)
    assert rec.intent == "entry" and rec.side == "buy" and rec.runmode == "dry_run"
    assert rec.decision_price == 100.0 and rec.fill_price == pytest.approx(99.99)
    assert rec.slippage_decision_bps == pytest.approx(-1.0)  # 1 bp better than decision
    assert rec.arrival_mid == pytest.approx(100.0) and rec.arrival_spread_bps == pytest.approx(2.0)
    assert rec.liquidity == "maker" and rec.fee_inferred and rec.spread_cost_bps == 0.0
    assert rec.fee_rate == pytest.approx(0.001)
    trade_id = trade.id

    harness.restart()  # a new bot on the same database file
    harness.step()
    from freqtrade.persistence import Trade

    again = Trade.get_trades([Trade.id == trade_id]).first()
    assert [r.to_dict() for r in ledger_of(again)] == [rec.to_dict()]
    assert again.get_custom_data("exec_ext.ctx.entry")["decision_price"] == 100.0


def test_exit_that_times_out_escalates_to_a_market_exit(harness):
    _, _, filled = _partial_fill(harness, 0.3)  # below min_fill_ratio: exit the remainder
    harness.step()  # limit exit placed at 250 s, resting at the ask (maker-first)
    (trade,) = open_trades()
    assert any(o.ft_order_side == "sell" and o.status == "open" for o in trade.orders)
    trade_id = trade.id
    harness.book = book(99.50, 99.52)  # the market drops 50 bps below the exit decision
    harness.advance(250 + 310)  # exit_timeout_s is 300
    # a bot loop that wakes up after the whole ladder: the missed steps are caught up,
    # one per loop (cancel and place again), then the timeout escalates to market
    harness.step(5)
    (trade,) = [t for t in all_trades() if t.id == trade_id]
    assert not trade.is_open, "no position may be left without an exit"
    assert trade.exit_reason == "emergency_exit"
    exit_records = [r for r in ledger_of(trade) if r.intent == "exit"]
    assert len(exit_records) == 1 and exit_records[0].filled_amount == pytest.approx(filled)
    rec = exit_records[0]
    assert rec.order_type == "market" and rec.liquidity == "taker"
    # sold at the 99.50 bid against a 100.0 decision: 50 bps > max_exit_bps 30
    assert rec.slippage_decision_bps == pytest.approx(50.0) and rec.over_budget
    assert any("over budget" in m and "exit fill" in m for m in harness.strategy_messages())


@pytest.fixture
def futures(localex, mocker, tmp_path, test_strategies, str001_contract_path):
    contract = write_contract(
        tmp_path, str001_contract_path,
        market={"trading_mode": "futures", "margin_mode": "isolated"},
        leverage={"max": 2}, funding={"max_rate_bps": 5},
    )
    cfg = base_config(
        localex.base_url, tmp_path / "user_data", pairs=["BTC/USDT:USDT"],
        initial_state="running", trading_mode="futures", margin_mode="isolated",
        exec_ext={"risk_contract": str(contract)},
        # Binance futures prices from the order book only (no ticker pricing)
        entry_pricing={"price_side": "same", "use_order_book": True, "order_book_top": 1},
        exit_pricing={"price_side": "same", "use_order_book": True, "order_book_top": 1},
    )
    h = Harness(mocker, tmp_path, cfg, test_strategies, strategy="XMFutures")
    yield h
    h.close_bot()


def test_futures_entry_rejected_when_funding_costs_too_much(futures):
    futures.funding_rate = 0.0008  # a long pays 8 bps per interval > max_rate_bps 5
    futures.step()
    assert all_trades() == []
    msgs = futures.strategy_messages()
    assert msgs and "FUNDING_TOO_COSTLY: funding_cost_bps=8, max=5" in msgs[0]
    futures.funding_rate = 0.0001  # 1 bp: allowed; the strategy's 10x is capped at 2x
    futures.step()
    (trade,) = open_trades()
    assert trade.leverage == 2.0


def test_decision_context_survives_a_restart_before_the_fill(harness):
    harness.step()  # entry rests at 99.99; arrival book 99.99/100.01 seen at decision time
    harness.step()  # one loop with the open order stores the context with the trade
    harness.restart()  # the in-memory context is gone with the old bot
    harness.book = book(99.97, 99.99)  # filled by the new bot
    harness.step()
    (trade,) = open_trades()
    (rec,) = ledger_of(trade)
    assert rec.decision_price == 100.0
    assert rec.arrival_mid == pytest.approx(100.0) and rec.arrival_spread_bps == pytest.approx(2.0)
    assert rec.slippage_arrival_bps == pytest.approx(-1.0)
