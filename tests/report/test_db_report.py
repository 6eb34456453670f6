"""``freqtrade-exec report --db`` on SQLite databases written with Freqtrade's models."""

from __future__ import annotations

import csv
import sqlite3

import pytest
from report_helpers import execution, group, run_report, sqlite_db

from freqtrade_exec_ext.cli.main import main
from freqtrade_exec_ext.contract import load_contract


def test_ledger_numbers_match_hand_computation(ledger_db, tmp_path, capsys):
    rc, data, out, _ = run_report(["--db", ledger_db], tmp_path, capsys)
    assert rc == 0
    buy = group(data, "BTC/USDT", "buy")
    assert (buy["orders"], buy["filled"], buy["cancelled"]) == (2, 1, 1)
    assert buy["filled_notional"] == pytest.approx(100.2)
    # filled 100.2 vs decision 100.0 -> 20 bps; vs arrival mid 100.1 -> 0.1/100.1
    assert buy["slip_decision"]["mean"] == pytest.approx(20.0)
    assert buy["slip_arrival"]["mean"] == pytest.approx(0.1 / 100.1 * 1e4)
    assert buy["slip_requested"]["mean"] == pytest.approx(0.0)
    # one execution: the cancelled buy @100.0 and its replacement filled @100.2; its
    # decision (100.0, arrival 100.1) is the ledger's, recorded with the fill
    sf = execution(data, 1, "buy")
    assert (sf["n_orders"], sf["decision_source"], sf["status"]) == (2, "ledger", "complete")
    assert sf["delay"] == pytest.approx(0.1)  # (100.1 - 100.0) * 1
    assert sf["spread"] == pytest.approx(1e-4 * 100.1)  # 1 bps of the arrival notional
    assert sf["impact"] == pytest.approx(0.1 - 1e-4 * 100.1)  # (100.2 - 100.1) - spread
    assert sf["fees"] == pytest.approx(0.1002)
    assert sf["opportunity"] == 0.0  # everything filled
    assert sf["total"] == pytest.approx(0.3002)
    assert sf["total_bps"] == pytest.approx(0.3002 / 100.0 * 1e4)  # of decision notional
    assert buy["maker_share"] == 1.0 and buy["breaches"] == 1

    sell = group(data, "BTC/USDT", "sell")
    # a sell below its reference costs: (101.0 - 100.95) / 101.0
    assert sell["slip_decision"]["mean"] == pytest.approx(0.05 / 101.0 * 1e4)
    assert execution(data, 1, "sell")["delay"] == pytest.approx(-0.05)  # the market rose
    assert sell["maker_share"] == 0.0

    eth_buy = group(data, "ETH/USDT", "buy")  # no ledger: requested 2000, filled 2001
    assert eth_buy["slip_decision"] is None
    assert eth_buy["slip_requested"]["mean"] == pytest.approx(5.0)
    assert eth_buy["fees"] == pytest.approx(0.001 * 0.5 * 2001)  # trade fee rate x notional
    assert eth_buy["fees_estimated"] == 1
    # cancelled @2010, sold later @2005: one execution decided (requested) at 2010
    eth_sell = execution(data, 2, "sell")
    assert (eth_sell["decision_source"], eth_sell["decision_price"]) == ("requested price",
                                                                         2010.0)
    assert eth_sell["impact"] == pytest.approx(2.5) and eth_sell["opportunity"] == 0.0
    sol = execution(data, 3, "buy")  # half-filled then cancelled, never refilled
    assert sol["status"] == "partial" and sol["opportunity"] is None
    assert sol["unfilled"] == pytest.approx(1.0)

    assert data["totals"]["orders"] == 7 and data["totals"]["filled"] == 5
    [b] = data["breaches"]
    assert (b["trade_id"], b["order_id"], b["pair"]) == (1, "dry_run_buy_BTC/USDT_2", "BTC/USDT")
    assert b["slippage_bps"] == pytest.approx(20.0) and b["budget_bps"] == 15.0
    assert {g["stage"] for g in data["groups"]} == {"dry_run"}
    assert any("opportunity cost of 1 executions that ended with unfilled quantity (50.00 "
               in u for u in data["unavailable"])
    # the terminal table
    assert "BTC/USDT" in out and "Budget breaches: 1 fill(s)" in out
    assert "dry_run_buy_BTC/USDT_2" in out and "Could not compute" in out


def test_database_without_the_mixin_still_reports(plain_db, tmp_path, capsys):
    rc, data, out, _ = run_report(["--db", plain_db], tmp_path, capsys)
    assert rc == 0
    eth = group(data, "ETH/USDT", "buy")
    assert eth["slip_requested"]["mean"] == pytest.approx(5.0)
    assert eth["slip_decision"] is None and eth["maker_share"] is None
    assert execution(data, 2, "buy")["delay"] is None
    gaps = " ".join(data["unavailable"])
    assert "slippage vs decision price: no execution-ledger record" in gaps
    assert "maker share: Freqtrade does not store" in gaps
    assert "fees of 5 of 5 fills are estimates" in gaps
    assert "budget breaches: no slippage budget" in gaps
    assert data["breaches"] == []
    assert "Could not compute" in out


def test_stage_rule_and_override(plain_db, tmp_path, capsys):
    # plain_db is named tradesv3.sqlite but its order ids are Freqtrade's dry-run ids
    _, data, _, _ = run_report(["--db", plain_db], tmp_path, capsys)
    assert {g["stage"] for g in data["groups"]} == {"dry_run"}
    _, data, _, _ = run_report(["--db", plain_db, "--stage", "live"], tmp_path, capsys)
    assert {g["stage"] for g in data["groups"]} == {"live"}


def test_live_order_ids_are_live(tmp_path, capsys):
    url = sqlite_db(tmp_path / "tradesv3.sqlite", ledger=False)
    con = sqlite3.connect(tmp_path / "tradesv3.sqlite")
    con.execute("UPDATE orders SET order_id = 'X' || id")
    con.commit()
    con.close()
    _, data, _, _ = run_report(["--db", url], tmp_path, capsys)
    assert {g["stage"] for g in data["groups"]} == {"live"}


def test_contract_rechecks_budgets(ledger_db, tmp_path, capsys, str001_contract_path):
    c = load_contract(str001_contract_path)
    rc, data, _, _ = run_report(["--db", ledger_db, "--contract", str(str001_contract_path)],
                                tmp_path, capsys)
    assert rc == 0
    # fills: entry 20 bps (vs decision), exit 4.95 (vs decision), ETH entry 5 (vs requested),
    # ETH exit 0, SOL entry 0
    entry, exit_ = c.slippage.max_entry_bps, c.slippage.max_exit_bps
    expected = sum([entry < 20.0, exit_ < 0.05 / 101 * 1e4, entry < 5.0, exit_ < 0, entry < 0])
    assert len(data["breaches"]) == expected
    assert data["meta"]["budget_source"].startswith("contract")


def test_pair_filter_csv_and_html(ledger_db, tmp_path, capsys):
    out_csv, out_html = tmp_path / "r.csv", tmp_path / "r.html"
    rc, data, _, _ = run_report(["--db", ledger_db, "--pair", "ETH/USDT", "--csv",
                                 str(out_csv), "--html", str(out_html)], tmp_path, capsys)
    assert rc == 0
    assert {g["pair"] for g in data["groups"]} == {"ETH/USDT"}
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["side"] for r in rows] == ["buy", "sell", ""]
    assert rows[-1]["strategy"] == "TOTAL"
    assert float(rows[0]["slip_requested_mean_bps"]) == pytest.approx(5.0)
    assert rows[0]["slip_decision_mean_bps"] == ""  # unknown, not 0
    page = out_html.read_text()
    assert "<script src=" not in page and "Plotly.newPlot" in page  # plotly.js inline
    assert "Could not compute" in page


@pytest.mark.parametrize(("args", "message"), [
    (["--db", "sqlite:///{tmp}/missing.sqlite"], "file not found"),
    (["--db", "sqlite:///{tmp}/other.sqlite"], "not a Freqtrade database"),
    (["--db", "nosuchdb://x"], "--db nosuchdb://x"),
    (["--backtest", "{tmp}/nothing.zip"], "no such file"),
    (["--backtest", "{tmp}/bad.zip"], "not a readable Freqtrade backtest result"),
    (["--backtest", "{tmp}"], "no .last_result.json"),
    (["--db", "sqlite:///{tmp}/other.sqlite", "--json", "{tmp}/no/dir/r.json"],
     "does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    con = sqlite3.connect(tmp_path / "other.sqlite")
    con.execute("CREATE TABLE notes (x TEXT)")
    con.close()
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    argv = ["report", *[a.format(tmp=tmp_path) for a in args]]
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert message in lines[0]
    assert "Traceback" not in err


def test_database_password_is_never_printed(capsys):
    rc = main(["report", "--db", "postgresql+psycopg://ft:s3cret@127.0.0.1:1/freqtrade"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "s3cret" not in err and "ft:***@127.0.0.1" in err


def test_missing_sqlite_file_is_not_created(tmp_path, capsys):
    target = tmp_path / "typo.sqlite"
    assert main(["report", "--db", f"sqlite:///{target}"]) == 2
    assert not target.exists()


def test_generic_dialect_reader_gives_the_same_report(ledger_db, tmp_path, capsys,
                                                      monkeypatch):
    """Dialects other than SQLite/PostgreSQL stream plain rows and parse the JSON in Python;
    run that path on the SQLite file and compare with the fast path."""
    from freqtrade_exec_ext.report import sql_reader

    _, fast, _, _ = run_report(["--db", ledger_db], tmp_path, capsys)

    from freqtrade_exec_ext.report import query

    # a URL that is not sqlite:///FILE goes through SQLAlchemy and the generic reader
    real = query.sqlite_file
    monkeypatch.setattr(sql_reader, "sqlite_file", lambda url: None)
    monkeypatch.setattr(query, "sqlite_file", lambda url: None)
    monkeypatch.setattr(sql_reader, "open_engine", lambda url: __import__(
        "sqlalchemy").create_engine(f"sqlite:///{real(url)}"))
    _, slow, _, _ = run_report(["--db", ledger_db], tmp_path, capsys)
    assert slow["meta"]["dialect"] == "sqlite"
    assert slow["groups"] == fast["groups"]
    assert slow["breaches"] == fast["breaches"]
    assert slow["unavailable"] == fast["unavailable"]
    assert slow["executions"] == fast["executions"]
