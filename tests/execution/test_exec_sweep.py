"""Finding strays and how much of one to trade back (execution/sweep.py, pure)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from freqtrade_exec_ext.execution.sweep import Seen, find_strays, undo_amount


@dataclass(frozen=True)
class Row:
    client_order_id: str
    status: str
    order_id: str | None
    intent: str = "entry"


def _seen(oid: str, cid: str, status: str = "closed", filled: float = 0.0018) -> Seen:
    return Seen(oid, cid, "BTC/USDT", "buy", status, 0.0018, filled, 100_000.0)


def _strays(orders, rows, tracked=("1",)):
    by_cid = {r.client_order_id: r for r in rows}
    found = find_strays(orders, by_cid, lambda oid, sym: oid in tracked, prefix="fxe-")
    return [(s.order.order_id, s.parent) for s in found]


def test_the_issue_13_duplicate_is_a_stray() -> None:
    """Two filled BUYs under one client order id; Freqtrade and the journal know one."""
    rows = [Row("fxe-a", "tracked", "1")]
    orders = [_seen("1", "fxe-a"), _seen("2", "fxe-a")]
    assert _strays(orders, rows) == [("2", "fxe-a")]


def test_what_is_not_a_stray() -> None:
    rows = [
        Row("fxe-a", "tracked", "1"),
        Row("fxe-b", "accepted", "5"),  # Freqtrade may be saving it now: reconcile's
        Row("fxe-c", "sending", None),  # sent, answer lost: reconcile's
        Row("fxe-d", "cancelled", "7"),  # the guard cancelled it
        Row("fxe-e", "guard_order", "8", intent="sellback"),  # the guard's own sell-back
        Row("fxe-a@9", "stray_sold_back", "9"),  # a stray already undone
    ]
    orders = [
        _seen("1", "fxe-a"),
        _seen("5", "fxe-b", "open", 0.0),
        _seen("6", "fxe-c"),
        _seen("7", "fxe-d", "canceled", 0.0),
        _seen("8", "fxe-e"),
        _seen("9", "fxe-a"),
        _seen("10", "fxe-zz"),  # our prefix, not our journal: another bot's
        _seen("11", "x-Freqtrade"),  # not ours at all
        _seen("12", "fxe-a", "canceled", 0.0),  # closed with nothing filled: harmless
    ]
    assert _strays(orders, rows) == []


def test_an_open_duplicate_and_a_second_order_behind_a_pending_row_are_strays() -> None:
    rows = [Row("fxe-a", "tracked", "1"), Row("fxe-b", "accepted", "5")]
    orders = [_seen("3", "fxe-a", "open", 0.0), _seen("6", "fxe-b", "closed")]
    assert _strays(orders, rows) == [("3", "fxe-a"), ("6", "fxe-b")]


def test_an_order_freqtrade_tracks_is_never_a_stray() -> None:
    rows = [Row("fxe-a", "cancelled", None)]
    assert _strays([_seen("4", "fxe-a")], rows, tracked=("4",)) == []
    assert _strays([_seen("4", "fxe-a")], rows, tracked=()) == [("4", "fxe-a")]


def test_seen_reads_ccxt_orders() -> None:
    o = Seen.of({"id": 42, "info": {"clientOrderId": "fxe-q"}, "symbol": "BTC/USDT",
                 "side": "buy", "status": "open", "amount": "0.002", "filled": None,
                 "price": 99_000.0})  # fmt: skip
    assert (o.order_id, o.client_order_id, o.is_open, o.filled, o.price) == (
        "42", "fxe-q", True, 0.0, 99_000.0)  # fmt: skip


@pytest.mark.parametrize(
    ("filled", "off_by", "step", "amount"),
    [
        (0.0018, 0.0018064, 1e-5, 0.0018),  # the account's excess, to the step
        (0.0018, 0.0017982, 1e-5, 0.00179),  # its fill net of the BTC commission, floored
        (0.0018, 0.5, 1e-5, 0.0018),  # never more than the stray filled
        (0.0018, 0.0, 1e-5, 0.0),  # the account already matches the trades
        (0.0018, -0.001, 1e-5, 0.0),
        (0.0018, None, 1e-5, 0.0018),  # futures: the stray's fill
        (0.000005, 1.0, 1e-5, 0.0),  # below one step
        (0.00123456, None, None, 0.00123456),
    ],
)
def test_undo_amount(filled, off_by, step, amount) -> None:
    assert undo_amount(filled, off_by, step) == pytest.approx(amount, abs=1e-12)
