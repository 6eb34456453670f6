"""The report on a real dry-run database of STR001 and on a real backtest result of STR001.

Each number checked here is recomputed by hand from the raw rows (Freqtrade's orders table
or exported orders, and the ledger records), independently of the report's code.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from report_helpers import run_report

from freqtrade_exec_ext.contract import load_contract
from freqtrade_exec_ext.execution.ledger import LEDGER_KEY_PREFIX
from freqtrade_exec_ext.store.ledger_files import read_jsonl

pytestmark = pytest.mark.slow


def _bps(side: str, ref: float, price: float) -> float:
    raw = (price - ref) / ref * 10_000
    return raw if side == "buy" else -raw


# ------------------------------------------------------------------------- dry-run


def _db_rows(url: str) -> tuple[list[dict], dict[str, dict]]:
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    con.row_factory = sqlite3.Row
    orders = [dict(r) for r in con.execute("SELECT * FROM orders")]
    ledger = {r["cd_key"][len(LEDGER_KEY_PREFIX):]: json.loads(r["cd_value"])
              for r in con.execute("SELECT cd_key, cd_value FROM trade_custom_data "
                                   "WHERE cd_key LIKE 'exec_ext.fill.%'")}
    con.close()
    return orders, ledger


def test_dry_run_database_report_matches_hand_computation(str001_dry_run_db, tmp_path,
                                                          capsys):
    orders, ledger = _db_rows(str001_dry_run_db)
    filled = [o for o in orders if (o["filled"] or 0) > 0]
    assert len(filled) >= 4, "the dry-run should have entered and exited two trades"
    assert all(o["order_id"] in ledger for o in filled), "the mixin records every fill"

    rc, data, out, err = run_report(["--db", str001_dry_run_db], tmp_path, capsys)
    assert rc == 0, err
    assert data["totals"]["orders"] == len(orders)
    assert data["totals"]["filled"] == len(filled)
    assert {g["stage"] for g in data["groups"]} == {"dry_run"}
    assert data["totals"]["filled_notional"] == pytest.approx(
        sum(o["filled"] * o["average"] for o in filled))

    missing_decision = 0
    for o in filled:  # one fill per (pair, side, order type) group in this run
        rec = ledger[o["order_id"]]
        g = next(g for g in data["groups"] if (g["pair"], g["side"], g["order_type"])
                 == (o["ft_pair"], o["side"], o["order_type"]) and g["filled"])
        assert g["filled"] == 1
        assert g["slip_requested"]["mean"] == pytest.approx(
            _bps(o["side"], o["ft_price"], o["average"]))
        sign = 1 if o["side"] == "buy" else -1
        sf = g["shortfall"]
        dec_price, arrival = rec["decision_price"], rec["arrival_mid"]
        if dec_price is None:  # the mixin had no decision price: the report says n/a
            assert g["slip_decision"] is None
            missing_decision += 1
        else:
            assert g["slip_decision"]["mean"] == pytest.approx(
                _bps(o["side"], dec_price, o["average"]))
        if arrival is not None:
            assert g["slip_arrival"]["mean"] == pytest.approx(
                _bps(o["side"], arrival, o["average"]))
            # execution is measured from the arrival mid
            assert sf["execution"] == pytest.approx(sign * (o["average"] - arrival)
                                                    * o["filled"])
        if arrival is not None and dec_price is not None:
            assert sf["delay"] == pytest.approx(sign * (arrival - dec_price) * o["filled"])
        assert g["fees"] == pytest.approx(rec["fee_cost"])
        expect_maker = {"maker": 1.0, "taker": 0.0}.get(rec["liquidity"])
        assert g["maker_share"] == expect_maker
        assert g["breaches"] == int(bool(rec["over_budget"]))

    if missing_decision:
        assert any(f"slippage vs decision price for {missing_decision} of" in u
                   for u in data["unavailable"])
    over = sorted(o["order_id"] for o in filled if ledger[o["order_id"]]["over_budget"])
    assert sorted(b["order_id"] for b in data["breaches"]) == over
    stops = [o for o in orders if o["ft_order_side"] == "stoploss"]
    for g in data["groups"]:
        if g["filled"] == 0:  # cancelled stop-losses: no fill, no opportunity cost
            assert g["shortfall"]["opportunity"] in (0.0, None)
    assert sum(g["cancelled"] for g in data["groups"]) >= len(
        [s for s in stops if s["status"] == "canceled"])
    assert "STR001" in out and "dry_run" in out


# ------------------------------------------------------------------------ backtest


def test_backtest_report_matches_the_ledger_and_the_export(str001_backtest, tmp_path, capsys):
    from freqtrade.data.btanalysis import load_backtest_stats

    stats = load_backtest_stats(str001_backtest)["strategy"]["STR001"]
    exported = [o for t in stats["trades"] for o in t["orders"]]
    records = read_jsonl(str001_backtest / "STR001-exec-ledger.jsonl")
    assert len(exported) >= 6 and len(records) == len(exported)

    rc, data, out, err = run_report(["--backtest", str(str001_backtest)], tmp_path, capsys)
    assert rc == 0, err
    assert data["totals"]["filled"] == len(exported)
    assert {g["stage"] for g in data["groups"]} == {"backtest"}
    assert data["meta"]["ledgers"]["STR001"].endswith("STR001-exec-ledger.jsonl")

    # a few orders by hand: every group's mean/worst slippage against the decision price
    # and its notional, straight from the ledger records
    for g in data["groups"]:
        mine = [r for r in records if (r.pair, r.side, r.order_type)
                == (g["pair"], g["side"], g["order_type"])]
        slips = [_bps(r.side, r.decision_price, r.fill_price) for r in mine]
        notional = [r.filled_amount * r.fill_price for r in mine]
        assert g["filled"] == len(mine)
        assert g["filled_notional"] == pytest.approx(sum(notional))
        assert g["slip_decision"]["mean"] == pytest.approx(sum(slips) / len(slips))
        assert g["slip_decision"]["worst"] == pytest.approx(max(slips))
        assert g["slip_decision"]["weighted"] == pytest.approx(
            sum(s * n for s, n in zip(slips, notional, strict=True)) / sum(notional))
        assert g["fees"] == pytest.approx(sum(r.fee_cost for r in mine))
        assert g["shortfall"]["delay"] is None  # no order book in a backtest
    first = records[0]  # one record fully by hand
    g = next(g for g in data["groups"] if g["pair"] == first.pair and g["side"] == first.side)
    assert first.slippage_decision_bps == pytest.approx(
        _bps(first.side, first.decision_price, first.fill_price))
    assert g["slip_decision"]["n"] >= 1
    assert any("backtests have no order book" in u for u in data["unavailable"])
    assert "backtest" in out


def test_backtest_paths_and_explicit_ledger_agree(str001_backtest, tmp_path, capsys):
    last = json.loads((str001_backtest / ".last_result.json").read_text())["latest_backtest"]
    runs = [
        ["--backtest", str(str001_backtest)],
        ["--backtest", str(str001_backtest / ".last_result.json")],
        ["--backtest", str(str001_backtest / last)],
        ["--backtest", str(str001_backtest / last), "--ledger",
         str(str001_backtest / "STR001-exec-ledger.jsonl")],
    ]
    totals = []
    for args in runs:
        rc, data, _, err = run_report(args, tmp_path, capsys)
        assert rc == 0, err
        totals.append(data["totals"])
    assert all(t == totals[0] for t in totals)


def test_backtest_without_ledger_falls_back_and_says_so(str001_backtest, tmp_path, capsys):
    last = json.loads((str001_backtest / ".last_result.json").read_text())["latest_backtest"]
    lone = tmp_path / "lone"
    lone.mkdir()
    for f in str001_backtest.glob(Path(last).stem + "*"):
        shutil.copy(f, lone / f.name)
    rc, data, _, err = run_report(["--backtest", str(lone / last)], tmp_path, capsys)
    assert rc == 0, err
    for g in data["groups"]:
        assert g["slip_decision"] is None
        # Freqtrade's backtest fills exactly at the requested price
        assert g["slip_requested"]["worst"] == pytest.approx(0.0, abs=1e-9)
    gaps = " ".join(data["unavailable"])
    assert "slippage vs decision price: no execution-ledger record" in gaps
    assert "estimates" in gaps


def test_backtest_recheck_with_the_contract(str001_backtest, tmp_path, capsys,
                                            str001_contract_path):
    c = load_contract(str001_contract_path)
    records = read_jsonl(str001_backtest / "STR001-exec-ledger.jsonl")
    budget = {"entry": c.slippage.max_entry_bps, "exit": c.slippage.max_exit_bps}
    expected = sum(_bps(r.side, r.decision_price, r.fill_price) > budget[r.intent]
                   for r in records)
    rc, data, _, _ = run_report(["--backtest", str(str001_backtest), "--contract",
                                 str(str001_contract_path)], tmp_path, capsys)
    assert rc == 0
    assert len(data["breaches"]) == expected
