"""Derived executions take their decision from the trade's decision context (the mixin's
``exec_ext.ctx.*`` custom data) when no ledger record of theirs carries one."""

from __future__ import annotations

import json
import sqlite3

import pytest
from report_helpers import execution, run_report, sqlite_db

from freqtrade_exec_ext.report.query import CTX_KEYS


def test_the_keys_are_the_mixins():
    from freqtrade_exec_ext.strategy import context

    assert CTX_KEYS == {context.CTX_ENTRY_KEY: "entry", context.CTX_EXIT_KEY: "exit"}


def test_a_partial_entry_is_measured_from_its_recorded_decision(tmp_path, capsys):
    url = sqlite_db(tmp_path / "tradesv3.dryrun.sqlite")
    con = sqlite3.connect(tmp_path / "tradesv3.dryrun.sqlite")
    (tid,) = con.execute("SELECT id FROM trades WHERE pair = 'SOL/USDT'").fetchone()
    ctx = {"decision_price": 49.9, "arrival_mid": 49.95, "decision_time": None}
    con.execute("INSERT INTO trade_custom_data (ft_trade_id, cd_key, cd_type, cd_value, "
                "created_at) VALUES (?, 'exec_ext.ctx.entry', 'dict', ?, '2026-03-02')",
                (tid, json.dumps(ctx)))
    con.execute("INSERT INTO trade_custom_data (ft_trade_id, cd_key, cd_type, cd_value, "
                "created_at) VALUES (1, 'exec_ext.ctx.exit', 'dict', '{not json', '2026-03-02')")
    con.commit()
    con.close()
    rc, data, _, err = run_report(["--db", url], tmp_path, capsys)
    assert rc == 0, err
    sol = execution(data, tid, "buy")
    assert (sol["decision_source"], sol["decision_price"]) == ("trade context", 49.9)
    assert sol["delay"] == pytest.approx((49.95 - 49.9) * 1.0)  # 1 of 2 filled
    # a context of a finished exit is not that exit's decision (and a broken one is ignored)
    assert execution(data, 1, "sell")["decision_source"] == "ledger"
