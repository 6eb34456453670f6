"""``kill -9`` at an exact order step, in a real ``freqtrade trade`` process (LIVE).

The order guard's test-only crash point (``FREQTRADE_EXEC_EXT_TEST_KILL_AT``) sends the
bot process SIGKILL right after the exchange accepted an order, before the journal or
Freqtrade saved it: no timing luck.  A new process on the same database must then leave
no untracked order, no double exit, and no open position without a stop-loss on the
venue; and the account must hold what the open trades hold.
"""

from __future__ import annotations

import contextlib
import http.client
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .guard_views import LOT_STEP, holdings_line, order_lines, print_report, venue_btc
from .live_harness import DATADIR
from .proc_harness import Bot, Database, Venue

pytestmark = pytest.mark.slow

#: journal statuses of an order the guard itself closed (so Freqtrade need not know it)
CLOSED_BY_GUARD = ("cancelled", "stray_cancelled")


@pytest.fixture
def venue() -> Iterator[Venue]:
    if not (DATADIR / "BTC_USDT-5m.feather").is_file():
        pytest.skip(f"shipped candles missing in {DATADIR}")
    v = Venue()
    yield v
    v.stop()


@pytest.fixture
def bots(venue: Venue, tmp_path: Path) -> Iterator[Any]:
    made: list[Bot] = []

    def make(name: str, db: Path, **kwargs: Any) -> Bot:
        bot = Bot(venue, tmp_path, name, db, **kwargs)
        made.append(bot)
        return bot

    yield make
    for bot in made:
        bot.stop()


def _enter(bot: Bot, venue: Venue, db: Database) -> dict[str, Any]:
    bot.api("POST", "forceenter", {"pair": "BTC/USDT", "side": "long", "ordertype": "market"})
    bot.wait(
        "the entry filled and its stop-loss on the venue",
        lambda: len(venue.open_stops()) == 1 and db.open_trades_btc() > 0,
    )
    (trade,) = bot.api("GET", "status")
    return dict(trade)


def _call_and_die(bot: Bot, method: str, path: str, body: dict[str, Any]) -> None:
    """A REST call during which the crash point kills the bot (no answer comes)."""
    with contextlib.suppress(urllib.error.URLError, http.client.HTTPException, ConnectionError):
        bot.api(method, path, body)
    bot.wait_killed()


def _untracked(venue: Venue, db: Database) -> list[Any]:
    """Venue orders Freqtrade does not know that the guard did not close."""
    tracked = db.order_ids()
    closed = {j.order_id for j in db.journal() if j.status in CLOSED_BY_GUARD}
    return [
        o
        for o in venue.orders()
        if str(o.order_id) not in tracked and not (str(o.order_id) in closed and not o.is_open)
    ]


def _settled(venue: Venue, db: Database) -> bool:
    """Nothing untracked, and a stop on the venue for every open position (none else)."""
    if _untracked(venue, db):
        return False
    stops = venue.open_stops()
    held = db.open_trades_btc()
    if held > 0:
        return len(stops) == 1 and str(stops[0].order_id) in db.order_ids()
    return not stops


def _assert_settled(venue: Venue, db: Database, title: str) -> None:
    assert _untracked(venue, db) == []
    orders = venue.orders()
    bought = sum(o.executed_qty * (1 - 0.001) for o in orders if o.side == "BUY")
    sold = sum(o.executed_qty for o in orders if o.side == "SELL")
    held = db.open_trades_btc()
    assert sold <= bought + 1e-12  # no double exit: never sold more than was bought
    stops = venue.open_stops()
    if held > 0:  # no position without a stop-loss of its size on the venue
        (stop,) = stops
        assert stop.orig_qty == pytest.approx(held, abs=LOT_STEP)
    else:
        assert stops == []
    account = venue_btc(venue.engine)
    print_report(
        title,
        order_lines(orders, db.order_ids(), db.journal()),
        holdings_line(account, held),
        db.journal(),
    )
    assert 0 <= account - held < LOT_STEP


@pytest.mark.parametrize("ordertype", ["market", "limit"])
def test_killed_while_an_exit_is_placed(venue, bots, tmp_path, ordertype: str) -> None:
    """SIGKILL right after the venue accepted the exit.  ``market``: it filled at once;
    the restarted bot finds it by its client order id and closes the trade with it (no
    second exit).  ``limit``: while it still rests on the venue, the restarted bot cancels
    it, puts a stop-loss back on the open position, and a later exit is the only one that
    fills; the replay runs on the wall clock, so on a slow machine the price may reach the
    limit before the restarted bot looks: then it adopts that fill like a market exit."""
    db = Database(tmp_path / "tradesv3.sqlite")
    first = bots("bot1", db.path, crash_at="exit:after_send")
    first.wait_running()
    assert "TEST CRASH POINT ARMED" in first.log_text()
    trade = _enter(first, venue, db)
    (stop,) = venue.open_stops()
    _call_and_die(
        first, "POST", "forceexit", {"tradeid": str(trade["trade_id"]), "ordertype": ordertype}
    )
    (exit_order,) = [o for o in venue.orders() if o.side == "SELL" and o.type != "STOP_LOSS_LIMIT"]
    assert str(exit_order.order_id) not in db.order_ids()  # only the journal knows it
    assert stop.status == "CANCELED"  # Freqtrade takes the stop off before it exits
    if ordertype == "market":
        assert exit_order.status == "FILLED"
    else:
        assert exit_order.status in ("NEW", "FILLED")  # resting, unless the price came to it
    (row,) = [j for j in db.journal() if j.intent == "exit"]
    assert row.status == "sending" and row.order_id is None

    second = bots("bot2", db.path)
    second.wait_running()
    second.wait(
        "the dead bot's identity taken over", lambda: "previous bot is gone" in second.log_text()
    )
    second.wait("the killed bot's orders settled", lambda: _settled(venue, db))
    journal = {j.order_id: j.status for j in db.journal()}
    exit_order = next(o for o in venue.orders() if o.order_id == exit_order.order_id)
    adopted = journal[str(exit_order.order_id)] == "adopted"
    print(f"\n{ordertype} exit after the restart: {journal[str(exit_order.order_id)]}")
    if ordertype == "market" or adopted:
        assert exit_order.status == "FILLED"
        second.wait("the trade closed by that exit", lambda: db.open_trades_btc() == 0 and all(
            not t["is_open"] for t in db.trades()))  # fmt: skip
        assert journal[str(exit_order.order_id)] == "adopted"
    else:
        assert exit_order.status == "CANCELED"  # (a part may have filled before the cancel)
        assert journal[str(exit_order.order_id)] == "cancelled"
        (trade,) = second.api("GET", "status")
        second.api("POST", "forceexit", {"tradeid": str(trade["trade_id"]), "ordertype": "market"})
        second.wait("the trade closed", lambda: second.api("GET", "status") == [])
        second.wait("nothing left open", lambda: _settled(venue, db))
    sells = [o for o in venue.orders() if o.side == "SELL" and o.executed_qty > 0]
    part = [exit_order] if not adopted and exit_order.executed_qty > 0 else []
    assert len(sells) == 1 + len(part)  # one exit filled (and what the cancelled one filled)
    _assert_settled(venue, db, f"killed right after the {ordertype} exit was sent; restarted")


def test_killed_while_a_stop_loss_is_replaced(venue, bots, tmp_path) -> None:
    """The venue cancels the position's stop-loss; Freqtrade places a new one and the bot
    is killed right after the venue accepted it.  The restarted bot cancels the stop it
    does not know and Freqtrade puts its own back: one stop, the position's size."""
    db = Database(tmp_path / "tradesv3.sqlite")
    first = bots("bot1", db.path, crash_at="stoploss:after_send:2")
    first.wait_running()
    _enter(first, venue, db)
    (stop1,) = venue.open_stops()
    venue.ex.venue_cancel(stop1.order_id)
    first.wait_killed()
    (stop2,) = venue.open_stops()  # the replacement: on the venue, unknown to Freqtrade
    assert str(stop2.order_id) not in db.order_ids()
    assert stop2.orig_qty == pytest.approx(stop1.orig_qty)

    second = bots("bot2", db.path)
    second.wait_running()
    second.wait("a stop-loss Freqtrade knows, and nothing untracked", lambda: _settled(venue, db))
    (stop3,) = venue.open_stops()
    assert stop3.order_id not in (stop1.order_id, stop2.order_id)
    assert stop2.status == "CANCELED" and stop2.executed_qty == 0
    journal = {j.order_id: j.status for j in db.journal()}
    assert journal[str(stop2.order_id)] == "cancelled"
    assert not [o for o in venue.orders() if o.side == "SELL" and o.executed_qty > 0]
    _assert_settled(venue, db, "killed right after a replacement stop-loss was sent; restarted")
