"""The decisions table (SQLAlchemy Core) in a Freqtrade database, and the backtest log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from freqtrade_exec_ext.execution.decisions import Decision, DecisionError
from freqtrade_exec_ext.store.decisions import (
    DECISIONS_TABLE,
    DecisionLog,
    DecisionStore,
    decision_log_path,
    read_decision_log,
)

T0 = datetime(2025, 10, 1, 18, 5, 2, 123000, tzinfo=UTC)


def _decision(key: str = "bot:1:exit:1", **kw) -> Decision:
    base = {"key": key, "strategy_id": "STR-001", "bot_id": "bot", "trade_id": 1,
            "pair": "BTC/USDT", "intent": "exit", "kind": "signal", "reason": "exit_signal",
            "side": "sell", "is_short": False, "decided_at": T0, "decision_price": 114196.67,
            "target_amount": 0.002, "arrival_mid": 114196.66, "arrival_spread_bps": 0.0018}
    base.update(kw)
    return Decision(**base)


def _exercise(store) -> None:
    did = store.open_decision(_decision())
    assert store.open_decision(_decision()) == did  # the same key after a restart
    store.attach_order(did, "o-1")
    store.attach_order(did, "o-2")
    store.attach_order(did, "o-1")  # idempotent
    working = store.get(did)
    assert working.order_ids == ("o-1", "o-2") and working.status == "working"
    store.close_decision(did, "complete", 0.002, T0 + timedelta(seconds=31), 114152.8)
    got = store.get(did)
    assert got.status == "complete" and got.end_mid == 114152.8
    assert got.decided_at == T0 and got.ended_at == T0 + timedelta(seconds=31)
    other = store.open_decision(_decision("bot:2:entry:1", trade_id=None, intent="entry",
                                          side="buy", kind="forced", reason="force_entry"))
    assert other != did
    assert [d.key for d in store.read()] == ["bot:1:exit:1", "bot:2:entry:1"]
    assert [d.key for d in store.read(trade_id=1)] == ["bot:1:exit:1"]
    assert store.read(trade_id=None)[1].trade_id is None
    with pytest.raises(DecisionError, match="status"):
        store.close_decision(did, "working", 0.0, T0, None)
    with pytest.raises(DecisionError, match="no such decision"):
        store.attach_order(999, "x")


def test_sqlite_store_beside_freqtrades_tables(tmp_path):
    """Created on first use in a database Freqtrade made; Freqtrade opens it again fine."""
    from freqtrade.persistence import Trade, init_db
    from sqlalchemy import create_engine, inspect

    url = f"sqlite:///{tmp_path / 'tradesv3.dryrun.sqlite'}"
    init_db(url)
    Trade.session.remove()
    engine = create_engine(url)
    assert DECISIONS_TABLE not in inspect(engine).get_table_names()
    _exercise(DecisionStore(engine))
    assert DECISIONS_TABLE in inspect(engine).get_table_names()
    engine.dispose()
    init_db(url)  # Freqtrade's own migrations run over the extra table untouched
    assert Trade.get_trades([]).all() == []
    Trade.session.remove()
    assert len(DecisionStore(url).read()) == 2


@pytest.mark.postgres
@pytest.mark.slow  # createdb runs as a subprocess
def test_postgres_store(pg_server):
    from sqlalchemy import create_engine

    engine = create_engine(pg_server.createdb("decisions"))
    _exercise(DecisionStore(engine))
    engine.dispose()


def test_backtest_log_round_trip_and_bad_lines(tmp_path):
    path = decision_log_path(tmp_path, "STR001")
    assert path.name == "STR001-exec-decisions.jsonl"
    log = DecisionLog(path)
    a = log.open_decision(_decision())
    b = log.open_decision(_decision("bot:1:exit:2", kind="kill", reason="force_exit"))
    log.attach_order(a, "o-1")
    log.attach_order(b, "o-2")
    log.close_decision(a, "cancelled", 0.0, T0 + timedelta(seconds=20), 114160.0)
    log.close()
    with path.open("a") as fh:
        fh.write("{broken\n")
        fh.write('{"op": "order", "id": 42, "order_id": "x"}\n')
    records, problems = read_decision_log(path)
    assert [(r.key, r.status, r.order_ids) for r in records] == [
        ("bot:1:exit:1", "cancelled", ("o-1",)), ("bot:1:exit:2", "working", ("o-2",))]
    assert records[0].end_mid == 114160.0
    assert problems == ["STR001-exec-decisions.jsonl line 6: not valid JSON",
                        "STR001-exec-decisions.jsonl line 7: 42"]
