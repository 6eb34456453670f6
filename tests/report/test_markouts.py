"""Issue 15.2, report side: markouts recorded with each fill (ledger ``markouts_bps``)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from report_helpers import run_report, sqlite_db

MAKER = {"1s": 0.5, "10s": 1.5, "60s": None, "300s": 4.0}  # the buy: a maker fill
TAKER = {"1s": -1.0, "10s": -0.5, "60s": 2.0, "300s": 1.0}  # the sell: a taker fill


def _with_markouts(path) -> None:
    con = sqlite3.connect(path)
    for key, mk in (("exec_ext.fill.dry_run_buy_BTC/USDT_2", MAKER),
                    ("exec_ext.fill.dry_run_sell_BTC/USDT_3", TAKER)):
        (value,) = con.execute("SELECT cd_value FROM trade_custom_data WHERE cd_key = ?",
                               (key,)).fetchone()
        con.execute("UPDATE trade_custom_data SET cd_value = ? WHERE cd_key = ?",
                    (json.dumps({**json.loads(value), "markouts_bps": mk}), key))
    con.commit()
    con.close()


@pytest.mark.parametrize("generic", [False, True])
def test_markouts_per_horizon_maker_vs_taker(tmp_path, capsys, monkeypatch, generic):
    url = sqlite_db(tmp_path / "tradesv3.dryrun.sqlite")
    _with_markouts(tmp_path / "tradesv3.dryrun.sqlite")
    if generic:  # the SQLAlchemy path (other dialects) reads the same values
        from freqtrade_exec_ext.report import query, sql_reader

        real = query.sqlite_file
        monkeypatch.setattr(sql_reader, "sqlite_file", lambda u: None)
        monkeypatch.setattr(query, "sqlite_file", lambda u: None)
        monkeypatch.setattr(sql_reader, "open_engine", lambda u: __import__(
            "sqlalchemy").create_engine(f"sqlite:///{real(u)}"))
    rc, data, out, err = run_report(["--db", url], tmp_path, capsys)
    assert rc == 0, err
    rows = {m["horizon"]: m for m in data["markouts"]}
    assert list(rows) == ["1s", "10s", "60s", "300s"]
    assert rows["1s"]["maker"]["mean"] == 0.5 and rows["1s"]["taker"]["mean"] == -1.0
    assert rows["1s"]["maker_minus_taker"] == pytest.approx(1.5)
    assert rows["60s"]["all"]["n"] == 1 and rows["60s"]["maker"]["n"] == 0
    w = (4.0 * 100.2 + 1.0 * 100.95) / (100.2 + 100.95)  # notional-weighted
    assert rows["300s"]["all"]["weighted"] == pytest.approx(w)
    assert "Markouts" in out
    assert any("markouts of 3 of 5 fills: not captured" in u for u in data["unavailable"])
