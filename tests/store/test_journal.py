"""The order journal (store/journal.py) on a real SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

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


def test_every_attempt_records_its_signed_timestamp_and_window(tmp_path) -> None:
    j = _journal(tmp_path / "db.sqlite")
    _record(j, "x")
    assert (j.get("x").sent_at_ms, j.get("x").attempts) == (None, 0)  # never sent yet
    j.sending("x", sent_ms=1_760_000_000_000, window_ms=5000)
    j.unknown("x", "RequestTimeout: -1007")
    j.sending("x", sent_ms=1_760_000_007_001, window_ms=5000)
    row = j.get("x")
    assert (row.sent_at_ms, row.recv_window_ms, row.attempts) == (1_760_000_007_001, 5000, 2)


def test_a_table_written_by_an_older_release_gets_the_new_columns(tmp_path) -> None:
    db = tmp_path / "old.sqlite"
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:  # the table as the first release created it
        conn.execute(text(
            f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, client_order_id VARCHAR(64) UNIQUE,"
            " strategy_id VARCHAR(64), pair VARCHAR(64), side VARCHAR(8), intent VARCHAR(16),"
            " order_type VARCHAR(32), amount FLOAT, price FLOAT, conditional INTEGER,"
            " enter_tag VARCHAR(255), leverage FLOAT, status VARCHAR(16),"
            " order_id VARCHAR(255), attempts INTEGER, detail TEXT, created_at DATETIME,"
            " updated_at DATETIME)"))  # fmt: skip
        conn.execute(text(
            f"INSERT INTO {TABLE} VALUES (1, 'fxe-old', 'STR-001', 'BTC/USDT', 'buy', 'entry',"
            " 'limit', 0.01, 100000, 0, NULL, 1.0, 'unknown', NULL, 1, NULL,"
            " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))  # fmt: skip
    j = _journal(db)
    (old,) = j.pending()
    assert old.client_order_id == "fxe-old" and old.sent_at_ms is None  # no window known
    _record(j, "fxe-new")
    j.sending("fxe-new", sent_ms=5, window_ms=5000)
    assert j.get("fxe-new").sent_at_ms == 5
    assert {"sent_at_ms", "recv_window_ms"} <= {
        c["name"] for c in inspect(engine).get_columns(TABLE)
    }


def test_a_stray_gets_its_own_row_keyed_by_client_and_order_id(tmp_path) -> None:
    j = _journal(tmp_path / "db.sqlite")
    _record(j, "fxe-a")
    j.accepted("fxe-a", "1")
    j.mark("fxe-a", "tracked")
    key = j.record_stray(j.get("fxe-a"), "2", "stray_sold_back", amount=0.0018, detail="sold")
    assert key == "fxe-a@2"
    stray = j.get(key)
    assert (stray.order_id, stray.status, stray.intent, stray.pair, stray.is_stray) == (
        "2", "stray_sold_back", "entry", "BTC/USDT", True)  # fmt: skip
    assert j.get("fxe-a").status == "tracked"  # the placement's own row is unchanged
    assert stray.client_order_id not in {i.client_order_id for i in j.pending()}
    with pytest.raises(ValueError, match="stray status 'tracked'"):
        j.record_stray(j.get("fxe-a"), "3", "tracked", amount=1.0, detail="")


def test_since_reads_recent_rows(tmp_path) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    j = OrderJournal(create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"), "S",
                     clock=lambda: now[0])  # fmt: skip
    _record(j, "old")
    now[0] = datetime(2026, 1, 3, tzinfo=UTC)
    _record(j, "new")
    assert [i.client_order_id for i in j.since(datetime(2026, 1, 2, tzinfo=UTC))] == ["new"]
