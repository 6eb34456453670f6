"""The order guard's own decisions, on a stand-in ccxt client and a real journal.

What is checked here needs no Freqtrade: how orders are signed per exchange, when an order
that lookups do not find counts as absent (and when the pair stays blocked), the refusal
of a bot that does not own its database, and the test-only crash point.  The guard with a
real Freqtrade and venue is in ``tests/e2e``.
"""

from __future__ import annotations

import logging
import signal
from types import SimpleNamespace
from typing import Any

import ccxt
import pytest
from sqlalchemy import create_engine

from freqtrade_exec_ext import order_guard
from freqtrade_exec_ext.execution.placement import RetryPolicy
from freqtrade_exec_ext.order_guard import CrashPoint, NotSent, OrderGuard
from freqtrade_exec_ext.store.journal import OrderJournal


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def time(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


class Api:
    """What the guard calls on ccxt's client; orders never exist unless created."""

    def __init__(self, exchange_id: str, clock: Clock) -> None:
        self.id = exchange_id
        self.clock = clock
        self.last_response_headers: dict[str, str] = {}
        self.created: list[dict[str, Any]] = []
        self.time_offset_ms = 0  # the exchange's clock against ours

    def nonce(self) -> int:
        return int(self.clock.t * 1000)

    def fetch_time(self) -> int:
        return int(self.clock.t * 1000) + self.time_offset_ms

    def fetch_order(self, order_id: Any, symbol: str, params: Any = None) -> Any:
        raise ccxt.OrderNotFound("binance Order does not exist.")

    def create_order(self, *args: Any) -> dict[str, Any]:
        self.created.append(dict(args[5]))  # (symbol, type, side, amount, price, params)
        return {"id": str(len(self.created)), "status": "open"}


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock(1_760_000_000.0)
    monkeypatch.setattr(order_guard, "time", c)
    return c


def _guard(tmp_path, clock: Clock, exchange_id: str = "binance") -> OrderGuard:
    api = Api(exchange_id, clock)
    exchange = SimpleNamespace(_api=api, _api_async=None, trading_mode="spot")
    journal = OrderJournal(create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"), "STR-001")
    return OrderGuard(exchange, journal, RetryPolicy(), strategy=None)


def _send(guard: OrderGuard) -> dict[str, Any]:
    api = guard.api
    return guard.create_order(api.create_order, "BTC/USDT", "limit", "buy", 0.002, 1e5, {})


def test_binance_orders_are_signed_with_a_short_window_and_the_journaled_timestamp(
    tmp_path, clock
) -> None:
    guard = _guard(tmp_path, clock)
    order = _send(guard)
    (params,) = guard.api.created
    (row,) = guard.journal.all()
    assert params["recvWindow"] == 5000 and params["timestamp"] == row.sent_at_ms
    assert params["clientOrderId"] == row.client_order_id and row.recv_window_ms == 5000
    assert (row.status, row.order_id) == ("accepted", order["id"])


def test_an_exchange_without_the_rule_gets_no_window(tmp_path, clock) -> None:
    guard = _guard(tmp_path, clock, "okx")
    _send(guard)
    (params,) = guard.api.created
    assert "recvWindow" not in params and "timestamp" not in params
    assert guard.journal.all()[0].sent_at_ms is None


def _lost(guard: OrderGuard, *, attempts: int = 1) -> str:
    """A journal row whose request's answer was lost (status unknown)."""
    cid = "fxe-lost"
    guard.journal.record(cid, pair="BTC/USDT", side="buy", intent="entry",
                         order_type="limit", amount=0.002, price=1e5)  # fmt: skip
    for _ in range(attempts):
        window = 5000 if guard.window else None
        guard.journal.sending(cid, sent_ms=guard.api.nonce() if window else None,
                              window_ms=window)  # fmt: skip
    guard.journal.unknown(cid, "RequestTimeout: -1007")
    return cid


def test_not_found_is_absent_only_once_the_window_has_passed(tmp_path, clock) -> None:
    guard = _guard(tmp_path, clock)
    cid = _lost(guard)
    clock.sleep(3.0)
    assert guard.settle(guard.journal.get(cid)) is None  # it may still execute
    with pytest.raises(ccxt.NetworkError, match="or still be executed"):  # the pair: blocked
        _send(guard)
    clock.sleep(3.5)  # 6.5 s after it was signed: past 5 s + 1 s on our clock ...
    guard.api.time_offset_ms = -1000  # ... but not yet on the exchange's (ours runs ahead)
    assert guard.settle(guard.journal.get(cid)) is None
    guard.api.time_offset_ms = 0
    assert guard.settle(guard.journal.get(cid)) == "absent"
    assert guard.journal.get(cid).status == "absent"
    _send(guard)  # the pair is free again


def test_without_the_rule_a_missing_order_blocks_the_pair_and_alerts(
    tmp_path, clock, caplog
) -> None:
    guard = _guard(tmp_path, clock, "okx")
    cid = _lost(guard)
    clock.sleep(3600)
    with caplog.at_level(logging.WARNING, logger="freqtrade_exec_ext.order_guard"):
        assert guard.settle(guard.journal.get(cid)) is None
        assert guard.settle(guard.journal.get(cid)) is None  # the alert is not repeated
    alerts = [r.getMessage() for r in caplog.records if "may still execute" in r.getMessage()]
    assert len(alerts) == 1 and "set its status to 'absent'" in alerts[0]
    with pytest.raises(ccxt.NetworkError):
        _send(guard)
    assert guard.api.created == [] and guard.journal.get(cid).status == "unknown"


def test_a_row_journaled_but_never_sent_is_absent(tmp_path, clock) -> None:
    guard = _guard(tmp_path, clock, "okx")  # even without the rule
    cid = _lost(guard, attempts=0)
    assert guard.settle(guard.journal.get(cid)) == "absent"


def test_a_refused_bot_sends_nothing_and_settles_nothing(tmp_path, clock) -> None:
    guard = _guard(tmp_path, clock)
    cid = _lost(guard)
    guard.refuse("exec_ext: another live bot uses this database")
    with pytest.raises(NotSent, match="another live bot uses this database"):
        _send(guard)
    assert guard.api.created == [] and len(guard.journal.all()) == 1
    clock.sleep(60)
    assert guard.reconcile(startup=True) == {} and guard.sweep() == {}
    assert guard.journal.get(cid).status == "unknown"


def test_the_crash_point_is_off_by_default_and_exact_when_set(monkeypatch) -> None:
    kills: list[tuple[int, int]] = []
    monkeypatch.setattr(order_guard.os, "kill", lambda pid, sig: kills.append((pid, sig)))
    off = CrashPoint(None)
    for _ in range(3):
        off.reached("exit", "after_send")
    assert kills == []
    armed = CrashPoint("stoploss:after_send:2")
    armed.reached("stoploss", "before_send")
    armed.reached("exit", "after_send")
    armed.reached("stoploss", "after_send")
    assert kills == []  # the first stop-loss is not the one
    armed.reached("stoploss", "after_send")
    assert kills == [(order_guard.os.getpid(), signal.SIGKILL)]


def test_the_sweep_pages_through_a_busy_day_of_orders(monkeypatch) -> None:
    from freqtrade_exec_ext.compat import venue_rules

    monkeypatch.setattr(venue_rules, "PAGE", 3)
    orders = [{"id": str(i), "timestamp": 1000 + i} for i in range(8)]
    calls: list[int] = []

    class Lister:
        def fetch_orders(self, symbol: str, since: int, limit: int) -> list[dict[str, Any]]:
            calls.append(since)
            return [o for o in orders if o["timestamp"] >= since][:limit]

    listed = venue_rules.recent_orders(Lister(), "BTC/USDT", 1000, conditional=False)
    assert [o["id"] for o in listed] == [str(i) for i in range(8)]
    assert calls == [1000, 1003, 1006]
