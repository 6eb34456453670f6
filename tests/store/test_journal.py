"""The order journal (store/journal.py) on a real SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from freqtrade_exec_ext.store.journal import TABLE, OrderJournal, intent_of


def _journal(path: Path, strategy: str = "STR-001") -> OrderJournal:
    return OrderJournal(create_engine(f"sqlite:///{path}"), strategy)


def _record(j: OrderJournal, cid: str, pair: str = "BTC/USDT", intent: str = "entry") -> None:
    j.record(cid, pair=pair, side="buy", intent=intent, order_type="limit", amount=0.01,
             price=100_000.0, enter_tag="oversold_reversal")


def test_a_placement_is_on_disk_before_it_is_sent_and_survives_a_restart(tmp_path) -> None:
    db = tmp_path / "tradesv3.sqlite"
    j = _journal(db)
    _record(j, "fxe-1")
    # another process (the restarted bot) sees it, still "sending"
    (row,) = _journal(db).pending()
    assert (row.client_order_id, row.status, row.pair, row.enter_tag) == (
        "fxe-1", "sending", "BTC/USDT", "oversold_reversal")
    assert TABLE in inspect(create_engine(f"sqlite:///{db}")).get_table_names()


def test_statuses_and_what_is_pending(tmp_path) -> None:
    j = _journal(tmp_path / "db.sqlite")
    for cid in ("a", "b", "c", "d"):
        _record(j, cid, pair="ETH/USDT" if cid == "d" else "BTC/USDT")
    j.accepted("a", "4000000001")
    j.unknown("b", "RequestTimeout: ...")
    j.rejected("c", "InsufficientFunds: ...")
    assert [i.client_order_id for i in j.pending()] == ["a", "b", "d"]
    assert [i.client_order_id for i in j.pending("BTC/USDT", ("sending", "unknown"))] == ["b"]
    j.mark("a", "tracked")
    assert j.get("a").status == "tracked" and j.get("a").order_id == "4000000001"
    assert j.counts() == {"tracked": 1, "unknown": 1, "rejected": 1, "sending": 1}
    assert j.get("b").updated_at.tzinfo is UTC


def test_rows_belong_to_their_strategy(tmp_path) -> None:
    db = tmp_path / "db.sqlite"
    _record(_journal(db, "STR-001"), "x")
    assert _journal(db, "STR-002").pending() == []


def test_bad_marks_are_refused(tmp_path) -> None:
    j = _journal(tmp_path / "db.sqlite")
    with pytest.raises(KeyError, match="no placement with client order id nope"):
        j.mark("nope", "tracked")
    _record(j, "x")
    with pytest.raises(ValueError, match="journal status 'done'"):
        j.mark("x", "done")


def test_recording_twice_keeps_the_first_row(tmp_path) -> None:
    j = _journal(tmp_path / "db.sqlite", "STR-001")
    _record(j, "x")
    j.accepted("x", "1")
    _record(j, "x")
    assert j.get("x").status == "accepted" and len(j.all()) == 1


def test_clock_is_injected(tmp_path) -> None:
    t = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    j = OrderJournal(create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"), "S", clock=lambda: t)
    _record(j, "x")
    assert j.get("x").created_at == t


@pytest.mark.parametrize(
    ("side", "params", "spot", "intent"),
    [
        ("buy", {}, True, "entry"),
        ("sell", {}, True, "exit"),
        ("sell", {"stopPrice": 95_000}, True, "stoploss"),
        ("sell", {}, False, "entry"),  # a futures short
        ("buy", {"reduceOnly": True}, False, "exit"),
        ("buy", {"triggerPrice": 1.0, "reduceOnly": True}, False, "stoploss"),
    ],
)
def test_intent_of_an_order_request(side, params, spot, intent) -> None:
    assert intent_of(side, params, spot=spot) == intent
