"""STR001 in LIVE mode: ambiguous order answers and a killed bot lose nothing.

"No duplicate and no untracked order" is checked on the venue's own books: every order it
holds is either in Freqtrade's database or was cancelled unfilled by the order guard, and
there is never more than the one position the strategy asked for.
"""

from __future__ import annotations

from typing import Any

import pytest

from .test_e2e_live_lifecycle import assert_ledger_matches_venue

pytestmark = pytest.mark.slow

ENTRY = "POST /api/v3/order"
LOOKUP = "GET /api/v3/order"


class Killed(BaseException):
    """The bot process dies here (not an Exception: nothing in Freqtrade catches it)."""


def _buys(lb: Any) -> list[Any]:
    return [o for o in lb.venue_orders() if o.side == "BUY" and o.type == "LIMIT"]


def _closed(lb: Any) -> bool:
    return bool(lb.trades()) and all(not t.is_open for t in lb.trades())


def assert_nothing_untracked(lb: Any) -> None:
    """Every venue order is in Freqtrade's database, or the guard cancelled it unfilled
    (and journaled that)."""
    known = lb.db_order_ids()
    cancelled = {j.order_id for j in lb.journal() if j.status == "cancelled"}
    for o in lb.venue_orders():
        oid = str(o.order_id)
        if oid in known:
            continue
        assert oid in cancelled, f"venue order {oid} ({o.side} {o.type} {o.status}) untracked"
        assert o.executed_qty == 0 and not o.is_open


def test_without_the_guard_an_ambiguous_create_duplicates_the_entry(live) -> None:
    """The failure the guard exists for, shown on plain Freqtrade: the venue accepts the
    entry but answers 503 "execution status unknown"; Freqtrade takes it as failed and
    enters again on the next loop, leaving an order it does not know."""
    lb = live()
    lb.ex.faults.add(endpoint=ENTRY, kind="ambiguous", count=1)
    lb.start_bot()
    lb.bot.strategy.exec_ext_live_services.guard.uninstall()
    lb.step()
    assert lb.trades() == []  # Freqtrade believes nothing was placed ...
    assert len(_buys(lb)) == 1  # ... but the venue holds the entry
    lb.step(advance_s=2)
    buys = _buys(lb)
    assert len(buys) == 2  # a second entry for the same signal
    untracked = [o for o in buys if str(o.order_id) not in lb.db_order_ids()]
    assert len(untracked) == 1
    print(f"\nplain Freqtrade: {len(buys)} entry orders, 1 untracked ({untracked[0].status})")


@pytest.mark.parametrize("kind", ["ambiguous", "timeout"])
def test_ambiguous_create_is_found_by_client_order_id_and_not_sent_again(live, kind) -> None:
    """``ambiguous``: the venue creates the entry and answers 503 -1007 "execution status
    unknown"; ``timeout``: it creates the entry and answers nothing until the client has
    given up (ccxt RequestTimeout)."""
    lb = live()
    if kind == "timeout":
        fault = lb.ex.faults.add(endpoint=ENTRY, kind="timeout", execute=True, delay_s=1.5)
    else:
        fault = lb.ex.faults.add(endpoint=ENTRY, kind="ambiguous", count=1)
    lb.start_bot()
    lb.bot.exchange._api.timeout = 500  # ms: the client gives up before the venue answers
    lb.step()
    assert fault.fired == 1
    (entry,) = _buys(lb)  # one order, although its creation was answered with a 503
    (trade,) = lb.trades()
    assert [o.order_id for o in trade.orders] == [str(entry.order_id)]
    (row,) = lb.journal()
    assert row.client_order_id == entry.client_order_id  # sent with the guard's client id
    assert row.intent == "entry" and row.order_id == str(entry.order_id)
    assert "found by client order id" in (row.detail or "")
    # ... and the trade lives on normally: stop-loss, STR001's exit, ledger == venue
    lb.step(advance_s=2)
    lb.clock.align(5)
    assert lb.run_until(lambda: _closed(lb), step_s=10, max_s=600)
    assert lb.trades()[0].exit_reason == "back_to_middle_band"
    assert len(_buys(lb)) == 1
    assert_nothing_untracked(lb)
    assert_ledger_matches_venue(lb)
    assert {j.status for j in lb.journal()} == {"tracked"}
    print(f"\n{kind} create: 1 entry order {entry.order_id}, journal {lb.journal()[0].status}")


def test_ambiguous_create_that_cannot_be_looked_up_blocks_the_pair_until_settled(live) -> None:
    """The order's fate cannot be learned (every lookup fails too): nothing more is sent
    for the pair; the next loop settles it first (cancelled if unfilled, handed to
    Freqtrade if filled), and only then may an entry go out."""
    lb = live()
    lb.ex.faults.add(endpoint=ENTRY, kind="ambiguous", count=1)
    lookups = lb.ex.faults.add(endpoint=LOOKUP, kind="http_error", status=503, count=3)
    lb.start_bot()
    lb.step()
    assert lookups.fired == 3
    assert lb.trades() == []
    (first,) = _buys(lb)
    (row,) = lb.journal()
    assert row.status == "unknown" and row.order_id is None
    lb.step(advance_s=5)
    row = next(j for j in lb.journal() if j.client_order_id == first.client_order_id)
    lb.step(advance_s=2)
    (trade,) = lb.trades()  # one position, whichever way it was settled
    if row.status == "adopted":  # it had filled: it is the trade's entry, none other sent
        assert first.executed_qty > 0
        assert [o.order_id for o in trade.orders if o.ft_order_side == "buy"] == [
            str(first.order_id)
        ]
        assert len(_buys(lb)) == 1
        assert trade.amount == pytest.approx(first.executed_qty * (1 - 0.001), abs=1e-5)
    else:  # unfilled: cancelled first, then one new entry
        assert row.status == "cancelled" and first.executed_qty == 0
        assert first.status == "CANCELED"
        assert len([o for o in _buys(lb) if o is not first]) == 1
    lb.clock.align(5)
    assert lb.run_until(lambda: _closed(lb), step_s=10, max_s=900)
    assert len(lb.trades()) == 1
    assert_nothing_untracked(lb)
    assert_ledger_matches_venue(lb)
    print(
        f"\nunknown create: first entry {first.order_id} {row.status} "
        f"({first.executed_qty} filled); {len(_buys(lb))} entry orders in all"
    )


@pytest.mark.parametrize(
    ("when", "fills_while_down"),
    [("after_exit_saved", True), ("before_exit_saved", True), ("before_exit_saved", False)],
)
def test_bot_killed_mid_trade_restarts_with_no_lost_trade_or_ledger_record(
    live, when: str, fills_while_down: bool
) -> None:
    """The bot dies while its exit order works on the venue.  ``after_exit_saved``:
    Freqtrade had saved the order; ``before_exit_saved``: the venue accepted it but the bot
    died before saving it (only the order journal knows).  If the exit fills while the bot
    is down, the restarted bot (same database) closes the trade with that fill; if not, the
    untracked order is cancelled and the bot exits anew.  Either way there is one exit
    fill, and the ledger has every fill, equal to the venue's."""
    lb = live()
    lb.start_bot()
    lb.step()
    lb.step(advance_s=2)
    (trade,) = lb.trades()
    assert trade.is_open
    if when == "before_exit_saved":
        api = lb.bot.exchange._api
        guarded = api.create_order

        def create_then_die(symbol, type, side, amount, price=None, params=None):
            order = guarded(symbol, type, side, amount, price, params)
            if side == "sell" and type == "limit":
                raise Killed(order["id"])
            return order

        api.create_order = create_then_die
        lb.clock.align(5)  # the exit candle
        with pytest.raises(Killed):
            lb.run_until(lambda: False, step_s=10, max_s=120)
    else:
        lb.clock.align(5)
        assert lb.run_until(
            lambda: any(o.ft_order_side == "sell" for o in lb.trades()[0].orders),
            step_s=10,
            max_s=120,
        )
    exit_order = next(o for o in lb.venue_orders() if o.side == "SELL" and o.type == "LIMIT")
    saved = str(exit_order.order_id) in lb.db_order_ids()
    assert saved is (when == "after_exit_saved")
    lb.kill()
    if fills_while_down:
        for _ in range(120):
            if exit_order.status == "FILLED":
                break
            lb.clock.advance(10)
            lb.ex.engine.step()
        assert exit_order.status == "FILLED"
    else:
        assert exit_order.is_open and exit_order.executed_qty == 0
    lb.start_bot()  # a new process on the same database
    assert lb.run_until(lambda: _closed(lb), step_s=10, max_s=600)
    (trade,) = lb.trades()
    assert trade.exit_reason == "back_to_middle_band"
    sells = [o for o in lb.venue_orders() if o.side == "SELL" and o.executed_qty > 0]
    assert len(sells) == 1
    assert trade.close_rate == pytest.approx(sells[0].avg_price)
    assert not [o for o in lb.venue_orders() if o.is_open]
    records = assert_ledger_matches_venue(lb)
    assert {r.intent for r in records} == {"entry", "exit"}
    assert_nothing_untracked(lb)
    journal = {j.order_id: j.status for j in lb.journal()}
    want = "tracked" if saved else ("adopted" if fills_while_down else "cancelled")
    assert journal[str(exit_order.order_id)] == want
    if not fills_while_down and not saved:
        assert exit_order.status == "CANCELED" and sells[0] is not exit_order
    print(
        f"\nkilled {when}, exit {'filled' if fills_while_down else 'unfilled'} while down: "
        f"first exit {exit_order.order_id} {journal[str(exit_order.order_id)]}, trade closed "
        f"at {trade.close_rate} ({trade.exit_reason}); {len(records)} ledger records == venue"
    )
