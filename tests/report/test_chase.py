"""Issue 15.1: a chase (exit decided, repriced, cancelled, flattened at market) is one
execution measured from its first decision; with decisions recorded, the abandoned signal
exit carries the chase as opportunity cost and the flatten is its own class.

The orders are a real FreqtradeBot's (dry-run, tests/mixin's harness; see chase.py).  The
strategy mixin does not write exec_ext_decisions yet: the second test records the
decisions through the store API (as the mixin will) next to those real orders.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from report_helpers import run_report

from freqtrade_exec_ext.execution.decisions import Decision
from freqtrade_exec_ext.store.decisions import DecisionStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chase(localex, tmp_path_factory, module_mocker):
    from chase import run

    return run(tmp_path_factory.mktemp("chase"), localex.base_url, module_mocker)


def _sell_exec(data, trade_id):
    return next(e for e in data["executions"]["worst"]
                if e["trade_id"] == trade_id and e["side"] == "sell")


def test_the_chase_is_one_execution_from_the_first_decision(chase, tmp_path, capsys):
    from chase import DECIDED

    limits = [s for s in chase["sells"] if s[1] == "limit"]
    (market,) = [s for s in chase["sells"] if s[1] == "market"]
    assert len(limits) >= 2 and all(s[2] == "canceled" for s in limits)
    assert limits[0][3] == DECIDED and limits[1][3] < DECIDED
    fill = market[4]
    rc, data, out, err = run_report(["--db", chase["url"], "--width", "120"], tmp_path, capsys)
    assert rc == 0, err
    ex = _sell_exec(data, chase["trade_id"])
    assert ex["n_orders"] == len(chase["sells"])
    assert ex["order_types"] == "limit→market"
    # the mixin sets exit_timeout_count 1: Freqtrade answers the kill's cancel with an
    # emergency market exit (the forceexit then finds the trade closing)
    assert ex["reason"] in ("exit_signal→force_exit", "exit_signal→emergency_exit")
    assert ex["decision_price"] == DECIDED and ex["status"] == "complete"
    chase_bps = (DECIDED - fill) / DECIDED * 1e4
    assert chase_bps > 3.0  # the market sell got the chase: about 3.8 bps below
    assert ex["impact_bps"] == pytest.approx(chase_bps, abs=1e-6)
    assert ex["total_bps"] == pytest.approx(chase_bps + ex["fees_bps"], abs=1e-6)
    assert any("decision price of 1 of 2 executions" in u for u in data["unavailable"])
    assert "limit→market" in out and ex["reason"] in out
    assert max(len(line) for line in out.splitlines()) <= 120


def test_with_recorded_decisions_the_flatten_is_its_own_class(chase, tmp_path, capsys):
    from chase import DECIDED, KILL_BID

    db = tmp_path / "decided.sqlite"
    src = sqlite3.connect(chase["url"].removeprefix("sqlite:///"))
    con = sqlite3.connect(db)
    src.backup(con)  # the bot's database is in WAL mode: a file copy may miss rows
    src.close()
    rows = con.execute("SELECT order_id, order_date, order_filled_date FROM orders "
                       "ORDER BY id").fetchall()
    con.close()
    when = {oid: datetime.fromisoformat(d).replace(tzinfo=UTC) for oid, d, _ in rows}
    limits = [s[0] for s in chase["sells"] if s[1] == "limit"]
    (market,) = [s[0] for s in chase["sells"] if s[1] == "market"]
    store = DecisionStore(f"sqlite:///{db}")
    amount, tid = chase["amount"], chase["trade_id"]
    common = {"strategy_id": "STR-001", "bot_id": "chase", "pair": "BTC/USDT",
              "is_short": False, "target_amount": amount, "runmode": "dry_run"}
    entry = store.open_decision(Decision(
        key="chase:entry", trade_id=tid, intent="entry", kind="signal", reason="always",
        side="buy", decided_at=when[chase["entry"]] - timedelta(seconds=1),
        decision_price=114196.66, arrival_mid=114196.665, **common))
    store.attach_order(entry, chase["entry"])
    store.close_decision(entry, "complete", amount, when[chase["entry"]], 114196.65)
    exit_ = store.open_decision(Decision(
        key="chase:exit", trade_id=tid, intent="exit", kind="signal", reason="exit_signal",
        side="sell", decided_at=when[limits[0]] - timedelta(seconds=1),
        decision_price=DECIDED, arrival_mid=DECIDED - 0.005, **common))
    for oid in limits:
        store.attach_order(exit_, oid)
    end_mid = KILL_BID + 0.01
    store.close_decision(exit_, "cancelled", 0.0, when[market], end_mid)
    kill = store.open_decision(Decision(
        key="chase:kill", trade_id=tid, intent="exit", kind="kill", reason="force_exit",
        side="sell", decided_at=when[market], decision_price=end_mid, arrival_mid=end_mid,
        **common))
    store.attach_order(kill, market)
    store.close_decision(kill, "complete", amount, when[market], end_mid)
    gone = store.open_decision(Decision(  # an entry whose trade Freqtrade deleted
        key="chase:gone", trade_id=None, intent="entry", kind="signal", reason="always",
        side="buy", decided_at=when[market] + timedelta(minutes=5), decision_price=114150.0,
        **common))
    store.attach_order(gone, "dry_run_buy_BTC/USDT_never_filled")
    store.close_decision(gone, "cancelled", 0.0, when[market] + timedelta(minutes=15),
                         114160.0)
    store.engine.dispose()

    rc, data, out, err = run_report(["--db", f"sqlite:///{db}", "--width", "120"], tmp_path,
                                    capsys)
    assert rc == 0, err
    worst = data["executions"]["worst"]
    assert {e["decision_source"] for e in worst} == {"decisions table"}
    signal = next(e for e in worst if e["kind"] == "signal" and e["intent"] == "exit")
    assert signal["status"] == "cancelled" and signal["n_orders"] == len(limits)
    opp_bps = (DECIDED - end_mid) / DECIDED * 1e4
    assert signal["opportunity_bps"] == pytest.approx(opp_bps)
    flat = next(e for e in worst if e["kind"] == "kill")
    assert flat["class"] == "kill-switch flatten" and flat["order_types"] == "market"
    fill = next(s[4] for s in chase["sells"] if s[1] == "market")
    assert flat["impact_bps"] + (flat["spread_bps"] or 0.0) == pytest.approx(
        (end_mid - fill) / end_mid * 1e4)
    never = next(e for e in worst if e["trade_id"] is None or e["trade_id"] == 0)
    assert never["opportunity"] == pytest.approx((114160.0 - 114150.0) * amount)
    by_reason = {r["key"]: r for r in data["executions"]["by"]["exit reason"]}
    assert by_reason["kill-switch flatten"]["executions"] == 1
    assert by_reason["exit_signal"]["opportunity_bps"] == pytest.approx(opp_bps)
    assert "kill-switch flatten" in out
    assert max(len(line) for line in out.splitlines()) <= 120
