"""Two real ``freqtrade trade`` processes pointed at one database: the second refuses.

Without the check both bots would settle each other's orders as "untracked" (cancel the
other's stop-loss, adopt its exits) and manage the same positions.
"""

from __future__ import annotations

import contextlib
import urllib.error
from collections.abc import Iterator

import pytest

from .guard_views import order_lines
from .live_harness import DATADIR
from .proc_harness import Bot, Database, Venue

pytestmark = pytest.mark.slow

REFUSED = "exec_ext: REFUSED: another live bot uses this database"


@pytest.fixture
def venue() -> Iterator[Venue]:
    if not (DATADIR / "BTC_USDT-5m.feather").is_file():
        pytest.skip(f"shipped candles missing in {DATADIR}")
    v = Venue()
    yield v
    v.stop()


def _lines(bot: Bot, text: str) -> list[str]:
    return [line for line in bot.log_text().splitlines() if text in line]


def test_a_second_bot_on_the_same_database_refuses_with_one_line(venue, tmp_path) -> None:
    db = Database(tmp_path / "tradesv3.sqlite")
    first = Bot(venue, tmp_path, "first", db.path)
    second: Bot | None = None
    third: Bot | None = None
    try:
        first.wait_running()
        first.api("POST", "forceenter", {"pair": "BTC/USDT", "side": "long", "ordertype": "market"})
        first.wait("its stop-loss on the venue", lambda: len(venue.open_stops()) == 1)
        (stop,) = venue.open_stops()
        orders_before = len(venue.orders())

        second = Bot(venue, tmp_path, "second", db.path)
        second.wait_running()
        second.wait("its refusal", lambda: _lines(second, REFUSED))
        (line,) = _lines(second, "REFUSED")  # one line, at start
        assert " - ERROR - " in line and f"pid {first.proc.pid}" in line
        assert "give each its own db_url" in line
        # the refused bot places no order: a forced entry is denied ...
        with contextlib.suppress(urllib.error.HTTPError):
            second.api("POST", "forceenter", {"pair": "ETH/USDT", "side": "long"})
        second.wait("its entry denied", lambda: _lines(second, "entry rejected ETH/USDT"))
        assert "order guard not running" in _lines(second, "entry rejected ETH/USDT")[0]
        assert len(venue.orders()) == orders_before and not venue.orders("ETHUSDT")
        # ... and it leaves the first bot's orders alone (its own reconciliation would
        # have cancelled the first bot's stop-loss as an order it does not know)
        assert stop.is_open and venue.open_stops() == [stop]
        assert len(_lines(second, "REFUSED")) == 1
        assert not _lines(first, "REFUSED")
        print(f"\nsecond bot: {line.split(' - ', 3)[-1]}")
        print("venue orders (BTCUSDT):\n" + "\n".join(
            order_lines(venue.orders(), db.order_ids(), db.journal())))  # fmt: skip

        # a clean stop of the first releases the database: the next bot takes it, silently
        second.stop()
        first.stop()
        third = Bot(venue, tmp_path, "third", db.path)
        third.wait_running()
        third.wait("its stop-loss known", lambda: str(stop.order_id) in db.order_ids())
        assert not _lines(third, "REFUSED") and not _lines(third, "previous bot is gone")
    finally:
        for bot in (first, second, third):
            if bot is not None:
                bot.stop()
