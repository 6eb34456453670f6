"""The decisions the mixin records are measurement: a decision store that fails changes no
order (a real FreqtradeBot in dry-run, tests/mixin's harness)."""

from __future__ import annotations

import logging

import pytest
from dryrun_harness import PAIR, Harness, book
from mixin_helpers import base_config

from freqtrade_exec_ext.store.decisions import DecisionStore

pytestmark = pytest.mark.slow


@pytest.fixture
def harness(localex, mocker, tmp_path, test_strategies):
    cfg = base_config(localex.base_url, tmp_path / "user_data", pairs=[PAIR],
                      initial_state="running", bot_name="xm-decisions")
    h = Harness(mocker, tmp_path, cfg, test_strategies)
    yield h
    h.close_bot()


def _entry_filled(h: Harness) -> object:
    from freqtrade.persistence import Trade

    h.step()  # the maker entry rests at the bid
    h.book = book(99.97, 99.99)  # the ask comes down to our bid: filled
    h.step(2)
    (trade,) = Trade.get_open_trades()
    assert trade.nr_of_successful_entries == 1
    return trade


def test_decisions_are_recorded_in_the_bots_database(harness):
    trade = _entry_filled(harness)
    rows = DecisionStore(f"sqlite:///{harness.tmp / 'trades.dryrun.sqlite'}").read()
    assert [(r.intent, r.kind, r.status, r.trade_id) for r in rows] == [
        ("entry", "signal", "complete", trade.id)]
    assert rows[0].order_ids == tuple(o.order_id for o in trade.orders if o.ft_order_side == "buy")
    assert rows[0].bot_id == "xm-decisions" and rows[0].runmode == "dry_run"


def test_a_failing_decision_store_changes_no_order(harness, monkeypatch, caplog):
    def full(self, record):
        raise RuntimeError("disk full")

    monkeypatch.setattr(DecisionStore, "open_decision", full)
    caplog.set_level(logging.ERROR, logger="freqtrade_exec_ext.strategy.decisions")
    trade = _entry_filled(harness)  # the same entry as with a working store
    assert [o.status for o in trade.orders if o.ft_order_side == "buy"] == ["closed"]
    said = [r for r in caplog.records if "could not record a decision" in r.getMessage()]
    assert len(said) == 1  # logged once, although every later write of it fails too
