"""Forged or mistaken stage evidence is refused, each with one line saying what is missing.

Each case is one the issue reproduced against the earlier gates (which read only
timestamps and counts): a hand-made database, a dry-run database as testnet evidence,
paper "duration" made of two short runs far apart, a contract edited after deploy.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

from deploytools import (
    DEPLOYMENT,
    START,
    _engine,
    build_stage_db,
    contract_sha,
    deploy,
    make_paper_db,
    make_testnet_db,
    record_sessions,
    run_cli,
)

PAPER_DB = "user_data/STR-001.paper.sqlite"
TESTNET_DB = "user_data/STR-001.testnet.sqlite"
CONTRACT = ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml"


def refusal(project: Path, stage: str, capsys) -> list[str]:
    """The reasons of a refused deploy, one line each."""
    capsys.readouterr()
    assert deploy(project, stage) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"refused: STR-001 --stage {stage}")
    assert err[-1] == "nothing was written; see docs/stages.md"
    assert not (project / DEPLOYMENT).exists()
    return [line[4:] for line in err if line.startswith("  - ")]


def about(lines: list[str], prefix: str) -> list[str]:
    return [line for line in lines if line.startswith(prefix)]


NO_SESSIONS = (
    "no run sessions recorded (table exec_ext_run_sessions missing): a bot of this package "
    "records them itself while it runs the generated config; a database made any other way "
    "is not evidence"
)


def test_a_hand_made_database_is_not_paper_evidence(project, capsys):
    """Two tables and one closed trade, written by hand: refused with one line."""
    make_testnet_db(project)
    with sqlite3.connect(project / PAPER_DB) as db:
        db.execute("CREATE TABLE trades (id INTEGER PRIMARY KEY, is_open BOOLEAN, "
                   "open_date DATETIME, close_date DATETIME)")  # fmt: skip
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, ft_trade_id INTEGER, "
                   "status TEXT, filled FLOAT, order_date DATETIME)")  # fmt: skip
        db.execute("INSERT INTO trades VALUES (1, 0, '2026-01-01 00:00:00', "
                   "'2026-01-16 00:00:00')")  # fmt: skip
        db.execute("INSERT INTO orders VALUES (1, 1, 'closed', 1.0, '2026-01-01 00:00:00')")
        db.execute("INSERT INTO orders VALUES (2, 1, 'closed', 1.0, '2026-01-16 00:00:00')")
    db.close()
    lines = about(refusal(project, "live", capsys), "paper evidence")
    assert lines == [f"paper evidence: {PAPER_DB}: {NO_SESSIONS}"]


def test_a_freqtrade_database_without_run_sessions_is_not_evidence(project, capsys):
    """Freqtrade's own tables, trades and orders, but no bot of this package ran it."""
    build_stage_db(project / TESTNET_DB, stage="testnet", closed_trades=3, sessions=False)
    assert refusal(project, "paper", capsys) == [f"testnet evidence: {TESTNET_DB}: {NO_SESSIONS}"]


def test_a_dry_run_database_is_not_testnet_evidence(project, capsys):
    make_paper_db(project, closed_trades=4)
    shutil.copy(project / PAPER_DB, project / TESTNET_DB)
    assert refusal(project, "paper", capsys) == [
        (f"testnet evidence: {TESTNET_DB}: only dry-run sessions (1): testnet evidence is a run "
        "with dry_run false on Binance Spot Test Network (testnet.binance.vision) or the local "
        "exchange; a paper or dry-run database does not count")
    ]


def test_a_forged_live_session_does_not_make_simulated_orders_real(project, capsys):
    """A dry-run database plus a session row claiming dry_run false on the testnet host."""
    make_paper_db(project, closed_trades=4)
    db = project / TESTNET_DB
    shutil.copy(project / PAPER_DB, db)
    engine = _engine(db)
    record_sessions(engine, stage="testnet", dry_run=False, start=START, days=1.0,
                    contract=contract_sha(project), api_host="testnet.binance.vision")  # fmt: skip
    engine.dispose()
    assert refusal(project, "paper", capsys) == [
        (f"testnet evidence: {TESTNET_DB}: 8 orders in the testnet sessions have dry-run ids "
        "(dry_run_...): they were simulated, not placed on the exchange"),
        (f"testnet evidence: {TESTNET_DB}: no order journal (table exec_ext_order_intents "
        "missing): the order guard journals every order a live bot sends, so these orders were "
        "not sent by it"),
        (f"testnet evidence: {TESTNET_DB}: no stop-loss order was placed on the exchange in the "
        "testnet sessions; keep the bot running until an open trade's stop-loss is placed"),
    ]


def test_a_testnet_run_against_production_is_not_testnet_evidence(project, capsys):
    make_testnet_db(project, api_host="api.binance.com")
    assert refusal(project, "paper", capsys) == [
        (f"testnet evidence: {TESTNET_DB}: the sessions with dry_run false traded on "
        "api.binance.com, not on Binance Spot Test Network (testnet.binance.vision) or the "
        "local exchange")
    ]


def test_testnet_orders_the_journal_never_saw_are_refused(project, capsys):
    make_testnet_db(project, journal=False)
    assert refusal(project, "paper", capsys) == [
        (f"testnet evidence: {TESTNET_DB}: no order journal (table exec_ext_order_intents "
        "missing): the order guard journals every order a live bot sends, so these orders were "
        "not sent by it")
    ]


def test_testnet_needs_a_handful_of_fills_and_a_stop_loss_on_the_exchange(project, capsys):
    make_testnet_db(project, closed_trades=1, stoploss=False)
    assert refusal(project, "paper", capsys) == [
        (f"testnet evidence: {TESTNET_DB} shows 2 filled orders and 1 closed trades in its "
        "testnet sessions; the testnet stage must fill at least 4 orders and close at least 1 "
        "trade. Keep the testnet bot running (or force entries and exits through its API) and "
        "retry"),
        (f"testnet evidence: {TESTNET_DB}: no stop-loss order was placed on the exchange in the "
        "testnet sessions; keep the bot running until an open trade's stop-loss is placed"),
    ]


def test_paper_of_one_hour_on_day_1_and_one_hour_on_day_15_is_not_14_days(project, capsys):
    make_testnet_db(project)
    make_paper_db(project, closed_trades=2, days=14 + 1 / 24, gaps=((1.0, 14 * 24.0),))
    (line,) = about(refusal(project, "live", capsys), "paper evidence")
    assert line == (
        f"paper evidence: {PAPER_DB}: heartbeats cover 1.0 h without a gap over 1.0 h "
        "(2026-01-19T09:30:00Z to 2026-01-19T10:30:00Z); live needs at least 14 days; gaps "
        "over 1.0 h: 2026-01-05T10:28:30Z to 2026-01-19T09:30:00Z (14.0 days). Keep the paper "
        "bot running"
    )


def test_paper_with_a_13_day_gap_is_refused_and_the_gap_listed(project, capsys):
    make_testnet_db(project)
    make_paper_db(project, closed_trades=2, days=15.0, gaps=((24.0, 24.0 + 13 * 24),))
    (line,) = about(refusal(project, "live", capsys), "paper evidence")
    assert line == (
        f"paper evidence: {PAPER_DB}: heartbeats cover 24.0 h without a gap over 1.0 h "
        "(2026-01-19T09:30:00Z to 2026-01-20T09:30:00Z); live needs at least 14 days; gaps "
        "over 1.0 h: 2026-01-06T09:25:30Z to 2026-01-19T09:30:00Z (13.0 days). Keep the paper "
        "bot running"
    )


def test_paper_restarts_shorter_than_an_hour_do_not_break_the_14_days(project, capsys):
    from freqtrade_exec_ext.contract import load_contract
    from freqtrade_exec_ext.deploy.evidence import read_stage_db
    from freqtrade_exec_ext.deploy.gates import paper_check

    restarts = tuple((24.0 * d, 24.0 * d + 0.8) for d in range(1, 15))  # 48 min down daily
    make_paper_db(project, closed_trades=2, days=15.0, gaps=restarts)
    verdict = paper_check(read_stage_db(f"sqlite:///{PAPER_DB}", project),
                          load_contract(project / CONTRACT))  # fmt: skip
    assert verdict.problems == [] and verdict.evidence is not None
    assert verdict.evidence.sessions == 15 and verdict.evidence.days == 15.0
    assert verdict.evidence.gaps == ()


def test_paper_sessions_on_an_earlier_contract_do_not_count(project, capsys):
    make_testnet_db(project)
    make_paper_db(project, closed_trades=2, contract="e" * 64)
    (line,) = about(refusal(project, "live", capsys), "paper evidence")
    assert line == (
        f"paper evidence: {PAPER_DB}: the paper sessions ran contract eeeeeeeeeeee; "
        f"risk-assessment.yaml is now {contract_sha(project)[:12]} (changed): paper trading "
        "starts again on the new contract"
    )


def test_orders_outside_the_recorded_sessions_disagree_with_them(project, capsys):
    """Trades merged in from another run: the database disagrees with its sessions."""
    from freqtrade.persistence import Trade, init_db
    from support import make_order, make_trade

    make_testnet_db(project)
    make_paper_db(project, closed_trades=2)
    init_db(f"sqlite:///{project / PAPER_DB}")
    when = (START - timedelta(days=30)).replace(tzinfo=None)
    trade = make_trade(open_date=when)
    trade.orders.append(make_order("buy", "dry_run_buy_BTC/USDT_elsewhere", when))
    Trade.session.add(trade)
    Trade.commit()
    Trade.session.remove()
    assert about(refusal(project, "live", capsys), "paper evidence") == [
        (f"paper evidence: {PAPER_DB}: 1 order placed outside every recorded run session "
        "(first at 2025-12-06T09:30:00Z): the orders do not match the sessions")
    ]


def test_a_contract_edited_after_deploy_is_caught_by_the_stamp(project, capsys):
    """The mixin calls stamp_problem at start; validate says the same."""
    from freqtrade_exec_ext.contract import load_contract
    from freqtrade_exec_ext.deploy.stamp import stamp_problem

    make_testnet_db(project)
    assert deploy(project, "paper") == 0
    config = json.loads((project / DEPLOYMENT / "config.json").read_text())
    assert config["exec_ext"]["contract_sha256"] == contract_sha(project)
    assert config["exec_ext"]["stage"] == "paper"
    path = project / CONTRACT
    original = path.read_text()
    path.write_text("# reviewed 2026-01-22, no change\n" + original)  # a comment only
    assert stamp_problem(config, load_contract(path)) is None
    path.write_text(original.replace("stoploss: -0.05", "stoploss: -0.08"))
    edited = load_contract(path)
    assert stamp_problem(config, edited) == (
        "STR-001: config.json was generated for another version of risk-assessment.yaml: "
        f"contract edited after deploy (stamp {config['exec_ext']['contract_sha256'][:12]}, "
        f"now {edited.fingerprint()[:12]}): re-run freqtrade-exec deploy STR-001 --stage paper"
    )
    # a config without a stamp (hand-written, backtests) is not refused by it
    del config["exec_ext"]["contract_sha256"]
    assert stamp_problem(config, edited) is None
    assert stamp_problem({"strategy": "STR001"}, edited) is None
    capsys.readouterr()
    assert run_cli("validate", str(project / DEPLOYMENT)) == 2
    assert any("contract edited after deploy (stamp" in line
               for line in capsys.readouterr().err.splitlines())  # fmt: skip
