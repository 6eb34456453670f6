"""``report --db postgresql+psycopg://...`` against a real PostgreSQL server.

The server (conftest ``pg_server``) is a throwaway one on 127.0.0.1; ``pg_url`` holds the
same hand-checked Freqtrade database as the SQLite tests, written with Freqtrade's own
``init_db`` and models.
"""

from __future__ import annotations

import pytest
from report_helpers import execution, group, run_report

pytestmark = pytest.mark.postgres


def test_postgres_report_matches_hand_numbers_and_sqlite(pg_url, ledger_db, tmp_path, capsys):
    rc, pg, _out, err = run_report(["--db", pg_url], tmp_path, capsys)
    assert rc == 0, err
    assert pg["meta"]["dialect"] == "postgresql"
    buy = group(pg, "BTC/USDT", "buy")
    assert buy["slip_decision"]["mean"] == pytest.approx(20.0)
    assert execution(pg, 1, "buy")["total"] == pytest.approx(0.3002)
    assert buy["maker_share"] == 1.0
    assert execution(pg, 2, "sell")["impact"] == pytest.approx(2.5)
    assert [b["order_id"] for b in pg["breaches"]] == ["dry_run_buy_BTC/USDT_2"]
    # the same Freqtrade rows give the same report through SQLite's reader
    _, lite, _, _ = run_report(["--db", ledger_db], tmp_path, capsys)
    for a, b in zip(pg["groups"], lite["groups"], strict=True):
        assert a["pair"] == b["pair"] and a["side"] == b["side"]
        assert a["filled_notional"] == pytest.approx(b["filled_notional"])
        assert a["fees"] == pytest.approx(b["fees"])
        for m in ("slip_decision", "slip_arrival", "slip_requested"):
            assert (a[m] is None) == (b[m] is None)
            if a[m]:
                assert a[m]["mean"] == pytest.approx(b[m]["mean"])
    assert pg["unavailable"] == lite["unavailable"]
    for a, b in zip(pg["executions"]["worst"], lite["executions"]["worst"], strict=True):
        assert a["total"] == pytest.approx(b["total"]) and a["trade_id"] == b["trade_id"]


def test_postgres_missing_database_is_one_line(pg_url, tmp_path, capsys):
    from freqtrade_exec_ext.cli.main import main

    bad = pg_url.replace("/freqtrade", "/no_such_db")
    assert main(["report", "--db", bad]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot read the database" in err[0]
