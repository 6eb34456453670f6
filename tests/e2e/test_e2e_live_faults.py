"""STR001 in LIVE mode under the venue's scripted faults."""

from __future__ import annotations

from typing import Any

import pytest

from freqtrade_exec_ext.strategy.mixin import DISCARD_KEY, EXIT_PARTIAL_BELOW_MIN

from .test_e2e_live_lifecycle import assert_ledger_matches_venue

pytestmark = pytest.mark.slow

ENTRY = "POST /api/v3/order"


def _entry_order(lb: Any) -> Any:
    return next(o for o in lb.venue_orders() if o.side == "BUY")


def _exit_tags(trade: Any) -> list[str]:
    return [o.ft_order_tag for o in trade.orders if o.ft_order_side == "sell"]


def _closed(lb: Any) -> bool:
    return all(not t.is_open for t in lb.trades())


@pytest.mark.parametrize("ratio", [0.4, 0.6])
def test_partial_entry_fill_is_handled_per_the_contract(live, ratio: float) -> None:
    """At the contract's entry timeout a fill below ``min_fill_ratio`` is exited, one at or
    above it is kept (the rest cancelled) and protected by the stop-loss."""
    lb = live()
    c = lb.contract
    lb.ex.faults.add(endpoint=ENTRY, kind="partial_fill", ratio=ratio, count=1)
    lb.start_bot()
    lb.step()
    entry = _entry_order(lb)
    assert lb.run_until(lambda: entry.status == "PARTIALLY_FILLED", step_s=5, max_s=120)
    lb.step(2, advance_s=5)
    assert entry.executed_qty == pytest.approx(entry.orig_qty * ratio, abs=1e-5)
    assert entry.is_open  # the venue keeps the rest working
    # Freqtrade's unfilled timeout is only a backstop: the mixin decides at the contract's
    lb.clock.advance(c.orders.entry_timeout_s)
    lb.step()
    assert entry.status == "CANCELED"
    (trade,) = lb.trades()
    kept = entry.executed_qty * (1 - 0.001)  # less the commission paid in BTC
    if ratio < c.orders.min_fill_ratio:
        # too small a position: the mixin exits it (limit first, market after the timeout)
        assert lb.run_until(lambda: _closed(lb), step_s=20, max_s=2 * c.orders.exit_timeout_s)
        (trade,) = lb.trades()
        # marked for exit by the mixin at the timeout (STR001's own exit signal, when it
        # fires in the same loop, takes precedence in Freqtrade; either way it is exited)
        assert trade.get_custom_data(DISCARD_KEY) is True
        sells = [o for o in lb.venue_orders() if o.side == "SELL" and o.executed_qty > 0]
        assert sum(o.executed_qty for o in sells) == pytest.approx(kept, abs=1e-5)
    else:
        # kept: the position is the filled part, protected by a stop-loss of that size
        lb.step(advance_s=5)
        (trade,) = lb.trades()
        assert trade.amount == pytest.approx(kept, abs=1e-5)
        stops = [o for o in lb.venue_orders() if o.type == "STOP_LOSS_LIMIT"]
        assert stops and stops[0].orig_qty == pytest.approx(kept, abs=1e-5)
        # ... and lives on as a normal trade, closed by STR001's own exit signal
        assert lb.run_until(lambda: _closed(lb), step_s=20, max_s=2 * c.orders.exit_timeout_s)
        (trade,) = lb.trades()
        assert trade.get_custom_data(DISCARD_KEY) is None
        assert EXIT_PARTIAL_BELOW_MIN not in _exit_tags(trade)
    records = assert_ledger_matches_venue(lb)
    rec = next(r for r in records if r.intent == "entry")
    assert rec.ordered_amount == pytest.approx(entry.orig_qty)
    assert rec.filled_amount / rec.ordered_amount == pytest.approx(ratio, abs=1e-3)
    print(
        f"\npartial {ratio:.0%}: entry {entry.executed_qty}/{entry.orig_qty} BTC, "
        f"kept {trade.amount} BTC, exits {_exit_tags(trade)}, closed by {trade.exit_reason}"
    )


def test_rate_limit_storm_is_survived_without_a_ban(live) -> None:
    """A storm of HTTP 429 (Retry-After 1 s) on every endpoint while the trade is open:
    Freqtrade backs off, is never banned (418), and the trade completes."""
    lb = live()
    lb.start_bot()
    lb.step()
    lb.step(advance_s=2)
    storm = lb.ex.faults.add(endpoint="*", kind="rate_limit", count=12, retry_after_s=1)
    lb.clock.align(5)  # the exit candle, in the middle of the storm
    assert lb.run_until(lambda: _closed(lb), step_s=10, max_s=600)
    limiter = lb.ex.limiter
    answers = limiter.status_counts()
    assert storm.fired == 12
    assert limiter.bans() == 0 and 418 not in answers
    # not one request inside a Retry-After window: the venue answered no extra 429 for
    # "not backing off" (the order guard held every request until the window passed)
    assert answers.get(429, 0) == storm.fired
    held = lb.bot.strategy.exec_ext_live_services.guard.governor.stats
    assert held.held > 0
    (trade,) = lb.trades()
    assert trade.exit_reason == "back_to_middle_band"
    assert_ledger_matches_venue(lb)
    print(
        f"\nstorm: {storm.fired} scripted 429s, 0 more for not backing off, 0 bans; "
        f"{held.held} requests held {held.held_s:.1f} s in all; "
        f"{len(lb.loop_errors)} bot loops gave up and were retried"
    )


WEIGHT_PER_MINUTE = 120  # Binance allows 6000; one bot loop here uses more than 120


def _low_weight_limit(weight_per_minute: int) -> Any:
    from freqtrade_exec_ext.localex.ratelimit import Limit, RateLimitConfig

    spot = (Limit("REQUEST_WEIGHT", "MINUTE", 1, 6000), Limit("ORDERS", "SECOND", 10, 100))
    return RateLimitConfig(limits={"spot": spot}, weight_limit=weight_per_minute)


@pytest.mark.parametrize("guarded", [True, False], ids=["with_guard", "plain_freqtrade"])
def test_request_weight_storm_real_limits(live, guarded: bool) -> None:
    """The venue's real limiter with a request-weight budget below what the bot uses:
    every minute's window closes early with 429 + Retry-After.  Plain Freqtrade retries
    on its own schedule (1, 2, 5, 10, 17 s) into the closed window and gets the IP banned
    (418); with the order guard every request waits out Retry-After, so the venue never
    counts a violation, never bans, and STR001's trade completes."""
    lb = live(venue_kwargs={"rate_limits": _low_weight_limit(WEIGHT_PER_MINUTE)})
    lb.start_bot()
    if not guarded:
        lb.bot.strategy.exec_ext_live_services.guard.uninstall()
    lb.step()
    lb.step(advance_s=2)
    lb.clock.align(5)
    closed = lb.run_until(lambda: _closed(lb), step_s=10, max_s=900)
    limiter = lb.ex.limiter
    answers = limiter.status_counts()
    assert answers.get(429, 0) > 0  # the storm is real: the limit was hit
    if guarded:
        assert closed and lb.trades()[0].exit_reason == "back_to_middle_band"
        assert limiter.violations == 0 and limiter.bans() == 0 and 418 not in answers
        stats = lb.bot.strategy.exec_ext_live_services.guard.governor.stats
        assert stats.held > 0
        assert_ledger_matches_venue(lb)
        detail = f"{stats.held} requests held {stats.held_s:.0f} s"
    else:
        assert limiter.violations > 0 and limiter.bans() >= 1 and answers.get(418, 0) > 0
        detail = f"{limiter.violations} requests into closed windows"
    print(
        f"\nweight storm ({'guard' if guarded else 'plain'}): {answers.get(429, 0)} x 429, "
        f"{answers.get(418, 0)} x 418, {limiter.bans()} bans; {detail}; trade closed: {closed}"
    )



def test_a_stop_loss_cancelled_by_the_venue_is_placed_again(live) -> None:
    """The venue cancels the stop-loss order by itself (maintenance, risk checks): the
    position is not left unprotected; a new stop at the contract's level goes out."""
    lb = live()
    lb.start_bot()
    lb.step()
    lb.step(advance_s=2)
    (stop,) = [o for o in lb.venue_orders() if o.type == "STOP_LOSS_LIMIT"]
    lb.ex.venue_cancel(stop.order_id)
    assert stop.status == "CANCELED"
    lb.step(advance_s=5)
    lb.step(advance_s=5)
    stops = [o for o in lb.venue_orders() if o.type == "STOP_LOSS_LIMIT" and o.is_open]
    assert len(stops) == 1 and stops[0] is not stop
    assert stops[0].stop_price == pytest.approx(stop.stop_price, rel=1e-3)
    assert stops[0].orig_qty == pytest.approx(stop.orig_qty)
    (trade,) = lb.trades()
    assert trade.is_open
    print(f"\nvenue cancelled stop {stop.order_id}; new stop {stops[0].order_id} at "
          f"{stops[0].stop_price}")
