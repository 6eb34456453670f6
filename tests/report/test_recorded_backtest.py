"""Issue 15.1 in a backtest: the strategy mixin records its decisions in
``<Strategy>-exec-decisions.jsonl`` beside the ledger, and ``freqtrade-exec report
--backtest`` builds the executions from them (a real ``freqtrade backtesting`` of STR001 on
the repo's candles, see backtest_str001.py)."""

from __future__ import annotations

import pytest
from report_helpers import run_report

from freqtrade_exec_ext.store.decisions import decision_log_path, read_decision_log
from freqtrade_exec_ext.store.ledger_files import read_jsonl

pytestmark = pytest.mark.slow


def test_a_backtest_records_one_decision_per_position_change(str001_backtest):
    from freqtrade.data.btanalysis import load_backtest_stats

    path = decision_log_path(str001_backtest, "STR001")
    assert path.is_file(), "the mixin wrote no decision log"
    decisions, problems = read_decision_log(path)
    assert problems == []
    trades = load_backtest_stats(str001_backtest)["strategy"]["STR001"]["trades"]
    fills = {r.order_id: r for r in read_jsonl(str001_backtest / "STR001-exec-ledger.jsonl")}
    # every filled order belongs to exactly one decision, of its trade and side
    named = [o for d in decisions for o in d.order_ids]
    assert sorted(named) == sorted(fills) and len(set(named)) == len(named)
    assert sum(d.intent == "entry" for d in decisions) == len(trades)
    assert sum(d.intent == "exit" for d in decisions) == len(trades)
    kinds = {t["exit_reason"]: 0 for t in trades}
    for d in decisions:
        first = fills[d.order_ids[0]]
        assert (d.trade_id, d.pair, d.side, d.intent) == (
            first.trade_id, first.pair, first.side, first.intent)
        # the decision price the mixin used (the ledger records it with the fill)
        assert d.decision_price == first.decision_price
        assert d.status == "complete" and d.runmode == "backtest"
        assert d.filled_amount == pytest.approx(sum(fills[o].filled_amount for o in d.order_ids))
        if d.intent == "exit":
            kinds[d.reason] += 1
            assert d.kind == ("stop" if d.reason in ("stop_loss", "trailing_stop_loss")
                              else "signal")
    assert kinds == {r: sum(t["exit_reason"] == r for t in trades) for r in kinds}


def test_the_report_builds_backtest_executions_from_recorded_decisions(
        str001_backtest, tmp_path, capsys):
    decisions, _ = read_decision_log(decision_log_path(str001_backtest, "STR001"))
    fills = {r.order_id: r for r in read_jsonl(str001_backtest / "STR001-exec-ledger.jsonl")}
    rc, data, out, err = run_report(["--backtest", str(str001_backtest), "--width", "120"],
                                    tmp_path, capsys)
    assert rc == 0, err
    assert data["executions"]["total"]["executions"] == len(decisions)
    worst = data["executions"]["worst"]
    assert worst and {e["decision_source"] for e in worst} == {"decisions table"}
    by_key = {(d.trade_id, d.intent): d for d in decisions}
    for e in worst:  # each by hand from the decision and its fills
        d = by_key[(e["trade_id"], e["intent"])]
        mine = [fills[o] for o in d.order_ids]
        filled = sum(f.filled_amount for f in mine)
        vwap = sum(f.filled_amount * f.fill_price for f in mine) / filled
        s = 1 if d.side == "buy" else -1
        notional = d.decision_price * d.target_amount
        assert e["decision_price"] == d.decision_price and e["target"] == d.target_amount
        assert e["impact_bps"] == pytest.approx(s * (vwap - d.decision_price) * filled
                                                / notional * 1e4)
        assert e["total_bps"] == pytest.approx(
            e["impact_bps"] + sum(f.fee_cost for f in mine) / notional * 1e4)
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Executions:"))
    with capsys.disabled():  # what a user reads (shown with -s)
        print("\n" + "\n".join(lines[at:at + 6]))
