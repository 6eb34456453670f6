"""Issue 15.1: a chase (exit decided, repriced, cancelled, flattened at market) is one
execution measured from its first decision; with the decisions the strategy mixin records,
the abandoned signal exit carries the chase as opportunity cost and the flatten is its own
class; an entry whose trade Freqtrade deleted is still an execution.

The orders and decisions are a real FreqtradeBot's (dry-run, tests/mixin's harness; see
chase.py): the mixin writes ``exec_ext_decisions`` itself.  Without that table (a copy
with it dropped) the report derives the executions from Freqtrade's orders.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from report_helpers import run_report

from freqtrade_exec_ext.execution.ledger import LEDGER_KEY_PREFIX
from freqtrade_exec_ext.store.decisions import DecisionStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chase(localex, tmp_path_factory, module_mocker):
    from chase import run

    return run(tmp_path_factory.mktemp("chase"), localex.base_url, module_mocker)


def _copy(url: str, dst: Path, *, drop_decisions: bool) -> str:
    src = sqlite3.connect(url.removeprefix("sqlite:///"))
    con = sqlite3.connect(dst)
    src.backup(con)  # the bot's database is in WAL mode: a file copy may miss rows
    src.close()
    if drop_decisions:
        con.execute("DROP TABLE exec_ext_decisions")
        con.commit()
    con.close()
    return f"sqlite:///{dst}"


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
    url = _copy(chase["url"], tmp_path / "derived.sqlite", drop_decisions=True)
    rc, data, out, err = run_report(["--db", url, "--width", "120"], tmp_path, capsys)
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


def _ledger_decision_prices(url: str) -> list[float]:
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    rows = con.execute("SELECT cd_value FROM trade_custom_data WHERE cd_key LIKE ?",
                       (LEDGER_KEY_PREFIX + "%",)).fetchall()
    con.close()
    return [json.loads(v)["decision_price"] for (v,) in rows]


def test_the_mixin_records_the_chase_and_the_flatten_is_its_own_class(chase, tmp_path, capsys):
    from chase import KILL_BID

    limits = [s[0] for s in chase["sells"] if s[1] == "limit"]
    (market,) = [s for s in chase["sells"] if s[1] == "market"]
    store = DecisionStore(chase["url"])
    rows = store.read()
    store.engine.dispose()
    assert [(r.intent, r.kind) for r in rows] == [("entry", "signal"), ("exit", "signal"),
                                                  ("exit", "kill")]
    entry, signal, kill = rows
    # the entry: its decision price is the one the ledger recorded with the fill
    assert entry.order_ids == (chase["entry"],) and entry.status == "complete"
    assert entry.trade_id == chase["trade_id"] and entry.reason == "always"
    assert entry.filled_amount == pytest.approx(chase["amount"])
    assert _ledger_decision_prices(chase["url"])[0] == entry.decision_price
    assert entry.arrival_mid is not None and entry.arrival_spread_bps is not None
    # the signal exit owns every limit order (placed, repriced, cancelled); the kill
    # switch interrupted it: cancelled, nothing filled, priced at the mid of that moment
    end_mid = KILL_BID + 0.01
    assert signal.order_ids == tuple(limits) and signal.reason == "exit_signal"
    assert (signal.status, signal.filled_amount) == ("cancelled", 0.0)
    assert signal.end_mid == pytest.approx(end_mid)
    assert signal.decided_at < kill.decided_at <= kill.ended_at
    # the flatten: its own decision, decided at that mid, the market order complete
    assert kill.order_ids == (market[0],) and kill.status == "complete"
    assert kill.reason in ("force_exit", "emergency_exit")
    assert kill.decision_price == pytest.approx(end_mid)
    assert kill.target_amount == pytest.approx(chase["amount"])

    rc, data, out, err = run_report(["--db", chase["url"], "--width", "120"], tmp_path,
                                    capsys)
    assert rc == 0, err
    worst = data["executions"]["worst"]
    assert {e["decision_source"] for e in worst} == {"decisions table"}
    assert len(worst) == 3
    sig = next(e for e in worst if e["kind"] == "signal" and e["intent"] == "exit")
    assert sig["status"] == "cancelled" and sig["n_orders"] == len(limits)
    assert sig["order_types"] == "limit"
    chase_bps = (signal.decision_price - end_mid) / signal.decision_price * 1e4
    assert chase_bps > 3.0  # the chase: the market fell about 3.8 bps while it was worked
    assert sig["opportunity_bps"] == pytest.approx(chase_bps)
    assert sig["total_bps"] == pytest.approx(chase_bps)
    flat = next(e for e in worst if e["kind"] == "kill")
    assert flat["class"] == "kill-switch flatten" and flat["order_types"] == "market"
    assert flat["status"] == "complete" and flat["n_orders"] == 1
    assert flat["impact_bps"] + (flat["spread_bps"] or 0.0) == pytest.approx(
        (end_mid - market[4]) / end_mid * 1e4)
    by_reason = {r["key"]: r for r in data["executions"]["by"]["exit reason"]}
    assert by_reason["kill-switch flatten"]["executions"] == 1
    assert by_reason["exit_signal"]["opportunity_bps"] == pytest.approx(chase_bps)
    assert "kill-switch flatten" in out
    assert max(len(line) for line in out.splitlines()) <= 120
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Executions:"))
    with capsys.disabled():  # what a user reads (shown with -s)
        print("\n" + "\n".join(lines[at:at + 6]))


# ------------------------------------------------------------- an entry Freqtrade deletes
RUNAWAY = (115400.00, 115400.02)  # the market leaves beyond the entry's budget bound


def _play_gone(tmp, base_url, mocker):
    """A maker entry at the bid, the market runs away: the ladder steps cannot reach it,
    the entry times out unfilled and Freqtrade deletes its trade."""
    import shutil
    from datetime import UTC

    from chase import HERE, PAIR
    from dryrun_harness import FakeDatetime, Harness, book
    from mixin_helpers import base_config

    strategies = tmp / "strategies"
    strategies.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "strategies" / "XMChase.py", strategies / "XMChase.py")
    cfg = base_config(base_url, tmp / "user_data", pairs=[PAIR], initial_state="running",
                      bot_name="gone")
    h = Harness(mocker, tmp, cfg, strategies, strategy="XMChase")
    h.bot.strategy.clock = lambda: FakeDatetime.now(UTC)
    try:
        base = h.align(5.0)  # all within one candle: a timed-out entry stays expired
        h.close = 114196.66
        h.book = book(114196.66, 114196.67)
        h.step()  # maker-first entry joins the bid
        placed = [o.order_id for t in _trades() for o in t.orders]
        assert placed, "no entry was placed"
        h.book = book(*RUNAWAY)
        for t in (65, 125, 185, 250, 260):
            h.advance(base + t)
            h.step()
        assert not _trades(), "the unfilled entry's trade was not deleted"
        s = h.bot.strategy
        return {"url": f"sqlite:///{h.tmp / 'trades.dryrun.sqlite'}", "first": placed[0],
                "entry_timeout_s": s.risk_contract.orders.entry_timeout_s,
                "max_reprices": s.risk_contract.orders.max_reprices}
    finally:
        h.close_bot()


def _trades():
    from freqtrade.persistence import Trade

    return list(Trade.get_trades([]).all())


@pytest.fixture(scope="module")
def gone(localex, tmp_path_factory, module_mocker):
    return _play_gone(tmp_path_factory.mktemp("gone"), localex.base_url, module_mocker)


def test_an_entry_whose_trade_freqtrade_deleted_is_still_an_execution(gone, tmp_path, capsys):
    store = DecisionStore(gone["url"])
    rows = store.read()
    store.engine.dispose()
    assert [(r.intent, r.kind, r.status) for r in rows] == [("entry", "signal", "cancelled")]
    (d,) = rows
    assert d.trade_id is None and d.filled_amount == 0.0  # nothing filled, trade deleted
    # the first order and each ladder step's (each in a new trade Freqtrade deleted)
    assert d.order_ids[0] == gone["first"] and len(d.order_ids) == 1 + gone["max_reprices"]
    assert d.decision_price == 114196.66 and d.end_mid == pytest.approx(sum(RUNAWAY) / 2)
    assert (d.ended_at - d.decided_at).total_seconds() >= gone["entry_timeout_s"]

    rc, data, _, err = run_report(["--db", gone["url"], "--width", "120"], tmp_path, capsys)
    assert rc == 0, err
    (ex,) = data["executions"]["worst"]
    assert (ex["intent"], ex["status"], ex["filled"]) == ("entry", "cancelled", 0.0)
    # what waiting cost: the position not taken, priced at the mid when the entry ended
    assert ex["opportunity"] == pytest.approx((d.end_mid - d.decision_price) * d.target_amount)
    assert ex["total"] == pytest.approx(ex["opportunity"])


# ------------------------------------------------- a chase Freqtrade escalates to market
FALLEN = (113625.00, 113625.02)  # 50 bps below the exit decision: past max_exit_bps 30


def _play_escalation(tmp, base_url, mocker):
    """An exit decided at a limit, repriced (the ladder cannot follow a market 50 bps down),
    cancelled at the exit timeout and replaced by Freqtrade's emergency market exit."""
    import shutil
    from datetime import UTC

    from chase import DECIDED, HERE, PAIR
    from dryrun_harness import FakeDatetime, Harness, book
    from freqtrade.persistence import Trade
    from mixin_helpers import base_config

    strategies = tmp / "strategies"
    strategies.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "strategies" / "XMChase.py", strategies / "XMChase.py")
    cfg = base_config(base_url, tmp / "user_data", pairs=[PAIR], initial_state="running",
                      bot_name="escalation")
    h = Harness(mocker, tmp, cfg, strategies, strategy="XMChase")
    h.bot.strategy.clock = lambda: FakeDatetime.now(UTC)
    try:
        h.close = 114196.66
        h.book = book(114196.66, DECIDED)
        h.step()  # maker-first entry joins the bid
        h.book = book(114196.64, 114196.66)  # filled
        h.step()
        (trade,) = Trade.get_open_trades()
        h.book = book(114196.66, DECIDED)
        h.bot.strategy.exit_now = True
        h.advance(30)
        h.step()  # the exit signal: a limit sell joins the ask
        h.book = book(*FALLEN)
        h.advance(30 + 310)  # past exit_timeout_s 300: the missed steps, then the timeout
        h.step(6)
        (trade,) = [t for t in _trades() if t.id == trade.id]
        assert not trade.is_open and trade.exit_reason == "emergency_exit"
        sells = [o for o in trade.orders if o.ft_order_side == "sell"]
        return {"url": f"sqlite:///{h.tmp / 'trades.dryrun.sqlite'}", "trade_id": trade.id,
                "sells": [(o.order_id, o.order_type, o.status, o.average) for o in sells]}
    finally:
        h.close_bot()


@pytest.fixture(scope="module")
def escalation(localex, tmp_path_factory, module_mocker):
    return _play_escalation(tmp_path_factory.mktemp("escalation"), localex.base_url,
                            module_mocker)


def test_an_exit_escalated_to_market_is_one_execution_with_its_chase(escalation, tmp_path,
                                                                     capsys):
    sells = escalation["sells"]
    limits = [s for s in sells if s[1] == "limit"]
    (market,) = [s for s in sells if s[1] == "market"]
    assert len(limits) >= 2 and all(s[2] == "canceled" for s in limits)
    store = DecisionStore(escalation["url"])
    (entry, exit_) = store.read()
    store.engine.dispose()
    assert (entry.intent, entry.status) == ("entry", "complete")
    assert (exit_.intent, exit_.kind, exit_.reason) == ("exit", "signal", "exit_signal")
    # one decision owns the limit orders and the emergency market exit that replaced them
    assert exit_.order_ids == tuple(s[0] for s in sells) and exit_.status == "complete"
    rc, data, _, err = run_report(["--db", escalation["url"], "--width", "120"], tmp_path,
                                  capsys)
    assert rc == 0, err
    ex = _sell_exec(data, escalation["trade_id"])
    assert ex["decision_source"] == "decisions table" and ex["n_orders"] == len(sells)
    assert ex["order_types"] == "limit→market" and ex["status"] == "complete"
    chase_bps = (exit_.decision_price - market[3]) / exit_.decision_price * 1e4
    assert chase_bps > 45.0  # the market exit sold about 50 bps below the decision
    assert ex["impact_bps"] + (ex["delay_bps"] or 0.0) + (ex["spread_bps"] or 0.0) == (
        pytest.approx(chase_bps))
    assert ex["total_bps"] == pytest.approx(chase_bps + ex["fees_bps"])
